#include "controller/api/yaml_codec.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "controller/api/json_codec.h"
#include "controller/api/validate.h"
#include "controller/common/strings.h"

namespace rotor::api {
namespace {

using nlohmann::json;

const std::regex kInteger(R"([-+]?[0-9]+)");
const std::regex kHex(R"(0x[0-9a-fA-F]+)");
const std::regex kOctal(R"(0o[0-7]+)");
const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");

/** The value a plain (unquoted, untagged) scalar denotes under the YAML 1.2 core schema. */
json resolvePlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    return nullptr;
  }
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  try {
    if (std::regex_match(s, kInteger)) return std::stoll(s);
    if (std::regex_match(s, kHex)) return std::stoll(s.substr(2), nullptr, 16);
    if (std::regex_match(s, kOctal)) return std::stoll(s.substr(2), nullptr, 8);
    if (std::regex_match(s, kFloat)) return std::stod(s);
  } catch (const std::out_of_range&) {
    return s;  // too large for a number: keep the text, the decoder names the type
  }
  if (s == ".inf" || s == ".Inf" || s == "+.inf") return std::numeric_limits<double>::infinity();
  if (s == "-.inf" || s == "-.Inf") return -std::numeric_limits<double>::infinity();
  return s;
}

std::string position(const YAML::Mark& mark) {
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

StatusOr<json> toJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      if (tag == "?") {
        return resolvePlainScalar(node.Scalar());
      }
      if (tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "!!str") {
        return json(node.Scalar());
      }
      json resolved = resolvePlainScalar(node.Scalar());
      return resolved;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const YAML::Node& item : node) {
        ASSIGN_OR_RETURN(json value, toJson(item));
        out.push_back(std::move(value));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return invalidArgument(position(entry.first.Mark()) + ": mapping keys must be strings");
        }
        const std::string& key = entry.first.Scalar();
        if (out.contains(key)) {
          return invalidArgument(position(entry.first.Mark()) + ": duplicate key \"" + key + "\"");
        }
        ASSIGN_OR_RETURN(json value, toJson(entry.second));
        out[key] = std::move(value);
      }
      return out;
    }
  }
  return json(nullptr);
}

bool needsQuotes(const std::string& s) {
  return s.empty() || !resolvePlainScalar(s).is_string();
}

void emit(YAML::Emitter& out, const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, v] : value.items()) {
        out << YAML::Key << k << YAML::Value;
        emit(out, v);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const json& v : value) {
        emit(out, v);
      }
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const std::string& s = value.get_ref<const std::string&>();
      if (needsQuotes(s)) {
        out << YAML::DoubleQuoted << s;
      } else {
        out << s;
      }
      break;
    }
    case json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << value.dump();  // numbers and booleans print as their JSON text
      break;
  }
}

}  // namespace

StatusOr<std::vector<json>> yamlToJsonDocuments(std::string_view text) {
  if (const size_t bad = firstInvalidUtf8(text); bad != std::string_view::npos) {
    return invalidArgument("the manifest is not UTF-8 text: byte " + std::to_string(bad) + " is not valid UTF-8");
  }
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return invalidArgument("invalid YAML at " + position(e.mark) + ": " + e.msg);
  }
  std::vector<json> out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].IsNull()) {
      continue;  // an empty document between "---" separators
    }
    auto value = toJson(nodes[i]);
    if (!value.ok()) {
      return value.status().withContext("document " + std::to_string(i + 1));
    }
    out.push_back(std::move(value).value());
  }
  return out;
}

std::string jsonToYaml(const json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

StatusOr<std::vector<CertificateRotation>> decodeManifests(std::string_view text, Mode mode) {
  ASSIGN_OR_RETURN(std::vector<json> documents, yamlToJsonDocuments(text));
  std::vector<CertificateRotation> out;
  std::vector<std::string> problems;
  std::set<ObjectKey> seen;
  for (size_t i = 0; i < documents.size(); ++i) {
    std::string label = "document " + std::to_string(i + 1);
    const json& doc = documents[i];
    if (doc.is_object() && doc.contains("metadata") && doc["metadata"].is_object() &&
        doc["metadata"].contains("name") && doc["metadata"]["name"].is_string()) {
      std::string ns = doc["metadata"].value("namespace", std::string(kDefaultNamespace));
      label += " (" + ns + "/" + doc["metadata"]["name"].get<std::string>() + ")";
    }
    auto rotation = decodeRotation(doc);
    Status status = rotation.ok() ? validateRotation(*rotation, mode) : rotation.status();
    if (!status.ok()) {
      for (const std::string& line : split(status.message(), '\n')) {
        problems.push_back(label + ": " + line);
      }
      continue;
    }
    if (!seen.insert(rotation->key()).second) {
      problems.push_back(label + ": names the same rotation as an earlier document");
      continue;
    }
    out.push_back(std::move(rotation).value());
  }
  if (!problems.empty()) {
    return invalidArgument(join(problems, "\n"));
  }
  if (out.empty()) {
    return invalidArgument("no CertificateRotation documents found");
  }
  return out;
}

std::string rotationToYaml(const CertificateRotation& rotation, bool withStatus) {
  return jsonToYaml(encodeRotation(rotation, withStatus));
}

}  // namespace rotor::api
