#include "tests/support/structural_schema.h"

#include <algorithm>
#include <regex>
#include <set>

#include "controller/common/strings.h"

namespace rotor::testing {

using nlohmann::json;
using nlohmann::ordered_json;

/** Fills in the schema's defaults where the object leaves a property out (structural schemas:
 *  only inside objects that are present). */
void applyDefaults(json& value, const json& schema) {
  if (value.is_object() && schema.contains("properties")) {
    for (const auto& [name, sub] : schema["properties"].items()) {
      if (!value.contains(name)) {
        if (sub.contains("default")) value[name] = sub["default"];
      } else {
        applyDefaults(value[name], sub);
      }
    }
  } else if (value.is_array() && schema.contains("items")) {
    for (json& item : value) applyDefaults(item, schema["items"]);
  }
}

namespace {

std::string jsonTypeName(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "boolean";
  if (v.is_number()) return v.is_number_integer() ? "integer" : "number";
  if (v.is_array()) return "array";
  return v.is_object() ? "object" : "null";
}

/** `path` joined with a field name ("" at the root). */
std::string childPath(const std::string& path, const std::string& field) {
  return path.empty() ? field : path + "." + field;
}

}  // namespace

void checkSchema(json& value, const json& schema, const std::string& path, SchemaFindings& f) {
  const auto cause = [&](int kind, const char* reason, const std::string& message) {
    f.causes[kind].push_back(ordered_json{{"reason", reason}, {"message", message}, {"field", path}});
  };
  const std::string type = schema.value("type", "");
  const bool typeOk = type.empty() || type == jsonTypeName(value) || (type == "number" && value.is_number());
  if (!typeOk) {
    const std::string name = jsonTypeName(value);
    cause(1, "FieldValueTypeInvalid",
          "Invalid value: \"" + name + "\": " + path + " in body must be of type " + type + ": \"" + name + "\"");
    return;
  }
  if (value.is_object()) {
    if (!schema.contains("properties")) return;  // free-form, or preserving unknown fields
    const json& props = schema["properties"];
    for (auto it = value.begin(); it != value.end();) {
      if (!props.contains(it.key())) {
        f.unknown.push_back(childPath(path, it.key()));
        it = value.erase(it);
      } else {
        checkSchema(it.value(), props[it.key()], childPath(path, it.key()), f);
        ++it;
      }
    }
    for (const json& required : schema.value("required", json::array())) {
      if (!value.contains(required.get<std::string>())) {
        f.causes[3].push_back(ordered_json{{"reason", "FieldValueRequired"},
                                           {"message", "Required value"},
                                           {"field", childPath(path, required.get<std::string>())}});
      }
    }
  } else if (value.is_array()) {
    // Not recorded; worded as kube-openapi's validator words them.
    if (schema.contains("minItems") && value.size() < schema["minItems"].get<size_t>()) {
      cause(0, "FieldValueInvalid",
            "Invalid value: " + std::to_string(value.size()) + ": " + path + " in body should have at least " +
                schema["minItems"].dump() + " items");
    }
    if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<size_t>()) {
      cause(
          0, "FieldValueTooMany",
          "Too many: " + std::to_string(value.size()) + ": must have at most " + schema["maxItems"].dump() + " items");
    }
    if (schema.contains("items")) {
      for (size_t i = 0; i < value.size(); ++i)
        checkSchema(value[i], schema["items"], path + "[" + std::to_string(i) + "]", f);
    }
  } else if (value.is_number()) {
    if (schema.contains("minimum") && value.get<double>() < schema["minimum"].get<double>()) {
      cause(0, "FieldValueInvalid",
            "Invalid value: " + value.dump() + ": " + path + " in body should be greater than or equal to " +
                schema["minimum"].dump());
    }
    if (schema.contains("maximum") && value.get<double>() > schema["maximum"].get<double>()) {
      cause(0, "FieldValueInvalid",
            "Invalid value: " + value.dump() + ": " + path + " in body should be less than or equal to " +
                schema["maximum"].dump());
    }
  } else if (value.is_string()) {
    if (schema.contains("maxLength") && value.get<std::string>().size() > schema["maxLength"].get<size_t>()) {
      cause(0, "FieldValueTooLong", "Too long: may not be longer than " + schema["maxLength"].dump());
    }
    if (schema.contains("pattern") &&
        !std::regex_search(value.get<std::string>(), std::regex(schema["pattern"].get<std::string>()))) {
      cause(0, "FieldValueInvalid",
            "Invalid value: " + value.dump() + ": " + path + " in body should match '" +
                schema["pattern"].get<std::string>() + "'");
    }
    if (schema.contains("minLength") && value.get<std::string>().size() < schema["minLength"].get<size_t>()) {
      cause(0, "FieldValueInvalid",
            "Invalid value: " + value.dump() + ": " + path + " in body should be at least " +
                schema["minLength"].dump() + " chars long");
    }
  }
  if (schema.contains("enum") &&
      std::find(schema["enum"].begin(), schema["enum"].end(), value) == schema["enum"].end()) {
    std::string supported;
    for (const json& e : schema["enum"]) supported += (supported.empty() ? "" : ", ") + e.dump();
    cause(2, "FieldValueNotSupported", "Unsupported value: " + value.dump() + ": supported values: " + supported);
  }
}

}  // namespace rotor::testing
