#include "controller/cli/report.h"

#include <cstdio>
#include <sstream>

#include "controller/cli/output.h"
#include "reconcilers/consumer_pods.h"
#include "reconcilers/gates.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/triggers.h"
#include "reconcilers/windows.h"

namespace rotor::cli {
namespace {

using api::Phase;

std::string formatKeySpec(const KeySpec& k) {
  return std::string(keyAlgorithmName(k.algorithm)) + (k.size > 0 ? "-" + std::to_string(k.size) : "");
}

std::string timeOrDash(const std::optional<SystemTime>& t) { return t ? formatRfc3339(*t) : "-"; }

std::string caLine(const char* slot, const std::optional<api::CertificateRef>& ref) {
  if (!ref) return std::string("  ") + slot + ": -\n";
  return std::string("  ") + slot + ": " + ref->fingerprint + "  notAfter " + timeOrDash(ref->notAfter) + "\n";
}

std::string progressBar(double ratio) {
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(ratio * kWidth + 0.5);
  char percent[16];
  std::snprintf(percent, sizeof(percent), "%5.1f%%", ratio * 100);
  return "[" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(kWidth - filled), '.') +
         "] " + percent;
}

/** What the adoption gate asks for: "100% of active agents (seen within 10m), at least 3, staged for at least 1h";
 *  a bound left at zero is left out. */
std::string adoptionTerms(const api::AdoptionSpec& spec) {
  std::string terms = std::to_string(spec.threshold) + "% of active " + reconcilers::countedClients(spec) +
                      " (agents seen within " + formatDuration(spec.staleAfter) + ")";
  if (spec.minAgents > 0) terms += ", at least " + std::to_string(spec.minAgents);
  if (spec.minStageDuration > Duration::zero())
    terms += ", staged for at least " + formatDuration(spec.minStageDuration);
  return terms;
}

/** Each gate the rotation passes, with its state now: open, waiting (and why), passed, or what the next rotation
 *  will wait for when none is in flight. */
std::string gatesSection(const api::CertificateRotation& r, SystemTime now) {
  const api::RotationStatus& s = r.status;
  const Phase p = s.resumePhase && (s.phase == Phase::kBlocked || s.phase == Phase::kPaused) ? *s.resumePhase : s.phase;
  std::ostringstream out;
  const auto line = [&](const std::string& gate, const std::string& state) {
    out << "  " << gate << std::string(gate.size() < 20 ? 20 - gate.size() : 1, ' ') << state << "\n";
  };
  if (s.phase == Phase::kPaused) line("pause", "WAITING: spec.paused is true (rotor resume " + r.metadata.name + ")");
  // Adoption.
  const bool restaging = p == Phase::kRollingBack && !s.rollbackRestagedCa.empty();
  if (p == Phase::kAwaitingAdoption || restaging) {
    const auto gate = reconcilers::evaluateAdoptionGate(
        r.spec.adoption, api::clientTally(s), s.phaseStartedAt.value_or(now), now, reconcilers::approvalPending(r),
        restaging ? "the CA being restored" : "the new CA", reconcilers::consumerPodsHold(s));
    line(restaging ? "rollback adoption" : "adoption", (gate.open ? "OPEN: " : "WAITING: ") + gate.message);
    if (r.spec.adoption.timeout) {
      line("adoption timeout",
           "after " + formatDuration(*r.spec.adoption.timeout) + " staged -> " +
               (r.spec.adoption.onTimeout == api::TimeoutAction::kProceed ? "Proceed: the swap goes on, laggards or not"
                                                                          : "Blocked, never forced"));
    }
  } else if (p == Phase::kStaging || p == Phase::kReady || p == Phase::kRolledBack) {
    // Not "not reached": beside a full adoption bar that reads as a threshold missed.
    line("adoption", r.spec.adoption.mode == api::AdoptionMode::kManual
                         ? "next rotation waits for rotor approve (adoption.mode Manual)"
                         : "next rotation waits for " + adoptionTerms(r.spec.adoption));
  } else {
    line("adoption", "passed");
  }
  // Maintenance window.
  if (r.spec.swap.maintenanceWindow) {
    const auto& w = *r.spec.swap.maintenanceWindow;
    auto state = reconcilers::evaluateWindow(w, now);
    std::string where = "\"" + w.schedule + "\" " + w.timeZone + " for " + formatDuration(w.duration);
    if (!state.ok()) {
      line("maintenance window", "INVALID: " + state.status().message());
    } else if (state->open) {
      line("maintenance window", "OPEN until " + formatRfc3339(state->closesAt) + " (" + where + ")");
    } else {
      line("maintenance window", std::string(p == Phase::kSwapping ? "WAITING" : "closed") + ": opens at " +
                                     formatRfc3339(state->opensAt) + " (" + where + ")");
    }
  } else {
    line("maintenance window", "none: swaps may start at any time");
  }
  // Bake of each server.
  for (const api::ServerStatus& server : s.servers) {
    if (server.verifiedAt) {
      line("bake " + server.name, "passed at " + formatRfc3339(*server.verifiedAt));
    } else if (server.swappedAt && !server.rolledOutAt) {
      line("bake " + server.name, "WAITING: its restarted workload to roll out, until " +
                                      formatRfc3339(*server.swappedAt + r.spec.swap.rolloutTimeout) +
                                      " at the latest (then the swap is rolled back)");
    } else if (server.swappedAt) {
      line("bake " + server.name, "WAITING: healthy probes until " +
                                      formatRfc3339(*server.rolledOutAt + r.spec.swap.bakeTime) + ", failures " +
                                      std::to_string(server.probeFailures) + "/" +
                                      std::to_string(r.spec.swap.probe.failureThreshold) +
                                      (server.lastProbeError.empty() ? "" : " (last: " + server.lastProbeError + ")"));
    }
  }
  // Prune.
  if (!s.trigger.empty() && reconcilers::isRenewal(s.trigger)) {
    line("prune", "none: a renewal keeps the CA, so no CA leaves the bundle");
  } else if (p == Phase::kDraining && s.phaseStartedAt) {
    line("prune", "WAITING: old CA leaves the bundle at " + formatRfc3339(*s.phaseStartedAt + r.spec.prune.after) +
                      (r.spec.prune.waitForExpiry ? " or when it expires, whichever is later" : ""));
  } else {
    line("prune", "after " + formatDuration(r.spec.prune.after) + " of draining" +
                      (r.spec.prune.waitForExpiry ? ", and not before the old CA expires" : ""));
  }
  return out.str();
}

/** What a person can do now, with the command for it: the last line of `rotor status`. */
std::string nextStep(const api::CertificateRotation& r) {
  const api::RotationStatus& s = r.status;
  const std::string name = r.metadata.name;
  const Phase p = s.phase == Phase::kBlocked ? s.resumePhase.value_or(Phase::kReady) : s.phase;
  const std::string laggards = s.adoption.laggards.empty() ? "" : " (laggards above)";
  const std::string clients = !r.spec.adoption.pods   ? "agents"
                              : s.adoption.active > 0 ? "agents and consumer pods"
                                                      : "consumer pods";
  if (s.phase == Phase::kPaused) return "resume it: rotor resume " + name;
  if (p == Phase::kAwaitingAdoption) {
    if (r.spec.adoption.mode == api::AdoptionMode::kManual) {
      return "check that your clients trust the new CA, then: rotor approve " + name + " (or give up: rotor abandon " +
             name + ")";
    }
    return "wait for the " + clients + laggards + ", or swap now: rotor approve " + name +
           ", or give up: rotor abandon " + name;
  }
  if (p == Phase::kRollingBack && !s.rollbackRestagedCa.empty()) {
    return "wait for the " + clients + " to trust the restored CA" + laggards + ", or restore now: rotor rollback " +
           name + " --skip-adoption (clients that have not learned it fail)";
  }
  if (s.phase == Phase::kBlocked) {
    return "fix what the message says; a spec change or rotor rotate " + name + " tries again (or rotor abandon " +
           name + ")";
  }
  switch (s.phase) {
    case Phase::kReady:
      return "nothing to do; rotor plan " + name + " shows what the next rotation would do and when it starts";
    case Phase::kRolledBack:
      return "find why it rolled back (Conditions, events), then try again: rotor rotate " + name;
    case Phase::kFailed:
      return "restore a snapshot: rotor rollback " + name + " --to SNAPSHOT (listed below)";
    case Phase::kPending:
    case Phase::kIssuing:
    case Phase::kStaging:
      return "wait: the controller is issuing and staging";
    default:
      return "wait for the phase to finish, or go back: rotor rollback " + name;
  }
}

}  // namespace

std::string formatStatusReport(const api::CertificateRotation& r, const std::vector<store::Snapshot>& snapshots,
                               SystemTime now) {
  const api::RotationStatus& s = r.status;
  std::ostringstream out;
  out << "Name:        " << r.key().toString() << "\n"
      << "Phase:       " << api::phaseName(s.phase) << " since " << timeOrDash(s.phaseStartedAt) << "\n"
      << "Revision:    " << s.revision << (s.trigger.empty() ? "" : " (rotating: " + s.trigger + ")") << "\n"
      << "Message:     " << s.message << "\n\nCA:\n"
      << caLine("current ", s.ca.current) << caLine("next    ", s.ca.next) << caLine("previous", s.ca.previous);
  out << "\nServers:\n";
  std::vector<std::vector<std::string>> servers = {{"  NAME", "FINGERPRINT", "NOT-AFTER", "ISSUER"}};
  for (const api::ServerStatus& server : s.servers) {
    std::string issuer = "unknown";
    if (s.ca.current && server.issuerFingerprint == s.ca.current->fingerprint) issuer = "current";
    if (s.ca.next && server.issuerFingerprint == s.ca.next->fingerprint) issuer = "next";
    if (s.ca.previous && server.issuerFingerprint == s.ca.previous->fingerprint) issuer = "previous";
    servers.push_back({"  " + server.name, server.fingerprint, timeOrDash(server.notAfter), issuer});
  }
  out << formatTable(servers);
  // What the gate counts: agents, and consumer pods where spec.adoption.pods asks for them.
  const api::AdoptionStatus clients = api::clientTally(s);
  out << "\nAdoption:    ";
  if (clients.active == 0) {
    out << "no active " << reconcilers::countedClients(r.spec.adoption);
  } else {
    out << progressBar(clients.ratio) << "  " << clients.adopted << "/" << clients.active << " active "
        << reconcilers::countedClients(r.spec.adoption) << " adopted";
  }
  if (s.pods) {
    out << " (agents " << s.adoption.adopted << "/" << s.adoption.active << ", consumer pods " << s.pods->adopted << "/"
        << s.pods->running << ")";
  }
  out << ", " << s.adoption.stale << " stale agents\n";
  if (!s.adoption.laggards.empty()) {
    out << "Laggards:   ";
    for (const std::string& id : s.adoption.laggards) out << " " << id;
    out << "\n";
  }
  if (s.bundleCopies &&
      (s.bundleCopies->wanted > 0 || !s.bundleCopies->foreign.empty() || !s.bundleCopies->clusterTrustBundle)) {
    out << "Bundle copies: " << s.bundleCopies->current << "/" << s.bundleCopies->wanted
        << " namespaces hold the bundle as it is now";
    if (!s.bundleCopies->foreign.empty()) {
      out << "; left alone (a ConfigMap of its name that rotor did not create):";
      for (const std::string& ns : s.bundleCopies->foreign) out << " " << ns;
    }
    out << "\n";
  }
  if (const auto& ctb = s.bundleCopies ? s.bundleCopies->clusterTrustBundle : std::nullopt) {
    out << "ClusterTrustBundle: " << ctb->name
        << (ctb->current   ? " holds the bundle as it is now"
            : ctb->foreign ? " was not created by rotor: left alone"
                           : " is not current")
        << (ctb->apiVersion.empty() ? "" : " (" + ctb->apiVersion + ")")
        << (ctb->current || ctb->message.empty() ? "" : ": " + ctb->message) << "\n";
  }
  if (!s.caSecret.pending.empty()) {
    out << "CA Secret:  holds " << s.caSecret.pending << ", taken up when this rotation ends\n";
  }
  if (s.pods) out << formatConsumerPods(*s.pods);
  out << "\nGates:\n" << gatesSection(r, now);
  out << "\nConditions:\n";
  std::vector<std::vector<std::string>> conditions = {{"  TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"}};
  for (const api::Condition& c : s.conditions) {
    conditions.push_back({"  " + c.type, c.status, c.reason, timeOrDash(c.lastTransitionTime), c.message});
  }
  out << formatTable(conditions);
  out << "\nTimeline:\n";
  for (const api::PhaseEntry& e : s.timeline) {
    out << "  " << timeOrDash(e.enteredAt) << "  " << api::phaseName(e.phase)
        << std::string(api::phaseName(e.phase).size() < 17 ? 17 - api::phaseName(e.phase).size() : 1, ' ') << e.message
        << "\n";
  }
  out << "\nSnapshots:\n";
  std::vector<std::vector<std::string>> rows = {{"  NAME", "TAKEN", "REVISION", "REASON"}};
  for (const store::Snapshot& snap : snapshots) {
    rows.push_back({"  " + snap.name, formatRfc3339(snap.takenAt), std::to_string(snap.revision), snap.reason});
  }
  out << (snapshots.empty() ? "  none\n" : formatTable(rows));
  out << "\nNext step:   " << nextStep(r) << "\n";
  return out.str();
}

std::string formatPlan(const api::CertificateRotation& r, SystemTime now) {
  const api::RotationSpec& spec = r.spec;
  std::ostringstream out;
  const auto d = reconcilers::detectTrigger(r, now, r.status.phase != Phase::kRolledBack);
  if (r.status.phase != Phase::kReady && r.status.phase != Phase::kRolledBack) {
    out << "A rotation is in flight (phase " << api::phaseName(r.status.phase) << "); `rotor status " << r.metadata.name
        << "` shows where it stands.\n";
    return out.str();
  }
  std::string trigger = d.trigger;
  if (trigger.empty()) {
    out << "Nothing would start now.";
    if (d.nextExpiryCheck) out << " The next expiry trigger fires at " << formatRfc3339(*d.nextExpiryCheck) << ".";
    out << "\nThe next CA rotation (rotor rotate " << r.metadata.name << ") would:\n";
    trigger = std::string(reconcilers::triggers::kRotateRequested);
  } else {
    out << "Would start now: " << d.trigger << " (" << d.message << ").\nSteps:\n";
  }
  int step = 1;
  const auto item = [&](const std::string& text) { out << "  " << step++ << ". " << text << "\n"; };
  const std::string bundle = !spec.trustBundle.file.empty() ? spec.trustBundle.file
                                                            : std::string(api::bundleObjectKind(spec.trustBundle)) +
                                                                  " " + api::bundleObjectName(spec.trustBundle);
  if (!reconcilers::isRenewal(trigger)) {
    if (spec.ca.generate) {
      item("Stage a new CA: generate " + formatKeySpec(spec.ca.generate->privateKey) + " \"" +
           spec.ca.generate->commonName + "\" valid " + formatDuration(spec.ca.generate->validity) + "; add it to " +
           bundle + " beside the current CA");
    } else {
      item("Stage a new CA imported from " +
           (spec.ca.files ? spec.ca.files->certFile : "Secret " + spec.ca.secretRef->name) + "; add it to " + bundle +
           " beside the current CA");
    }
    item("Wait for adoption: " + adoptionTerms(spec.adoption) +
         (spec.adoption.timeout ? "; Blocked after " + formatDuration(*spec.adoption.timeout) : ""));
  }
  item("Snapshot every server's material and the bundle (" + r.metadata.name + "-r" +
       std::to_string(r.status.revision) + "-swap)" +
       (spec.swap.maintenanceWindow ? ", inside the maintenance window \"" + spec.swap.maintenanceWindow->schedule +
                                          "\" " + spec.swap.maintenanceWindow->timeZone
                                    : ""));
  for (const api::ServerSpec& server : spec.servers) {
    std::string where = server.certFile.empty() ? "Secret " + server.secretName : server.certFile;
    item("Swap server \"" + server.name + "\": issue " + formatKeySpec(spec.certificate.privateKey) + " \"" +
         spec.certificate.commonName + "\" from the " + (reconcilers::isRenewal(trigger) ? "current" : "new") + " CA" +
         (spec.ca.crossSign && !reconcilers::isRenewal(trigger) ? " with the new CA cross-signed by the old" : "") +
         ", pre-check it, write " + where + ", reload; " + reconcilers::phases::bakePlan(r, server) +
         (server.healthCheck ? " at " + server.healthCheck->address + "; " +
                                   std::to_string(spec.swap.probe.failureThreshold) + " failures roll back"
                             : ""));
  }
  if (!reconcilers::isRenewal(trigger)) {
    item("Drain for " + formatDuration(spec.prune.after) +
         (spec.prune.waitForExpiry ? " and until the old CA expires" : "") +
         ", snapshot, then remove the old CA from " + bundle);
  }
  item("Ready at revision " + std::to_string(r.status.revision + 1));
  return out.str();
}

std::string formatConsumerPods(const api::PodAdoptionStatus& pods) {
  std::ostringstream out;
  out << "Consumer pods: " << pods.adopted << "/" << pods.running
      << " running pods read the bundle since it holds the CA being adopted";
  if (pods.bundleSince) out << " (" << formatRfc3339(*pods.bundleSince) << ")";
  out << "\n";
  if (!pods.workloads.empty()) {
    std::vector<std::vector<std::string>> rows = {{"  WORKLOAD", "PODS", "ADOPTED"}};
    for (const api::WorkloadAdoption& w : pods.workloads) {
      rows.push_back({"  " + w.workload.toString(), std::to_string(w.pods), std::to_string(w.adopted)});
    }
    out << formatTable(rows);
  }
  const auto list = [&](const char* title, const std::vector<api::WorkloadRef>& workloads) {
    if (workloads.empty()) return;
    out << title;
    const char* separator = " ";
    for (const api::WorkloadRef& w : workloads) {
      out << separator << w.toString();
      separator = ", ";
    }
    out << "\n";
  };
  list("Restarting (rolling out):", pods.restarting);
  list("Restarted:", pods.restarted);
  return out.str();
}

}  // namespace rotor::cli
