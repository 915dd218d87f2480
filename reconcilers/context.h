#pragma once

// What a reconciler sees of the world: the Store's roles, a Clock, a Prober and an EventRecorder. Nothing
// else — no sockets, files or wall clock (tests/unit/reconcilers/boundary_test.cc enforces it).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/common/clock.h"
#include "controller/common/duration.h"
#include "controller/common/status.h"
#include "controller/store/store.h"

namespace rotor::reconcilers {

/** The TLS health handshake of the Verifying phase. */
class Prober {
public:
  virtual ~Prober() = default;
  /**
   * Connects to `check.address`, sends `check.serverName` as SNI, and verifies the presented
   * chain against `bundlePem`. OK only when the leaf's fingerprint is `expectedFingerprint`.
   * kUnavailable when the server cannot be reached; kFailedPrecondition when it presents another
   * certificate or one that does not verify.
   */
  virtual Status probe(const api::HealthCheckSpec& check, const std::string& bundlePem,
                       const std::string& expectedFingerprint) = 0;
};

enum class EventType { kNormal, kWarning };

/** Kubernetes-style events: transitions and refusals, for people and dashboards. */
class EventRecorder {
public:
  virtual ~EventRecorder() = default;
  virtual void record(const api::CertificateRotation& rotation, EventType type, const std::string& reason,
                      const std::string& message) = 0;
};

/**
 * The Store by role (controller/store/store.h): a phase names the role of each call, and a helper
 * takes only the roles it uses, never the whole Store (boundary_test.cc).
 */
struct RotationContext {
  RotationContext(store::Store& store, const Clock& clockIn, Prober& proberIn, EventRecorder& eventsIn)
      : rotations(store),
        authorities(store),
        servers(store),
        bundles(store),
        snapshots(store),
        pods(store),
        agents(store),
        clock(clockIn),
        prober(proberIn),
        events(eventsIn) {}

  store::RotationStore& rotations;
  store::AuthorityStore& authorities;
  store::ServerStore& servers;
  store::BundleStore& bundles;
  store::SnapshotStore& snapshots;
  store::ConsumerPodStore& pods;
  store::AgentStore& agents;
  const Clock& clock;
  Prober& prober;
  EventRecorder& events;
};

/** What one phase step decided. */
struct Outcome {
  /** The phase to enter; it must be an edge of transitions.h. None: stay. */
  std::optional<api::Phase> next;
  /** Come back after this long (a gate poll, a window opening, the end of a bake); 0: only on change. */
  Duration requeueAfter = Duration::zero();
  /** UpperCamelCase reason and a message for status, conditions and the event. */
  std::string reason;
  std::string message;
  /** Set when the step refused to go on (a pre-check, a gate timeout): a Warning event and a
   *  Degraded condition carrying `reason`. */
  bool refusal = false;
  /** The pre-checks that failed, by name (pki::checks), for rotor_precheck_failures_total. */
  std::vector<std::string> failedChecks;

  static Outcome moveTo(api::Phase phase, std::string reason, std::string message) {
    return {phase, Duration::zero(), std::move(reason), std::move(message), false, {}};
  }
  static Outcome wait(Duration after, std::string reason, std::string message) {
    return {std::nullopt, after, std::move(reason), std::move(message), false, {}};
  }
  /** A refusal that stays in the phase (Degraded, a Warning event) and looks again after `after`
   *  (zero: only when something changes). */
  static Outcome refuse(Duration after, std::string reason, std::string message) {
    return {std::nullopt, after, std::move(reason), std::move(message), true, {}};
  }
  static Outcome block(std::string reason, std::string message) {
    return {api::Phase::kBlocked, Duration::zero(), std::move(reason), std::move(message), true, {}};
  }
};

}  // namespace rotor::reconcilers
