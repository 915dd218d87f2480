#include "controller/kube/reflector.h"

#include <random>
#include <set>

#include "controller/common/clock.h"

namespace rotor::kube {
namespace {

std::string keyOf(const json& object) {
  return object.value("/metadata/namespace"_json_pointer, std::string()) + "/" +
         object.value("/metadata/name"_json_pointer, std::string());
}

std::string versionOf(const json& object) {
  return object.value("/metadata/resourceVersion"_json_pointer, std::string());
}

}  // namespace

std::string Reflector::resourceVersion() const {
  std::lock_guard lock(mu_);
  return resourceVersion_;
}

std::vector<api::ObjectKey> Reflector::keys() const {
  std::lock_guard lock(mu_);
  std::vector<api::ObjectKey> out;
  out.reserve(known_.size());
  for (const auto& [key, version] : known_) {
    const size_t slash = key.find('/');
    out.push_back({key.substr(0, slash), key.substr(slash + 1)});
  }
  return out;
}

void Reflector::observe(const std::string& type, const json& object) {
  {
    std::lock_guard lock(mu_);
    resourceVersion_ = versionOf(object);
    if (type == "BOOKMARK") return;  // only a newer place to resume from
    if (type == "DELETED") {
      known_.erase(keyOf(object));
    } else {
      known_[keyOf(object)] = versionOf(object);
    }
  }
  onChange_(type, object);
}

Status Reflector::relist() {
  std::map<std::string, std::string> before;
  {
    std::lock_guard lock(mu_);
    before.swap(known_);
  }
  // Item by item: a relist of thousands of objects holds one page at a time.
  std::set<std::string> present;
  auto listed = client_.listEach(type_, options_.ns, {.labelSelector = options_.labelSelector}, [&](json& item) {
    item["apiVersion"] = type_.apiVersion();
    item["kind"] = type_.kind;
    const std::string key = keyOf(item);
    present.insert(key);
    const auto it = before.find(key);
    if (it == before.end()) {
      observe("ADDED", item);
    } else if (it->second != versionOf(item)) {
      observe("MODIFIED", item);
    } else {
      std::lock_guard lock(mu_);
      known_[key] = it->second;
    }
  });
  if (!listed.ok()) {
    // Keep knowing what the failed list did not get to; what it did see stays as seen.
    std::lock_guard lock(mu_);
    known_.insert(before.begin(), before.end());
    return listed.status();
  }
  ++lists_;
  // What vanished while no watch was open: its last state is unknown, its name is enough.
  for (const auto& [key, version] : before) {
    if (present.contains(key)) continue;
    const size_t slash = key.find('/');
    json gone = {
        {"apiVersion", type_.apiVersion()},
        {"kind", type_.kind},
        {"metadata",
         {{"namespace", key.substr(0, slash)}, {"name", key.substr(slash + 1)}, {"resourceVersion", version}}}};
    onChange_("DELETED", gone);
  }
  std::lock_guard lock(mu_);
  resourceVersion_ = *listed;
  synced_ = true;
  return Status();
}

void Reflector::run(std::stop_token stop) {
  std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<int> jitter(0, static_cast<int>(options_.minWatchTimeout.count()) - 1);
  auto backoff = options_.initialBackoff;
  const auto failed = [&](const Status& error) {
    if (onError_) onError_(error);
    sleepUnlessStopped(stop, backoff);
    backoff = std::min(backoff * 2, options_.maxBackoff);
  };
  bool needList = true;
  while (!stop.stop_requested()) {
    if (needList) {
      if (Status s = relist(); !s.ok()) {
        failed(s);
        continue;
      }
      needList = false;
    }
    const WatchOptions watch{.resourceVersion = resourceVersion(),
                             .labelSelector = options_.labelSelector,
                             .timeoutSeconds = static_cast<int>(options_.minWatchTimeout.count()) + jitter(random),
                             .allowBookmarks = true};
    const Status ended = client_.watch(
        type_, options_.ns, watch, [this](const WatchEvent& e) { observe(e.type, e.object); }, stop);
    if (ended.ok()) {
      backoff = options_.initialBackoff;  // the server's timeout: watch again from where it ended
    } else if (ended.code() == Code::kGone) {
      needList = true;  // too old: only a fresh list can say what changed meanwhile
      if (onError_) onError_(ended);
    } else {
      failed(ended);
    }
  }
}

}  // namespace rotor::kube
