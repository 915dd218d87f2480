#include "controller/metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace rotor::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Seconds. A reconcile that only reads state takes well under a millisecond; one that generates
// an RSA 4096 key, reloads a server or probes it takes seconds.
const prometheus::Histogram::BucketBoundaries kReconcileBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                   0.25,   0.5,   1,      2.5,   5,    10,    30};
// A check-in is an in-memory update: tens of microseconds; milliseconds when a rotation's
// records are first loaded or the store is slow.
const prometheus::Histogram::BucketBoundaries kCheckInBuckets = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                                                 0.001,   0.0025,   0.005,   0.01,   0.05,    0.25};

void addSample(MetricFamily& family, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family.metric.push_back(std::move(m));
}

double unixSeconds(SystemTime t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

Labels rotationLabels(const api::ObjectKey& key) { return {{"namespace", key.ns}, {"name", key.name}}; }

Labels with(Labels labels, std::string name, std::string value) {
  labels.push_back({std::move(name), std::move(value)});
  return labels;
}

/** The families read from the rotations' status. */
std::vector<MetricFamily> stateFamilies(const std::vector<api::CertificateRotation>& rotations) {
  MetricFamily phase{
      "rotor_rotation_phase", "1 for the phase the rotation is in, 0 for every other phase.", MetricType::Gauge, {}};
  MetricFamily revision{
      "rotor_rotation_revision", "Completed rotations of this resource (status.revision).", MetricType::Gauge, {}};
  MetricFamily ratio{"rotor_rotation_adoption_ratio",
                     "Share of active clients that trust the CA being rolled out (0..1): agents and, with "
                     "spec.adoption.pods, consumer pods, as the adoption gate counts them.",
                     MetricType::Gauge,
                     {}};
  MetricFamily agents{
      "rotor_rotation_agents", "Agents of the rotation by state: adopted, pending or stale.", MetricType::Gauge, {}};
  MetricFamily expiry{"rotor_certificate_expiration_timestamp_seconds",
                      "notAfter of each CA slot (current, next, previous) and each server's certificate.",
                      MetricType::Gauge,
                      {}};
  MetricFamily started{
      "rotor_rotation_phase_started_timestamp_seconds", "When the rotation entered its phase.", MetricType::Gauge, {}};
  MetricFamily copies{"rotor_rotation_bundle_copies",
                      "Namespaces by the state of the bundle's copy: wanted, current (holds the bundle as it is now) "
                      "or foreign (an object of its name rotor did not create, left alone).",
                      MetricType::Gauge,
                      {}};
  MetricFamily pods{"rotor_rotation_consumer_pods",
                    "Running pods that read the trust bundle (spec.adoption.pods) by state: adopted (read it since it "
                    "holds the CA being adopted) or pending.",
                    MetricType::Gauge,
                    {}};
  MetricFamily restarting{"rotor_rotation_workloads_restarting",
                          "Workloads rotor restarted so that their pods read the bundle again, still rolling out.",
                          MetricType::Gauge,
                          {}};
  for (const api::CertificateRotation& r : rotations) {
    const Labels labels = rotationLabels(r.key());
    const api::RotationStatus& s = r.status;
    for (api::Phase p : api::allPhases()) {
      addSample(phase, with(labels, "phase", std::string(api::phaseName(p))), p == s.phase ? 1 : 0);
    }
    addSample(revision, labels, static_cast<double>(s.revision));
    addSample(ratio, labels, api::clientTally(s).ratio);
    addSample(agents, with(labels, "state", "adopted"), static_cast<double>(s.adoption.adopted));
    addSample(agents, with(labels, "state", "pending"),
              static_cast<double>(std::max<int64_t>(0, s.adoption.active - s.adoption.adopted)));
    addSample(agents, with(labels, "state", "stale"), static_cast<double>(s.adoption.stale));
    const std::pair<const char*, const std::optional<api::CertificateRef>*> slots[] = {
        {"current", &s.ca.current}, {"next", &s.ca.next}, {"previous", &s.ca.previous}};
    for (const auto& [slot, ref] : slots) {
      if (*ref && (*ref)->notAfter) {
        addSample(expiry, with(with(labels, "role", "ca"), "slot", slot), unixSeconds(*(*ref)->notAfter));
      }
    }
    for (const api::ServerStatus& server : s.servers) {
      if (server.notAfter) {
        addSample(expiry, with(with(with(labels, "role", "server"), "slot", "current"), "server", server.name),
                  unixSeconds(*server.notAfter));
      }
    }
    if (s.phaseStartedAt) addSample(started, labels, unixSeconds(*s.phaseStartedAt));
    if (s.bundleCopies) {
      addSample(copies, with(labels, "state", "wanted"), static_cast<double>(s.bundleCopies->wanted));
      addSample(copies, with(labels, "state", "current"), static_cast<double>(s.bundleCopies->current));
      addSample(copies, with(labels, "state", "foreign"), static_cast<double>(s.bundleCopies->foreign.size()));
    }
    if (s.pods) {
      addSample(pods, with(labels, "state", "adopted"), static_cast<double>(s.pods->adopted));
      addSample(pods, with(labels, "state", "pending"),
                static_cast<double>(std::max<int64_t>(0, s.pods->running - s.pods->adopted)));
      addSample(restarting, labels, static_cast<double>(s.pods->restarting.size()));
    }
  }
  return {std::move(phase),   std::move(revision), std::move(ratio), std::move(agents),    std::move(expiry),
          std::move(started), std::move(copies),   std::move(pods),  std::move(restarting)};
}

}  // namespace

ControllerMetrics::ControllerMetrics(store::RotationStore& rotations, std::string version)
    : rotations_(rotations), version_(std::move(version)), registry_(std::make_shared<prometheus::Registry>()) {
  reconciles_ = &prometheus::BuildCounter()
                     .Name("rotor_reconcile_total")
                     .Help("Reconciles by result: success, conflict (retried at once) or error (retried with backoff).")
                     .Register(*registry_);
  reconcileSeconds_ = &prometheus::BuildHistogram()
                           .Name("rotor_reconcile_duration_seconds")
                           .Help("Time one reconcile of one rotation took.")
                           .Register(*registry_);
  reconcileHistogram_ = &reconcileSeconds_->Add({}, kReconcileBuckets);
  checkInSeconds_ = &prometheus::BuildHistogram()
                         .Name("rotor_agent_checkin_duration_seconds")
                         .Help("Time the adoption API took to handle one check-in.")
                         .Register(*registry_);
  checkInHistogram_ = &checkInSeconds_->Add({}, kCheckInBuckets);
  rollbacks_ = &prometheus::BuildCounter()
                    .Name("rotor_rollbacks_total")
                    .Help("Rollbacks started, by reason: ProbeFailed, ReloadFailed or RollbackRequested.")
                    .Register(*registry_);
  precheckFailures_ = &prometheus::BuildCounter()
                           .Name("rotor_precheck_failures_total")
                           .Help("Pre-swap checks that failed, by check name.")
                           .Register(*registry_);
  for (const char* result : {"success", "conflict", "error"}) reconciles_->Add({{"result", result}});
}

ControllerMetrics::~ControllerMetrics() = default;

void ControllerMetrics::reconciled(const api::ObjectKey& key, const StatusOr<reconcilers::ReconcileResult>& result,
                                   std::chrono::nanoseconds took) {
  const char* outcome = result.ok() ? "success" : result.status().code() == Code::kConflict ? "conflict" : "error";
  reconcileHistogram_->Observe(std::chrono::duration<double>(took).count());
  std::lock_guard lock(mu_);
  reconciles_->Add({{"result", outcome}}).Increment();
  if (!result.ok()) return;
  if (!result->found) {
    forget(key);
    return;
  }
  const auto count = [&](prometheus::Family<prometheus::Counter>* family, const char* label, const std::string& value) {
    prometheus::Counter& c = family->Add({{"namespace", key.ns}, {"name", key.name}, {label, value}});
    auto& series = perRotation_[key];
    if (std::find(series.begin(), series.end(), std::make_pair(family, &c)) == series.end()) {
      series.emplace_back(family, &c);
    }
    c.Increment();
  };
  for (const reconcilers::ReconcileResult::Transition& t : result->transitions) {
    if (t.to == api::Phase::kRollingBack) count(rollbacks_, "reason", t.reason);
  }
  for (const std::string& check : result->failedChecks) count(precheckFailures_, "check", check);
}

void ControllerMetrics::forget(const api::ObjectKey& key) {
  auto it = perRotation_.find(key);
  if (it == perRotation_.end()) return;
  for (const auto& [family, counter] : it->second) family->Remove(counter);
  perRotation_.erase(it);
}

void ControllerMetrics::checkInTook(std::chrono::nanoseconds took) {
  checkInHistogram_->Observe(std::chrono::duration<double>(took).count());
}

std::string ControllerMetrics::render() {
  std::vector<MetricFamily> families;
  {
    std::lock_guard lock(mu_);
    families = registry_->Collect();
  }
  // A store that cannot be read now leaves the state series out of this scrape; Prometheus
  // marks them stale instead of recording invented values.
  const bool leading = !leading_ || leading_();
  if (leading_) {
    MetricFamily leader{
        "rotor_leader", "1 on the replica that holds the leader Lease, 0 on the others.", MetricType::Gauge, {}};
    addSample(leader, {}, leading ? 1 : 0);
    families.push_back(std::move(leader));
  }
  StatusOr<std::vector<api::CertificateRotation>> rotations =
      leading ? rotations_.listRotations(store::kAllNamespaces)
              : StatusOr<std::vector<api::CertificateRotation>>(std::vector<api::CertificateRotation>());
  if (rotations.ok()) {
    for (MetricFamily& f : stateFamilies(*rotations)) families.push_back(std::move(f));
  }
  if (checkInCounts_) {
    MetricFamily checkIns{"rotor_agent_checkins_total", "Agent check-ins by result.", MetricType::Counter, {}};
    for (const auto& [result, n] : checkInCounts_()) addSample(checkIns, {{"result", result}}, static_cast<double>(n));
    families.push_back(std::move(checkIns));
  }
  if (queueDepth_) {
    MetricFamily depth{"rotor_workqueue_depth", "Rotations waiting in the work queue.", MetricType::Gauge, {}};
    addSample(depth, {}, static_cast<double>(queueDepth_()));
    families.push_back(std::move(depth));
  }
  MetricFamily build{"rotor_build_info", "Always 1; the version of the running rotor.", MetricType::Gauge, {}};
  addSample(build, {{"version", version_}}, 1);
  families.push_back(std::move(build));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace rotor::metrics
