#pragma once

// A watch of one kind of object that only some rotations need (namespaces for the bundle's
// copies, pods for consumer pods): started when the first rotation that needs it appears, so a
// cluster without such rotations never needs the rights; it remembers which rotations need it,
// and hands each change over with them (to wake them).

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <stop_token>
#include <thread>
#include <vector>

#include "controller/kube/reflector.h"

namespace rotor::store::kube {

class RotationTriggeredWatch {
public:
  /** A change of a watched object, and the rotations that need the watch now. */
  using OnChange = std::function<void(const std::string& type, const nlohmann::json& object,
                                      const std::vector<api::ObjectKey>& rotations)>;
  using OnError = rotor::kube::Reflector::OnError;

  /** Watches `type` (every namespace) for the rotations whose object holds `needs`. */
  RotationTriggeredWatch(rotor::kube::Client& client, const rotor::kube::ResourceType& type,
                         nlohmann::json::json_pointer needs, OnChange onChange, OnError onError)
      : client_(client),
        type_(type),
        needs_(std::move(needs)),
        onChange_(std::move(onChange)),
        onError_(std::move(onError)) {}
  ~RotationTriggeredWatch();

  /** What the watch of rotations saw ("ADDED", "MODIFIED", "DELETED" and the object). */
  void rotationChanged(const std::string& type, const nlohmann::json& rotation);
  /** Whether the watch has started and listed every object once. */
  bool synced() const;
  /** Why the watch last failed ("" when it never did), for those who wait on it. */
  std::string lastError() const;

private:
  void changed(const std::string& type, const nlohmann::json& object);

  rotor::kube::Client& client_;
  const rotor::kube::ResourceType& type_;
  const nlohmann::json::json_pointer needs_;
  OnChange onChange_;
  OnError onError_;
  mutable std::mutex mu_;
  std::set<api::ObjectKey> needing_;
  std::string lastError_;
  std::unique_ptr<rotor::kube::Reflector> reflector_;
  std::jthread watching_;  // last: stopped first
};

}  // namespace rotor::store::kube
