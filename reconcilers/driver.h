#pragma once

// The state machine: side states first (a rollback request, pause, resume), then the phase's
// reconciler; every transition checked against transitions.h, recorded in status (phase,
// timeline, conditions) and as an event, and written with the rotation's version.

#include "reconcilers/context.h"

namespace rotor::reconcilers {

struct ReconcileResult {
  /** Reconcile again after this long; zero: only when something changes. */
  Duration requeueAfter = Duration::zero();
  /** The phase the rotation rests in now. */
  api::Phase phase = api::Phase::kPending;
  /** A phase change taken in this call, with the Outcome's reason ("ProbeFailed", ...). */
  struct Transition {
    api::Phase from = api::Phase::kPending;
    api::Phase to = api::Phase::kPending;
    std::string reason;
  };
  /** Transitions taken in this call (logs, metrics). */
  std::vector<Transition> transitions;
  /** Pre-checks that failed in this call, by name. */
  std::vector<std::string> failedChecks;
  /** Whether the rotation still exists. */
  bool found = true;
};

/** Transitions one reconcile may take before it yields (a loop guard, far above any real path). */
inline constexpr int kMaxStepsPerReconcile = 32;

class Driver {
public:
  explicit Driver(RotationContext ctx) : ctx_(ctx) {}

  /**
   * Reads the rotation and drives it as far as it can go now: through every transition whose
   * work is done, stopping at a wait. Errors: kConflict (someone wrote in between: re-read and run
   * again), kUnavailable (retry with backoff), others from the Store or the PKI. kNotFound is
   * not an error: the result says found=false. Any other error is also put in status (Degraded,
   * reason StoreUnavailable or ReconcileError) when status can still be written, and cleared by the
   * next reconcile that goes through.
   */
  StatusOr<ReconcileResult> reconcile(const api::ObjectKey& key);

private:
  StatusOr<ReconcileResult> drive(const api::ObjectKey& key);
  /** Best effort: the error in the stored rotation's Degraded condition, unless it is there. */
  void reportError(const api::ObjectKey& key, const Status& error);
  StatusOr<Outcome> step(api::CertificateRotation& r);
  StatusOr<std::optional<Outcome>> sideState(api::CertificateRotation& r);
  /** Records the outcome in r's status and writes it when it differs from `before` (the status
   *  as read, before the step). */
  Status apply(api::CertificateRotation& r, const Outcome& outcome, const api::RotationStatus& before,
               ReconcileResult& result);

  RotationContext ctx_;
};

}  // namespace rotor::reconcilers
