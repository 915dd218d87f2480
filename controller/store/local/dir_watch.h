#pragma once

// Change notification for a local state directory: inotify on the rotation and agent records,
// mapped to rotation keys. The manager's periodic resync covers anything inotify misses.

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "controller/api/rotation.h"
#include "controller/common/status.h"

namespace rotor::store::local {

class DirWatch {
public:
  enum class Record { kRotation, kAgents };
  using OnChange = std::function<void(const api::ObjectKey&, Record)>;

  /** Starts watching `<stateDirectory>/rotations/NS/NAME.json` and
   *  `<stateDirectory>/agents/NS/NAME.agents`; `onChange` runs on the
   *  watch thread. kUnavailable when inotify cannot be set up. */
  static StatusOr<std::unique_ptr<DirWatch>> start(const std::filesystem::path& stateDirectory, OnChange onChange);
  ~DirWatch();
  DirWatch(const DirWatch&) = delete;
  DirWatch& operator=(const DirWatch&) = delete;

private:
  DirWatch(int fd, OnChange onChange) : fd_(fd), onChange_(std::move(onChange)) {}
  void watchTop(const std::filesystem::path& dir);
  void watchNamespace(const std::filesystem::path& dir, const std::string& ns);
  void loop(std::stop_token stop);

  int fd_;
  OnChange onChange_;
  std::map<int, std::string> namespaceOf_;  // watch descriptor -> namespace ("" for a top directory)
  std::map<int, std::filesystem::path> dirOf_;
  std::jthread thread_;
};

}  // namespace rotor::store::local
