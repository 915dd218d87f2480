#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>

#include "controller/api/rotation.h"
#include "controller/common/status.h"

namespace rotor::api {

/**
 * Decodes a CertificateRotation from its Kubernetes wire form (apiVersion, kind, metadata, spec,
 * status). Strict: unknown fields, wrong types and out-of-range values are kInvalidArgument, with
 * every problem listed as "field.path: reason" on its own line. Absent fields take their defaults.
 * Cross-field rules are validate.h's job.
 */
StatusOr<CertificateRotation> decodeRotation(const nlohmann::json& object);

/** The wire form, with defaults written out. Status is included when `withStatus`. */
nlohmann::json encodeRotation(const CertificateRotation& rotation, bool withStatus = true);

/** Encodes status alone (the /status subresource's payload). */
nlohmann::json encodeStatus(const RotationStatus& status);
/** Encodes spec alone: the store compares it to decide whether the generation changes. */
nlohmann::json encodeSpec(const RotationSpec& spec);

/** JSON text that never throws: a string that is not valid UTF-8 (a command's output in a message,
 *  say) gets U+FFFD for each bad byte instead of failing the write that carries it. */
std::string dumpJson(const nlohmann::json& value, int indent = -1);

/** Parses JSON text and decodes it; kInvalidArgument with the parser's position on bad JSON. */
StatusOr<CertificateRotation> rotationFromJson(std::string_view text);
/** Pretty JSON text (2-space indent, trailing newline). */
std::string rotationToJson(const CertificateRotation& rotation, bool withStatus = true);

}  // namespace rotor::api
