#pragma once

// What the API server does with a CRD's structural schema, for the fake API server: defaults,
// pruning of unknown fields and validation, with the causes the real server reports.

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rotor::testing {

/** Fills in the schema's defaults where the object leaves a property out (structural schemas:
 *  only inside objects that are present). */
void applyDefaults(nlohmann::json& value, const nlohmann::json& schema);

/** What a structural schema finds in an object: unknown fields (pruned) and invalid values. */
struct SchemaFindings {
  std::vector<std::string> unknown;
  // Causes by kind, reported in this order: ranges and lengths, types, enums, required fields.
  std::array<std::vector<nlohmann::ordered_json>, 4> causes;
  size_t count() const { return causes[0].size() + causes[1].size() + causes[2].size() + causes[3].size(); }
};

/** Checks `value` at `path` against `schema`, adding what it finds to `f`, and prunes the
 *  unknown fields from `value` (as the API server does without fieldValidation=Strict). */
void checkSchema(nlohmann::json& value, const nlohmann::json& schema, const std::string& path, SchemaFindings& f);

}  // namespace rotor::testing
