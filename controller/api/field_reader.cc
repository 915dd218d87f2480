#include "controller/api/field_reader.h"

#include "controller/common/strings.h"

namespace rotor::api {

Status FieldErrors::toStatus() const {
  if (lines_.empty()) {
    return okStatus();
  }
  return invalidArgument(join(lines_, "\n"));
}

std::string describeJsonValue(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::string:
      return "string " + quoteForMessage(value.get<std::string>());
    case nlohmann::json::value_t::boolean:
      return std::string("boolean ") + (value.get<bool>() ? "true" : "false");
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return "number " + value.dump();
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "a list";
    case nlohmann::json::value_t::null:
      return "null";
    default:
      return "an unsupported value";
  }
}

ObjectReader::ObjectReader(const nlohmann::json* object, std::string path, FieldErrors& errors)
    : object_(object), path_(std::move(path)), errors_(errors) {
  if (object_ != nullptr && object_->is_null()) {
    object_ = nullptr;
  }
  if (object_ != nullptr && !object_->is_object()) {
    errors_.add(path_.empty() ? "<document>" : path_, "must be an object, got " + describeJsonValue(*object_));
    object_ = nullptr;
  }
}

bool ObjectReader::has(const std::string& key) const {
  return object_ != nullptr && object_->contains(key) && !(*object_)[key].is_null();
}

const nlohmann::json* ObjectReader::field(const std::string& key) {
  known_.insert(key);
  if (!has(key)) {
    return nullptr;
  }
  return &(*object_)[key];
}

bool ObjectReader::expect(const nlohmann::json& value, const std::string& key, bool ok, const char* what) {
  if (!ok) {
    errors_.add(pathOf(key), std::string("must be ") + what + ", got " + describeJsonValue(value));
  }
  return ok;
}

bool ObjectReader::fitsLength(const std::string& path, const std::string& value, MaxSize max) {
  if (value.size() <= max.value) {
    return true;
  }
  errors_.add(path,
              "must be at most " + std::to_string(max.value) + " characters, got " + std::to_string(value.size()));
  return false;
}

bool ObjectReader::fitsItems(const std::string& key, const nlohmann::json& list, MaxSize max) {
  if (list.size() <= max.value) {
    return true;
  }
  errors_.add(pathOf(key),
              "must have at most " + std::to_string(max.value) + " items, got " + std::to_string(list.size()));
  return false;
}

void ObjectReader::string(const std::string& key, std::string& out, bool required) {
  string(key, out, limits::kUnbounded, required);
}

void ObjectReader::string(const std::string& key, std::string& out, MaxSize max, bool required) {
  const nlohmann::json* v = field(key);
  if (v == nullptr) {
    if (required) {
      errors_.add(pathOf(key), "is required");
    }
    return;
  }
  if (v->is_number() || v->is_boolean()) {
    // YAML reads 2024, 1e3 and yes as other types: a string that looks like one needs quotes.
    errors_.add(pathOf(key),
                "must be a string, got " + describeJsonValue(*v) + " (quote it in YAML: \"" + v->dump() + "\")");
    return;
  }
  if (expect(*v, key, v->is_string(), "a string") && fitsLength(pathOf(key), v->get_ref<const std::string&>(), max)) {
    out = v->get<std::string>();
    if (required && out.empty()) {
      errors_.add(pathOf(key), "must not be empty");
    }
  }
}

void ObjectReader::integer(const std::string& key, int64_t& out, int64_t min, int64_t max) {
  const nlohmann::json* v = field(key);
  if (v == nullptr) {
    return;
  }
  bool integral = v->is_number_integer() || v->is_number_unsigned();
  if (!expect(*v, key, integral, "an integer")) {
    return;
  }
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    errors_.add(pathOf(key),
                "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + v->dump());
    return;
  }
  int64_t value = v->get<int64_t>();
  if (value < min || value > max) {
    errors_.add(pathOf(key), "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                                 std::to_string(value));
    return;
  }
  out = value;
}

void ObjectReader::integer(const std::string& key, int& out, int min, int max) {
  int64_t wide = out;
  integer(key, wide, min, max);
  out = static_cast<int>(wide);
}

void ObjectReader::number(const std::string& key, double& out) {
  const nlohmann::json* v = field(key);
  if (v != nullptr && expect(*v, key, v->is_number(), "a number")) {
    out = v->get<double>();
  }
}

void ObjectReader::boolean(const std::string& key, bool& out) {
  const nlohmann::json* v = field(key);
  if (v != nullptr && expect(*v, key, v->is_boolean(), "true or false")) {
    out = v->get<bool>();
  }
}

void ObjectReader::duration(const std::string& key, Duration& out) {
  std::optional<Duration> value;
  optionalDuration(key, value);
  if (value) {
    out = *value;
  }
}

void ObjectReader::optionalDuration(const std::string& key, std::optional<Duration>& out) {
  const nlohmann::json* v = field(key);
  if (v == nullptr || !expect(*v, key, v->is_string(), "a duration string such as \"720h\"")) {
    return;
  }
  if (!fitsLength(pathOf(key), v->get_ref<const std::string&>(), limits::kDuration)) {
    return;
  }
  auto parsed = parseDuration(v->get<std::string>());
  if (!parsed.ok()) {
    errors_.add(pathOf(key), parsed.status().message());
    return;
  }
  out = *parsed;
}

void ObjectReader::timestamp(const std::string& key, std::optional<SystemTime>& out) {
  const nlohmann::json* v = field(key);
  if (v == nullptr || !expect(*v, key, v->is_string(), "an RFC 3339 timestamp")) {
    return;
  }
  SystemTime t;
  if (!parseRfc3339(v->get<std::string>(), t)) {
    errors_.add(pathOf(key), "must be an RFC 3339 timestamp such as \"2026-01-02T15:04:05Z\", got " +
                                 quoteForMessage(v->get<std::string>()));
    return;
  }
  out = t;
}

void ObjectReader::stringList(const std::string& key, std::vector<std::string>& out, MaxSize items, MaxSize each) {
  const nlohmann::json* v = field(key);
  if (v == nullptr || !expect(*v, key, v->is_array(), "a list of strings") || !fitsItems(key, *v, items)) {
    return;
  }
  out.clear();
  for (size_t i = 0; i < v->size(); ++i) {
    const nlohmann::json& item = (*v)[i];
    if (!item.is_string()) {
      errors_.add(pathOf(key) + "[" + std::to_string(i) + "]", "must be a string, got " + describeJsonValue(item));
      continue;
    }
    if (!fitsLength(pathOf(key) + "[" + std::to_string(i) + "]", item.get_ref<const std::string&>(), each)) {
      continue;
    }
    out.push_back(item.get<std::string>());
  }
}

void ObjectReader::stringMap(const std::string& key, std::map<std::string, std::string>& out) {
  const nlohmann::json* v = field(key);
  if (v == nullptr || !expect(*v, key, v->is_object(), "a map of strings")) {
    return;
  }
  out.clear();
  for (const auto& [k, item] : v->items()) {
    if (!item.is_string()) {
      errors_.add(pathOf(key) + "." + k, "must be a string, got " + describeJsonValue(item));
      continue;
    }
    out[k] = item.get<std::string>();
  }
}

ObjectReader ObjectReader::object(const std::string& key) { return ObjectReader(field(key), pathOf(key), errors_); }

void ObjectReader::objectList(const std::string& key, const std::function<void(ObjectReader&, size_t)>& each,
                              MaxSize items) {
  const nlohmann::json* v = field(key);
  if (v == nullptr || !expect(*v, key, v->is_array(), "a list") || !fitsItems(key, *v, items)) {
    return;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    std::string itemPath = pathOf(key) + "[" + std::to_string(i) + "]";
    const nlohmann::json& item = (*v)[i];
    if (!item.is_object()) {
      errors_.add(itemPath, "must be an object, got " + describeJsonValue(item));
      continue;
    }
    ObjectReader reader(&item, itemPath, errors_);
    each(reader, i);
    reader.finish();
  }
}

void ObjectReader::finish() {
  if (object_ == nullptr) {
    return;
  }
  for (const auto& [key, value] : object_->items()) {
    if (known_.count(key) == 0) {
      errors_.add(pathOf(key), "unknown field");
    }
  }
}

}  // namespace rotor::api
