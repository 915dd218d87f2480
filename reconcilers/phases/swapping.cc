// Swapping: one server at a time — maintenance window, snapshot, pre-checks, atomic write, reload.

#include "controller/pki/bundle.h"
#include "reconcilers/ca_renewal.h"
#include "reconcilers/material.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/prechecks.h"
#include "reconcilers/snapshots.h"
#include "reconcilers/status_refresh.h"
#include "reconcilers/triggers.h"
#include "reconcilers/windows.h"

namespace rotor::reconcilers::phases {

std::string bakePlan(const CertificateRotation& r, const api::ServerSpec& server) {
  if (!server.healthCheck) {
    // Without a probe there is nothing to watch, so nothing to bake: waiting would only delay.
    return server.restart ? "verified once its workload has rolled out (no healthCheck, so no bakeTime)"
                          : "verified by its reload (no healthCheck, so no bakeTime)";
  }
  return std::string(server.restart ? "once its workload has rolled out, " : "") + "verifying health probes for " +
         formatDuration(r.spec.swap.bakeTime);
}
namespace {

/** The first server (in spec order) whose swap is not verified yet; null when all are. */
const api::ServerSpec* nextServerToSwap(const CertificateRotation& r) {
  for (const api::ServerSpec& server : r.spec.servers) {
    const api::ServerStatus* s = findServerStatus(r.status, server.name);
    if (s == nullptr || !s->verifiedAt) {
      return &server;
    }
  }
  return nullptr;
}

/** Whether swaps may start now; a wait outcome when not. */
StatusOr<std::optional<Outcome>> waitForWindow(const CertificateRotation& r, SystemTime now) {
  if (!r.spec.swap.maintenanceWindow) {
    return std::optional<Outcome>();
  }
  auto window = evaluateWindow(*r.spec.swap.maintenanceWindow, now);
  if (!window.ok()) {
    return std::optional<Outcome>(Outcome::block("InvalidMaintenanceWindow", window.status().message()));
  }
  if (window->open) {
    return std::optional<Outcome>();
  }
  return std::optional<Outcome>(
      Outcome::wait(std::chrono::ceil<Duration>(window->opensAt - now), "WaitingForWindow",
                    "Waiting for the maintenance window opening at " + formatRfc3339(window->opensAt)));
}

struct Issued {
  store::ServedMaterial material;
  std::vector<pki::Finding> findings;
};

/** The key the new certificate certifies: the served one under rotationPolicy Never, while it
 *  still has the algorithm and size the spec asks for; a fresh one otherwise. */
StatusOr<pki::PrivateKey> keyForNewCertificate(const api::CertificateSpec& c,
                                               const std::optional<store::ServedMaterial>& served) {
  if (c.keyRotationPolicy == api::KeyRotationPolicy::kNever && served && !served->keyPem.empty()) {
    auto kept = pki::PrivateKey::fromPem(served->keyPem);
    if (kept.ok() && kept->spec() == c.privateKey) {
      return kept;
    }
  }
  return pki::PrivateKey::generate(c.privateKey);
}

/** A new certificate for `server` from `issuer`, with its chain, checked against what it replaces. */
StatusOr<Issued> issueChecked(RotationContext& ctx, const CertificateRotation& r,
                              const std::optional<store::ServedMaterial>& served,
                              const pki::CertificateAuthority& issuer,
                              const std::optional<pki::CertificateAuthority>& crossSigner) {
  const SystemTime now = ctx.clock.now();
  const api::CertificateSpec& c = r.spec.certificate;
  ASSIGN_OR_RETURN(pki::PrivateKey key, keyForNewCertificate(c, served));
  ASSIGN_OR_RETURN(pki::Certificate leaf,
                   issuer.issue({c.commonName, c.dnsNames, c.ipAddresses, c.validity}, key, now));
  std::vector<pki::Certificate> intermediates;
  if (crossSigner) {
    ASSIGN_OR_RETURN(pki::Certificate cross, crossSigner->crossSign(issuer.certificate(), now));
    intermediates.push_back(std::move(cross));
  }
  std::optional<pki::Certificate> previous;
  if (served) {
    ASSIGN_OR_RETURN(std::vector<pki::Certificate> chain, chainOf(*served));
    previous = chain.front();
  }
  const pki::Certificate* crossRoot = crossSigner ? &crossSigner->certificate() : nullptr;
  Issued out;
  out.findings = runSwapPrechecks({leaf, intermediates, key, previous ? &*previous : nullptr, issuer, crossRoot}, now);
  std::vector<pki::Certificate> chain{leaf};
  chain.insert(chain.end(), intermediates.begin(), intermediates.end());
  out.material = {pki::writePemBundle(chain), key.toPem(), issuer.certificate().toPem()};
  return out;
}

}  // namespace

StatusOr<Outcome> swapping(RotationContext& ctx, CertificateRotation& r) {
  const api::ServerSpec* server = nextServerToSwap(r);
  if (server == nullptr) {
    return Outcome::moveTo(api::Phase::kVerifying, "Swapped", "Every server is swapped");
  }
  const bool renewal = isRenewal(r.status.trigger);
  const bool caRenewal = isCaRenewal(r.status.trigger);
  ASSIGN_OR_RETURN(store::Snapshot snapshot,
                   ensureSnapshot(ctx, r, "swap",
                                  caRenewal ? "Before re-issuing the CA certificate and renewing the servers"
                                  : renewal ? "Before renewing the server certificates"
                                            : "Before swapping to the new CA"));
  if (caRenewal) {
    RETURN_IF_ERROR(renewCurrentCaOnce(ctx, r, snapshot));
  }
  ASSIGN_OR_RETURN(auto authorities, ctx.authorities.readAuthorities(r));
  ASSIGN_OR_RETURN(
      pki::CertificateAuthority issuer,
      requireAuthority(renewal ? authorities.value.current : authorities.value.next, renewal ? "current" : "next"));
  std::optional<pki::CertificateAuthority> crossSigner;
  if (!renewal && r.spec.ca.crossSign) {
    ASSIGN_OR_RETURN(crossSigner, authorityIn(authorities.value.current));
  }
  ASSIGN_OR_RETURN(auto served, ctx.servers.readServed(r, server->name));
  auto before = snapshot.servers.find(server->name);
  const bool written = served.value && (before == snapshot.servers.end() || *served.value != before->second);
  const SystemTime now = statusNow(ctx);
  if (!written) {
    ASSIGN_OR_RETURN(std::optional<Outcome> wait, waitForWindow(r, ctx.clock.now()));
    if (wait) {
      return *wait;
    }
    ASSIGN_OR_RETURN(Issued issued, issueChecked(ctx, r, served.value, issuer, crossSigner));
    if (!issued.findings.empty()) {
      Outcome blocked =
          Outcome::block("PrecheckFailed", "Server \"" + server->name + "\": " + describeFindings(issued.findings));
      for (const pki::Finding& f : issued.findings) {
        blocked.failedChecks.push_back(f.check);
      }
      return blocked;
    }
    RETURN_IF_ERROR(ctx.servers.writeServed(r, server->name, issued.material, served.version));
  }
  RETURN_IF_ERROR(refreshServerStatus(ctx.servers, r, authorities.value));
  api::ServerStatus& st = serverStatusOf(r.status, server->name);
  st.swappedAt = now;
  st.rolledOutAt.reset();
  st.lastProbeAt.reset();
  st.probeFailures = 0;
  st.lastProbeError.clear();
  if (Status reloaded = ctx.servers.reload(r, server->name); !reloaded.ok()) {
    if (reloaded.code() == Code::kUnavailable) {
      return reloaded;  // transient: retried with backoff, the write is already in place
    }
    st.probeFailures = 1;
    st.lastProbeError = "reload failed: " + reloaded.message();
    r.status.rollbackSnapshot = snapshot.name;
    return Outcome::moveTo(api::Phase::kRollingBack, "ReloadFailed",
                           "Server \"" + server->name + "\" did not reload: " + reloaded.message());
  }
  return Outcome::moveTo(api::Phase::kVerifying, "Swapped",
                         "Server \"" + server->name + "\" presents its new certificate; " + bakePlan(r, *server));
}

}  // namespace rotor::reconcilers::phases
