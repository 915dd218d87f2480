#pragma once

// Keeps up with one kind of object as client-go's Reflector does: list, then watch from the
// list's resourceVersion, following bookmarks; each watch asks for a jittered timeout so that
// many controllers do not reconnect in step; a 410 (as an HTTP status or an ERROR event) means
// the resourceVersion fell out of the server's window, so it lists again and reports what changed
// in the gap; other errors back off exponentially. It remembers only each object's
// resourceVersion: readers fetch objects themselves.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>

#include "controller/api/rotation.h"
#include "controller/kube/client.h"

namespace rotor::kube {

struct ReflectorOptions {
  /** Empty: every namespace. */
  std::string ns;
  std::string labelSelector;
  /** Each watch asks the server to end it after a random time in [this, twice this). */
  std::chrono::seconds minWatchTimeout{300};
  std::chrono::milliseconds initialBackoff{800};
  std::chrono::milliseconds maxBackoff{30000};
};

class Reflector {
public:
  /** "ADDED", "MODIFIED" or "DELETED" with the object (its last known state when deleted). */
  using OnChange = std::function<void(const std::string& type, const json& object)>;
  using OnError = std::function<void(const Status& error)>;

  Reflector(Client& client, const ResourceType& type, ReflectorOptions options, OnChange onChange,
            OnError onError = nullptr)
      : client_(client),
        type_(type),
        options_(std::move(options)),
        onChange_(std::move(onChange)),
        onError_(std::move(onError)) {}

  /** Lists and watches until `stop`. */
  void run(std::stop_token stop);

  /** Whether the first list has completed (readiness). */
  bool synced() const { return synced_.load(); }
  /** Lists done so far: the first, then one per expired resourceVersion or failed watch start. */
  uint64_t lists() const { return lists_.load(); }
  /** The resourceVersion the next watch starts from. */
  std::string resourceVersion() const;
  /** Namespace and name of every object the list and watch know of now, in order. */
  std::vector<api::ObjectKey> keys() const;

private:
  /** Lists everything and reports the difference to what was known as events. */
  Status relist();
  void observe(const std::string& type, const json& object);

  Client& client_;
  const ResourceType& type_;
  ReflectorOptions options_;
  OnChange onChange_;
  OnError onError_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> known_;  // "ns/name" -> resourceVersion
  std::string resourceVersion_;
  std::atomic<bool> synced_{false};
  std::atomic<uint64_t> lists_{0};
};

}  // namespace rotor::kube
