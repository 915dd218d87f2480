#pragma once

// Marks the pod of the replica that leads with the label rotor.dev/leader=true, so that a Service
// selecting it (the chart's adoption Service) routes agents to the leader whichever replica that
// is. Each replica clears the label from its own pod when it starts (a restarted container of a
// former leader) and when it stops leading; it needs only `patch` on pods in its namespace.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "controller/common/log.h"
#include "controller/common/status.h"
#include "controller/kube/client.h"

namespace rotor::kube {

inline constexpr std::string_view kLeaderLabel = "rotor.dev/leader";

/** Sets (leading) or removes the leader label on one pod: a merge patch of its labels. */
Status setLeaderLabel(Client& client, const std::string& ns, const std::string& pod, bool leading);

/**
 * Keeps the label in the state asked for, retrying every `retry` on its own thread until the API
 * server takes it: a write refused once must not leave agents routed to a follower.
 */
class LeaderPodLabel {
public:
  LeaderPodLabel(Client& client, std::string ns, std::string pod, Logger& log,
                 std::chrono::milliseconds retry = std::chrono::seconds(1));
  ~LeaderPodLabel();
  LeaderPodLabel(const LeaderPodLabel&) = delete;
  LeaderPodLabel& operator=(const LeaderPodLabel&) = delete;

  /** Asks for the label to be set (leading) or removed; returns at once. */
  void want(bool leading);
  /** Whether the pod has the state last asked for. */
  bool settled() const { return settled_.load(); }
  /** Waits up to `within` for settled(). */
  bool waitSettled(std::chrono::milliseconds within);

private:
  void loop(std::stop_token stop);

  Client& client_;
  const std::string ns_, pod_;
  Logger& log_;
  const std::chrono::milliseconds retry_;
  std::mutex mu_;
  std::condition_variable_any changed_;
  bool wanted_ = false;
  uint64_t asked_ = 1, applied_ = 0;  // requests made and the last one written
  std::atomic<bool> settled_{false};
  std::jthread thread_;  // last: started once the rest is built
};

}  // namespace rotor::kube
