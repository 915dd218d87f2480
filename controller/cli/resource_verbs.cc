// The verbs that read and change rotations: apply, get, delete, rotate, pause, resume,
// rollback, snapshots, status, plan, check, version.
#include "controller/cli/verbs.h"

#include <functional>
#include <thread>

#include "controller/agent/agent.h"
#include "controller/api/json_codec.h"
#include "controller/api/validate.h"
#include "controller/api/yaml_codec.h"
#include "controller/cli/output.h"
#include "controller/cli/report.h"
#include "controller/common/strings.h"
#include "reconcilers/abandon.h"
#include "reconcilers/ca_renewal.h"
#include "reconcilers/gates.h"
#include "reconcilers/material.h"
#include "reconcilers/restore.h"
#include "reconcilers/triggers.h"

namespace rotor::cli {

int runApply(Context& ctx, const Invocation& inv) {
  if (!inv.has("filename")) throw UsageError{"apply needs -f FILE (or -f - for standard input)"};
  auto text = readInput(ctx, inv.get("filename"));
  if (!text.ok()) return fail(ctx, text.status());
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  // Everything is decoded and validated before the first write: all or nothing.
  auto rotations = api::decodeManifests(*text, (*store)->local() ? api::Mode::kLocal : api::Mode::kKubernetes);
  if (!rotations.ok()) {
    ctx.err << "error: " << inv.get("filename") << " was not applied:\n" << rotations.status().message() << "\n";
    return 1;
  }
  for (api::CertificateRotation desired : *rotations) {
    // As kubectl does: a manifest without a namespace lands in the context's (or --namespace).
    if (!(*store)->local() && desired.metadata.ns == api::kDefaultNamespace) desired.metadata.ns = ctx.ns;
    auto before = (*store)->store().getRotation(desired.key());
    auto applied = (*store)->store().applyRotation(desired);
    if (!applied.ok()) return fail(ctx, applied.status());
    std::string what = !before.ok()                                                            ? "created"
                       : before->metadata.resourceVersion == applied->metadata.resourceVersion ? "unchanged"
                                                                                               : "configured";
    ctx.out << "certificaterotation.rotor.dev/" << desired.metadata.name << " " << what << "\n";
  }
  return 0;
}

int runGet(Context& ctx, const Invocation& inv) {
  if (inv.positional.size() > 1) throw UsageError{"get takes at most one NAME"};
  const std::string format = inv.get("output", "table");
  if (format != "table" && format != "yaml" && format != "json") {
    throw UsageError{"-o must be yaml or json, got \"" + format + "\""};
  }
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  std::vector<api::CertificateRotation> rotations;
  if (inv.positional.size() == 1) {
    auto r = (*store)->store().getRotation(keyFrom(ctx, inv.positional[0]));
    if (!r.ok()) return fail(ctx, r.status());
    rotations.push_back(std::move(*r));
  } else {
    // Namespaced unless -A: an operator may hold list rights in its namespaces only.
    auto listed = (*store)->store().listRotations(inv.has("all-namespaces") ? store::kAllNamespaces : ctx.ns);
    if (!listed.ok()) return fail(ctx, listed.status());
    rotations = std::move(*listed);
  }
  if (format == "table") {
    if (rotations.empty()) {
      ctx.err << "No resources found\n";
      return 0;
    }
    ctx.out << formatRotationTable(rotations, ctx.clock.now());
    return 0;
  }
  const bool single = inv.positional.size() == 1;
  if (format == "json") {
    if (single) {
      ctx.out << api::rotationToJson(rotations.front());
    } else {
      nlohmann::json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", nlohmann::json::array()}};
      for (const auto& r : rotations) list["items"].push_back(api::encodeRotation(r));
      ctx.out << api::dumpJson(list, 2) << "\n";
    }
    return 0;
  }
  for (size_t i = 0; i < rotations.size(); ++i) {
    if (i > 0) ctx.out << "---\n";
    ctx.out << api::rotationToYaml(rotations[i]);
  }
  return 0;
}

int runDelete(Context& ctx, const Invocation& inv) {
  if (inv.positional.size() != 1) throw UsageError{"delete takes exactly one NAME"};
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  Status s = (*store)->store().deleteRotation(keyFrom(ctx, inv.positional[0]));
  if (!s.ok()) return fail(ctx, s);
  ctx.out << "certificaterotation.rotor.dev/" << inv.positional[0] << " deleted\n";
  return 0;
}

namespace {

bool isResting(api::Phase p) { return p == api::Phase::kReady || p == api::Phase::kRolledBack; }

/** The phase the controller acts from: a resumed rotation whose status still says Paused (the
 *  controller has not reconciled the resume yet) goes back to the phase it was paused in, so that
 *  `rotor resume X && rotor rotate X` does not depend on how quickly the controller reacts. */
api::Phase effectivePhase(const api::CertificateRotation& r) {
  if (r.status.phase == api::Phase::kPaused && !r.spec.paused) return r.status.resumePhase.value_or(api::Phase::kReady);
  return r.status.phase;
}

/** Reads NAME, applies `change` (which may refuse with a Status, and may read the store) and
 *  writes it back. A write that loses a race with the controller's status writes is made again
 *  from a fresh read, as client-go's RetryOnConflict does (5 tries). */
int updateNamed(Context& ctx, const Invocation& inv, const std::string& verb,
                const std::function<Status(store::Store&, api::CertificateRotation&)>& change,
                const std::string& done) {
  if (inv.positional.size() != 1) throw UsageError{verb + " takes exactly one NAME"};
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    auto r = (*store)->store().getRotation(keyFrom(ctx, inv.positional[0]));
    if (!r.ok()) return fail(ctx, r.status());
    if (Status refused = change((*store)->store(), *r); !refused.ok()) return fail(ctx, refused);
    Status written = (*store)->store().updateRotation(*r);
    if (written.ok()) {
      ctx.out << "certificaterotation.rotor.dev/" << r->metadata.name << " " << done << "\n";
      return 0;
    }
    if (written.code() != Code::kConflict || attempt == kAttempts) return fail(ctx, written);
    std::this_thread::sleep_for(std::chrono::milliseconds(10 * attempt));
  }
}

/** Sets a request annotation to a value it has not had: twice in one second is still a new request. */
void setRequest(const Context& ctx, api::CertificateRotation& r, std::string_view annotation) {
  const std::string key(annotation);
  std::string value = formatRfc3339(ctx.clock.now());
  if (r.metadata.annotations[key] == value) value += "-1";
  r.metadata.annotations[key] = value;
}

/** Asks the controller to abandon `r`; refused here when it could not. */
Status requestAbandon(const Context& ctx, api::CertificateRotation& r) {
  if (std::optional<std::string> why = reconcilers::whyNotAbandonable(r)) {
    return failedPrecondition("rotation " + r.metadata.name + " cannot be abandoned: " + *why);
  }
  setRequest(ctx, r, api::kAbandonAnnotation);
  return okStatus();
}

}  // namespace

int runRotate(Context& ctx, const Invocation& inv) {
  const bool renew = inv.has("renew");
  const bool renewCa = inv.has("renew-ca");
  if (renew && renewCa) throw UsageError{"rotate takes --renew or --renew-ca, not both"};
  return updateNamed(
      ctx, inv, "rotate",
      [&](store::Store& store, api::CertificateRotation& r) {
        if (r.spec.paused) return failedPrecondition("rotation " + r.metadata.name + " is paused; resume it first");
        if (!isResting(effectivePhase(r))) {
          return failedPrecondition("a rotation of " + r.metadata.name + " is already in flight (phase " +
                                    std::string(api::phaseName(effectivePhase(r))) + "); see rotor status " +
                                    r.metadata.name);
        }
        // A request the controller has not taken up yet: a second one would be folded into it (a new
        // rotation consumes both kinds), so saying "requested" twice would promise two rotations.
        for (const std::string_view pendingKey :
             {api::kRotateAnnotation, api::kRenewAnnotation, api::kRenewCaAnnotation}) {
          if (const std::string asked = reconcilers::pendingRequest(r, pendingKey); !asked.empty()) {
            return failedPrecondition("a rotation of " + r.metadata.name + " was already requested (" +
                                      std::string(pendingKey) + "=" + asked + ") and has not started yet");
          }
        }
        if (renewCa) {
          // Refused here, before anything is asked of the controller, when the CA cannot be re-issued.
          auto authorities = store.readAuthorities(r);
          if (!authorities.ok()) return authorities.status();
          auto current = reconcilers::requireAuthority(authorities->value.current, "current");
          if (!current.ok()) return current.status();
          if (std::optional<std::string> why = reconcilers::whyCaNotRenewable(r, *current)) {
            return failedPrecondition("cannot renew the CA of " + r.metadata.name + ": " + *why);
          }
        }
        setRequest(ctx, r, renewCa ? api::kRenewCaAnnotation : renew ? api::kRenewAnnotation : api::kRotateAnnotation);
        return okStatus();
      },
      renewCa ? "CA renewal requested (same key: no adoption round)"
      : renew ? "renewal requested"
              : "rotation requested");
}

int runPause(Context& ctx, const Invocation& inv) {
  return updateNamed(
      ctx, inv, "pause",
      [](store::Store&, api::CertificateRotation& r) {
        if (r.spec.paused) return failedPrecondition("rotation " + r.metadata.name + " is already paused");
        r.spec.paused = true;
        return okStatus();
      },
      "paused");
}

int runResume(Context& ctx, const Invocation& inv) {
  return updateNamed(
      ctx, inv, "resume",
      [](store::Store&, api::CertificateRotation& r) {
        if (!r.spec.paused) return failedPrecondition("rotation " + r.metadata.name + " is not paused");
        r.spec.paused = false;
        return okStatus();
      },
      "resumed");
}

int runAbandon(Context& ctx, const Invocation& inv) {
  return updateNamed(
      ctx, inv, "abandon", [&](store::Store&, api::CertificateRotation& r) { return requestAbandon(ctx, r); },
      "abandon requested");
}

int runApprove(Context& ctx, const Invocation& inv) {
  std::string done;
  return updateNamed(
      ctx, inv, "approve",
      [&](store::Store&, api::CertificateRotation& r) {
        const api::RotationStatus& s = r.status;
        const api::Phase at = s.phase == api::Phase::kBlocked ? s.resumePhase.value_or(s.phase) : s.phase;
        const bool atGate =
            at == api::Phase::kAwaitingAdoption || (at == api::Phase::kRollingBack && !s.rollbackRestagedCa.empty());
        if (!atGate) {
          return failedPrecondition("rotation " + r.metadata.name + " is not waiting at the adoption gate (phase " +
                                    std::string(api::phaseName(s.phase)) + ")");
        }
        if (reconcilers::approvalPending(r)) {
          return failedPrecondition("rotation " + r.metadata.name +
                                    " was already approved and the controller has not taken it up yet");
        }
        setRequest(ctx, r, api::kApproveAnnotation);
        done = "approved: " + std::to_string(s.adoption.adopted) + "/" + std::to_string(s.adoption.active) +
               " active agents trusted the CA when last measured";
        if (s.adoption.adopted < s.adoption.active) {
          done += "; clients of the others fail once the servers change, until they learn it";
        }
        return okStatus();
      },
      done);
}

namespace {

bool isRollingBackTo(const api::CertificateRotation& r, const std::string& snapshot) {
  const bool rollingBack = r.status.phase == api::Phase::kRollingBack ||
                           (r.status.phase == api::Phase::kBlocked && r.status.resumePhase == api::Phase::kRollingBack);
  return rollingBack && (snapshot.empty() || snapshot == r.status.rollbackSnapshot);
}

}  // namespace

int runRollback(Context& ctx, const Invocation& inv) {
  std::string done = "rollback requested";
  const bool skipAdoption = inv.has("skip-adoption");
  const std::string skipRisk =
      "restoring at once: clients that no longer trust the snapshot's CA fail to connect until they learn it again";
  return updateNamed(
      ctx, inv, "rollback",
      [&](store::Store& store, api::CertificateRotation& r) {
        if (r.spec.paused) return failedPrecondition("rotation " + r.metadata.name + " is paused; resume it first");
        if (r.status.phase == api::Phase::kPending || r.status.phase == api::Phase::kIssuing) {
          return failedPrecondition("rotation " + r.metadata.name + " has nothing to roll back to yet");
        }
        std::string target = inv.get("to");
        if (skipAdoption && isRollingBackTo(r, target)) {
          // The rollback in flight waits for clients to trust its CA again: stop waiting.
          r.metadata.annotations[std::string(api::kRollbackSkipAdoptionAnnotation)] = r.status.rollbackSnapshot;
          done = skipRisk;
          return okStatus();
        }
        if (target.empty() && !reconcilers::whyNotAbandonable(r)) {
          // The rotation in flight has swapped nothing, so going back means abandoning it.
          done = "abandon requested (nothing was swapped yet; --to SNAPSHOT restores a snapshot instead)";
          setRequest(ctx, r, api::kAbandonAnnotation);
          return okStatus();
        }
        auto names = store.listSnapshots(r);
        if (!names.ok()) return names.status();
        if (target.empty()) {
          if (names->empty()) return failedPrecondition("rotation " + r.metadata.name + " has no snapshots");
          target = names->back();
        }
        if (std::find(names->begin(), names->end(), target) == names->end()) {
          return notFound("rotation " + r.metadata.name + " has no snapshot \"" + target + "\" (rotor snapshots " +
                          r.metadata.name + " lists them)");
        }
        auto snapshot = store.getSnapshot(r, target);
        if (!snapshot.ok()) return snapshot.status();
        // Refused here, before anything is asked of the controller, when the restore could not finish.
        if (Status usable = reconcilers::checkRestorable(store, r, *snapshot); !usable.ok()) return usable;
        if (r.status.handled.rollbackTo == target) {
          return failedPrecondition("rotation " + r.metadata.name + " was already rolled back to \"" + target + "\"");
        }
        auto pruned = reconcilers::prunedIssuerOf(store, store, r, *snapshot);
        if (!pruned.ok()) return pruned.status();
        r.spec.rollbackTo = target;
        const std::string skipKey(api::kRollbackSkipAdoptionAnnotation);
        if (skipAdoption) {
          r.metadata.annotations[skipKey] = target;
          done = "rollback requested, " + skipRisk;
        } else {
          r.metadata.annotations.erase(skipKey);
          if (*pruned) {
            done = "rollback requested: the CA of \"" + target +
                   "\" has left the trust bundle, so it is staged again and the servers are restored once clients "
                   "trust it (rotor status " +
                   r.metadata.name + " shows the wait; --skip-adoption restores at once)";
          }
        }
        return okStatus();
      },
      done);
}

namespace {

StatusOr<std::vector<store::Snapshot>> snapshotsOf(store::SnapshotStore& snapshots, const api::CertificateRotation& r) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, snapshots.listSnapshots(r));
  std::vector<store::Snapshot> out;
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(store::Snapshot snapshot, snapshots.getSnapshot(r, name));
    snapshot.servers.clear();  // key material stays where it is
    out.push_back(std::move(snapshot));
  }
  return out;
}

/** Runs `show` on NAME and its snapshots. */
int showNamed(
    Context& ctx, const Invocation& inv, const std::string& verb,
    const std::function<std::string(const api::CertificateRotation&, const std::vector<store::Snapshot>&)>& show) {
  if (inv.positional.size() != 1) throw UsageError{verb + " takes exactly one NAME"};
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  auto r = (*store)->store().getRotation(keyFrom(ctx, inv.positional[0]));
  if (!r.ok()) return fail(ctx, r.status());
  auto snapshots = snapshotsOf((*store)->store(), *r);
  if (!snapshots.ok()) return fail(ctx, snapshots.status());
  ctx.out << show(*r, *snapshots);
  return 0;
}

}  // namespace

int runSnapshots(Context& ctx, const Invocation& inv) {
  return showNamed(ctx, inv, "snapshots", [](const api::CertificateRotation&, const std::vector<store::Snapshot>& all) {
    std::vector<std::vector<std::string>> rows = {{"NAME", "TAKEN", "REVISION", "REASON"}};
    for (const store::Snapshot& s : all) {
      rows.push_back({s.name, formatRfc3339(s.takenAt), std::to_string(s.revision), s.reason});
    }
    return all.empty() ? std::string("No snapshots\n") : formatTable(rows);
  });
}

int runStatus(Context& ctx, const Invocation& inv) {
  return showNamed(ctx, inv, "status", [&](const api::CertificateRotation& r, const std::vector<store::Snapshot>& all) {
    return formatStatusReport(r, all, ctx.clock.now());
  });
}

int runPlan(Context& ctx, const Invocation& inv) {
  return showNamed(ctx, inv, "plan", [&](const api::CertificateRotation& r, const std::vector<store::Snapshot>&) {
    return formatPlan(r, ctx.clock.now());
  });
}

int runCheck(Context& ctx, const Invocation& inv) {
  int failed = 0;
  const auto report = [&](bool ok, const std::string& what) {
    ctx.out << (ok ? "ok    " : "FAIL  ") << what << "\n";
    failed += ok ? 0 : 1;
  };
  auto backend = openStore(ctx, inv);
  if (!backend.ok()) return fail(ctx, backend.status());
  const std::string ns = inv.has("all-namespaces") ? store::kAllNamespaces : ctx.ns;
  auto rotations = (*backend)->store().listRotations(ns);
  report(rotations.ok(), rotations.ok() ? "rotations are served: " + std::to_string(rotations->size()) + " visible" +
                                              (ns.empty() ? "" : " in " + ns)
                                        : "rotations are not served: " + rotations.status().message());
  if (inv.has("url")) {
    const std::string base = inv.get("url");
    auto ready = agent::httpGet(base + "/readyz", std::chrono::seconds(10));
    report(ready.ok() && ready->code == 200,
           "the controller is ready: " +
               (ready.ok() ? "GET /readyz answered " + std::to_string(ready->code) : ready.status().message()));
    auto metrics = agent::httpGet(base + "/metrics", std::chrono::seconds(10));
    const bool exported = metrics.ok() && metrics->body.find("rotor_build_info") != std::string::npos;
    report(metrics.ok() && metrics->code == 200 && exported,
           "metrics answer: " + (metrics.ok() ? "GET /metrics answered " + std::to_string(metrics->code) +
                                                    (exported ? " with" : " without") + " rotor_build_info"
                                              : metrics.status().message()));
  }
  return failed == 0 ? 0 : 1;
}

int runVersion(Context& ctx, const Invocation&) {
  ctx.out << "rotor " << kVersion << "\n";
  return 0;
}

}  // namespace rotor::cli
