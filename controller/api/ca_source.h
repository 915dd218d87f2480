#pragma once

// The CA source (generate, files or secretRef) as one canonical, versioned text: what
// status.caSourceHash is taken over. Not the codec's JSON: a new defaulted field or a reordered
// key in the wire format must never change a stored hash, or every CA would rotate on upgrade.
// Changing what this text holds needs a new version; a hash of another version never starts a
// rotation by itself (reconcilers/triggers.h).

#include <string>
#include <string_view>

#include "controller/api/rotation.h"

namespace rotor::api {

inline constexpr std::string_view kCaSourceVersion = "v1";

/**
 * One line per field of the source that is set, in a fixed order, each "name=<length>:<value>"
 * (lengths keep any value unambiguous); durations in whole seconds, key algorithms by their
 * manifest names. rotateBefore and crossSign are policy, not the source, and are left out.
 */
std::string canonicalCaSource(const CaSpec& ca);

}  // namespace rotor::api
