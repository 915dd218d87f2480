// The CertificateRotation's status: strict decoding with field paths, and its wire form.
#include <nlohmann/json.hpp>

#include "controller/api/json_codec.h"
#include "controller/api/json_parts.h"
#include "controller/common/duration.h"

namespace rotor::api {
namespace {

using nlohmann::json;

void readCertificateRef(ObjectReader& r, CertificateRef& out) {
  r.string("fingerprint", out.fingerprint);
  r.timestamp("notAfter", out.notAfter);
}

void readPhase(ObjectReader& r, const std::string& key, std::optional<Phase>& out) {
  std::string name;
  r.string(key, name);
  if (name.empty()) {
    return;
  }
  auto parsed = parsePhase(name);
  if (parsed.ok()) {
    out = *parsed;
  } else {
    r.errors().add(r.pathOf(key), parsed.status().message());
  }
}

void readWorkloadRef(ObjectReader& r, WorkloadRef& out) {
  r.string("kind", out.kind, true);
  r.string("namespace", out.ns, true);
  r.string("name", out.name, true);
}

void readWorkloadRefs(ObjectReader& r, const std::string& key, std::vector<WorkloadRef>& out) {
  r.objectList(key, [&](ObjectReader& w, size_t) {
    WorkloadRef ref;
    readWorkloadRef(w, ref);
    out.push_back(std::move(ref));
  });
}

void readPodAdoption(ObjectReader& r, PodAdoptionStatus& out) {
  r.string("ca", out.ca);
  r.timestamp("bundleSince", out.bundleSince);
  r.integer("running", out.running, 0, INT64_MAX);
  r.integer("adopted", out.adopted, 0, INT64_MAX);
  r.objectList("workloads", [&](ObjectReader& w, size_t) {
    WorkloadAdoption workload;
    readWorkloadRef(w, workload.workload);
    w.integer("pods", workload.pods, 0, INT64_MAX);
    w.integer("adopted", workload.adopted, 0, INT64_MAX);
    out.workloads.push_back(std::move(workload));
  });
  readWorkloadRefs(r, "restarting", out.restarting);
  readWorkloadRefs(r, "restarted", out.restarted);
}

json workloadRefJson(const WorkloadRef& w) { return {{"kind", w.kind}, {"namespace", w.ns}, {"name", w.name}}; }

json podAdoptionJson(const PodAdoptionStatus& p) {
  json j = {{"ca", p.ca}, {"running", p.running}, {"adopted", p.adopted}};
  putTime(j, "bundleSince", p.bundleSince);
  for (const WorkloadAdoption& w : p.workloads) {
    json wj = workloadRefJson(w.workload);
    wj["pods"] = w.pods;
    wj["adopted"] = w.adopted;
    j["workloads"].push_back(wj);
  }
  for (const WorkloadRef& w : p.restarting) j["restarting"].push_back(workloadRefJson(w));
  for (const WorkloadRef& w : p.restarted) j["restarted"].push_back(workloadRefJson(w));
  return j;
}

json certificateRefJson(const CertificateRef& c) {
  json j = {{"fingerprint", c.fingerprint}};
  putTime(j, "notAfter", c.notAfter);
  return j;
}

}  // namespace

void readStatus(ObjectReader r, RotationStatus& out) {
  std::optional<Phase> phase;
  readPhase(r, "phase", phase);
  out.phase = phase.value_or(Phase::kPending);
  r.integer("revision", out.revision, 0, INT64_MAX);
  r.integer("observedGeneration", out.observedGeneration, 0, INT64_MAX);
  r.objectList("conditions", [&](ObjectReader& c, size_t) {
    Condition cond;
    c.string("type", cond.type, true);
    c.string("status", cond.status, true);
    c.integer("observedGeneration", cond.observedGeneration, 0, INT64_MAX);
    c.string("reason", cond.reason);
    c.string("message", cond.message);
    c.timestamp("lastTransitionTime", cond.lastTransitionTime);
    out.conditions.push_back(std::move(cond));
  });
  ObjectReader ca = r.object("ca");
  ca.optionalObject("current", out.ca.current, readCertificateRef);
  ca.optionalObject("next", out.ca.next, readCertificateRef);
  ca.optionalObject("previous", out.ca.previous, readCertificateRef);
  ca.finish();
  r.objectList("servers", [&](ObjectReader& s, size_t) {
    ServerStatus server;
    s.string("name", server.name);
    s.string("fingerprint", server.fingerprint);
    s.timestamp("notAfter", server.notAfter);
    s.string("issuerFingerprint", server.issuerFingerprint);
    s.timestamp("swappedAt", server.swappedAt);
    s.timestamp("rolledOutAt", server.rolledOutAt);
    s.timestamp("verifiedAt", server.verifiedAt);
    s.integer("probeFailures", server.probeFailures, 0, INT32_MAX);
    s.string("lastProbeError", server.lastProbeError);
    s.timestamp("lastProbeAt", server.lastProbeAt);
    out.servers.push_back(std::move(server));
  });
  ObjectReader a = r.object("adoption");
  a.integer("active", out.adoption.active, 0, INT64_MAX);
  a.integer("adopted", out.adoption.adopted, 0, INT64_MAX);
  a.integer("stale", out.adoption.stale, 0, INT64_MAX);
  a.number("ratio", out.adoption.ratio);
  a.stringList("laggards", out.adoption.laggards);
  a.ignore("percent");  // derived from the counts, written for kubectl's column
  a.finish();
  r.optionalObject("pods", out.pods, readPodAdoption);
  if (r.has("bundleCopies")) {
    ObjectReader b = r.object("bundleCopies");
    BundleCopiesStatus copies;
    b.integer("wanted", copies.wanted, 0, INT64_MAX);
    b.integer("current", copies.current, 0, INT64_MAX);
    b.stringList("foreign", copies.foreign);
    b.optionalObject("clusterTrustBundle", copies.clusterTrustBundle,
                     [](ObjectReader& c, ClusterTrustBundleStatus& ctb) {
                       c.string("name", ctb.name, true);
                       c.string("apiVersion", ctb.apiVersion);
                       c.boolean("current", ctb.current);
                       c.boolean("foreign", ctb.foreign);
                       c.string("message", ctb.message);
                     });
    b.finish();
    out.bundleCopies = std::move(copies);
  }
  r.objectList("snapshots", [&](ObjectReader& s, size_t) {
    SnapshotRef snap;
    s.string("name", snap.name, true);
    s.timestamp("takenAt", snap.takenAt);
    s.integer("revision", snap.revision, 0, INT64_MAX);
    s.string("reason", snap.reason);
    out.snapshots.push_back(std::move(snap));
  });
  r.ignore("nextExpiry");  // derived from the certificates, written for kubectl's column
  r.timestamp("phaseStartedAt", out.phaseStartedAt);
  r.string("message", out.message);
  r.integer("attempt", out.attempt, 0, INT64_MAX);
  r.string("trigger", out.trigger);
  r.string("rollbackSnapshot", out.rollbackSnapshot);
  r.string("rollbackRestagedCa", out.rollbackRestagedCa);
  readPhase(r, "resumePhase", out.resumePhase);
  ObjectReader handled = r.object("handled");
  handled.string("rotate", out.handled.rotate);
  handled.string("renew", out.handled.renew);
  handled.string("rollbackTo", out.handled.rollbackTo);
  handled.string("abandon", out.handled.abandon);
  handled.string("approve", out.handled.approve);
  handled.string("renewCa", out.handled.renewCa);
  handled.finish();
  r.string("caSourceHash", out.caSourceHash);
  if (r.has("caSecret")) {
    ObjectReader c = r.object("caSecret");
    c.string("taken", out.caSecret.taken);
    c.string("pending", out.caSecret.pending);
    c.finish();
  }
  r.objectList("timeline", [&](ObjectReader& t, size_t) {
    PhaseEntry entry;
    std::optional<Phase> entryPhase;
    readPhase(t, "phase", entryPhase);
    entry.phase = entryPhase.value_or(Phase::kPending);
    t.timestamp("enteredAt", entry.enteredAt);
    t.string("message", entry.message);
    out.timeline.push_back(std::move(entry));
  });
  r.finish();
}

json encodeStatus(const RotationStatus& status) {
  json j = {{"phase", phaseName(status.phase)},
            {"revision", status.revision},
            {"observedGeneration", status.observedGeneration}};
  if (!status.conditions.empty()) {
    json conditions = json::array();
    for (const Condition& c : status.conditions) {
      json cj = {{"type", c.type},
                 {"status", c.status},
                 {"observedGeneration", c.observedGeneration},
                 {"reason", c.reason},
                 {"message", c.message}};
      putTime(cj, "lastTransitionTime", c.lastTransitionTime);
      conditions.push_back(cj);
    }
    j["conditions"] = conditions;
  }
  json ca = json::object();
  if (status.ca.current) ca["current"] = certificateRefJson(*status.ca.current);
  if (status.ca.next) ca["next"] = certificateRefJson(*status.ca.next);
  if (status.ca.previous) ca["previous"] = certificateRefJson(*status.ca.previous);
  if (!ca.empty()) {
    j["ca"] = ca;
  }
  if (!status.servers.empty()) {
    json servers = json::array();
    for (const ServerStatus& s : status.servers) {
      json sj = {{"name", s.name}, {"fingerprint", s.fingerprint}, {"issuerFingerprint", s.issuerFingerprint}};
      putTime(sj, "notAfter", s.notAfter);
      putTime(sj, "swappedAt", s.swappedAt);
      putTime(sj, "rolledOutAt", s.rolledOutAt);
      putTime(sj, "verifiedAt", s.verifiedAt);
      if (s.probeFailures > 0) {
        sj["probeFailures"] = s.probeFailures;
      }
      putIfNotEmpty(sj, "lastProbeError", s.lastProbeError);
      putTime(sj, "lastProbeAt", s.lastProbeAt);
      servers.push_back(sj);
    }
    j["servers"] = servers;
  }
  const AdoptionStatus& a = status.adoption;
  j["adoption"] = {{"active", a.active}, {"adopted", a.adopted}, {"stale", a.stale}, {"ratio", a.ratio}};
  putIfNotEmpty(j["adoption"], "percent", adoptionPercent(clientTally(status)));  // as the gate counts
  if (!a.laggards.empty()) {
    j["adoption"]["laggards"] = a.laggards;
  }
  if (status.pods) j["pods"] = podAdoptionJson(*status.pods);
  if (status.bundleCopies) {
    const BundleCopiesStatus& b = *status.bundleCopies;
    j["bundleCopies"] = {{"wanted", b.wanted}, {"current", b.current}};
    if (!b.foreign.empty()) j["bundleCopies"]["foreign"] = b.foreign;
    if (const auto& ctb = b.clusterTrustBundle) {
      json& c = j["bundleCopies"]["clusterTrustBundle"];
      c = {{"name", ctb->name}, {"current", ctb->current}};
      putIfNotEmpty(c, "apiVersion", ctb->apiVersion);
      if (ctb->foreign) c["foreign"] = true;
      putIfNotEmpty(c, "message", ctb->message);
    }
  }
  if (!status.snapshots.empty()) {
    json snapshots = json::array();
    for (const SnapshotRef& s : status.snapshots) {
      json sj = {{"name", s.name}, {"revision", s.revision}, {"reason", s.reason}};
      putTime(sj, "takenAt", s.takenAt);
      snapshots.push_back(sj);
    }
    j["snapshots"] = snapshots;
  }
  putTime(j, "nextExpiry", nextExpiry(status));
  putTime(j, "phaseStartedAt", status.phaseStartedAt);
  putIfNotEmpty(j, "message", status.message);
  if (status.attempt > 0) {
    j["attempt"] = status.attempt;
  }
  putIfNotEmpty(j, "trigger", status.trigger);
  putIfNotEmpty(j, "rollbackSnapshot", status.rollbackSnapshot);
  putIfNotEmpty(j, "rollbackRestagedCa", status.rollbackRestagedCa);
  if (status.resumePhase) {
    j["resumePhase"] = phaseName(*status.resumePhase);
  }
  json handled = json::object();
  putIfNotEmpty(handled, "rotate", status.handled.rotate);
  putIfNotEmpty(handled, "renew", status.handled.renew);
  putIfNotEmpty(handled, "rollbackTo", status.handled.rollbackTo);
  putIfNotEmpty(handled, "abandon", status.handled.abandon);
  putIfNotEmpty(handled, "approve", status.handled.approve);
  putIfNotEmpty(handled, "renewCa", status.handled.renewCa);
  if (!handled.empty()) {
    j["handled"] = handled;
  }
  putIfNotEmpty(j, "caSourceHash", status.caSourceHash);
  if (status.caSecret != CaSecretStatus{}) {
    json& c = j["caSecret"];
    c = json::object();
    putIfNotEmpty(c, "taken", status.caSecret.taken);
    putIfNotEmpty(c, "pending", status.caSecret.pending);
  }
  if (!status.timeline.empty()) {
    json timeline = json::array();
    for (const PhaseEntry& e : status.timeline) {
      json ej = {{"phase", phaseName(e.phase)}};
      putTime(ej, "enteredAt", e.enteredAt);
      putIfNotEmpty(ej, "message", e.message);
      timeline.push_back(ej);
    }
    j["timeline"] = timeline;
  }
  return j;
}

}  // namespace rotor::api
