// Verifying: watch the swapped server for bakeTime; promote the new CA once every server passed.

#include "reconcilers/material.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/snapshots.h"
#include "reconcilers/status_refresh.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers::phases {
namespace {

/** How often a restarted workload's rollout is looked at while it is under way. */
constexpr Duration kRolloutPollInterval = std::chrono::seconds(2);

/** The swapped server still baking: swapped and not yet verified. */
const api::ServerSpec* serverInBake(const CertificateRotation& r) {
  for (const api::ServerSpec& server : r.spec.servers) {
    const api::ServerStatus* s = findServerStatus(r.status, server.name);
    if (s != nullptr && s->swappedAt && !s->verifiedAt) {
      return &server;
    }
  }
  return nullptr;
}

bool allVerified(const CertificateRotation& r) {
  for (const api::ServerSpec& server : r.spec.servers) {
    const api::ServerStatus* s = findServerStatus(r.status, server.name);
    if (s == nullptr || !s->verifiedAt) {
      return false;
    }
  }
  return true;
}

/** current <- next, previous <- current. Idempotent: nothing to do once next is empty. */
Status promoteNextAuthority(RotationContext& ctx, CertificateRotation& r) {
  ASSIGN_OR_RETURN(auto authorities, ctx.authorities.readAuthorities(r));
  store::Authorities& a = authorities.value;
  if (a.next) {
    a.previous = std::move(a.current);
    a.current = std::move(a.next);
    a.next.reset();
    RETURN_IF_ERROR(ctx.authorities.writeAuthorities(r, a, authorities.version));
  }
  RETURN_IF_ERROR(refreshCaStatus(r.status, a));
  return refreshServerStatus(ctx.servers, r, a);
}

/** Waits until the server's restarted workload has rolled out (nullopt then), and fails the
 *  verification when it has not within rolloutTimeout of the swap. */
StatusOr<std::optional<Outcome>> awaitRollout(RotationContext& ctx, CertificateRotation& r,
                                              const api::ServerSpec& server) {
  api::ServerStatus& st = serverStatusOf(r.status, server.name);
  if (st.rolledOutAt) {
    return std::optional<Outcome>();
  }
  ASSIGN_OR_RETURN(api::Rollout rollout, ctx.servers.rolloutStatus(r, server.name));
  if (rollout.done) {
    st.rolledOutAt = statusNow(ctx);
    return std::optional<Outcome>();
  }
  if (ctx.clock.now() >= *st.swappedAt + r.spec.swap.rolloutTimeout) {
    r.status.rollbackSnapshot = snapshotName(r, "swap");
    return std::optional<Outcome>(
        Outcome::moveTo(api::Phase::kRollingBack, "RolloutTimedOut",
                        "Server \"" + server.name + "\" did not roll out within swap.rolloutTimeout (" +
                            formatDuration(r.spec.swap.rolloutTimeout) + "): " + rollout.progress));
  }
  return std::optional<Outcome>(Outcome::wait(kRolloutPollInterval, "RollingOut",
                                              "Server \"" + server.name + "\" restarting: " + rollout.progress));
}

/** One probe, at most once per probe.period; nullopt when the server passed its bake. */
StatusOr<std::optional<Outcome>> probeOnce(RotationContext& ctx, CertificateRotation& r,
                                           const api::ServerSpec& server) {
  api::ServerStatus& st = serverStatusOf(r.status, server.name);
  const SystemTime now = ctx.clock.now();
  const api::ProbeSpec& probe = r.spec.swap.probe;
  if (!server.healthCheck) {
    st.verifiedAt = statusNow(ctx);  // nothing to probe: a reload that succeeded is all we know
    return std::optional<Outcome>();
  }
  if (st.lastProbeAt && now < *st.lastProbeAt + probe.period) {
    return std::optional<Outcome>(
        Outcome::wait(std::chrono::ceil<Duration>(*st.lastProbeAt + probe.period - now), "Baking", r.status.message));
  }
  ASSIGN_OR_RETURN(auto served, ctx.servers.readServed(r, server.name));
  ASSIGN_OR_RETURN(auto bundle, ctx.bundles.readBundle(r));
  if (!served.value || !bundle.value) {
    return failedPrecondition("server \"" + server.name + "\" has no material or the bundle is missing");
  }
  ASSIGN_OR_RETURN(std::vector<pki::Certificate> chain, chainOf(*served.value));
  Status result = ctx.prober.probe(*server.healthCheck, *bundle.value, chain.front().fingerprint().toString());
  st.lastProbeAt = statusNow(ctx);
  if (!result.ok()) {
    ++st.probeFailures;
    st.lastProbeError = result.message();
    const std::string count = std::to_string(st.probeFailures) + "/" + std::to_string(probe.failureThreshold);
    if (st.probeFailures >= probe.failureThreshold) {
      r.status.rollbackSnapshot = snapshotName(r, "swap");
      return std::optional<Outcome>(
          Outcome::moveTo(api::Phase::kRollingBack, "ProbeFailed",
                          "Server \"" + server.name + "\" failed " + count + " health probes: " + result.message()));
    }
    return std::optional<Outcome>(
        Outcome::wait(probe.period, "ProbeFailing",
                      "Server \"" + server.name + "\" failed a health probe (" + count + "): " + result.message()));
  }
  const SystemTime bakeEnds = st.rolledOutAt.value_or(*st.swappedAt) + r.spec.swap.bakeTime;
  if (now < bakeEnds) {
    const Duration left = std::chrono::ceil<Duration>(bakeEnds - now);
    return std::optional<Outcome>(Outcome::wait(
        std::min(left, probe.period), "Baking",
        "Server \"" + server.name + "\" healthy; baking until " + formatRfc3339(truncateToSeconds(bakeEnds))));
  }
  st.verifiedAt = statusNow(ctx);
  return std::optional<Outcome>();
}

}  // namespace

StatusOr<Outcome> verifying(RotationContext& ctx, CertificateRotation& r) {
  if (const api::ServerSpec* server = serverInBake(r)) {
    ASSIGN_OR_RETURN(std::optional<Outcome> rollingOut, awaitRollout(ctx, r, *server));
    if (rollingOut) {
      return *rollingOut;
    }
    ASSIGN_OR_RETURN(std::optional<Outcome> waiting, probeOnce(ctx, r, *server));
    if (waiting) {
      return *waiting;
    }
  }
  if (!allVerified(r)) {
    return Outcome::moveTo(api::Phase::kSwapping, "Verified", "Swapping the next server");
  }
  if (isRenewal(r.status.trigger)) {
    ASSIGN_OR_RETURN(auto authorities, ctx.authorities.readAuthorities(r));
    RETURN_IF_ERROR(refreshServerStatus(ctx.servers, r, authorities.value));
    ++r.status.revision;
    r.status.trigger.clear();
    return Outcome::moveTo(api::Phase::kReady, "Renewed", "Every server presents a renewed certificate");
  }
  RETURN_IF_ERROR(promoteNextAuthority(ctx, r));
  return Outcome::moveTo(api::Phase::kDraining, "Verified",
                         "Every server presents a certificate from the new CA; the old CA stays trusted for " +
                             formatDuration(r.spec.prune.after));
}

}  // namespace rotor::reconcilers::phases
