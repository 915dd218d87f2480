#pragma once

// Runs jobs named by a key on a thread of its own at a low CPU priority (nice 10), one at a time,
// a key requested again before its job ran only once: for work that may take seconds of CPU
// and must neither hold up its requester nor compete with the requests the process serves
// (rewriting the agent journal of a million agents beside 16,000 check-ins a second).

#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "controller/api/rotation.h"

namespace rotor::store::local {

class BackgroundWorker {
public:
  using Job = std::function<void(const api::ObjectKey&)>;

  explicit BackgroundWorker(Job job);
  /** Stops: a job under way finishes, jobs not begun are dropped. */
  ~BackgroundWorker();

  void request(const api::ObjectKey& key);
  /** Waits until no job is requested or under way. */
  void drain();

private:
  void loop(std::stop_token stop);

  Job job_;
  std::mutex mu_;
  std::condition_variable_any changed_;
  std::set<api::ObjectKey> requested_;
  bool busy_ = false;
  std::jthread thread_;  // last: started once the rest exists
};

}  // namespace rotor::store::local
