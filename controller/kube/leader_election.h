#pragma once

// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics: a candidate
// takes the lease when its holder has not renewed it for leaseDuration *as observed locally*
// (so clock skew between nodes does not matter), the leader renews every retryPeriod, and a
// leader that cannot renew within renewDeadline stops leading before anyone else may start.

#include <atomic>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <stop_token>
#include <string>

#include "controller/common/clock.h"
#include "controller/common/duration.h"
#include "controller/common/status.h"

namespace rotor::kube {

/** The Lease's spec, and the resourceVersion it was read at. */
struct LeaseRecord {
  std::string holderIdentity;
  int leaseDurationSeconds = 0;
  std::optional<SystemTime> acquireTime;
  std::optional<SystemTime> renewTime;
  int leaseTransitions = 0;
  std::string resourceVersion;
  friend bool operator==(const LeaseRecord&, const LeaseRecord&) = default;
};

/** The Lease object's JSON (coordination.k8s.io/v1; times as MicroTime, microseconds). */
nlohmann::json leaseToJson(const LeaseRecord& lease, const std::string& ns, const std::string& name);
StatusOr<LeaseRecord> leaseFromJson(const nlohmann::json& object);

/** Where the lease lives: the Kubernetes API, or a fake in tests. */
class LeaseStore {
public:
  virtual ~LeaseStore() = default;
  /** nullopt when there is no lease yet. */
  virtual StatusOr<std::optional<LeaseRecord>> get() = 0;
  /** kAlreadyExists when someone created it first; sets resourceVersion. */
  virtual Status create(LeaseRecord& lease) = 0;
  /** kConflict when lease.resourceVersion is stale; sets the new resourceVersion. */
  virtual Status update(LeaseRecord& lease) = 0;
};

struct ElectionOptions {
  std::string identity;
  Duration leaseDuration = std::chrono::seconds(15);
  Duration renewDeadline = std::chrono::seconds(10);
  Duration retryPeriod = std::chrono::seconds(2);
  /** Told of Lease reads and writes that failed for another reason than a lost race (a missing
   *  namespace, a refused permission): the candidate keeps trying, an operator should know. */
  std::function<void(const Status&)> onError;
};

class LeaderElector {
public:
  LeaderElector(LeaseStore& store, const Clock& clock, ElectionOptions options)
      : store_(store), clock_(clock), options_(std::move(options)) {}

  /** One round: take the lease if it is free or expired, renew it if held. True when leading. */
  bool tryAcquireOrRenew();
  /** Whether this candidate led at its last successful round and is still within renewDeadline. */
  bool isLeader() const;
  /** Releases a held lease so that another candidate need not wait for it to expire. */
  Status release();

  /**
   * Rounds every retryPeriod until `stop`: calls onStartedLeading when leadership begins and
   * onStoppedLeading when it ends (renewDeadline passed without a renewal, or stop). The rounds
   * run on a thread of their own, so that a request the API server never answers cannot hold
   * leadership past renewDeadline: this loop watches the deadline, whatever the requests do.
   */
  void run(std::stop_token stop, const std::function<void()>& onStartedLeading,
           const std::function<void()>& onStoppedLeading);

private:
  LeaseStore& store_;
  const Clock& clock_;
  ElectionOptions options_;
  std::optional<LeaseRecord> observed_;  // the record as last read or written
  MonotonicTime observedAt_{};           // when it last changed, by our clock
  // Our last successful acquire or renew (as the monotonic clock's count; 0: none): read by the
  // loop that watches the deadline while a round may be writing it.
  std::atomic<MonotonicTime::rep> renewedAt_{0};

  /** Reports `s` unless it is OK or a lost race (kConflict, kAlreadyExists); returns s.ok(). */
  bool succeeded(const Status& s) const;
  /** Records a successful acquire or renew at `at`. */
  void renewed(MonotonicTime at);
};

}  // namespace rotor::kube
