#pragma once

#include "controller/common/clock.h"

namespace rotor::testing {

/** A clock that moves only when told to. Starts at 2026-11-22T10:15:00Z. */
class FakeClock final : public Clock {
public:
  FakeClock() : now_(std::chrono::system_clock::from_time_t(1795342500)) {}
  SystemTime now() const override { return now_; }
  MonotonicTime monotonicNow() const override { return MonotonicTime(now_.time_since_epoch()); }
  void advance(std::chrono::milliseconds d) { now_ += d; }
  void set(SystemTime t) { now_ = t; }

private:
  SystemTime now_;
};

}  // namespace rotor::testing
