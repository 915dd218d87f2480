#pragma once

// Strict, path-aware reading of a JSON object tree. Internal to the api codecs.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/api/limits.h"
#include "controller/common/clock.h"
#include "controller/common/duration.h"
#include "controller/common/status.h"

namespace rotor::api {

/** Collects "path: reason" lines; the codec reports them all at once. */
class FieldErrors {
public:
  void add(const std::string& path, const std::string& reason) { lines_.push_back(path + ": " + reason); }
  bool empty() const { return lines_.empty(); }
  const std::vector<std::string>& lines() const { return lines_; }
  Status toStatus() const;

private:
  std::vector<std::string> lines_;
};

/**
 * Reads the fields of one JSON object. Every accessor marks its key as known; finish() reports
 * the keys nobody asked for. An absent object (null) reads as all-defaults.
 */
class ObjectReader {
public:
  ObjectReader(const nlohmann::json* object, std::string path, FieldErrors& errors);

  bool has(const std::string& key) const;
  void string(const std::string& key, std::string& out, bool required = false);
  /** A string of at most `max` characters. */
  void string(const std::string& key, std::string& out, MaxSize max, bool required = false);
  void integer(const std::string& key, int64_t& out, int64_t min, int64_t max);
  void integer(const std::string& key, int& out, int min, int max);
  void number(const std::string& key, double& out);
  void boolean(const std::string& key, bool& out);
  void duration(const std::string& key, Duration& out);
  /** Durations are at most limits::kDuration characters. */
  void optionalDuration(const std::string& key, std::optional<Duration>& out);
  void timestamp(const std::string& key, std::optional<SystemTime>& out);
  void stringList(const std::string& key, std::vector<std::string>& out, MaxSize items = limits::kUnbounded,
                  MaxSize each = limits::kUnbounded);
  void stringMap(const std::string& key, std::map<std::string, std::string>& out);
  /** A child object; absent children read as defaults. */
  ObjectReader object(const std::string& key);
  /**
   * Reads an optional child object: when `key` is present, `read(childReader, value)` fills a
   * default-constructed T, unknown fields of the child are reported, and `out` holds the value;
   * when absent, `out` is left as it is.
   */
  template <typename T, typename Fn>
  void optionalObject(const std::string& key, std::optional<T>& out, Fn read) {
    if (!has(key)) {
      ignore(key);
      return;
    }
    ObjectReader child = object(key);
    T value;
    read(child, value);
    child.finish();
    out = std::move(value);
  }
  /** Calls `each` with a reader for every element of an array of objects. */
  void objectList(const std::string& key, const std::function<void(ObjectReader&, size_t)>& each,
                  MaxSize items = limits::kUnbounded);
  /** Marks a key as known without reading it (e.g. managed by someone else). */
  void ignore(const std::string& key) { known_.insert(key); }
  /** Reports unknown keys. Call after reading every field. */
  void finish();

  const std::string& path() const { return path_; }
  std::string pathOf(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  FieldErrors& errors() { return errors_; }

private:
  const nlohmann::json* field(const std::string& key);
  bool expect(const nlohmann::json& value, const std::string& key, bool ok, const char* what);
  /** Reports a string longer than `max` at `path`; true when it fits. */
  bool fitsLength(const std::string& path, const std::string& value, MaxSize max);
  /** Reports a list longer than `max` at `key`; true when it fits. */
  bool fitsItems(const std::string& key, const nlohmann::json& list, MaxSize max);

  const nlohmann::json* object_;
  std::string path_;
  FieldErrors& errors_;
  std::set<std::string> known_;
};

/** "string \"abc\"", "number 5", "object", ...: how a wrong value is named in a message. */
std::string describeJsonValue(const nlohmann::json& value);

}  // namespace rotor::api
