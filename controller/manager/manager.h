#pragma once

// The controller loop: keys from change notifications and a periodic resync go into the work
// queue; workers run the Driver on them with controller-runtime's requeue semantics.

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>

#include "controller/common/log.h"
#include "controller/manager/own_writes.h"
#include "controller/manager/work_queue.h"
#include "reconcilers/driver.h"

namespace rotor::manager {

/** Sees every reconcile's outcome (metrics). Called on the worker that ran it. */
class ReconcileObserver {
public:
  virtual ~ReconcileObserver() = default;
  virtual void reconciled(const api::ObjectKey& key, const StatusOr<reconcilers::ReconcileResult>& result,
                          std::chrono::nanoseconds took) = 0;
};

struct ManagerOptions {
  int workers = 1;
  /** Every rotation is reconciled at least this often, whatever notifications say. */
  Duration resyncPeriod = std::chrono::minutes(5);
  ReconcileObserver* observer = nullptr;
  /** Where a resync finds the rotations; by default the Store's listRotationKeys(). In a cluster,
   *  the watch's cache of names, so that a resync costs the API server no LIST. Either must be
   *  complete (a watch that has listed): what is absent counts as deleted. */
  std::function<StatusOr<std::vector<api::ObjectKey>>()> listKeys;
};

/** What the manager reconciles with. It takes the whole Store, since it wraps it to tell its own
 *  writes from others' (own_writes.h); the reconcilers see it by role. */
struct Collaborators {
  store::Store& store;
  const Clock& clock;
  reconcilers::Prober& prober;
  reconcilers::EventRecorder& events;
};

class Manager {
public:
  Manager(Collaborators with, Logger& log, ManagerOptions options = {})
      : recorder_(with.store, ownWrites_),
        ctx_(recorder_, with.clock, with.prober, with.events),
        log_(log),
        options_(options),
        queue_(with.clock),
        driver_(ctx_) {}

  /** Queues every stored rotation, and removes what rotations no longer stored left behind
   *  (BundleStore::collectOrphans). */
  Status resync();
  /** A rotation changed (a watch event, inotify): queued now, unless `resourceVersion` is one this
   *  manager's reconciles wrote themselves. Empty when unknown (a deletion): always queued. */
  void notifyChanged(const api::ObjectKey& key, const std::string& resourceVersion);
  /** A rotation's agents changed: queued now, or agentsInterval() after the last such wake.
   *  Check-ins that move a gate arrive by the thousand a second, and each reconcile tallies every
   *  agent (tens of milliseconds at a million). */
  void notifyAgentsChanged(const api::ObjectKey& key) { queue_.addThrottled(key, agentsInterval(key)); }
  static constexpr Duration kAgentsInterval = std::chrono::milliseconds(200);
  /** Agents wake a rotation at most once per this many of its last reconcile's durations, so
   *  that a fleet's check-ins keep at most a tenth of a worker busy with its tallies. */
  static constexpr int kAgentsDutyRatio = 10;

  /**
   * Reconciles one ready key, if any: success -> forget the backoff and requeue after the
   * result's delay; kConflict -> again at once (someone wrote in between); other errors ->
   * backoff. Returns false when no key was ready.
   */
  bool processOne();

  /** Workers and the resync timer until `stop`; the key in progress is finished first. */
  void run(std::stop_token stop);

  WorkQueue& queue() { return queue_; }
  /** Whether the first full resync has completed (readiness). */
  bool synced() const { return synced_.load(); }
  /** When run()'s loop last went round (liveness); the epoch before it starts. */
  MonotonicTime lastTick() const { return MonotonicTime(lastTick_.load()); }

private:
  void reconcileKey(const api::ObjectKey& key);
  /** kAgentsInterval, or kAgentsDutyRatio times the key's last reconcile when that is longer. */
  Duration agentsInterval(const api::ObjectKey& key);

  OwnWrites ownWrites_;
  OwnWriteRecorder recorder_;
  reconcilers::RotationContext ctx_;
  Logger& log_;
  ManagerOptions options_;
  WorkQueue queue_;
  reconcilers::Driver driver_;
  std::mutex tookMu_;
  std::map<api::ObjectKey, std::chrono::nanoseconds> lastTook_;  // by rotation: how long its last reconcile took
  std::atomic<bool> synced_{false};
  std::atomic<MonotonicTime::duration> lastTick_{};
};

}  // namespace rotor::manager
