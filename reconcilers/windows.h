#pragma once

// Maintenance windows: a cron schedule of opening minutes in an IANA time zone, each opening
// lasting `duration`. Swaps start only while a window is open.

#include "controller/api/rotation.h"
#include "controller/common/status.h"

namespace rotor::reconcilers {

struct WindowState {
  bool open = false;
  /** While open: when the current window closes. */
  SystemTime closesAt;
  /** While closed: when the next window opens. */
  SystemTime opensAt;
};

/**
 * Where `now` stands relative to the window. kInvalidArgument for a bad schedule or zone;
 * kFailedPrecondition when the schedule matches no minute in the coming year (e.g. "0 0 30 2 *").
 */
StatusOr<WindowState> evaluateWindow(const api::MaintenanceWindowSpec& window, SystemTime now);

}  // namespace rotor::reconcilers
