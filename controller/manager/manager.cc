#include "controller/manager/manager.h"

#include <thread>
#include <vector>

namespace rotor::manager {

Status Manager::resync() {
  ASSIGN_OR_RETURN(std::vector<api::ObjectKey> keys,
                   options_.listKeys ? options_.listKeys() : ctx_.rotations.listRotationKeys());
  for (const api::ObjectKey& key : keys) {
    queue_.add(key);
  }
  synced_.store(true);
  // What deleted rotations left behind: a rotation deleted while no controller ran is in no
  // notification, only absent from this list.
  StatusOr<size_t> collected = ctx_.bundles.collectOrphans(keys);
  if (!collected.ok()) {
    log_.warn("Could not remove what deleted rotations left", {{"error", collected.status().message()}});
  } else if (*collected > 0) {
    log_.info("Removed what deleted rotations left", {{"objects", std::to_string(*collected)}});
  }
  return okStatus();
}

void Manager::notifyChanged(const api::ObjectKey& key, const std::string& resourceVersion) {
  if (!ownWrites_.isEcho(key, resourceVersion)) queue_.add(key);
}

bool Manager::processOne() {
  std::optional<api::ObjectKey> key = queue_.tryGet();
  if (!key) return false;
  reconcileKey(*key);
  return true;
}

Duration Manager::agentsInterval(const api::ObjectKey& key) {
  std::lock_guard lock(tookMu_);
  auto it = lastTook_.find(key);
  return it == lastTook_.end() ? kAgentsInterval
                               : std::max(kAgentsInterval, std::chrono::ceil<Duration>(kAgentsDutyRatio * it->second));
}

void Manager::reconcileKey(const api::ObjectKey& key) {
  const MonotonicTime start = ctx_.clock.monotonicNow();
  auto result = driver_.reconcile(key);
  const std::chrono::nanoseconds took = ctx_.clock.monotonicNow() - start;
  {
    std::lock_guard lock(tookMu_);
    if (result.ok() && !result->found) {
      lastTook_.erase(key);
    } else {
      lastTook_[key] = took;
    }
  }
  queue_.done(key);
  if (options_.observer != nullptr) {
    options_.observer->reconciled(key, result, took);
  }
  if (result.ok()) {
    if (log_.enabled(LogLevel::kDebug)) {
      log_.debug("Reconciled", {{"rotation", key.toString()},
                                {"phase", std::string(api::phaseName(result->phase))},
                                {"requeueAfter", formatDuration(result->requeueAfter)},
                                {"found", result->found ? "true" : "false"}});
    }
    queue_.forget(key);
    for (const reconcilers::ReconcileResult::Transition& t : result->transitions) {
      log_.info("Changed phase", {{"rotation", key.toString()},
                                  {"from", std::string(api::phaseName(t.from))},
                                  {"to", std::string(api::phaseName(t.to))},
                                  {"reason", t.reason}});
    }
    if (result->found && result->requeueAfter > Duration::zero()) {
      queue_.addAfter(key, result->requeueAfter);
    }
    return;
  }
  if (result.status().code() == Code::kConflict) {
    log_.debug("Retrying after a conflicting write", {{"rotation", key.toString()}});
    queue_.add(key);
    return;
  }
  log_.error("Could not reconcile CertificateRotation", {{"rotation", key.toString()},
                                                         {"error", result.status().message()},
                                                         {"retries", std::to_string(queue_.failures(key))}});
  queue_.addWithBackoff(key);
}

void Manager::run(std::stop_token stop) {
  std::stop_callback wake(stop, [this] { queue_.shutDown(); });
  std::vector<std::jthread> workers;
  for (int i = 0; i < options_.workers; ++i) {
    workers.emplace_back([this] {
      while (std::optional<api::ObjectKey> key = queue_.get()) {
        reconcileKey(*key);
      }
    });
  }
  MonotonicTime nextResync = ctx_.clock.monotonicNow();
  while (!stop.stop_requested()) {
    lastTick_.store(ctx_.clock.monotonicNow().time_since_epoch());
    if (ctx_.clock.monotonicNow() >= nextResync) {
      if (Status s = resync(); !s.ok()) {
        log_.error("Could not list CertificateRotations", {{"error", s.message()}});
      }
      nextResync = ctx_.clock.monotonicNow() + options_.resyncPeriod;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  queue_.shutDown();
}

}  // namespace rotor::manager
