#include "controller/kube/leader_pod_label.h"

namespace rotor::kube {

Status setLeaderLabel(Client& client, const std::string& ns, const std::string& pod, bool leading) {
  // null removes a label in a merge patch, and removing one that is absent succeeds.
  const json value = leading ? json("true") : json(nullptr);
  auto patched = client.patch(kPods, ns, pod, PatchType::kMerge,
                              {{"metadata", {{"labels", {{std::string(kLeaderLabel), value}}}}}});
  return patched.ok() ? Status() : patched.status();
}

LeaderPodLabel::LeaderPodLabel(Client& client, std::string ns, std::string pod, Logger& log,
                               std::chrono::milliseconds retry)
    : client_(client), ns_(std::move(ns)), pod_(std::move(pod)), log_(log), retry_(retry) {
  thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
}

LeaderPodLabel::~LeaderPodLabel() {
  thread_.request_stop();
  changed_.notify_all();
}

void LeaderPodLabel::want(bool leading) {
  {
    std::lock_guard lock(mu_);
    wanted_ = leading;
    ++asked_;
    settled_ = false;
  }
  changed_.notify_all();
}

bool LeaderPodLabel::waitSettled(std::chrono::milliseconds within) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (!settled() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return settled();
}

void LeaderPodLabel::loop(std::stop_token stop) {
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    if (applied_ == asked_) {
      changed_.wait(lock, stop, [this] { return applied_ != asked_; });
      continue;
    }
    const bool leading = wanted_;
    const uint64_t request = asked_;
    lock.unlock();
    Status s = setLeaderLabel(client_, ns_, pod_, leading);
    if (!leading && s.code() == Code::kNotFound) s = Status();  // a deleted pod is selected by nothing
    if (!s.ok()) {
      log_.warn(
          leading ? "Could not label this pod as the leader's" : "Could not remove the leader label from this pod",
          {{"pod", ns_ + "/" + pod_}, {"error", s.message()}});
    }
    lock.lock();
    if (s.ok()) {
      applied_ = request;
      settled_ = applied_ == asked_;
    } else {
      changed_.wait_for(lock, stop, retry_, [this, request] { return asked_ != request; });
    }
  }
}

}  // namespace rotor::kube
