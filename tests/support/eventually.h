#pragma once

// Polling for a condition that another process or thread brings about: end-to-end tests wait on
// API objects, pods and agents this way.

#include <chrono>
#include <functional>
#include <thread>

namespace rotor::testing {

/** Polls `done` every `poll` for up to `within`; its last answer. */
inline bool eventually(const std::function<bool()>& done, std::chrono::seconds within = std::chrono::seconds(60),
                       std::chrono::milliseconds poll = std::chrono::milliseconds(100)) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(poll);
  }
  return done();
}

}  // namespace rotor::testing
