#pragma once

// The agent registry: who checked in for each rotation, when, and which CAs they trust. The
// adoption API writes it, the adoption gate reads it. It lives in memory (compact: ids plus a
// 16-byte entry; trust sets and versions interned, since a fleet shares a handful of each) and
// is persisted through the Store in batches, so that a restart does not reset the gate.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/common/clock.h"
#include "controller/store/agent_store.h"
#include "controller/store/rotation_store.h"

namespace rotor::adoption {

/** What an agent says about itself in one check-in. Fingerprints are "sha256:<64 hex>". */
struct CheckIn {
  std::string agentId;
  std::vector<std::string> trusted;
  std::string version;
};

struct RegistryOptions {
  /** How often an agent's last-seen time alone is persisted. A new agent and a changed trust set
   *  or version are persisted at the next flush; a mere "still here" waits for this, so that a
   *  fleet at rest costs the store a rewrite of its records every period instead of a write per
   *  check-in. After a restart, the gate gives loaded agents that had not adopted twice this much
   *  longer than staleAfter before it counts them stale (their true last check-in may be that
   *  much later than the stored one), so it never opens early for it. */
  Duration lastSeenRefresh = std::chrono::minutes(5);
};

class AgentRegistry {
public:
  /** Runs when an agent first appears or its trusted set changes (not on a mere refresh of its
   *  last-seen time): the adoption gate of that rotation may have moved. */
  using OnChange = std::function<void(const api::ObjectKey&)>;

  AgentRegistry(store::RotationStore& rotations, store::AgentStore& agents, const Clock& clock,
                RegistryOptions options = {})
      : storedRotations_(rotations),
        storedAgents_(agents),
        clock_(clock),
        options_(options),
        nextRefresh_(clock.monotonicNow() + options.lastSeenRefresh) {}

  void setOnChange(OnChange onChange) { onChange_ = std::move(onChange); }

  /** Asked, while the rotation's agents are locked, whether an agent the registry does not know
   *  yet may be added; it may count the admission, which is then certain to happen. */
  using AdmitNew = std::function<bool()>;

  /** Records a check-in at the clock's now. The rotation's stored records are loaded on first
   *  use. kNotFound when the rotation does not exist, or is no longer the one with
   *  `rotationUid` (when given); kInvalidArgument for a bad record; kResourceExhausted when the
   *  agent is new and `admitNew` (when given) refuses it. */
  Status checkIn(const api::ObjectKey& key, const CheckIn& report, std::string_view rotationUid = {},
                 const AdmitNew& admitNew = {});
  /** Visits every agent of the rotation as a Store record. A rotation deleted and created again
   *  under the same name starts with no agents, even when another process did it. */
  Status visit(const api::ObjectKey& key, const std::function<void(const store::AgentRecord&)>& fn);
  /** The adoption tally of the rotation's agents, as Store::tallyAgents counts it, read off the
   *  compact entries: no record is built, and check-ins wait only while the 16-byte entries are copied. */
  StatusOr<api::AdoptionStatus> tally(const api::ObjectKey& key, const store::TallyQuery& query);
  /** Loads every rotation's stored records (at start, so that the first gate sees them all). */
  Status loadAll();
  enum class Persist {
    kChanges,     // new agents, changed trust sets and versions; last-seen times once a lastSeenRefresh
    kEverything,  // every record that differs from the stored one (a graceful stop)
  };
  /**
   * Writes what `what` asks for through the Store, in batches of one agent group (store.h) per
   * rotation. A rotation the store no longer has is forgotten. Records whose write failed are
   * written again by the next flush.
   */
  Status flush(Persist what = Persist::kChanges);
  /** Drops a rotation's records from memory (it was deleted). */
  void forget(const api::ObjectKey& key);

  size_t agentCount() const;
  size_t dirtyCount() const;

private:
  /** Gives equal values one small index. */
  template <typename T>
  class Interner {
  public:
    uint32_t intern(const T& value);
    const T& at(uint32_t index) const { return values_[index]; }
    bool empty() const { return values_.empty(); }
    size_t size() const { return values_.size(); }

  private:
    std::vector<T> values_;
    std::map<T, uint32_t> index_;
    uint32_t last_ = 0;  // consecutive records mostly repeat a value: skip the lookup then
  };

  struct Entry {
    int64_t lastSeenSeconds = 0;
    uint32_t trustSet = 0;
    uint32_t version : 29 = 0;
    uint32_t dirty : 1 = 0;    // new, or its trust set or version changed: persisted at the next flush
    uint32_t unsaved : 1 = 0;  // seen since its last-seen time was persisted
    uint32_t loaded : 1 = 0;   // as read from the store: not seen by this process yet
  };

  struct Agents {
    std::mutex mu;
    // Entries sit in one array, in the order agents first checked in, so that the gate's pass over
    // a million of them reads memory in sequence instead of chasing a hash map's nodes.
    std::unordered_map<std::string, uint32_t> slotOf;
    std::vector<Entry> entries;
    std::vector<const std::string*> ids;  // by slot: the key in slotOf (its nodes never move)
    Entry& entryOf(const std::string& id) { return entries[slotOf.at(id)]; }
    Interner<std::vector<std::string>> trustSets;
    Interner<std::string> versions;
    std::vector<std::string> dirtyIds;
    // The last reported set as it came (unsorted) and its index: most reports repeat it.
    std::vector<std::string> lastTrusted;
    uint32_t lastTrustSet = 0;
    std::string uid;  // of the rotation these agents checked in for
    store::AgentRecord recordOf(const std::string& id, const Entry& e) const;
    uint32_t trustSetOf(const std::vector<std::string>& trusted);
  };

  /** The rotation's agents, loading them from the store on first use and again when the
   *  rotation's uid is not `uid` (an empty uid accepts what is loaded). */
  StatusOr<std::shared_ptr<Agents>> agentsOf(const api::ObjectKey& key, std::string_view uid);
  /** The agents of the rotation the store holds now under `key` (readers: visit, tally). */
  StatusOr<std::shared_ptr<Agents>> agentsOfCurrent(const api::ObjectKey& key);
  /** Stores `record` as it was read (`reported` false) or reported; true when it is new to the
   *  registry or its trusted set changed. Caller holds agents.mu. */
  static bool upsert(Agents& agents, const store::AgentRecord& record, bool reported);
  /** Writes the records at `slots` of one rotation, group by group; what fails is marked dirty. */
  Status persist(const api::ObjectKey& key, Agents& agents, const std::vector<uint32_t>& slots);
  /** Queues the agent for the next flush, once. Caller holds agents.mu. */
  static void markDirty(Agents& agents, const std::string& id, Entry& e);
  /** Queues the agents at `slots` for the next flush (a write that failed). Takes agents.mu. */
  static void markDirty(Agents& agents, const std::vector<uint32_t>& slots);
  size_t sumOverRotations(size_t (*count)(const Agents&)) const;

  store::RotationStore& storedRotations_;
  store::AgentStore& storedAgents_;
  const Clock& clock_;
  RegistryOptions options_;
  std::mutex flushMu_;         // one flush at a time
  MonotonicTime nextRefresh_;  // when a flush next persists last-seen times
  OnChange onChange_;
  mutable std::shared_mutex mu_;
  // shared: a request may still hold a rotation that forget() just dropped.
  std::map<api::ObjectKey, std::shared_ptr<Agents>> rotations_;
};

}  // namespace rotor::adoption
