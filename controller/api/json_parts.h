#pragma once

// The parts the CertificateRotation codec is made of (json_codec.cc: the object and its metadata;
// spec_json.cc; status_json.cc) and the helpers they share. Internal to the api codecs.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "controller/api/field_reader.h"
#include "controller/api/rotation.h"

namespace rotor::api {

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

void putIfNotEmpty(nlohmann::json& j, const char* key, const std::string& value);
void putTime(nlohmann::json& j, const char* key, const std::optional<SystemTime>& t);

/** spec and status from their objects; every problem goes to the reader's FieldErrors. */
void readSpec(ObjectReader r, RotationSpec& out);
void readStatus(ObjectReader r, RotationStatus& out);

}  // namespace rotor::api
