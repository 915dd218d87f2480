#pragma once

// The pods that read a trust bundle, and whether each has adopted a CA (spec.adoption.pods).
// A pod is summarised once as it arrives (from a LIST or a watch) into what adoption needs:
// which ConfigMaps its containers read and when those containers started, its owning workload,
// its labels and its bundle-digest annotation. Judging then needs no JSON.

#include <map>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/store/store.h"

namespace rotor::store::kube {

/** A projected clusterTrustBundle source that selects by signer: it reads every
 *  ClusterTrustBundle of that signer its label selector matches (none without a selector). */
struct SignerSelection {
  std::string key;  // its key in PodSummary::sources
  std::string signerName;
  std::optional<api::LabelSelector> selector;
  friend bool operator==(const SignerSelection&, const SignerSelection&) = default;
};

/** What adoption needs of one pod. */
struct PodSummary {
  std::string ns;
  std::string name;
  api::WorkloadRef owner;
  /** Running and not being deleted: only such pods count. */
  bool running = false;
  /** Per ConfigMap or Secret the pod reads ("ConfigMap/<name>", "Secret/<name>": through a
   *  volume, a projected volume, env or envFrom): since when what every reader read was current:
   *  when the first of the containers reading it through env started, or, through a volume, when
   *  the pod started (the kubelet filled its volumes then); nullopt while one is not running. */
  std::map<std::string, std::optional<SystemTime>> sources;
  /** Projected clusterTrustBundle sources that select by signer name (and labels): each is also
   *  in `sources`, under its key. */
  std::vector<SignerSelection> signerSelections;
  /** For pods counted by selector, which may read it through a volume: when the pod started, once
   *  all its containers run; nullopt before. */
  std::optional<SystemTime> allStarted;
  std::map<std::string, std::string> labels;
  /** The rotor.dev/bundle-digest annotation. */
  std::string bundleDigest;
  friend bool operator==(const PodSummary&, const PodSummary&) = default;
};

/** The summary of a pod object as the API server returns it. */
PodSummary summarizePod(const nlohmann::json& pod);

/** Whether `labels` satisfy `selector`. */
bool selectorMatches(const api::LabelSelector& selector, const std::map<std::string, std::string>& labels);

/** "ConfigMap/<name>" or "Secret/<name>": the bundle's object, as PodSummary::sources names it. */
std::string bundleSource(const api::TrustBundleSpec& spec);

/** Who the pods are judged for: the bundle they read, where, and what counts as adopted. */
struct ConsumerQuery {
  std::string source;  // bundleSource()
  std::set<std::string> namespaces;
  /** spec.trustBundle.clusterTrustBundle: its readers count in every namespace. */
  std::optional<api::ClusterTrustBundleSpec> clusterTrustBundle;
  std::optional<api::LabelSelector> selector;
  store::PodQuery adoption;
};

/** Counts the running consumer pods among `pods` by workload, laggards first. */
class ConsumerCounter {
public:
  explicit ConsumerCounter(const ConsumerQuery& query) : query_(query) {}
  void add(const PodSummary& pod);
  store::PodTally result() const;

private:
  const ConsumerQuery& query_;
  store::PodTally tally_;
  std::map<api::WorkloadRef, api::WorkloadAdoption> workloads_;
  std::set<api::WorkloadRef> silent_;  // workloads with a running consumer pod that reports no digest
};

/** The pods of the cluster as a watch reports them, summarised; safe across threads. */
class ConsumerPodIndex {
public:
  /** A watch event ("ADDED", "MODIFIED", "DELETED"); returns whether the summary changed. */
  bool apply(const std::string& type, const nlohmann::json& pod);
  store::PodTally tally(const ConsumerQuery& query) const;

private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, PodSummary>> byNamespace_;
};

}  // namespace rotor::store::kube
