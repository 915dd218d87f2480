#include "tests/support/fake_watch.h"

#include <algorithm>

namespace rotor::testing {
namespace {

/** Buffered events go out in chunks of at most this many bytes, cut mid-event as recorded (37). */
constexpr size_t kChunkBytes = 2048;
/** Bookmarks are considered about once a second, so near the deadline one may repeat (36). */
constexpr auto kBookmarkCheck = std::chrono::milliseconds(1000);
/** The last bookmark comes this long before the deadline. */
constexpr auto kBookmarkBeforeDeadline = std::chrono::seconds(2);

std::string eventLine(const std::string& type, const std::string& object) {
  return "{\"type\":\"" + type + "\",\"object\":" + object + "}\n";
}

}  // namespace

FakeWatch::FakeWatch(Options options, SteadyTime now)
    : options_(std::move(options)),
      newest_(options_.startResourceVersion),
      nextBookmark_(std::min(now + options_.bookmarkInterval, options_.deadline - kBookmarkBeforeDeadline)),
      nextBookmarkCheck_(now) {}

void FakeWatch::offer(const std::string& type, uint64_t resourceVersion, const nlohmann::json& object) {
  std::lock_guard lock(mu_);
  newest_ = std::max(newest_, resourceVersion);
  if (ending_ || ended_) return;
  pending_.push_back(eventLine(type, object.dump()));
  flushLocked();
}

void FakeWatch::fail(const nlohmann::json& status) {
  std::lock_guard lock(mu_);
  if (ending_ || ended_) return;
  pending_.push_back(eventLine("ERROR", status.dump()));
  ending_ = true;
  flushLocked();
}

void FakeWatch::observed(uint64_t resourceVersion) {
  std::lock_guard lock(mu_);
  newest_ = std::max(newest_, resourceVersion);
}

void FakeWatch::tick(SteadyTime now) {
  std::lock_guard lock(mu_);
  if (ending_ || ended_) return;
  if (now >= options_.deadline) {
    ending_ = true;
  } else if (options_.bookmarks && now >= nextBookmarkCheck_) {
    nextBookmarkCheck_ = now + kBookmarkCheck;
    // Only a resourceVersion newer than the watch's start is worth a bookmark.
    if (now >= nextBookmark_ && newest_ > options_.startResourceVersion) {
      const nlohmann::ordered_json bookmark = {{"apiVersion", options_.apiVersion},
                                               {"kind", options_.kind},
                                               {"metadata", {{"resourceVersion", std::to_string(newest_)}}}};
      pending_.push_back(eventLine("BOOKMARK", bookmark.dump()));
      nextBookmark_ = std::min(now + options_.bookmarkInterval, options_.deadline - kBookmarkBeforeDeadline);
    }
  }
  flushLocked();
}

void FakeWatch::end() {
  std::lock_guard lock(mu_);
  ending_ = true;
  flushLocked();
}

bool FakeWatch::done() const {
  std::lock_guard lock(mu_);
  return ended_;
}

void FakeWatch::next(Deliver deliver) {
  std::lock_guard lock(mu_);
  if (ended_) return;
  waiting_ = std::move(deliver);
  flushLocked();
}

void FakeWatch::cancel() {
  std::lock_guard lock(mu_);
  ended_ = true;
  waiting_.reset();
  pending_.clear();
}

void FakeWatch::flushLocked() {
  if (!waiting_ || ended_) return;
  if (!pending_.empty()) {
    std::string chunk;
    while (!pending_.empty() && chunk.size() < kChunkBytes) {
      chunk += pending_.front();
      pending_.pop_front();
    }
    if (chunk.size() > kChunkBytes) {
      pending_.push_front(chunk.substr(kChunkBytes));
      chunk.resize(kChunkBytes);
    }
    Deliver deliver = std::move(*waiting_);
    waiting_.reset();
    deliver(std::move(chunk));
  } else if (ending_) {
    ended_ = true;
    Deliver deliver = std::move(*waiting_);
    waiting_.reset();
    deliver(std::nullopt);
  }
}

}  // namespace rotor::testing
