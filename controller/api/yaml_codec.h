#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/api/validate.h"
#include "controller/common/status.h"

namespace rotor::api {

/**
 * Converts YAML text with one or more documents to JSON values, resolving plain scalars as
 * YAML 1.2's core schema does (null, booleans, integers, floats; everything else and every quoted
 * scalar is a string). Empty documents are skipped. kInvalidArgument gives the document number,
 * line and column of a syntax error, or names a duplicate key.
 */
StatusOr<std::vector<nlohmann::json>> yamlToJsonDocuments(std::string_view text);

/** Block-style YAML for a JSON value; strings that would read back as another type are quoted. */
std::string jsonToYaml(const nlohmann::json& value);

/**
 * Reads every CertificateRotation in a manifest file. All or nothing: if any document is
 * invalid, the result is kInvalidArgument listing each problem as
 * "document N (namespace/name): field.path: reason". Two documents naming the same rotation are
 * an error too.
 */
StatusOr<std::vector<CertificateRotation>> decodeManifests(std::string_view text, Mode mode = Mode::kAny);

/** YAML for one rotation (documents are joined with "---\n" by the caller). */
std::string rotationToYaml(const CertificateRotation& rotation, bool withStatus = true);

}  // namespace rotor::api
