#include "controller/manager/work_queue.h"

namespace rotor::manager {

void WorkQueue::enqueueLocked(const Key& key, MonotonicTime at) {
  if (inProgress_.count(key) > 0) {
    auto [it, inserted] = addedWhileInProgress_.emplace(key, at);
    if (!inserted && at < it->second) it->second = at;
    return;
  }
  auto it = readyAt_.find(key);
  if (it != readyAt_.end()) {
    if (it->second <= at) return;
    byTime_.erase({it->second, key});
    it->second = at;
  } else {
    readyAt_.emplace(key, at);
  }
  byTime_.emplace(at, key);
  cv_.notify_one();
}

void WorkQueue::addAfter(const Key& key, Duration delay) {
  std::lock_guard lock(mu_);
  if (shutDown_) return;
  enqueueLocked(key, clock_.monotonicNow() + delay);
}

void WorkQueue::addThrottled(const Key& key, Duration interval) {
  std::lock_guard lock(mu_);
  if (shutDown_) return;
  const MonotonicTime now = clock_.monotonicNow();
  MonotonicTime& last = throttledAt_[key];  // when the latest throttled add becomes ready
  if (last <= now) last = std::max(now, last + interval);
  enqueueLocked(key, last);
}

void WorkQueue::addWithBackoff(const Key& key) {
  std::lock_guard lock(mu_);
  if (shutDown_) return;
  const int n = failures_[key]++;
  Duration delay = backoff_.initial;
  for (int i = 0; i < n && delay < backoff_.max; ++i) delay *= 2;
  enqueueLocked(key, clock_.monotonicNow() + std::min(delay, backoff_.max));
}

void WorkQueue::forget(const Key& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int WorkQueue::failures(const Key& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

std::optional<WorkQueue::Key> WorkQueue::tryGet() {
  std::lock_guard lock(mu_);
  if (shutDown_ || byTime_.empty() || byTime_.begin()->first > clock_.monotonicNow()) return std::nullopt;
  Key key = byTime_.begin()->second;
  byTime_.erase(byTime_.begin());
  readyAt_.erase(key);
  inProgress_.insert(key);
  return key;
}

std::optional<WorkQueue::Key> WorkQueue::get(Duration maxWait) {
  for (;;) {
    if (auto key = tryGet()) return key;
    std::unique_lock lock(mu_);
    if (shutDown_) return std::nullopt;
    Duration wait = maxWait;
    if (!byTime_.empty()) {
      wait = std::min(wait, std::chrono::ceil<Duration>(byTime_.begin()->first - clock_.monotonicNow()));
    }
    if (wait > Duration::zero()) cv_.wait_for(lock, wait);
  }
}

void WorkQueue::done(const Key& key) {
  std::lock_guard lock(mu_);
  inProgress_.erase(key);
  auto it = addedWhileInProgress_.find(key);
  if (it != addedWhileInProgress_.end()) {
    const MonotonicTime at = it->second;
    addedWhileInProgress_.erase(it);
    if (!shutDown_) enqueueLocked(key, at);
  }
}

void WorkQueue::shutDown() {
  std::lock_guard lock(mu_);
  shutDown_ = true;
  cv_.notify_all();
}

size_t WorkQueue::depth() const {
  std::lock_guard lock(mu_);
  return byTime_.size();
}

}  // namespace rotor::manager
