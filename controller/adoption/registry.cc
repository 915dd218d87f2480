#include "controller/adoption/registry.h"

#include <algorithm>

namespace rotor::adoption {
namespace {

constexpr uint32_t kVersionMask = (1u << 29) - 1;  // Entry::version's width

int64_t toSeconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

template <typename T>
uint32_t AgentRegistry::Interner<T>::intern(const T& value) {
  if (last_ < values_.size() && values_[last_] == value) return last_;
  auto [it, inserted] = index_.try_emplace(value, static_cast<uint32_t>(values_.size()));
  if (inserted) values_.push_back(value);
  last_ = it->second;
  return last_;
}

uint32_t AgentRegistry::Agents::trustSetOf(const std::vector<std::string>& trusted) {
  if (!trustSets.empty() && trusted == lastTrusted) return lastTrustSet;
  std::vector<std::string> sorted = trusted;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  lastTrustSet = trustSets.intern(sorted);
  lastTrusted = trusted;
  return lastTrustSet;
}

store::AgentRecord AgentRegistry::Agents::recordOf(const std::string& id, const Entry& e) const {
  return {id, SystemTime(std::chrono::seconds(e.lastSeenSeconds)), trustSets.at(e.trustSet), versions.at(e.version)};
}

void AgentRegistry::markDirty(Agents& agents, const std::string& id, Entry& e) {
  if (e.dirty) return;
  e.dirty = 1;
  agents.dirtyIds.push_back(id);
}

void AgentRegistry::markDirty(Agents& agents, const std::vector<uint32_t>& slots) {
  // Written again by the next flush; a check-in in between may already have re-marked some.
  std::lock_guard lock(agents.mu);
  for (const uint32_t slot : slots) markDirty(agents, *agents.ids[slot], agents.entries[slot]);
}

bool AgentRegistry::upsert(Agents& agents, const store::AgentRecord& record, bool reported) {
  const uint32_t trustSet = agents.trustSetOf(record.trusted);
  auto [it, inserted] = agents.slotOf.try_emplace(record.id, static_cast<uint32_t>(agents.entries.size()));
  if (inserted) {
    agents.entries.emplace_back();
    agents.ids.push_back(&it->first);
  }
  Entry& e = agents.entries[it->second];
  const bool changed = inserted || e.trustSet != trustSet;
  const uint32_t version = agents.versions.intern(record.version) & kVersionMask;
  const int64_t seen = toSeconds(record.lastSeen);
  if (reported) {
    if (changed || e.version != version) {
      markDirty(agents, record.id, e);
    } else if (seen > e.lastSeenSeconds) {
      e.unsaved = 1;
    }
    e.loaded = 0;
  } else if (inserted) {
    e.loaded = 1;
  }
  e.lastSeenSeconds = std::max(e.lastSeenSeconds, seen);
  e.trustSet = trustSet;
  e.version = version;
  return changed;
}

StatusOr<std::shared_ptr<AgentRegistry::Agents>> AgentRegistry::agentsOf(const api::ObjectKey& key,
                                                                         std::string_view uid) {
  const auto loaded = [&]() -> std::shared_ptr<Agents> {
    auto it = rotations_.find(key);
    return it != rotations_.end() && (uid.empty() || it->second->uid == uid) ? it->second : nullptr;
  };
  {
    std::shared_lock lock(mu_);
    if (auto agents = loaded()) return agents;
  }
  std::unique_lock lock(mu_);
  if (auto agents = loaded()) return agents;
  ASSIGN_OR_RETURN(store::CertificateRotation rotation, storedRotations_.getRotation(key));
  if (!uid.empty() && rotation.metadata.uid != uid) {
    return notFound("CertificateRotation " + key.toString() + " was deleted and created again");
  }
  if (auto it = rotations_.find(key); it != rotations_.end() && it->second->uid == rotation.metadata.uid) {
    return it->second;
  }
  // Absent, or records of a rotation that was deleted since: read what the store has for this one.
  auto agents = std::make_shared<Agents>();
  agents->uid = rotation.metadata.uid;
  RETURN_IF_ERROR(storedAgents_.visitAgents(key, [&](const store::AgentRecord& a) { upsert(*agents, a, false); }));
  rotations_.insert_or_assign(key, agents);
  return agents;
}

StatusOr<std::shared_ptr<AgentRegistry::Agents>> AgentRegistry::agentsOfCurrent(const api::ObjectKey& key) {
  ASSIGN_OR_RETURN(store::CertificateRotation rotation, storedRotations_.getRotation(key));
  return agentsOf(key, rotation.metadata.uid);
}

Status AgentRegistry::checkIn(const api::ObjectKey& key, const CheckIn& report, std::string_view rotationUid,
                              const AdmitNew& admitNew) {
  const store::AgentRecord record{report.agentId, clock_.now(), report.trusted, report.version};
  RETURN_IF_ERROR(store::validateAgentRecord(record));
  ASSIGN_OR_RETURN(std::shared_ptr<Agents> agents, agentsOf(key, rotationUid));
  bool changed = false;
  {
    std::lock_guard lock(agents->mu);
    if (admitNew && !agents->slotOf.contains(record.id) && !admitNew()) {
      return resourceExhausted("no new agents are admitted");
    }
    changed = upsert(*agents, record, true);
  }
  if (changed && onChange_) onChange_(key);
  return okStatus();
}

Status AgentRegistry::visit(const api::ObjectKey& key, const std::function<void(const store::AgentRecord&)>& fn) {
  ASSIGN_OR_RETURN(std::shared_ptr<Agents> agents, agentsOfCurrent(key));
  std::lock_guard lock(agents->mu);
  for (size_t slot = 0; slot < agents->entries.size(); ++slot) {
    fn(agents->recordOf(*agents->ids[slot], agents->entries[slot]));
  }
  return okStatus();
}

StatusOr<api::AdoptionStatus> AgentRegistry::tally(const api::ObjectKey& key, const store::TallyQuery& query) {
  ASSIGN_OR_RETURN(std::shared_ptr<Agents> agents, agentsOfCurrent(key));
  // classifyAgent's `lastSeen + staleAfter < now` for a lastSeen of whole seconds: active from
  // staleBefore rounded up to a whole second.
  const int64_t staleBefore = toSeconds(query.staleBefore());
  const int64_t firstActiveSecond =
      SystemTime(std::chrono::seconds(staleBefore)) == query.staleBefore() ? staleBefore : staleBefore + 1;
  // Check-ins wait only while the entries are copied (a few milliseconds at a million); the
  // count, which compares every pending agent's id with the laggards, runs on the copy. Ids stay
  // where they are: slotOf never erases, and the shared_ptr keeps the agents alive.
  std::vector<Entry> entries;
  std::vector<const std::string*> ids;
  std::vector<bool> trusts;  // per interned trust set (each sorted)
  {
    std::lock_guard lock(agents->mu);
    entries = agents->entries;
    ids = agents->ids;
    for (uint32_t i = 0; i < agents->trustSets.size(); ++i) {
      const std::vector<std::string>& set = agents->trustSets.at(i);
      trusts.push_back(std::binary_search(set.begin(), set.end(), query.fingerprint));
    }
  }
  // A loaded agent that had not adopted may have checked in up to twice lastSeenRefresh after
  // its stored time: stale only once that much more has passed. (One that had adopted is judged
  // by its stored time: the worst case for the gate either way.)
  const int64_t firstActiveSecondIfUnsure =
      firstActiveSecond - 2 * std::chrono::ceil<std::chrono::seconds>(options_.lastSeenRefresh).count();
  store::AdoptionCounter counter(query);
  for (size_t slot = 0; slot < entries.size(); ++slot) {
    const Entry& e = entries[slot];
    const bool adopted = trusts[e.trustSet];
    const int64_t activeFrom = e.loaded && !adopted ? firstActiveSecondIfUnsure : firstActiveSecond;
    counter.add(e.lastSeenSeconds < activeFrom ? store::AgentState::kStale
                : adopted                      ? store::AgentState::kAdopted
                                               : store::AgentState::kPending,
                *ids[slot]);
  }
  return counter.result();
}

Status AgentRegistry::loadAll() {
  ASSIGN_OR_RETURN(std::vector<store::CertificateRotation> rotations,
                   storedRotations_.listRotations(store::kAllNamespaces));
  for (const store::CertificateRotation& r : rotations) {
    Status s = agentsOf(r.key(), r.metadata.uid).status();
    if (!s.ok() && s.code() != Code::kNotFound) return s;
  }
  return okStatus();
}

Status AgentRegistry::flush(Persist what) {
  std::lock_guard flushing(flushMu_);
  const MonotonicTime now = clock_.monotonicNow();
  const bool refresh = what == Persist::kEverything || now >= nextRefresh_;
  if (refresh) nextRefresh_ = now + options_.lastSeenRefresh;
  std::vector<std::pair<api::ObjectKey, std::shared_ptr<Agents>>> all;
  {
    std::shared_lock lock(mu_);
    all.assign(rotations_.begin(), rotations_.end());
  }
  Status result = okStatus();
  for (const auto& [key, agents] : all) {
    std::vector<uint32_t> slots;
    {
      std::lock_guard lock(agents->mu);
      for (const std::string& id : agents->dirtyIds) {
        const uint32_t slot = agents->slotOf.at(id);
        agents->entries[slot].dirty = 0;
        agents->entries[slot].unsaved = 0;
        slots.push_back(slot);
      }
      agents->dirtyIds.clear();
      for (uint32_t slot = 0; refresh && slot < agents->entries.size(); ++slot) {
        if (agents->entries[slot].unsaved) {
          agents->entries[slot].unsaved = 0;
          slots.push_back(slot);
        }
      }
    }
    if (slots.empty()) continue;
    // Records of a rotation deleted since (and perhaps created again under its name) go nowhere.
    StatusOr<store::CertificateRotation> current = storedRotations_.getRotation(key);
    Status s = !current.ok()                          ? current.status()
               : current->metadata.uid != agents->uid ? notFound("replaced")
                                                      : okStatus();
    if (s.ok()) {
      s = persist(key, *agents, slots);  // marks again what it could not write
    } else if (s.code() != Code::kNotFound) {
      markDirty(*agents, slots);
    }
    if (s.code() == Code::kNotFound) {
      std::unique_lock lock(mu_);
      if (auto it = rotations_.find(key); it != rotations_.end() && it->second == agents) rotations_.erase(it);
      continue;
    }
    if (!s.ok() && result.ok()) result = s.withContext("could not persist agent records of " + key.toString());
  }
  return result;
}

Status AgentRegistry::persist(const api::ObjectKey& key, Agents& agents, const std::vector<uint32_t>& slots) {
  const uint32_t groups = std::max<uint32_t>(1, storedAgents_.agentGroups());
  std::vector<std::vector<uint32_t>> byGroup(groups);
  {
    std::lock_guard lock(agents.mu);
    for (const uint32_t slot : slots) byGroup[store::agentGroupOf(*agents.ids[slot], groups)].push_back(slot);
  }
  Status result = okStatus();
  for (const std::vector<uint32_t>& group : byGroup) {
    if (group.empty()) continue;
    std::vector<store::AgentRecord> batch;
    batch.reserve(group.size());
    {
      std::lock_guard lock(agents.mu);
      for (const uint32_t slot : group) batch.push_back(agents.recordOf(*agents.ids[slot], agents.entries[slot]));
    }
    Status s = storedAgents_.putAgents(key, batch);
    if (s.code() == Code::kNotFound) return s;
    if (!s.ok()) {
      markDirty(agents, group);
      if (result.ok()) result = s;
    }
  }
  return result;
}

void AgentRegistry::forget(const api::ObjectKey& key) {
  std::unique_lock lock(mu_);
  rotations_.erase(key);
}

size_t AgentRegistry::sumOverRotations(size_t (*count)(const Agents&)) const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [key, agents] : rotations_) {
    std::lock_guard inner(agents->mu);
    n += count(*agents);
  }
  return n;
}

size_t AgentRegistry::agentCount() const {
  return sumOverRotations([](const Agents& a) { return a.entries.size(); });
}

size_t AgentRegistry::dirtyCount() const {
  return sumOverRotations([](const Agents& a) { return a.dirtyIds.size(); });
}

}  // namespace rotor::adoption
