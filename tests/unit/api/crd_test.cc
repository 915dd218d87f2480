// The shipped CRD (crds/) and the codec agree: what rotor writes and every bundled example
// validates against the CRD's schema, every field is documented for `kubectl explain`, and the
// ranges and enums the codec enforces are the schema's. A small structural validator stands in
// for the API server's (types, required, enum, pattern, lengths, ranges, unknown fields); the
// CEL rules are exercised by the Kubernetes contract suite against a real API server.
#include <yaml-cpp/yaml.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "controller/api/json_codec.h"
#include "controller/api/validate.h"
#include "controller/api/yaml_codec.h"
#include "tests/support/full_status.h"
#include "tests/support/temp_dir.h"

namespace rotor::api {
namespace {

using nlohmann::json;
using rotor::testing::sourceDir;

YAML::Node loadCrd() { return YAML::LoadFile((sourceDir() / "crds/certificaterotations.rotor.dev.yaml").string()); }

YAML::Node rootSchema(const YAML::Node& crd) { return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]; }

/** Errors of `value` against a structural schema node, as "path: problem". */
void validate(const json& value, const YAML::Node& schema, const std::string& path, std::vector<std::string>& errors) {
  const std::string type = schema["type"].as<std::string>();
  const auto fail = [&](const std::string& problem) { errors.push_back(path + ": " + problem); };
  if (type == "object") {
    if (!value.is_object()) return fail("must be an object");
    const YAML::Node props = schema["properties"];
    if (!props) return;  // free-form (metadata)
    for (const auto& [key, item] : value.items()) {
      if (!props[key]) {
        fail("unknown field " + key);
        continue;
      }
      validate(item, props[key], path + "." + key, errors);
    }
    for (const YAML::Node& required : schema["required"]) {
      if (!value.contains(required.as<std::string>())) fail("missing required " + required.as<std::string>());
    }
  } else if (type == "array") {
    if (!value.is_array()) return fail("must be an array");
    if (schema["minItems"] && value.size() < schema["minItems"].as<size_t>()) fail("too few items");
    for (size_t i = 0; i < value.size(); ++i)
      validate(value[i], schema["items"], path + "[" + std::to_string(i) + "]", errors);
  } else if (type == "string") {
    if (!value.is_string()) return fail("must be a string");
    const std::string s = value.get<std::string>();
    if (schema["minLength"] && s.size() < schema["minLength"].as<size_t>()) fail("shorter than minLength");
    if (schema["maxLength"] && s.size() > schema["maxLength"].as<size_t>()) fail("longer than maxLength");
    if (schema["pattern"] && !std::regex_search(s, std::regex(schema["pattern"].as<std::string>()))) {
      fail("\"" + s + "\" does not match " + schema["pattern"].as<std::string>());
    }
    if (schema["enum"]) {
      bool found = false;
      for (const YAML::Node& e : schema["enum"]) found |= e.as<std::string>() == s;
      if (!found) fail("\"" + s + "\" is not in the enum");
    }
  } else if (type == "integer" || type == "number") {
    if (type == "integer" ? !value.is_number_integer() : !value.is_number()) return fail("must be a " + type);
    const double v = value.get<double>();
    if (schema["minimum"] && v < schema["minimum"].as<double>()) fail("below minimum");
    if (schema["maximum"] && v > schema["maximum"].as<double>()) fail("above maximum");
    if (schema["enum"]) {
      bool found = false;
      for (const YAML::Node& e : schema["enum"]) found |= e.as<double>() == v;
      if (!found) fail(std::to_string(v) + " is not in the enum");
    }
  } else if (type == "boolean") {
    if (!value.is_boolean()) fail("must be a boolean");
  } else {
    fail("schema type " + type + " is not structural");
  }
}

std::vector<std::string> errorsOf(const json& object) {
  std::vector<std::string> errors;
  validate(object, rootSchema(loadCrd()), "", errors);
  return errors;
}

json yamlToJson(const YAML::Node& node) {
  if (node.IsMap()) {
    json out = json::object();
    for (const auto& kv : node) out[kv.first.as<std::string>()] = yamlToJson(kv.second);
    return out;
  }
  if (node.IsSequence()) {
    json out = json::array();
    for (const YAML::Node& item : node) out.push_back(yamlToJson(item));
    return out;
  }
  if (node.IsNull()) return nullptr;
  const std::string s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted
  if (s == "true" || s == "false") return s == "true";
  try {
    size_t used = 0;
    const long long n = std::stoll(s, &used);
    if (used == s.size()) return n;
  } catch (const std::exception&) {
  }
  return s;
}

/** A rotation with every optional field set, as rotor would write it. */
CertificateRotation everyFieldSet() {
  auto docs = decodeManifests(R"(apiVersion: rotor.dev/v1alpha1
kind: CertificateRotation
metadata: {name: full, namespace: edge, labels: {team: net}, annotations: {rotor.dev/rotate: "1"}}
spec:
  certificate:
    commonName: proxy.example.com
    dnsNames: [proxy.example.com, "*.proxy.example.com"]
    ipAddresses: [10.0.0.1, "::1"]
    validity: 2160h
    renewBefore: 720h
    privateKey: {algorithm: RSA, size: 3072, rotationPolicy: Never}
  servers:
    - name: a
      secretName: proxy-tls
      restart: {kind: Deployment, name: proxy}
      healthCheck: {address: "proxy.edge.svc:443", serverName: proxy.example.com}
    - name: b
      certFile: b.crt
      keyFile: b.key
      chainFile: b-chain.crt
      pkcs12: {file: b.p12, passwordFile: b.pass}
      reloadCommand: [systemctl, reload, b]
  ca:
    generate: {commonName: Proxy CA, validity: 43800h, privateKey: {algorithm: ECDSA, size: 384}}
    rotateBefore: 2160h
    crossSign: true
  trustBundle:
    configMapName: proxy-ca
    key: ca.crt
    file: bundle.pem
    pkcs12: {file: trust.p12, passwordFile: t.pass}
    namespaceSelector:
      matchLabels: {team: net}
      matchExpressions: [{key: env, operator: In, values: [prod]}]
    truststore: {key: trust.p12, password: changeit}
    clusterTrustBundle: {name: "example.com:edge:proxy-ca", signerName: example.com/edge, labels: {team: net}}
  adoption:
    mode: Manual
    threshold: 95
    minAgents: 10
    staleAfter: 24h
    timeout: 168h
    onTimeout: Proceed
    minStageDuration: 1h
    pods:
      selector: {matchLabels: {tier: web}, matchExpressions: [{key: track, operator: NotIn, values: [canary]}]}
      restartWorkloads: true
      maxConcurrentRestarts: 3
  swap:
    maintenanceWindow: {schedule: "0 2 * * 1-5", duration: 2h, timeZone: Europe/Paris}
    probe: {period: 10s, failureThreshold: 3}
    bakeTime: 5m
    rolloutTimeout: 15m
  prune: {after: 24h, waitForExpiry: true}
  backup: {directory: "certs-{date}-{time}"}
  paused: true
  rollbackTo: full-r1-swap
)");
  EXPECT_TRUE(docs.ok()) << docs.status();
  CertificateRotation r = docs->front();
  r.spec.trustBundle.secretName =
      "proxy-ca-secret";  // the alternative to configMapName, which validation refuses beside it
  // As for the CA sources, of which validation takes one.
  r.spec.ca.secretRef = api::CaSecretRef{"edge-ca", api::CaSourceChange::kRotate};
  r.status = rotor::testing::everyStatusField();
  r.metadata.uid = "u";
  r.metadata.resourceVersion = "7";
  r.metadata.generation = 2;
  r.metadata.creationTimestamp = SystemTime(std::chrono::seconds(1'800'000'000));
  return r;
}

TEST(CrdTest, NamesSubresourcesAndPrinterColumnsAreThoseKubectlShows) {
  const YAML::Node crd = loadCrd();
  EXPECT_EQ(crd["metadata"]["name"].as<std::string>(), "certificaterotations.rotor.dev");
  EXPECT_EQ(crd["spec"]["group"].as<std::string>(), "rotor.dev");
  EXPECT_EQ(crd["spec"]["names"]["kind"].as<std::string>(), "CertificateRotation");
  EXPECT_EQ(crd["spec"]["names"]["shortNames"][0].as<std::string>(), "certrot");
  const YAML::Node version = crd["spec"]["versions"][0];
  EXPECT_EQ(version["name"].as<std::string>(), "v1alpha1");
  EXPECT_TRUE(version["subresources"]["status"].IsMap());
  std::vector<std::string> columns;
  for (const YAML::Node& c : version["additionalPrinterColumns"]) columns.push_back(c["name"].as<std::string>());
  EXPECT_EQ(columns, (std::vector<std::string>{"Phase", "Adoption", "Expiry", "Age"}));
}

TEST(CrdTest, PrinterColumnsReadWhatRotorWritesAsAPersonWould) {
  // kubectl printed 0.6666666666666666 for a number column and <invalid> for a future date.
  const json object = encodeRotation(everyFieldSet(), true);
  std::map<std::string, std::string> cells;
  for (const YAML::Node& c : loadCrd()["spec"]["versions"][0]["additionalPrinterColumns"]) {
    const std::string path = c["jsonPath"].as<std::string>();
    std::string pointer = path;
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    const json cell = object.value(json::json_pointer(pointer), json());
    const std::string type = c["type"].as<std::string>();
    if (c["name"].as<std::string>() != "Age") {
      EXPECT_EQ(type, "string") << c["name"] << ": kubectl renders numbers raw and future dates as <invalid>";
      ASSERT_TRUE(cell.is_string()) << path << " is not what rotor writes";
      cells[c["name"].as<std::string>()] = cell.get<std::string>();
    }
  }
  EXPECT_EQ(cells["Phase"], "AwaitingAdoption");
  EXPECT_EQ(cells["Adoption"], "80%");                 // as the gate counts: 9 of 10 agents and 3 of 5 consumer pods
  EXPECT_EQ(cells["Expiry"], "2026-11-22T10:18:20Z");  // the current CA's notAfter, the earliest
}

TEST(CrdTest, EveryFieldIsDescribedForKubectlExplain) {
  std::vector<std::string> undocumented;
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& node,
                                                                        const std::string& path) {
    // The API server describes metadata itself and refuses a CRD that says anything of it.
    if (!node["description"] && path != "" && path != ".metadata") undocumented.push_back(path);
    for (const auto& kv : node["properties"]) walk(kv.second, path + "." + kv.first.as<std::string>());
    if (node["items"]) walk(node["items"], path + "[]");
  };
  walk(rootSchema(loadCrd()), "");
  EXPECT_TRUE(undocumented.empty()) << "no description: " << ::testing::PrintToString(undocumented);
}

TEST(CrdTest, MetadataIsOnlyTypedAsARealApiServerRequires) {
  // "must not specify anything other than name and generateName, but metadata is implicitly specified"
  const YAML::Node metadata = rootSchema(loadCrd())["properties"]["metadata"];
  ASSERT_TRUE(metadata.IsMap());
  EXPECT_EQ(metadata.size(), 1u);
  EXPECT_EQ(metadata["type"].as<std::string>(), "object");
}

/** Calls `fn` on the value at `path` (".spec.servers[].certFile") in every list element that has
 *  the field; returns how many it found. */
int forEachAt(json& node, std::string_view path, const std::function<void(json&)>& fn) {
  if (path.empty()) {
    fn(node);
    return 1;
  }
  int found = 0;
  if (path.substr(0, 2) == "[]") {
    if (node.is_array()) {
      for (json& item : node) found += forEachAt(item, path.substr(2), fn);
    }
    return found;
  }
  path.remove_prefix(1);  // '.'
  const size_t end = path.find_first_of(".[");
  const std::string key(path.substr(0, end));
  if (!node.is_object() || !node.contains(key)) return 0;
  return forEachAt(node[key], end == std::string_view::npos ? "" : path.substr(end), fn);
}

/** Every string and list under `node`, by path, split by whether the schema bounds its size. */
void sizedFields(const YAML::Node& node, const std::string& path,
                 std::vector<std::pair<std::string, YAML::Node>>& bounded, std::vector<std::string>& unbounded) {
  const std::string type = node["type"].as<std::string>();
  const char* bound = type == "array" ? "maxItems" : "maxLength";
  if ((type == "string" && !node["enum"]) || type == "array") {
    if (node[bound]) {
      bounded.emplace_back(path, node);
    } else {
      unbounded.push_back(path);
    }
  }
  for (const auto& kv : node["properties"])
    sizedFields(kv.second, path + "." + kv.first.as<std::string>(), bounded, unbounded);
  if (node["items"]) sizedFields(node["items"], path + "[]", bounded, unbounded);
}

TEST(CrdTest, EverySpecStringAndListIsBoundedAndTheCodecRefusesOnePastEachBound) {
  // A real API server refuses CEL rules over unbounded strings and lists (it cannot bound their
  // cost); the codec refuses exactly what the server refuses, naming the field.
  std::vector<std::pair<std::string, YAML::Node>> bounded;
  std::vector<std::string> unbounded;
  sizedFields(rootSchema(loadCrd())["properties"]["spec"], ".spec", bounded, unbounded);
  EXPECT_EQ(unbounded, std::vector<std::string>{});
  EXPECT_GE(bounded.size(), 40u);
  // spec.ca's sources exclude each other: one base rotation per source.
  std::vector<json> bases(3, encodeRotation(everyFieldSet(), false));
  bases[1]["spec"]["ca"] = {{"secretRef", {{"name", "proxy-ca"}}}};
  bases[2]["spec"]["ca"] = {{"files", {{"certFile", "ca.crt"}, {"keyFile", "ca.key"}}}};
  for (const json& base : bases) ASSERT_TRUE(decodeRotation(base).ok()) << base["spec"]["ca"];
  for (const auto& [path, schema] : bounded) {
    json over;
    for (const json& base : bases) {
      over = base;
      if (forEachAt(over, path, [](json&) {}) > 0) break;
    }
    std::string expected;
    int found = 0;
    if (schema["maxLength"]) {
      const size_t max = schema["maxLength"].as<size_t>();
      found = forEachAt(over, path, [&](json& v) { v = std::string(max + 1, 'a'); });
      expected = "must be at most " + std::to_string(max) + " characters";
    } else {
      const size_t max = schema["maxItems"].as<size_t>();
      found = forEachAt(over, path, [&](json& list) {
        const json first = list.at(0);
        list = json::array();
        for (size_t i = 0; i <= max; ++i) list.push_back(first);
      });
      expected = "must have at most " + std::to_string(max) + " items";
    }
    ASSERT_GT(found, 0) << path << " is not set in everyFieldSet()";
    auto decoded = decodeRotation(over);
    const Status refused = decoded.ok() ? validateRotation(*decoded) : decoded.status();
    ASSERT_FALSE(refused.ok()) << path << " was accepted one past its bound";
    EXPECT_THAT(refused.message(), ::testing::HasSubstr(expected)) << path;
    std::string field = path.substr(path.rfind('.') + 1);
    field = field.substr(0, field.find('['));
    EXPECT_THAT(refused.message(), ::testing::HasSubstr(field)) << path;
  }
}

TEST(CrdTest, WhatRotorWritesValidatesAgainstTheSchema) {
  const json object = encodeRotation(everyFieldSet(), true);
  EXPECT_EQ(errorsOf(object), std::vector<std::string>{}) << object.dump(2);
  // The validator is not a rubber stamp.
  json bad = object;
  bad["spec"]["adoption"]["threshold"] = 0;
  bad["spec"]["servers"][0]["restart"]["kind"] = "CronJob";
  bad["spec"]["certificate"]["validity"] = "90 days";
  bad["spec"]["surprise"] = true;
  bad["status"]["phase"] = "Sleeping";
  EXPECT_EQ(errorsOf(bad).size(), 5u) << ::testing::PrintToString(errorsOf(bad));
}

TEST(CrdTest, EveryBundledExampleValidatesAsWrittenAndAsRotorWritesIt) {
  int documents = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(sourceDir() / "examples")) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    for (const YAML::Node& doc : YAML::LoadAll(text.str())) {
      ++documents;
      EXPECT_EQ(errorsOf(yamlToJson(doc)), std::vector<std::string>{}) << entry.path();
    }
    auto decoded = decodeManifests(text.str());
    ASSERT_TRUE(decoded.ok()) << entry.path() << ": " << decoded.status();
    for (const CertificateRotation& r : *decoded) {
      EXPECT_EQ(errorsOf(encodeRotation(r, false)), std::vector<std::string>{}) << entry.path();
    }
  }
  EXPECT_GE(documents, 6);
}

TEST(CrdTest, EnumsAndRangesAreTheCodecs) {
  const YAML::Node schema = rootSchema(loadCrd());
  std::vector<std::string> phases;
  for (const YAML::Node& p : schema["properties"]["status"]["properties"]["phase"]["enum"])
    phases.push_back(p.as<std::string>());
  std::vector<std::string> codecPhases;
  for (Phase p : allPhases()) codecPhases.emplace_back(phaseName(p));
  EXPECT_EQ(phases, codecPhases);
  // The codec refuses exactly what the schema refuses at the edges of each range.
  const auto decodes = [](const std::string& adoption, const std::string& probe) {
    return decodeManifests(
               "apiVersion: rotor.dev/v1alpha1\nkind: CertificateRotation\nmetadata: {name: r}\n"
               "spec:\n  certificate: {commonName: a.example.com}\n"
               "  servers: [{name: a, certFile: a.crt, keyFile: a.key}]\n"
               "  ca: {generate: {commonName: CA}}\n  trustBundle: {file: b.pem}\n"
               "  adoption: {" +
               adoption + "}\n  swap: {probe: {" + probe + "}}\n")
        .ok();
  };
  const YAML::Node adoption = schema["properties"]["spec"]["properties"]["adoption"]["properties"];
  const YAML::Node probe = schema["properties"]["spec"]["properties"]["swap"]["properties"]["probe"]["properties"];
  const int low = adoption["threshold"]["minimum"].as<int>(), high = adoption["threshold"]["maximum"].as<int>();
  EXPECT_TRUE(decodes("threshold: " + std::to_string(low), ""));
  EXPECT_TRUE(decodes("threshold: " + std::to_string(high), ""));
  EXPECT_FALSE(decodes("threshold: " + std::to_string(low - 1), ""));
  EXPECT_FALSE(decodes("threshold: " + std::to_string(high + 1), ""));
  const int most = probe["failureThreshold"]["maximum"].as<int>();
  EXPECT_TRUE(decodes("", "failureThreshold: " + std::to_string(most)));
  EXPECT_FALSE(decodes("", "failureThreshold: " + std::to_string(most + 1)));
  EXPECT_FALSE(decodes("", "failureThreshold: " + std::to_string(probe["failureThreshold"]["minimum"].as<int>() - 1)));
}

}  // namespace
}  // namespace rotor::api
