#pragma once

// client-go's rate-limited delaying work queue, for rotation keys: a key is queued at most once,
// handed to one worker at a time, and re-queued after that worker is done if it changed meanwhile.

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "controller/api/rotation.h"
#include "controller/common/clock.h"
#include "controller/common/duration.h"

namespace rotor::manager {

struct BackoffPolicy {
  Duration initial = std::chrono::milliseconds(500);
  Duration max = std::chrono::minutes(5);
};

class WorkQueue {
public:
  using Key = api::ObjectKey;

  explicit WorkQueue(const Clock& clock, BackoffPolicy backoff = {}) : clock_(clock), backoff_(backoff) {}

  /** Ready now. */
  void add(const Key& key) { addAfter(key, Duration::zero()); }
  /** Ready after `delay`; a key already queued keeps the earlier of the two times. */
  void addAfter(const Key& key, Duration delay);
  /** Ready now, or `interval` after the key was last made ready this way: for a source that may
   *  fire thousands of times a second (check-ins that move an adoption gate). */
  void addThrottled(const Key& key, Duration interval);
  /** Ready after this key's next backoff step (initial, doubling, capped). */
  void addWithBackoff(const Key& key);
  /** Resets the key's backoff (after a success). */
  void forget(const Key& key);
  /** The failures counted for the key since the last forget. */
  int failures(const Key& key) const;

  /** A ready key, now marked in progress; nullopt when none is ready. Never blocks. */
  std::optional<Key> tryGet();
  /**
   * Blocks until a key is ready or the queue shuts down (nullopt). Waits in real time for at most
   * `maxWait` at a stretch, so that a fake Clock in tests is noticed too.
   */
  std::optional<Key> get(Duration maxWait = std::chrono::milliseconds(200));
  /** The worker finished the key; if it was added meanwhile it becomes queued again. */
  void done(const Key& key);
  /** Wakes every blocked get(); later gets return nullopt. */
  void shutDown();

  /** Keys queued (ready or delayed), not counting those in progress. */
  size_t depth() const;

private:
  void enqueueLocked(const Key& key, MonotonicTime at);

  const Clock& clock_;
  BackoffPolicy backoff_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, MonotonicTime> readyAt_;
  std::set<std::pair<MonotonicTime, Key>> byTime_;
  std::set<Key> inProgress_;
  std::map<Key, MonotonicTime> addedWhileInProgress_;
  std::map<Key, int> failures_;
  std::map<Key, MonotonicTime> throttledAt_;
  bool shutDown_ = false;
};

}  // namespace rotor::manager
