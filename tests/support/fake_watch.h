#pragma once

// One open watch of the fake API server: a chunked body of JSON events, one per line, that the
// server fills as objects change, with BOOKMARKs and the timeout as the kube-apiserver v1.25
// recorded in tests/data/kube-transcripts/34-46 sends them.

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/http/http.h"

namespace rotor::testing {

class FakeWatch final : public http::BodyStream {
public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  struct Options {
    /** Only objects of this resource ("group/plural"), namespace (empty: all) and selector. */
    std::string resource;
    std::string ns;
    std::string labelSelector;
    /** Events at or below it are not sent (a watch from a resourceVersion). */
    uint64_t startResourceVersion = 0;
    SteadyTime deadline;
    bool bookmarks = false;
    std::chrono::milliseconds bookmarkInterval = std::chrono::seconds(60);
    std::string apiVersion, kind;  // of the bookmark object
  };

  FakeWatch(Options options, SteadyTime now);

  const Options& options() const { return options_; }
  /** Queues an event ("ADDED", "MODIFIED", "DELETED"); the server has checked it against the
   *  filter and the starting resourceVersion. */
  void offer(const std::string& type, uint64_t resourceVersion, const nlohmann::json& object);
  /** Queues an ERROR event carrying `status` and ends the body after it. */
  void fail(const nlohmann::json& status);
  /** The newest resourceVersion of the watched resource in any namespace: what a bookmark says. */
  void observed(uint64_t resourceVersion);
  /** Sends a due bookmark; ends the body at the deadline. Called about every 100 ms. */
  void tick(SteadyTime now);
  /** Ends the body after what is queued (the server's watch cache went away). */
  void end();
  /** True once the body has ended or the client has gone: the server may forget it. */
  bool done() const;

  void next(Deliver deliver) override;
  void cancel() override;

private:
  void flushLocked();

  Options options_;
  mutable std::mutex mu_;
  std::deque<std::string> pending_;
  std::optional<Deliver> waiting_;
  bool ending_ = false;  // end after what is queued
  bool ended_ = false;   // end delivered, or cancelled
  uint64_t newest_ = 0;  // for bookmarks
  SteadyTime nextBookmark_;
  SteadyTime nextBookmarkCheck_;
};

}  // namespace rotor::testing
