#include "reconcilers/consumer_pods.h"

#include <algorithm>
#include <chrono>

#include "controller/pki/digest.h"

namespace rotor::reconcilers {
namespace {

bool contains(const std::vector<api::WorkloadRef>& list, const api::WorkloadRef& w) {
  return std::find(list.begin(), list.end(), w) != list.end();
}

/** Pod start times have whole seconds: the next whole second is the first a start can be known
 *  to follow. */
SystemTime nextWholeSecond(SystemTime t) {
  const SystemTime whole = truncateToSeconds(t);
  return whole == t ? t : whole + std::chrono::seconds(1);
}

/** Moves restarts that rolled out to `restarted`, then restarts lagging workloads while fewer
 *  than maxConcurrentRestarts roll out. */
Status restartLaggards(RotationContext& ctx, api::CertificateRotation& r, const store::PodTally& tally) {
  api::PodAdoptionStatus& pods = *r.status.pods;
  for (auto it = pods.restarting.begin(); it != pods.restarting.end();) {
    StatusOr<api::Rollout> rollout = ctx.pods.workloadRollout(r, *it);
    if (!rollout.ok() && rollout.status().code() != Code::kNotFound) {
      return rollout.status().withContext("could not follow the restart of " + it->toString());
    }
    if (rollout.ok() && !rollout->done) {
      ++it;
      continue;
    }
    pods.restarted.push_back(*it);  // rolled out, or gone
    it = pods.restarting.erase(it);
  }
  const size_t limit = static_cast<size_t>(r.spec.adoption.pods->maxConcurrentRestarts);
  for (const api::WorkloadAdoption& w : tally.workloads) {
    if (pods.restarting.size() >= limit) break;
    if (w.adopted == w.pods) break;  // laggards come first
    if (!api::isRestartableKind(w.workload.kind) || contains(pods.restarting, w.workload) ||
        contains(pods.restarted, w.workload)) {
      continue;
    }
    // A workload whose pods report what they reloaded gets the kubelet's time to update their
    // volumes before it is restarted.
    if (tally.reporting.contains(w.workload) && ctx.clock.now() < *pods.bundleSince + kReporterGrace) continue;
    // Pods that read a bundle through the kubelet's cache read the new one only once the cached
    // old one has expired: restarted earlier, they would never count.
    if (tally.cachedReaders.contains(w.workload) &&
        ctx.clock.now() < *pods.bundleSince + store::kKubeletTrustBundleCache + std::chrono::seconds(1)) {
      continue;
    }
    RETURN_IF_ERROR(ctx.pods.restartWorkload(r, w.workload).withContext("could not restart " + w.workload.toString()));
    pods.restarting.push_back(w.workload);
    ctx.events.record(r, EventType::kNormal, "WorkloadRestarted",
                      "Restarted " + w.workload.toString() + ": " + std::to_string(w.pods - w.adopted) + " of its " +
                          std::to_string(w.pods) + " consumer pods have not read the bundle since it holds the new CA");
  }
  return okStatus();
}

}  // namespace

StatusOr<store::PodTally> measureConsumerPods(RotationContext& ctx, api::CertificateRotation& r,
                                              const std::string& fingerprint) {
  if (!r.status.pods || r.status.pods->ca != fingerprint) r.status.pods = api::PodAdoptionStatus{.ca = fingerprint};
  api::PodAdoptionStatus& pods = *r.status.pods;
  if (!pods.bundleSince) pods.bundleSince = nextWholeSecond(ctx.clock.now());
  ASSIGN_OR_RETURN(auto bundle, ctx.bundles.readBundle(r));
  store::PodQuery query{.bundleSince = pods.bundleSince};
  if (bundle.value) query.bundleDigest = "sha256:" + pki::sha256Hex(*bundle.value);
  ASSIGN_OR_RETURN(store::PodTally tally, ctx.pods.tallyConsumerPods(r, query));
  pods.running = tally.running;
  pods.adopted = tally.adopted;
  pods.workloads.assign(
      tally.workloads.begin(),
      tally.workloads.begin() + static_cast<ptrdiff_t>(std::min(tally.workloads.size(), api::kWorkloadsShown)));
  // Pods a restart makes count only if the kubelet takes them at or after bundleSince (a whole
  // second ahead): restarting earlier could make pods that never count, and are never restarted again.
  if (!deferredRestartsAt(r, ctx.clock.now()) && r.spec.adoption.pods->restartWorkloads) {
    RETURN_IF_ERROR(restartLaggards(ctx, r, tally));
  }
  return tally;
}

std::optional<SystemTime> deferredRestartsAt(const api::CertificateRotation& r, SystemTime now) {
  const auto& pods = r.status.pods;
  if (!r.spec.adoption.pods || !r.spec.adoption.pods->restartWorkloads || !pods || !pods->bundleSince ||
      now >= *pods->bundleSince) {
    return std::nullopt;
  }
  return pods->bundleSince;
}

std::string consumerPodsHold(const api::RotationStatus& status) {
  if (!status.pods || status.pods->restarting.empty()) return "";
  const api::PodAdoptionStatus& pods = *status.pods;
  return "Waiting for " + std::to_string(pods.restarting.size()) +
         " restarted workloads to roll out: " + pods.restarting.front().toString() + "; " +
         std::to_string(pods.adopted) + "/" + std::to_string(pods.running) +
         " running consumer pods have read the new CA";
}

}  // namespace rotor::reconcilers
