#include "controller/store/kube/consumer_pods.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace rotor::store::kube {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& field(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::optional<SystemTime> timeOf(const json& j, const char* key) {
  const std::string value = text(j, key);
  if (value.empty()) return std::nullopt;
  SystemTime parsed;
  return parseRfc3339(value, parsed) ? std::optional<SystemTime>(parsed) : std::nullopt;
}

/** The earlier of two start times (every reader must have started after the bundle changed);
 *  nullopt (one not running) wins. */
std::optional<SystemTime> earlier(const std::optional<SystemTime>& a, const std::optional<SystemTime>& b) {
  if (!a || !b) return std::nullopt;
  return std::min(*a, *b);
}

/** The owning workload: a ReplicaSet's pods belong to the Deployment whose name it carries
 *  before its pod-template-hash, as the Deployment controller names them. */
api::WorkloadRef ownerOf(const json& metadata, const std::string& ns, const std::string& name,
                         const std::map<std::string, std::string>& labels) {
  const json& owners = field(metadata, "ownerReferences");
  const json* owner = nullptr;
  if (owners.is_array()) {
    for (const json& o : owners) {
      if (!o.is_object()) continue;
      if (owner == nullptr || field(o, "controller") == true) owner = &o;
    }
  }
  if (owner == nullptr) return {"Pod", ns, name};
  api::WorkloadRef ref{text(*owner, "kind"), ns, text(*owner, "name")};
  const auto hash = labels.find("pod-template-hash");
  if (ref.kind == "ReplicaSet" && hash != labels.end() && ref.name.size() > hash->second.size() + 1 &&
      ref.name.ends_with("-" + hash->second)) {
    ref = {"Deployment", ns, ref.name.substr(0, ref.name.size() - hash->second.size() - 1)};
  }
  return ref;
}

/** Adds "<kind>/<name>" to `sources` when `name` is not empty. */
void addSource(std::set<std::string>& sources, const char* kind, const std::string& name) {
  if (!name.empty()) sources.insert(std::string(kind) + "/" + name);
}

/** The ConfigMaps and Secrets a container reads through env, and the volumes it mounts. */
void readsOf(const json& container, std::set<std::string>& env, std::set<std::string>& volumes) {
  for (const json& var : field(container, "env").is_array() ? field(container, "env") : json::array()) {
    addSource(env, "ConfigMap", text(field(field(var, "valueFrom"), "configMapKeyRef"), "name"));
    addSource(env, "Secret", text(field(field(var, "valueFrom"), "secretKeyRef"), "name"));
  }
  for (const json& from : field(container, "envFrom").is_array() ? field(container, "envFrom") : json::array()) {
    addSource(env, "ConfigMap", text(field(from, "configMapRef"), "name"));
    addSource(env, "Secret", text(field(from, "secretRef"), "name"));
  }
  for (const json& mount :
       field(container, "volumeMounts").is_array() ? field(container, "volumeMounts") : json::array()) {
    volumes.insert(text(mount, "name"));
  }
}

/** A label selector as a pod spec carries it (matchLabels, matchExpressions). */
api::LabelSelector labelSelectorOf(const json& j) {
  api::LabelSelector out;
  if (field(j, "matchLabels").is_object()) {
    for (const auto& [key, value] : j["matchLabels"].items()) {
      if (value.is_string()) out.matchLabels[key] = value.get<std::string>();
    }
  }
  for (const json& e : field(j, "matchExpressions").is_array() ? j["matchExpressions"] : json::array()) {
    api::LabelSelectorRequirement requirement{text(e, "key"), text(e, "operator"), {}};
    for (const json& v : field(e, "values").is_array() ? e["values"] : json::array()) {
      if (v.is_string()) requirement.values.push_back(v.get<std::string>());
    }
    out.matchExpressions.push_back(std::move(requirement));
  }
  return out;
}

/** Volume name -> the ConfigMaps, Secrets and ClusterTrustBundles it holds; `signers` gets the
 *  clusterTrustBundle sources that select by signer name. */
std::map<std::string, std::set<std::string>> sourceVolumes(const json& spec, std::vector<SignerSelection>& signers) {
  std::map<std::string, std::set<std::string>> out;
  const json& volumes = field(spec, "volumes");
  if (!volumes.is_array()) return out;
  for (const json& v : volumes) {
    std::set<std::string>& sources = out[text(v, "name")];
    addSource(sources, "ConfigMap", text(field(v, "configMap"), "name"));
    addSource(sources, "Secret", text(field(v, "secret"), "secretName"));
    const json& projected = field(field(v, "projected"), "sources");
    if (!projected.is_array()) continue;
    for (const json& source : projected) {
      addSource(sources, "ConfigMap", text(field(source, "configMap"), "name"));
      addSource(sources, "Secret", text(field(source, "secret"), "name"));
      const json& bundle = field(source, "clusterTrustBundle");
      addSource(sources, "ClusterTrustBundle", text(bundle, "name"));
      if (const std::string signer = text(bundle, "signerName"); !signer.empty()) {
        SignerSelection selection{"ClusterTrustBundleSigner/" + std::to_string(signers.size()), signer, std::nullopt};
        // Without a label selector it matches nothing; an empty one, everything.
        if (field(bundle, "labelSelector").is_object()) selection.selector = labelSelectorOf(bundle["labelSelector"]);
        sources.insert(selection.key);
        signers.push_back(std::move(selection));
      }
    }
  }
  return out;
}

}  // namespace

PodSummary summarizePod(const json& pod) {
  PodSummary out;
  const json& metadata = field(pod, "metadata");
  const json& spec = field(pod, "spec");
  const json& status = field(pod, "status");
  out.ns = text(metadata, "namespace");
  out.name = text(metadata, "name");
  if (field(metadata, "labels").is_object()) {
    for (const auto& [k, v] : metadata["labels"].items()) {
      if (v.is_string()) out.labels[k] = v.get<std::string>();
    }
  }
  out.bundleDigest = text(field(metadata, "annotations"), std::string(api::kBundleDigestAnnotation).c_str());
  out.owner = ownerOf(metadata, out.ns, out.name, out.labels);
  out.running = text(status, "phase") == "Running" && field(metadata, "deletionTimestamp").is_null();

  // The kubelet fills a pod's volumes once, after it took the pod (status.startTime), and later
  // only at its sync period (never through a subPath): a container that starts or restarts after
  // the bundle changed still reads what its volume held, so what it read through a volume is as
  // new as the pod's start. Env is resolved anew at each container start.
  const std::optional<SystemTime> podStarted = timeOf(status, "startTime");
  std::map<std::string, std::optional<SystemTime>> started;  // container -> running since
  if (field(status, "containerStatuses").is_array()) {
    for (const json& c : status["containerStatuses"]) {
      started[text(c, "name")] = timeOf(field(field(c, "state"), "running"), "startedAt");
    }
  }
  const std::map<std::string, std::set<std::string>> volumes = sourceVolumes(spec, out.signerSelections);
  // Each source a container reads, with when what it read was current.
  const auto read = [&](const json& container, const std::optional<SystemTime>& since) {
    std::set<std::string> env, mounted;
    readsOf(container, env, mounted);
    const auto record = [&](const std::string& source, const std::optional<SystemTime>& at) {
      const auto [it, inserted] = out.sources.try_emplace(source, at);
      if (!inserted) it->second = earlier(it->second, at);
    };
    for (const std::string& source : env) record(source, since);
    for (const std::string& volume : mounted) {
      if (const auto it = volumes.find(volume); it != volumes.end()) {
        for (const std::string& source : it->second) record(source, since ? podStarted : std::nullopt);
      }
    }
  };
  bool first = true;
  for (const json& c : field(spec, "containers").is_array() ? spec["containers"] : json::array()) {
    const auto it = started.find(text(c, "name"));
    const std::optional<SystemTime> since = it == started.end() ? std::nullopt : it->second;
    out.allStarted = first ? since : earlier(out.allStarted, since);
    first = false;
    read(c, since);
  }
  // However they read it, it may be through a volume: no newer than the pod's start.
  if (out.allStarted) out.allStarted = podStarted;
  // What an init container read was read when the pod started, before any container ran.
  for (const json& c : field(spec, "initContainers").is_array() ? spec["initContainers"] : json::array()) {
    read(c, podStarted);
  }
  return out;
}

std::string bundleSource(const api::TrustBundleSpec& spec) {
  return std::string(api::bundleObjectKind(spec)) + "/" + api::bundleObjectName(spec);
}

bool selectorMatches(const api::LabelSelector& selector, const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : selector.matchLabels) {
    const auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  for (const api::LabelSelectorRequirement& r : selector.matchExpressions) {
    const auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const bool listed = has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    if ((r.op == "In" && !listed) || (r.op == "NotIn" && listed) || (r.op == "Exists" && !has) ||
        (r.op == "DoesNotExist" && has)) {
      return false;
    }
  }
  return true;
}

namespace {

/** How a pod reads the ClusterTrustBundle of the spec. */
struct ClusterTrustBundleRead {
  std::optional<SystemTime> since;  // when what it read was current, as PodSummary::sources says
  bool cached = false;              // through the kubelet's cache by name (PodTally::cachedReaders)
};

/** How the pod reads the ClusterTrustBundle `ctb`; nullopt when it does not. */
std::optional<ClusterTrustBundleRead> readsClusterTrustBundle(const PodSummary& pod,
                                                              const api::ClusterTrustBundleSpec& ctb) {
  if (const auto it = pod.sources.find("ClusterTrustBundle/" + ctb.name); it != pod.sources.end()) {
    // The kubelet drops its entries by name only for bundles without a signer: what a pod that
    // starts within the cache's lifetime reads by name may predate the change.
    const bool cached = !ctb.signerName.empty();
    return ClusterTrustBundleRead{
        cached && it->second ? std::optional<SystemTime>(*it->second - store::kKubeletTrustBundleCache) : it->second,
        cached};
  }
  for (const SignerSelection& selection : pod.signerSelections) {
    if (selection.signerName == ctb.signerName && selection.selector &&
        selectorMatches(*selection.selector, ctb.labels)) {
      return ClusterTrustBundleRead{pod.sources.at(selection.key), false};
    }
  }
  return std::nullopt;
}

}  // namespace

void ConsumerCounter::add(const PodSummary& pod) {
  if (!pod.running) return;
  const bool inBundleNamespace = query_.namespaces.contains(pod.ns);
  std::optional<SystemTime> readAt;
  std::optional<ClusterTrustBundleRead> clusterWide;
  if (const auto it = pod.sources.find(query_.source); inBundleNamespace && it != pod.sources.end()) {
    readAt = it->second;
  } else if (query_.clusterTrustBundle &&
             (clusterWide = readsClusterTrustBundle(pod, *query_.clusterTrustBundle)).has_value()) {
    readAt = clusterWide->since;  // a ClusterTrustBundle is read from any namespace
    if (clusterWide->cached) tally_.cachedReaders.insert(pod.owner);
  } else if (inBundleNamespace && query_.selector && selectorMatches(*query_.selector, pod.labels)) {
    readAt = pod.allStarted;
  } else {
    return;  // not a consumer
  }
  const store::PodQuery& q = query_.adoption;
  const bool adopted = (!q.bundleDigest.empty() && pod.bundleDigest == q.bundleDigest) ||
                       (q.bundleSince && readAt && *readAt >= *q.bundleSince);
  auto [it, inserted] = workloads_.try_emplace(pod.owner);
  api::WorkloadAdoption& workload = it->second;
  if (inserted) workload.workload = pod.owner;
  ++workload.pods;
  ++tally_.running;
  if (pod.bundleDigest.empty()) silent_.insert(pod.owner);
  if (adopted) {
    ++workload.adopted;
    ++tally_.adopted;
  }
}

store::PodTally ConsumerCounter::result() const {
  store::PodTally out = tally_;
  for (const auto& [ref, workload] : workloads_) {
    out.workloads.push_back(workload);
    if (!silent_.contains(ref)) out.reporting.insert(ref);
  }
  std::stable_sort(out.workloads.begin(), out.workloads.end(),
                   [](const api::WorkloadAdoption& a, const api::WorkloadAdoption& b) {
                     return a.pods - a.adopted > b.pods - b.adopted;
                   });
  return out;
}

bool ConsumerPodIndex::apply(const std::string& type, const json& pod) {
  PodSummary summary = summarizePod(pod);
  std::lock_guard lock(mu_);
  auto& pods = byNamespace_[summary.ns];
  if (type == "DELETED") {
    const bool erased = pods.erase(summary.name) > 0;
    if (pods.empty()) byNamespace_.erase(summary.ns);
    return erased;
  }
  auto [it, inserted] = pods.try_emplace(summary.name, summary);
  if (inserted) return true;
  if (it->second == summary) return false;
  it->second = std::move(summary);
  return true;
}

store::PodTally ConsumerPodIndex::tally(const ConsumerQuery& query) const {
  ConsumerCounter counter(query);
  std::lock_guard lock(mu_);
  if (query.clusterTrustBundle) {  // its readers may be anywhere
    for (const auto& [ns, pods] : byNamespace_) {
      for (const auto& [name, pod] : pods) counter.add(pod);
    }
    return counter.result();
  }
  for (const std::string& ns : query.namespaces) {
    const auto it = byNamespace_.find(ns);
    if (it == byNamespace_.end()) continue;
    for (const auto& [name, pod] : it->second) counter.add(pod);
  }
  return counter.result();
}

}  // namespace rotor::store::kube
