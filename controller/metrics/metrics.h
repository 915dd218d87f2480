#pragma once

// rotor's Prometheus metrics (brief §5). Two kinds:
//  - state, read from each rotation's status at scrape time (phase, revision, adoption, agents,
//    certificate expiry, phase start): a deleted rotation's series vanish with it, and a
//    restarted controller reports the truth at once;
//  - events, counted as they happen (reconciles and their latency, rollbacks, pre-check
//    failures, check-ins); a rotation's event series are removed when it is deleted.
// Per-rotation series carry namespace and name, never an agent id. No label value ever holds
// key material, a token or a fingerprint.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/manager/manager.h"
#include "controller/store/rotation_store.h"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace rotor::metrics {

/** Check-in results and how many of each, sampled at scrape time. */
using CheckInCounts = std::function<std::vector<std::pair<std::string, uint64_t>>()>;

class ControllerMetrics final : public manager::ReconcileObserver {
public:
  ControllerMetrics(store::RotationStore& rotations, std::string version);
  ~ControllerMetrics() override;

  void reconciled(const api::ObjectKey& key, const StatusOr<reconcilers::ReconcileResult>& result,
                  std::chrono::nanoseconds took) override;

  /** Sources read at scrape time; unset ones are not exported. */
  void setQueueDepth(std::function<size_t()> depth) { queueDepth_ = std::move(depth); }
  void setCheckInCounts(CheckInCounts counts) { checkInCounts_ = std::move(counts); }
  /** With leader election: whether this replica leads (rotor_leader). Only the leader exports
   *  the rotations' state, so that every replica can be scraped without doubling a series. */
  void setLeading(std::function<bool()> leading) { leading_ = std::move(leading); }
  /** One check-in's handling time. */
  void checkInTook(std::chrono::nanoseconds took);

  /** Everything, in the Prometheus text exposition format (version 0.0.4). */
  std::string render();

private:
  /** Drops the event series of a rotation that no longer exists. */
  void forget(const api::ObjectKey& key);

  store::RotationStore& rotations_;
  std::string version_;
  std::function<size_t()> queueDepth_;
  CheckInCounts checkInCounts_;
  std::function<bool()> leading_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* reconciles_;
  prometheus::Family<prometheus::Histogram>* reconcileSeconds_;
  prometheus::Histogram* reconcileHistogram_;
  prometheus::Family<prometheus::Histogram>* checkInSeconds_;
  prometheus::Histogram* checkInHistogram_;
  prometheus::Family<prometheus::Counter>* rollbacks_;
  prometheus::Family<prometheus::Counter>* precheckFailures_;
  std::mutex mu_;
  // The per-rotation event series, to remove when the rotation goes.
  std::map<api::ObjectKey, std::vector<std::pair<prometheus::Family<prometheus::Counter>*, prometheus::Counter*>>>
      perRotation_;
};

}  // namespace rotor::metrics
