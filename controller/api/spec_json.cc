// The CertificateRotation's spec: strict decoding with field paths, and its wire form.
#include <nlohmann/json.hpp>

#include "controller/api/json_codec.h"
#include "controller/api/json_parts.h"
#include "controller/common/duration.h"

namespace rotor::api {
namespace {

using nlohmann::json;
constexpr int64_t kMaxInt = INT32_MAX;

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
  r.optionalObject("secretRef", out.secretRef, [](ObjectReader& s, CaSecretRef& ref) {
    s.string("name", ref.name, true);
    readEnum(s, "onChange", ref.onChange, parseCaSourceChange);
  });
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
  r.optionalObject("clusterTrustBundle", out.clusterTrustBundle, [](ObjectReader& c, ClusterTrustBundleSpec& ctb) {
    c.string("name", ctb.name, limits::kSignerName, true);
    c.string("signerName", ctb.signerName, limits::kSignerName);
    c.stringMap("labels", ctb.labels);
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

json keySpecJson(const KeySpec& k) {
  json j = {{"algorithm", keyAlgorithmName(k.algorithm)}};
  if (k.algorithm != KeyAlgorithm::kEd25519) {
    j["size"] = k.size;
  }
  return j;
}

json pkcs12Json(const Pkcs12Spec& p) { return {{"file", p.file}, {"passwordFile", p.passwordFile}}; }

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

}  // namespace

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
    ca["secretRef"] = {{"name", spec.ca.secretRef->name},
                       {"onChange", caSourceChangeName(spec.ca.secretRef->onChange)}};
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
  if (const auto& ctb = spec.trustBundle.clusterTrustBundle) {
    bundle["clusterTrustBundle"] = {{"name", ctb->name}};
    putIfNotEmpty(bundle["clusterTrustBundle"], "signerName", ctb->signerName);
    if (!ctb->labels.empty()) bundle["clusterTrustBundle"]["labels"] = ctb->labels;
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

}  // namespace rotor::api
