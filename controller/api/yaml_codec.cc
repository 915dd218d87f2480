#include "controller/api/yaml_codec.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

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

/** A refusal raised inside the event handler, where yaml-cpp lets nothing else out. */
struct Refused {
  YAML::Mark mark;
  std::string message;
};

/**
 * Builds JSON straight from the parser's events (no YAML::Node tree), which lets the build stop
 * the parser: yaml-cpp 0.7 loops forever, starting empty document after empty document, on a
 * "," where a document's node should be, and an alias may stand for a whole subtree (expanding
 * "billion laughs" aliases would exhaust memory). Both end here as errors: a document may not
 * start where the last empty one did, and the values built may hold at most `budget` nodes.
 */
class JsonBuilder : public YAML::EventHandler {
public:
  explicit JsonBuilder(size_t budget) : budget_(budget) {}

  std::vector<json> take() { return std::move(documents_); }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (lastEmptyStart_ && lastEmptyStart_->pos == mark.pos) throw Refused{mark, "a node was expected here"};
    start_ = mark;
    root_.reset();
    anchors_.clear();
  }
  void OnDocumentEnd() override {
    if (root_ && !root_->is_null()) {
      documents_.push_back(std::move(*root_));
      lastEmptyStart_.reset();
    } else {
      lastEmptyStart_ = start_;  // an empty document between "---" separators is skipped
    }
  }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { add(mark, anchor, nullptr, std::nullopt); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) throw Refused{mark, "unknown alias"};
    charge(mark, countNodes(it->second));
    add(mark, YAML::NullAnchor, it->second,
        it->second.is_string() ? std::optional(it->second.get<std::string>()) : std::nullopt);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    // yaml-cpp can turn odd input into bytes that are not UTF-8; such a string would not read back.
    if (firstInvalidUtf8(value) != std::string::npos) throw Refused{mark, "a scalar that is not valid UTF-8"};
    const bool string = tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "!!str";
    add(mark, anchor, string ? json(value) : resolvePlainScalar(value), value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor, json::array());
  }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor, json::object());
  }
  void OnSequenceEnd() override { close(); }
  void OnMapEnd() override { close(); }

private:
  /** A collection being built, and in a mapping the key waiting for its value. */
  struct Frame {
    YAML::anchor_t anchor;
    json value;
    std::optional<std::string> key;
  };

  static size_t countNodes(const json& value) {
    size_t n = 1;
    if (value.is_structured()) {
      for (const json& child : value) n += countNodes(child);
    }
    return n;
  }

  void charge(const YAML::Mark& mark, size_t nodes) {
    if (nodes > budget_) throw Refused{mark, "the document expands to more nodes than its text can hold"};
    budget_ -= nodes;
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor, json empty) {
    charge(mark, 1);
    if (expectingKey()) throw Refused{mark, "mapping keys must be strings"};
    stack_.push_back({anchor, std::move(empty), std::nullopt});
  }

  void close() {
    Frame done = std::move(stack_.back());
    stack_.pop_back();
    place(done.anchor, std::move(done.value));
  }

  /** A scalar, null or alias: `text` is the raw text a mapping key is named by. */
  void add(const YAML::Mark& mark, YAML::anchor_t anchor, json value, const std::optional<std::string>& text) {
    charge(mark, 1);
    if (expectingKey()) {
      if (!text) throw Refused{mark, "mapping keys must be strings"};
      if (stack_.back().value.contains(*text)) throw Refused{mark, "duplicate key \"" + *text + "\""};
      if (anchor != YAML::NullAnchor) anchors_[anchor] = json(*text);
      stack_.back().key = *text;
      return;
    }
    place(anchor, std::move(value));
  }

  bool expectingKey() const { return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().key; }

  void place(YAML::anchor_t anchor, json value) {
    if (anchor != YAML::NullAnchor) anchors_[anchor] = value;
    if (stack_.empty()) {
      root_ = std::move(value);
    } else if (Frame& parent = stack_.back(); parent.value.is_array()) {
      parent.value.push_back(std::move(value));
    } else {
      parent.value[*parent.key] = std::move(value);
      parent.key.reset();
    }
  }

  size_t budget_;
  std::vector<json> documents_;
  std::vector<Frame> stack_;
  std::optional<json> root_;
  std::map<YAML::anchor_t, json> anchors_;
  YAML::Mark start_;
  std::optional<YAML::Mark> lastEmptyStart_;
};

/** A string that, written plain, would read back as something else: another type, or without
 *  its control characters (a plain scalar loses a trailing '\r') or outer spaces. */
bool needsQuotes(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') {
    return true;
  }
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return !resolvePlainScalar(s).is_string();
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
  // YAML allows no C0 control character in a stream but tab, line feed and carriage return (others
  // are written escaped in double quotes); yaml-cpp reads a raw NUL as another character.
  size_t line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') ++line;
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      char code[8];
      std::snprintf(code, sizeof code, "%02X", c);
      return invalidArgument("invalid YAML at line " + std::to_string(line) + ": control character U+00" + code +
                             " (YAML allows it only escaped in a double-quoted string, as \"\\x" + code + "\")");
    }
  }
  // Each node takes at least a character or two of text; aliases are charged what they copy.
  JsonBuilder builder(8 * text.size() + 64);
  std::istringstream in{std::string(text)};
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const YAML::Exception& e) {
    return invalidArgument("invalid YAML at " + position(e.mark) + ": " + e.msg);
  } catch (const Refused& e) {
    return invalidArgument("invalid YAML at " + position(e.mark) + ": " + e.message);
  }
  return builder.take();
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
    // Named in messages only from what is a string: `namespace: 2024` reads as a number, which
    // the codec then refuses with its path.
    if (doc.is_object() && doc.contains("metadata") && doc["metadata"].is_object() &&
        doc["metadata"].contains("name") && doc["metadata"]["name"].is_string()) {
      const json& meta = doc["metadata"];
      const std::string ns = !meta.contains("namespace")     ? std::string(kDefaultNamespace)
                             : meta["namespace"].is_string() ? meta["namespace"].get<std::string>()
                                                             : meta["namespace"].dump();
      label += " (" + ns + "/" + meta["name"].get<std::string>() + ")";
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
