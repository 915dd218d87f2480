#include "controller/kube/leader_election.h"

#include "controller/kube/micro_time.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

namespace rotor::kube {

using nlohmann::json;

json leaseToJson(const LeaseRecord& lease, const std::string& ns, const std::string& name) {
  json spec = {{"holderIdentity", lease.holderIdentity},
               {"leaseDurationSeconds", lease.leaseDurationSeconds},
               {"leaseTransitions", lease.leaseTransitions}};
  if (lease.acquireTime) spec["acquireTime"] = formatMicroTime(*lease.acquireTime);
  if (lease.renewTime) spec["renewTime"] = formatMicroTime(*lease.renewTime);
  json metadata = {{"name", name}, {"namespace", ns}};
  if (!lease.resourceVersion.empty()) metadata["resourceVersion"] = lease.resourceVersion;
  return {{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}, {"metadata", metadata}, {"spec", spec}};
}

StatusOr<LeaseRecord> leaseFromJson(const json& object) {
  if (!object.is_object() || object.value("kind", "") != "Lease") return invalidArgument("not a Lease object");
  LeaseRecord lease;
  const json& metadata = object.value("metadata", json::object());
  lease.resourceVersion = metadata.value("resourceVersion", "");
  const json& spec = object.value("spec", json::object());
  lease.holderIdentity = spec.value("holderIdentity", "");
  lease.leaseDurationSeconds = spec.value("leaseDurationSeconds", 0);
  lease.leaseTransitions = spec.value("leaseTransitions", 0);
  for (auto [key, out] : {std::pair{"acquireTime", &lease.acquireTime}, std::pair{"renewTime", &lease.renewTime}}) {
    if (const auto it = spec.find(key); it != spec.end() && it->is_string()) {
      *out = parseMicroTime(it->get<std::string>());
      if (!*out) return invalidArgument(std::string("Lease spec.") + key + " is not a time");
    }
  }
  return lease;
}

bool LeaderElector::isLeader() const {
  const MonotonicTime::rep renewed = renewedAt_.load();
  return renewed != 0 &&
         clock_.monotonicNow() - MonotonicTime(MonotonicTime::duration(renewed)) < options_.renewDeadline;
}

void LeaderElector::renewed(MonotonicTime at) {
  observedAt_ = at;
  renewedAt_ = std::max<MonotonicTime::rep>(at.time_since_epoch().count(), 1);
}

bool LeaderElector::succeeded(const Status& s) const {
  if (!s.ok() && s.code() != Code::kConflict && s.code() != Code::kAlreadyExists && options_.onError)
    options_.onError(s);
  return s.ok();
}

bool LeaderElector::tryAcquireOrRenew() {
  const SystemTime now = clock_.now();
  const MonotonicTime monotonicNow = clock_.monotonicNow();
  StatusOr<std::optional<LeaseRecord>> current = store_.get();
  if (!succeeded(current.status())) return isLeader();
  LeaseRecord wanted{options_.identity,
                     static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(options_.leaseDuration).count()),
                     now,
                     now,
                     0,
                     ""};
  if (!*current) {
    if (!succeeded(store_.create(wanted))) return isLeader();
    observed_ = wanted;
    renewed(monotonicNow);
    return true;
  }
  LeaseRecord& lease = **current;
  // A record that changed since we last looked restarts its holder's term, by our clock.
  if (!observed_ || lease != *observed_) {
    observed_ = lease;
    observedAt_ = monotonicNow;
  }
  const bool mine = lease.holderIdentity == options_.identity;
  const auto term = std::chrono::seconds(std::max(lease.leaseDurationSeconds, 1));
  if (!mine && !lease.holderIdentity.empty() && monotonicNow < observedAt_ + term) return false;
  wanted.acquireTime = mine ? lease.acquireTime : std::optional<SystemTime>(now);
  wanted.leaseTransitions = mine ? lease.leaseTransitions : lease.leaseTransitions + 1;
  wanted.resourceVersion = lease.resourceVersion;
  if (!succeeded(store_.update(wanted))) return isLeader();  // a conflict: someone else wrote first
  observed_ = wanted;
  renewed(monotonicNow);
  return true;
}

Status LeaderElector::release() {
  if (!observed_ || observed_->holderIdentity != options_.identity) return okStatus();
  LeaseRecord released = *observed_;
  released.holderIdentity.clear();
  released.leaseDurationSeconds = 1;
  released.renewTime = clock_.now();
  RETURN_IF_ERROR(store_.update(released));
  observed_ = released;
  renewedAt_ = 0;
  return okStatus();
}

void LeaderElector::run(std::stop_token stop, const std::function<void()>& onStartedLeading,
                        const std::function<void()>& onStoppedLeading) {
  std::jthread rounds([this](std::stop_token roundsStop) {
    while (!roundsStop.stop_requested()) {
      tryAcquireOrRenew();
      sleepUnlessStopped(roundsStop, options_.retryPeriod);
    }
  });
  // Checked far more often than rounds run, so that leadership ends within a few milliseconds of
  // the deadline even while a round waits for an answer.
  const auto tick = std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(50), std::chrono::duration_cast<std::chrono::milliseconds>(options_.retryPeriod));
  bool leading = false;
  while (!stop.stop_requested()) {
    const bool now = isLeader();
    if (now && !leading) onStartedLeading();
    if (!now && leading) onStoppedLeading();
    leading = now;
    sleepUnlessStopped(stop, tick);
  }
  rounds.request_stop();
  rounds.join();  // a round in flight finishes (its request's timeout bounds it)
  if (leading) {
    (void)release();
    onStoppedLeading();
  }
}

}  // namespace rotor::kube
