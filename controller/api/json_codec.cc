#include "controller/api/json_codec.h"

#include <nlohmann/json.hpp>

#include "controller/api/field_reader.h"
#include "controller/common/duration.h"

namespace rotor::api {
namespace {

using nlohmann::json;
constexpr int64_t kMaxInt = INT32_MAX;

// ---- decoding ---------------------------------------------------------------------------------

/** Reads an enumerated string field through `parse`; absent keeps the default. */
template <typename Enum>
void readEnum(ObjectReader& r, const std::string& key, Enum& out, StatusOr<Enum> (*parse)(std::string_view)) {
  std::string name;
  r.string(key, name);
  if (name.empty()) return;
  auto parsed = parse(name);
  if (!parsed.ok()) {
    r.errors().add(r.pathOf(key), parsed.status().message());
  } else {
    out = *parsed;
  }
}

/** A privateKey object; `rotationPolicy` (the server certificate's only) reads that field too. */
void readKeySpec(ObjectReader r, KeySpec& out, KeyRotationPolicy* rotationPolicy = nullptr) {
  std::string algorithm;
  r.string("algorithm", algorithm);
  bool sizeGiven = r.has("size");
  r.integer("size", out.size, 0, 16384);
  if (!algorithm.empty()) {
    auto parsed = parseKeyAlgorithm(algorithm);
    if (!parsed.ok()) {
      r.errors().add(r.pathOf("algorithm"), parsed.status().message());
    } else {
      out.algorithm = *parsed;
      if (!sizeGiven) {
        out.size = defaultKeySize(out.algorithm);
      }
    }
  }
  if (Status s = validateKeySpec(out); !s.ok() && (sizeGiven || !algorithm.empty())) {
    r.errors().add(r.pathOf("size"), s.message());
  }
  if (rotationPolicy != nullptr) {
    readEnum(r, "rotationPolicy", *rotationPolicy, parseKeyRotationPolicy);
  }
  r.finish();
}

void readPkcs12(ObjectReader& r, Pkcs12Spec& out) {
  r.string("file", out.file, limits::kPath, true);
  r.string("passwordFile", out.passwordFile, limits::kPath, true);
}

void readCertificate(ObjectReader r, CertificateSpec& out) {
  r.string("commonName", out.commonName);
  r.stringList("dnsNames", out.dnsNames, limits::kSubjectAltNames, limits::kDnsName);
  r.stringList("ipAddresses", out.ipAddresses, limits::kSubjectAltNames, limits::kIpAddress);
  r.duration("validity", out.validity);
  std::optional<Duration> renewBefore;
  r.optionalDuration("renewBefore", renewBefore);
  out.renewBefore = renewBefore.value_or(defaultLeadTime(out.validity, kDefaultRenewBefore));
  readKeySpec(r.object("privateKey"), out.privateKey, &out.keyRotationPolicy);
  r.finish();
}

void readServer(ObjectReader& r, ServerSpec& out) {
  r.string("name", out.name, true);
  r.string("secretName", out.secretName);
  r.optionalObject("restart", out.restart, [](ObjectReader& rr, RestartSpec& restart) {
    rr.string("kind", restart.kind, true);
    rr.string("name", restart.name, true);
  });
  r.string("certFile", out.certFile, limits::kPath);
  r.string("keyFile", out.keyFile, limits::kPath);
  r.string("chainFile", out.chainFile, limits::kPath);
  r.optionalObject("pkcs12", out.pkcs12, readPkcs12);
  r.stringList("reloadCommand", out.reloadCommand, limits::kReloadArguments, limits::kPath);
  r.optionalObject("healthCheck", out.healthCheck, [](ObjectReader& hr, HealthCheckSpec& hc) {
    hr.string("address", hc.address, limits::kHostPort, true);
    hr.string("serverName", hc.serverName, limits::kDnsName);
  });
}

void readCa(ObjectReader r, CaSpec& out) {
  r.optionalObject("generate", out.generate, [](ObjectReader& g, CaGenerateSpec& gen) {
    g.string("commonName", gen.commonName, true);
    g.duration("validity", gen.validity);
    readKeySpec(g.object("privateKey"), gen.privateKey);
  });
  r.optionalObject("secretRef", out.secretRef,
                   [](ObjectReader& s, CaSecretRef& ref) { s.string("name", ref.name, true); });
  r.optionalObject("files", out.files, [](ObjectReader& f, CaFilesSpec& files) {
    f.string("certFile", files.certFile, limits::kPath, true);
    f.string("keyFile", files.keyFile, limits::kPath, true);
  });
  std::optional<Duration> rotateBefore;
  r.optionalDuration("rotateBefore", rotateBefore);
  out.rotateBefore = rotateBefore.value_or(out.generate ? defaultLeadTime(out.generate->validity, kDefaultRotateBefore)
                                                        : kDefaultRotateBefore);
  r.boolean("crossSign", out.crossSign);
  r.finish();
}

void readLabelSelector(ObjectReader& r, LabelSelector& out) {
  r.stringMap("matchLabels", out.matchLabels);
  r.objectList(
      "matchExpressions",
      [&](ObjectReader& e, size_t) {
        LabelSelectorRequirement requirement;
        e.string("key", requirement.key, limits::kLabelKey, true);
        e.string("operator", requirement.op, true);
        e.stringList("values", requirement.values, limits::kSelectorTerms, limits::kDnsLabel);
        out.matchExpressions.push_back(std::move(requirement));
      },
      limits::kSelectorTerms);
}

json labelSelectorJson(const LabelSelector& selector) {
  json out = json::object();
  if (!selector.matchLabels.empty()) out["matchLabels"] = selector.matchLabels;
  for (const LabelSelectorRequirement& e : selector.matchExpressions) {
    json ej = {{"key", e.key}, {"operator", e.op}};
    if (!e.values.empty()) ej["values"] = e.values;
    out["matchExpressions"].push_back(ej);
  }
  return out;
}

void readTrustBundle(ObjectReader r, TrustBundleSpec& out) {
  r.string("configMapName", out.configMapName);
  r.string("secretName", out.secretName);
  r.string("key", out.key, limits::kConfigMapKey);
  r.string("file", out.file, limits::kPath);
  r.optionalObject("pkcs12", out.pkcs12, readPkcs12);
  r.optionalObject("namespaceSelector", out.namespaceSelector, readLabelSelector);
  r.optionalObject("truststore", out.truststore, [](ObjectReader& t, TruststoreSpec& truststore) {
    t.string("key", truststore.key, limits::kConfigMapKey);
    t.string("password", truststore.password, limits::kTruststorePassword);
  });
  r.finish();
}

void readAdoption(ObjectReader r, AdoptionSpec& out) {
  readEnum(r, "mode", out.mode, parseAdoptionMode);
  r.integer("threshold", out.threshold, 1, 100);
  r.integer("minAgents", out.minAgents, 0, static_cast<int>(kMaxInt));
  r.duration("staleAfter", out.staleAfter);
  r.optionalDuration("timeout", out.timeout);
  readEnum(r, "onTimeout", out.onTimeout, parseTimeoutAction);
  r.duration("minStageDuration", out.minStageDuration);
  r.optionalObject("pods", out.pods, [](ObjectReader& p, ConsumerPodsSpec& pods) {
    p.optionalObject("selector", pods.selector, readLabelSelector);
    p.boolean("restartWorkloads", pods.restartWorkloads);
    p.integer("maxConcurrentRestarts", pods.maxConcurrentRestarts, 1, 100);
  });
  r.finish();
}

void readSwap(ObjectReader r, SwapSpec& out) {
  r.optionalObject("maintenanceWindow", out.maintenanceWindow, [](ObjectReader& w, MaintenanceWindowSpec& window) {
    w.string("schedule", window.schedule, limits::kSchedule, true);
    w.duration("duration", window.duration);
    w.string("timeZone", window.timeZone, limits::kTimeZone);
  });
  ObjectReader p = r.object("probe");
  p.duration("period", out.probe.period);
  p.integer("failureThreshold", out.probe.failureThreshold, 1, 1000);
  p.finish();
  r.duration("bakeTime", out.bakeTime);
  r.duration("rolloutTimeout", out.rolloutTimeout);
  r.finish();
}

void readSpec(ObjectReader r, RotationSpec& out) {
  readCertificate(r.object("certificate"), out.certificate);
  r.objectList(
      "servers",
      [&](ObjectReader& item, size_t) {
        ServerSpec server;
        readServer(item, server);
        out.servers.push_back(std::move(server));
      },
      limits::kServers);
  readCa(r.object("ca"), out.ca);
  readTrustBundle(r.object("trustBundle"), out.trustBundle);
  readAdoption(r.object("adoption"), out.adoption);
  readSwap(r.object("swap"), out.swap);
  ObjectReader backup = r.object("backup");
  backup.string("directory", out.backup.directory, limits::kPath);
  backup.finish();
  ObjectReader prune = r.object("prune");
  prune.duration("after", out.prune.after);
  prune.boolean("waitForExpiry", out.prune.waitForExpiry);
  prune.finish();
  r.boolean("paused", out.paused);
  r.string("rollbackTo", out.rollbackTo);
  r.finish();
}

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

void readMetadata(ObjectReader r, ObjectMeta& out) {
  r.string("name", out.name, true);
  r.string("namespace", out.ns);
  if (out.ns.empty()) {
    out.ns = std::string(kDefaultNamespace);
  }
  r.string("uid", out.uid);
  r.string("resourceVersion", out.resourceVersion);
  r.integer("generation", out.generation, 0, INT64_MAX);
  r.timestamp("creationTimestamp", out.creationTimestamp);
  r.stringMap("labels", out.labels);
  r.stringMap("annotations", out.annotations);
  // Server-managed fields that rotor neither needs nor rejects.
  for (const char* key : {"managedFields", "selfLink", "finalizers", "ownerReferences", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generateName"}) {
    r.ignore(key);
  }
  r.finish();
}

// ---- encoding ---------------------------------------------------------------------------------

json keySpecJson(const KeySpec& k) {
  json j = {{"algorithm", keyAlgorithmName(k.algorithm)}};
  if (k.algorithm != KeyAlgorithm::kEd25519) {
    j["size"] = k.size;
  }
  return j;
}

json pkcs12Json(const Pkcs12Spec& p) { return {{"file", p.file}, {"passwordFile", p.passwordFile}}; }

void putIfNotEmpty(json& j, const char* key, const std::string& value) {
  if (!value.empty()) {
    j[key] = value;
  }
}

void putTime(json& j, const char* key, const std::optional<SystemTime>& t) {
  if (t) {
    j[key] = formatRfc3339(*t);
  }
}

json serverJson(const ServerSpec& s) {
  json j = {{"name", s.name}};
  putIfNotEmpty(j, "secretName", s.secretName);
  if (s.restart) {
    j["restart"] = {{"kind", s.restart->kind}, {"name", s.restart->name}};
  }
  putIfNotEmpty(j, "certFile", s.certFile);
  putIfNotEmpty(j, "keyFile", s.keyFile);
  putIfNotEmpty(j, "chainFile", s.chainFile);
  if (s.pkcs12) {
    j["pkcs12"] = pkcs12Json(*s.pkcs12);
  }
  if (!s.reloadCommand.empty()) {
    j["reloadCommand"] = s.reloadCommand;
  }
  if (s.healthCheck) {
    j["healthCheck"] = {{"address", s.healthCheck->address}};
    putIfNotEmpty(j["healthCheck"], "serverName", s.healthCheck->serverName);
  }
  return j;
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

json encodeSpec(const RotationSpec& spec) {
  json cert = {{"validity", formatDuration(spec.certificate.validity)},
               {"renewBefore", formatDuration(spec.certificate.renewBefore)},
               {"privateKey", keySpecJson(spec.certificate.privateKey)}};
  if (spec.certificate.keyRotationPolicy != KeyRotationPolicy::kAlways) {
    cert["privateKey"]["rotationPolicy"] = keyRotationPolicyName(spec.certificate.keyRotationPolicy);
  }
  putIfNotEmpty(cert, "commonName", spec.certificate.commonName);
  if (!spec.certificate.dnsNames.empty()) {
    cert["dnsNames"] = spec.certificate.dnsNames;
  }
  if (!spec.certificate.ipAddresses.empty()) {
    cert["ipAddresses"] = spec.certificate.ipAddresses;
  }
  json servers = json::array();
  for (const ServerSpec& s : spec.servers) {
    servers.push_back(serverJson(s));
  }
  json ca = {{"rotateBefore", formatDuration(spec.ca.rotateBefore)}, {"crossSign", spec.ca.crossSign}};
  if (spec.ca.generate) {
    ca["generate"] = {{"commonName", spec.ca.generate->commonName},
                      {"validity", formatDuration(spec.ca.generate->validity)},
                      {"privateKey", keySpecJson(spec.ca.generate->privateKey)}};
  }
  if (spec.ca.secretRef) {
    ca["secretRef"] = {{"name", spec.ca.secretRef->name}};
  }
  if (spec.ca.files) {
    ca["files"] = {{"certFile", spec.ca.files->certFile}, {"keyFile", spec.ca.files->keyFile}};
  }
  json bundle = {{"key", spec.trustBundle.key}};
  putIfNotEmpty(bundle, "configMapName", spec.trustBundle.configMapName);
  putIfNotEmpty(bundle, "secretName", spec.trustBundle.secretName);
  putIfNotEmpty(bundle, "file", spec.trustBundle.file);
  if (spec.trustBundle.namespaceSelector) {
    bundle["namespaceSelector"] = labelSelectorJson(*spec.trustBundle.namespaceSelector);
  }
  if (spec.trustBundle.pkcs12) {
    bundle["pkcs12"] = pkcs12Json(*spec.trustBundle.pkcs12);
  }
  if (spec.trustBundle.truststore) {
    bundle["truststore"] = {{"key", spec.trustBundle.truststore->key},
                            {"password", spec.trustBundle.truststore->password}};
  }
  json adoption = {{"mode", adoptionModeName(spec.adoption.mode)},
                   {"threshold", spec.adoption.threshold},
                   {"minAgents", spec.adoption.minAgents},
                   {"staleAfter", formatDuration(spec.adoption.staleAfter)},
                   {"minStageDuration", formatDuration(spec.adoption.minStageDuration)}};
  if (spec.adoption.timeout || spec.adoption.onTimeout != TimeoutAction::kBlock) {
    adoption["onTimeout"] = timeoutActionName(spec.adoption.onTimeout);
  }
  if (spec.adoption.timeout) {
    adoption["timeout"] = formatDuration(*spec.adoption.timeout);
  }
  if (const std::optional<ConsumerPodsSpec>& pods = spec.adoption.pods) {
    adoption["pods"] = {{"restartWorkloads", pods->restartWorkloads},
                        {"maxConcurrentRestarts", pods->maxConcurrentRestarts}};
    if (pods->selector) adoption["pods"]["selector"] = labelSelectorJson(*pods->selector);
  }
  json swap = {
      {"probe",
       {{"period", formatDuration(spec.swap.probe.period)}, {"failureThreshold", spec.swap.probe.failureThreshold}}},
      {"bakeTime", formatDuration(spec.swap.bakeTime)},
      {"rolloutTimeout", formatDuration(spec.swap.rolloutTimeout)}};
  if (spec.swap.maintenanceWindow) {
    swap["maintenanceWindow"] = {{"schedule", spec.swap.maintenanceWindow->schedule},
                                 {"duration", formatDuration(spec.swap.maintenanceWindow->duration)},
                                 {"timeZone", spec.swap.maintenanceWindow->timeZone}};
  }
  json j = {{"certificate", cert},
            {"servers", servers},
            {"ca", ca},
            {"trustBundle", bundle},
            {"adoption", adoption},
            {"swap", swap},
            {"prune", {{"after", formatDuration(spec.prune.after)}}}};
  if (spec.prune.waitForExpiry) {
    j["prune"]["waitForExpiry"] = true;
  }
  if (!spec.backup.directory.empty()) {
    j["backup"] = {{"directory", spec.backup.directory}};
  }
  if (spec.paused) {
    j["paused"] = true;
  }
  putIfNotEmpty(j, "rollbackTo", spec.rollbackTo);
  return j;
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

json encodeRotation(const CertificateRotation& r, bool withStatus) {
  json meta = {{"name", r.metadata.name}, {"namespace", r.metadata.ns}};
  putIfNotEmpty(meta, "uid", r.metadata.uid);
  putIfNotEmpty(meta, "resourceVersion", r.metadata.resourceVersion);
  if (r.metadata.generation > 0) {
    meta["generation"] = r.metadata.generation;
  }
  putTime(meta, "creationTimestamp", r.metadata.creationTimestamp);
  if (!r.metadata.labels.empty()) {
    meta["labels"] = r.metadata.labels;
  }
  if (!r.metadata.annotations.empty()) {
    meta["annotations"] = r.metadata.annotations;
  }
  json j = {{"apiVersion", kApiVersion}, {"kind", kKind}, {"metadata", meta}, {"spec", encodeSpec(r.spec)}};
  if (withStatus) {
    j["status"] = encodeStatus(r.status);
  }
  return j;
}

StatusOr<CertificateRotation> decodeRotation(const json& object) {
  FieldErrors errors;
  ObjectReader root(&object, "", errors);
  CertificateRotation out;
  std::string apiVersion, kind;
  root.string("apiVersion", apiVersion, true);
  root.string("kind", kind, true);
  if (!apiVersion.empty() && apiVersion != kApiVersion) {
    errors.add("apiVersion", "must be \"" + std::string(kApiVersion) + "\", got \"" + apiVersion + "\"");
  }
  if (!kind.empty() && kind != kKind) {
    errors.add("kind", "must be \"" + std::string(kKind) + "\", got \"" + kind + "\"");
  }
  readMetadata(root.object("metadata"), out.metadata);
  if (!root.has("spec")) {
    errors.add("spec", "is required");
  }
  readSpec(root.object("spec"), out.spec);
  readStatus(root.object("status"), out.status);
  root.finish();
  RETURN_IF_ERROR(errors.toStatus());
  return out;
}

StatusOr<CertificateRotation> rotationFromJson(std::string_view text) {
  json parsed;
  try {
    parsed = json::parse(text);
  } catch (const json::parse_error& e) {
    return invalidArgument(std::string("invalid JSON: ") + e.what());
  }
  return decodeRotation(parsed);
}

std::string dumpJson(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string rotationToJson(const CertificateRotation& rotation, bool withStatus) {
  return dumpJson(encodeRotation(rotation, withStatus), 2) + "\n";
}

}  // namespace rotor::api
