#include "tests/support/managed_fields.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace rotor::testing {
namespace {

using nlohmann::json;

/** FieldsV1 of a value: "f:<key>" per map key, "." marking a map that is itself owned. */
/** Whether an object-valued field is a map (whose own presence is owned: "."), rather than a
 *  struct. Custom resources are untyped: every object is a map. Built-in kinds: these fields. */
bool isMap(const std::string& field, bool typed) {
  static const std::set<std::string> kMaps = {"labels",     "annotations", "data",        "stringData",
                                              "binaryData", "matchLabels", "nodeSelector"};
  return !typed || kMaps.contains(field);
}

/** Struct fields of built-in kinds that are owned as a whole (structType=atomic). */
bool isAtomic(const std::string& field, bool typed) {
  static const std::set<std::string> kAtomic = {"involvedObject", "regarding", "related"};
  return typed && kAtomic.contains(field);
}

json fieldsOf(const json& value, bool markSelf, bool typed = false);

/** What owning field `k` with value `v` means: the field alone (atomic structs, scalars), each
 *  member of a set-typed list ("v:<value>", as metadata.finalizers is), or each key of a map. */
json ownedFieldsOf(const std::string& k, const json& v, bool markSelf, bool typed) {
  if (isAtomic(k, typed)) return json::object();
  if (k == "finalizers" && v.is_array()) {
    json out = {{".", json::object()}};
    for (const json& item : v) out["v:" + item.dump()] = json::object();
    return out;
  }
  return fieldsOf(v, markSelf, typed);
}

json fieldsOf(const json& value, bool markSelf, bool typed) {
  json out = json::object();
  if (!value.is_object()) return out;
  if (markSelf) out["."] = json::object();
  for (const auto& [k, v] : value.items()) out["f:" + k] = ownedFieldsOf(k, v, v.is_object() && isMap(k, typed), typed);
  return out;
}

/** The part of an object whose fields managers own: labels, annotations, generateName and
 *  finalizers of its metadata, and every top-level field but status (main resource), or status
 *  alone (status subresource). */
json ownedView(const json& object, bool statusSubresource) {
  json view = json::object();
  if (statusSubresource) {
    if (object.contains("status")) view["status"] = object["status"];
    return view;
  }
  const json& meta = object.value("metadata", json::object());
  for (const char* owned : {"generateName", "labels", "annotations", "finalizers"}) {
    if (meta.contains(owned)) view["metadata"][owned] = meta[owned];
  }
  for (const auto& [k, v] : object.items()) {
    if (k != "apiVersion" && k != "kind" && k != "metadata" && k != "status") view[k] = v;
  }
  return view;
}

/** Fields of `after` that are new or changed since `before` (maps compared key by key; lists
 *  and scalars as a whole). Metadata itself is never owned, only what is inside it. */
json changedFields(const json& before, const json& after, bool top, bool typed) {
  json out = json::object();
  for (const auto& [k, v] : after.items()) {
    const bool markSelf = !(top && k == "metadata") && v.is_object() && isMap(k, typed);
    if (!before.contains(k)) {
      out["f:" + k] = ownedFieldsOf(k, v, markSelf, typed);
    } else if (v.is_object() && before[k].is_object() && !isAtomic(k, typed)) {
      json sub = changedFields(before[k], v, false, typed);
      if (!sub.empty()) out["f:" + k] = sub;
    } else if (v != before[k]) {
      out["f:" + k] = v.is_array() ? ownedFieldsOf(k, v, false, typed) : json::object();
    }
  }
  return out;
}

/** Fields of `before` that `sent` leaves out. */
json removedFields(const json& before, const json& sent) {
  json out = json::object();
  for (const auto& [k, v] : before.items()) {
    if (!sent.contains(k)) {
      out["f:" + k] = json::object();  // the whole field
    } else if (v.is_object() && sent[k].is_object()) {
      json sub = removedFields(v, sent[k]);
      if (!sub.empty()) out["f:" + k] = sub;
    }
  }
  return out;
}

void unite(json& into, const json& more) {
  for (const auto& [k, v] : more.items()) {
    if (into.contains(k)) {
      unite(into[k], v);
    } else {
      into[k] = v;
    }
  }
}

/** Removes `gone` from a field set: a field named with no children goes with all of its own. */
void subtract(json& from, const json& gone) {
  for (const auto& [k, v] : gone.items()) {
    if (!from.contains(k)) continue;
    if (v.empty()) {
      from.erase(k);
      continue;
    }
    subtract(from[k], v);
    if (from[k].empty() || (from[k].size() == 1 && from[k].contains("."))) from.erase(k);
  }
}

}  // namespace

/**
 * Records a write in managedFields as the API server's field manager does for an Update: the
 * writer gains the fields it changed, fields the request as sent left out are owned by nobody
 * any more (even where the server keeps them, as labels on a status write), other managers lose
 * what the writer changed, empty entries go, and the writer's entry moves last.
 */
void recordWrite(json& object, const json& before, const json& sent, const std::string& manager,
                 const std::string& apiVersion, bool statusSubresource, bool typed, const std::string& time) {
  const json changed =
      changedFields(ownedView(before, statusSubresource), ownedView(object, statusSubresource), true, typed);
  json removed = removedFields(ownedView(before, false), ownedView(sent, false));
  if (statusSubresource) {
    // A status write owns no main-resource fields, but what its body leaves out of metadata
    // still loses its owners.
    json metadataOnly = removed.contains("f:metadata") ? json{{"f:metadata", removed["f:metadata"]}} : json::object();
    removed = removedFields(ownedView(before, true), ownedView(sent, true));
    unite(removed, metadataOnly);
  }
  json entries = object["metadata"].value("managedFields", json::array());
  json mine = json::object();
  std::string mineTime;
  json kept = json::array();
  const std::string subresource = statusSubresource ? "status" : "";
  for (json& entry : entries) {
    json& fields = entry["fieldsV1"];
    if (entry.value("manager", "") == manager && entry.value("subresource", "") == subresource) {
      mine = fields;
      mineTime = entry.value("time", "");
      continue;
    }
    subtract(fields, changed);
    subtract(fields, removed);
    if (!fields.empty()) kept.push_back(entry);
  }
  subtract(mine, removed);
  unite(mine, changed);
  if (!mine.empty()) {
    // A write that only gives fields up leaves the manager's time as it was (71).
    const std::string when = changed.empty() && !mineTime.empty() ? mineTime : time;
    json entry = {{"manager", manager}, {"operation", "Update"},    {"apiVersion", apiVersion},
                  {"time", when},       {"fieldsType", "FieldsV1"}, {"fieldsV1", mine}};
    if (statusSubresource) entry["subresource"] = "status";
    kept.push_back(entry);
  }
  // Oldest first; ties by manager, operation and subresource (the API server's order).
  std::stable_sort(kept.begin(), kept.end(), [](const json& a, const json& b) {
    const auto rank = [](const json& e) {
      return std::make_tuple(e.value("time", ""), e.value("manager", ""), e.value("operation", ""),
                             e.value("subresource", ""));
    };
    return rank(a) < rank(b);
  });
  object["metadata"]["managedFields"] = kept;
}

}  // namespace rotor::testing
