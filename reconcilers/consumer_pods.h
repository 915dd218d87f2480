#pragma once

// Agentless adoption (spec.adoption.pods): the pods that read the bundle are measured like
// agents, and, when the policy says so, the workloads whose pods have not adopted are restarted
// a few at a time so that they read the bundle again.

#include <string>

#include "controller/api/rotation.h"
#include "reconcilers/context.h"

namespace rotor::reconcilers {

/**
 * Counts the consumer pods of the CA `fingerprint` into status.pods: call it only once every copy
 * of the bundle holds that CA (the first call records that moment as status.pods.bundleSince).
 * With restartWorkloads it then follows the restarts under way and starts the next ones. Returns
 * kUnavailable while the pods cannot be counted yet.
 */
StatusOr<store::PodTally> measureConsumerPods(RotationContext& ctx, api::CertificateRotation& r,
                                              const std::string& fingerprint);

/** How long a workload whose every consumer pod reports its bundle digest (rotor.dev/bundle-digest)
 *  is left to report the new one before restartWorkloads restarts it: the kubelet updates mounted
 *  ConfigMaps and Secrets at its sync period (1 minute by default) plus its cache's delay. */
inline constexpr Duration kReporterGrace = std::chrono::minutes(3);

/** When restarts of lagging workloads may start, while that is still ahead: pods a restart makes
 *  count only if the kubelet takes them at or after status.pods.bundleSince (a whole second past
 *  the measurement that set it); earlier ones would never count, and a workload is restarted once. */
std::optional<SystemTime> deferredRestartsAt(const api::CertificateRotation& r, SystemTime now);

/** Why the consumer pods keep the gate closed whatever they count: a restarted workload still
 *  rolling out may have no running pods for a moment (Recreate), and would drop out of the count
 *  rather than adopt. Empty when nothing holds it. */
std::string consumerPodsHold(const api::RotationStatus& status);

}  // namespace rotor::reconcilers
