#include "controller/api/json_codec.h"

#include <nlohmann/json.hpp>

#include "controller/api/json_parts.h"
#include "controller/common/duration.h"

namespace rotor::api {
namespace {

using nlohmann::json;

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

}  // namespace

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
