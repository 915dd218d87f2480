#pragma once

// The resourceVersions a manager's own reconciles wrote to each rotation. A watch (or inotify)
// reports every write, the controller's own status writes included; the reconcile that made one
// already knew the state it wrote, so its echo must wake nothing. Waking on it would re-run every
// rotation once per status write, and throttling those wakes instead would delay a user's change
// that happens to arrive just after one.

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "controller/store/forwarding_store.h"

namespace rotor::manager {

class OwnWrites {
public:
  /** A write of `key` is under way: its echo may arrive before the write returns its version
   *  (inotify fires at the rename, before the directory's fsync; a watch event can beat the
   *  response), so isEcho waits for it. */
  void begin(const api::ObjectKey& key);
  /** The write begun is done: it wrote `resourceVersion`, or failed (empty). */
  void end(const api::ObjectKey& key, const std::string& resourceVersion);
  /** Whether this process wrote `resourceVersion` of `key`, once its writes under way are done
   *  (waiting at most kInFlightWait). An empty version is never an echo. */
  bool isEcho(const api::ObjectKey& key, const std::string& resourceVersion) const;
  /** Forgets a deleted rotation. */
  void forget(const api::ObjectKey& key);

  /** One reconcile writes a few versions (a status per phase step); the latest few are enough. */
  static constexpr size_t kRememberedPerRotation = 8;
  /** How long an echo waits for a write under way; past it, the change wakes its rotation. */
  static constexpr Duration kInFlightWait = std::chrono::seconds(2);

private:
  mutable std::mutex mu_;
  mutable std::condition_variable ended_;
  std::map<api::ObjectKey, std::deque<std::string>> written_;
  std::map<api::ObjectKey, int> inFlight_;
};

/** The Store the manager's reconciles use: every rotation write it passes on is remembered. */
class OwnWriteRecorder final : public store::ForwardingStore {
public:
  OwnWriteRecorder(store::Store& inner, OwnWrites& writes) : ForwardingStore(inner), writes_(writes) {}

  StatusOr<store::CertificateRotation> applyRotation(const store::CertificateRotation& desired) override;
  Status updateRotation(store::CertificateRotation& r) override;
  Status updateRotationStatus(store::CertificateRotation& r) override;
  Status deleteRotation(const api::ObjectKey& key) override;

private:
  /** Runs `write` of `r` between begin and end. */
  Status remember(const store::CertificateRotation& r, const std::function<Status()>& write);

  OwnWrites& writes_;
};

}  // namespace rotor::manager
