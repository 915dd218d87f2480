// How a pod is judged as a consumer of the trust bundle, and whether it adopted a CA: which
// references count, which containers' start times, the owning workload, and the counts by
// workload with the laggards first.
#include "controller/store/kube/consumer_pods.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace rotor::store::kube {
namespace {

using nlohmann::json;

constexpr char kBundle[] = "edge-ca";
constexpr char kSource[] = "ConfigMap/edge-ca";

SystemTime at(const std::string& rfc3339) {
  SystemTime t;
  EXPECT_TRUE(parseRfc3339(rfc3339, t)) << rfc3339;
  return t;
}

/** A running pod of Deployment `deployment` whose container "app" mounts the bundle and
 *  started at `started`, as did the pod, beside a sidecar that reads nothing. */
json mountingPod(const std::string& ns, const std::string& name, const std::string& deployment,
                 const std::string& started) {
  return {
      {"metadata",
       {{"namespace", ns},
        {"name", name},
        {"labels", {{"app", deployment}, {"pod-template-hash", "5d9f7c"}}},
        {"ownerReferences",
         json::array({{{"kind", "ReplicaSet"}, {"name", deployment + "-5d9f7c"}, {"controller", true}}})}}},
      {"spec",
       {{"volumes", json::array({{{"name", "trust"}, {"configMap", {{"name", kBundle}}}}})},
        {"containers", json::array({{{"name", "app"}, {"volumeMounts", json::array({{{"name", "trust"}}})}},
                                    {{"name", "sidecar"}}})}}},
      {"status",
       {{"phase", "Running"},
        {"startTime", started},
        {"containerStatuses",
         json::array({{{"name", "app"}, {"state", {{"running", {{"startedAt", started}}}}}},
                      {{"name", "sidecar"}, {"state", {{"running", {{"startedAt", "2026-01-01T00:00:00Z"}}}}}}})}}}};
}

ConsumerQuery queryAt(const std::string& bundleSince, std::set<std::string> namespaces = {"shop"}) {
  return {
      kSource, std::move(namespaces), std::nullopt, std::nullopt, {"sha256:" + std::string(64, 'a'), at(bundleSince)}};
}

TEST(ConsumerPodsTest, APodReadsTheBundleThroughTheContainersThatMountItAndBelongsToItsDeployment) {
  const PodSummary pod = summarizePod(mountingPod("shop", "web-5d9f7c-x1", "web", "2026-03-01T10:00:05Z"));
  EXPECT_TRUE(pod.running);
  EXPECT_EQ(pod.owner, (api::WorkloadRef{"Deployment", "shop", "web"}));
  ASSERT_TRUE(pod.sources.contains(kSource));
  // The container that mounts it, not the sidecar that started long before.
  EXPECT_EQ(pod.sources.at(kSource), at("2026-03-01T10:00:05Z"));
  EXPECT_EQ(pod.allStarted, at("2026-03-01T10:00:05Z")) << "the pod's start, its volumes' age";
}

TEST(ConsumerPodsTest, AContainerRestartedInAnOlderPodReadsWhatItsVolumeHeldButFreshEnv) {
  // The kubelet fills a pod's volumes when it takes the pod and refreshes them only at its sync
  // period (a subPath never): a container restarted after the bundle changed may read the old CA
  // from its volume. Env is resolved at each start.
  json pod = mountingPod("shop", "web-1", "web", "2026-03-01T10:00:05Z");
  pod["status"]["startTime"] = "2026-03-01T09:00:00Z";
  pod["spec"]["containers"][1]["env"] =
      json::array({{{"name", "CA"}, {"valueFrom", {{"configMapKeyRef", {{"name", "env-ca"}, {"key", "ca.crt"}}}}}}});
  pod["status"]["containerStatuses"][1]["state"]["running"]["startedAt"] = "2026-03-01T10:00:07Z";
  const PodSummary s = summarizePod(pod);
  EXPECT_EQ(s.sources.at(kSource), at("2026-03-01T09:00:00Z")) << "as new as the pod, whenever the container started";
  EXPECT_EQ(s.sources.at("ConfigMap/env-ca"), at("2026-03-01T10:00:07Z"));

  ConsumerPodIndex index;
  json old = mountingPod("shop", "web-2", "web", "2026-03-01T10:00:05Z");
  old["status"]["startTime"] = "2026-03-01T09:00:00Z";  // its container crashed and restarted after the change
  index.apply("ADDED", old);
  index.apply("ADDED", mountingPod("shop", "web-3", "web", "2026-03-01T10:00:05Z"));  // a new pod
  const PodTally tally = index.tally(queryAt("2026-03-01T10:00:00Z"));
  EXPECT_EQ(tally.running, 2);
  EXPECT_EQ(tally.adopted, 1) << "only the pod whose volume was filled after the change";
}

TEST(ConsumerPodsTest, EnvProjectedVolumesAndInitContainersReadTheBundleToo) {
  json pod = {
      {"metadata", {{"namespace", "shop"}, {"name", "solo"}}},
      {"spec",
       {{"volumes", json::array({{{"name", "all"},
                                  {"projected",
                                   {{"sources", json::array({{{"secret", {{"name", "s"}}}},
                                                             {{"configMap", {{"name", "projected-ca"}}}}})}}}}})},
        {"initContainers",
         json::array({{{"name", "copy"}, {"envFrom", json::array({{{"configMapRef", {{"name", "init-ca"}}}}})}}})},
        {"containers",
         json::array(
             {{{"name", "a"},
               {"env", json::array({{{"name", "CA"},
                                     {"valueFrom", {{"configMapKeyRef", {{"name", "env-ca"}, {"key", "ca.crt"}}}}}}})}},
              {{"name", "b"}, {"volumeMounts", json::array({{{"name", "all"}}})}}})}}},
      {"status",
       {{"phase", "Running"},
        {"startTime", "2026-03-01T09:00:00Z"},
        {"containerStatuses",
         json::array({{{"name", "a"}, {"state", {{"running", {{"startedAt", "2026-03-01T09:00:10Z"}}}}}},
                      {{"name", "b"}, {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}}}})}}}};
  const PodSummary s = summarizePod(pod);
  EXPECT_EQ(s.owner, (api::WorkloadRef{"Pod", "shop", "solo"}));
  EXPECT_EQ(s.sources.at("ConfigMap/env-ca"), at("2026-03-01T09:00:10Z"));
  EXPECT_EQ(s.sources.at("ConfigMap/projected-ca"), std::nullopt) << "its reader is not running";
  EXPECT_EQ(s.sources.at("Secret/s"), std::nullopt) << "projected beside it";
  EXPECT_EQ(s.sources.at("ConfigMap/init-ca"), at("2026-03-01T09:00:00Z")) << "read when the pod started";
  EXPECT_EQ(s.allStarted, std::nullopt);
  EXPECT_FALSE(s.sources.contains("ConfigMap/s"));
}

TEST(ConsumerPodsTest, RunningConsumersAdoptByStartingAfterTheBundleOrByItsDigest) {
  ConsumerPodIndex index;
  index.apply("ADDED", mountingPod("shop", "web-1", "web", "2026-03-01T10:00:05Z"));  // after: adopted
  index.apply("ADDED", mountingPod("shop", "web-2", "web", "2026-03-01T09:59:59Z"));  // before: not
  index.apply("ADDED", mountingPod("shop", "api-1", "api", "2026-03-01T09:00:00Z"));  // before: not
  json annotated = mountingPod("shop", "api-2", "api", "2026-03-01T09:00:00Z");
  annotated["metadata"]["annotations"] = {{"rotor.dev/bundle-digest", "sha256:" + std::string(64, 'a')}};
  index.apply("ADDED", annotated);  // reloaded it and said so: adopted
  json pending = mountingPod("shop", "api-3", "api", "2026-03-01T11:00:00Z");
  pending["status"]["phase"] = "Pending";
  index.apply("ADDED", pending);  // not running: not counted
  json deleting = mountingPod("shop", "api-4", "api", "2026-03-01T11:00:00Z");
  deleting["metadata"]["deletionTimestamp"] = "2026-03-01T11:00:00Z";
  index.apply("ADDED", deleting);                                                      // going away: not counted
  index.apply("ADDED", mountingPod("other", "web-9", "web", "2026-03-01T09:00:00Z"));  // no copy there

  const PodTally tally = index.tally(queryAt("2026-03-01T10:00:00Z"));
  EXPECT_EQ(tally.running, 4);
  EXPECT_EQ(tally.adopted, 2);
  ASSERT_EQ(tally.workloads.size(), 2u);
  EXPECT_EQ(tally.workloads[0].workload.name, "api") << "laggards first";
  EXPECT_EQ(tally.workloads[0].pods, 2);
  EXPECT_EQ(tally.workloads[0].adopted, 1);
  EXPECT_EQ(tally.workloads[1].workload.name, "web");

  // A pod that restarted with the bundle, and one deleted.
  EXPECT_TRUE(index.apply("MODIFIED", mountingPod("shop", "web-2", "web", "2026-03-01T10:01:00Z")));
  EXPECT_FALSE(index.apply("MODIFIED", mountingPod("shop", "web-2", "web", "2026-03-01T10:01:00Z")))
      << "nothing adoption looks at changed";
  EXPECT_TRUE(index.apply("DELETED", mountingPod("shop", "api-1", "api", "2026-03-01T09:00:00Z")));
  const PodTally after = index.tally(queryAt("2026-03-01T10:00:00Z", {"shop", "other"}));
  EXPECT_EQ(after.running, 4);
  EXPECT_EQ(after.adopted, 3);
  EXPECT_EQ(after.workloads[0].workload, (api::WorkloadRef{"Deployment", "other", "web"}));
}

TEST(ConsumerPodsTest, AWorkloadWhosePodsAllReportADigestIsAReporter) {
  ConsumerPodIndex index;
  const auto reporting = [](json pod, const std::string& digest) {
    pod["metadata"]["annotations"] = {{"rotor.dev/bundle-digest", digest}};
    return pod;
  };
  index.apply("ADDED", reporting(mountingPod("shop", "web-1", "web", "2026-03-01T09:00:00Z"), "sha256:old"));
  index.apply("ADDED", reporting(mountingPod("shop", "web-2", "web", "2026-03-01T09:00:00Z"), "sha256:old"));
  index.apply("ADDED", reporting(mountingPod("shop", "api-1", "api", "2026-03-01T09:00:00Z"), "sha256:old"));
  index.apply("ADDED", mountingPod("shop", "api-2", "api", "2026-03-01T09:00:00Z"));  // says nothing
  const PodTally tally = index.tally(queryAt("2026-03-01T10:00:00Z"));
  EXPECT_EQ(tally.adopted, 0) << "an old digest is not the bundle as it is now";
  EXPECT_EQ(tally.reporting, (std::set<api::WorkloadRef>{{"Deployment", "shop", "web"}}));
}

TEST(ConsumerPodsTest, ABundleInASecretIsReadThroughSecretVolumesAndEnv) {
  json pod = mountingPod("shop", "web-1", "web", "2026-03-01T10:00:05Z");
  pod["spec"]["volumes"] = json::array({{{"name", "trust"}, {"secret", {{"secretName", "edge-ca"}}}}});
  pod["spec"]["containers"][1]["env"] =
      json::array({{{"name", "CA"}, {"valueFrom", {{"secretKeyRef", {{"name", "other-ca"}, {"key", "ca.crt"}}}}}}});
  const PodSummary s = summarizePod(pod);
  EXPECT_EQ(s.sources.at("Secret/edge-ca"), at("2026-03-01T10:00:05Z"));
  EXPECT_EQ(s.sources.at("Secret/other-ca"), at("2026-01-01T00:00:00Z")) << "env: the sidecar's own start";
  EXPECT_FALSE(s.sources.contains(kSource));
  EXPECT_EQ(bundleSource({.secretName = "edge-ca"}), "Secret/edge-ca");
  EXPECT_EQ(bundleSource({.configMapName = "edge-ca"}), kSource);
}

TEST(ConsumerPodsTest, ASelectorAddsPodsThatReadTheBundleSomeOtherWay) {
  ConsumerPodIndex index;
  json baked = mountingPod("shop", "legacy-1", "legacy", "2026-03-01T10:00:05Z");
  baked["status"]["startTime"] = "2026-01-01T00:00:00Z";  // its app container restarted since
  baked["spec"]["volumes"] = json::array();               // carries the CA some other way
  baked["metadata"]["labels"]["tier"] = "legacy";
  index.apply("ADDED", baked);
  EXPECT_EQ(index.tally(queryAt("2026-03-01T10:00:00Z")).running, 0);
  ConsumerQuery query = queryAt("2026-03-01T10:00:00Z");
  query.selector = api::LabelSelector{.matchLabels = {{"tier", "legacy"}}};
  const PodTally tally = index.tally(query);
  EXPECT_EQ(tally.running, 1);
  EXPECT_EQ(tally.adopted, 0) << "its sidecar started before the bundle: the pod as a whole did not restart";
}

/** A pod in `ns` that mounts `source` (a projected clusterTrustBundle source), started at `started`. */
json clusterTrustBundlePod(const std::string& ns, const std::string& name, const json& source,
                           const std::string& started) {
  json pod = mountingPod(ns, name, name, started);
  pod["spec"]["volumes"] = json::array(
      {{{"name", "trust"},
        {"projected", {{"sources", json::array({{{"clusterTrustBundle", source}}, {{"path", "ca.pem"}}})}}}}});
  return pod;
}

TEST(ConsumerPodsTest, ClusterTrustBundleReadersCountInEveryNamespaceByNameOrBySignerAndLabels) {
  ConsumerPodIndex index;
  const std::string before = "2026-03-01T09:00:00Z", after = "2026-03-01T10:00:05Z";
  // By name, in a namespace the bundle's ConfigMap is not in; started after the bundle changed.
  index.apply("ADDED", clusterTrustBundlePod("payments", "by-name", {{"name", "example.com:edge:ca"}}, after));
  // By signer and a label selector that matches the bundle's labels; started before.
  index.apply("ADDED", clusterTrustBundlePod("billing", "by-signer",
                                             {{"signerName", "example.com/edge"},
                                              {"labelSelector", {{"matchLabels", {{"rotor.dev/bundle", "edge"}}}}}},
                                             before));
  // The same signer without a label selector matches nothing; another signer, or labels the
  // bundle lacks, are other bundles; another name is another bundle.
  index.apply("ADDED", clusterTrustBundlePod("billing", "no-selector", {{"signerName", "example.com/edge"}}, after));
  index.apply("ADDED",
              clusterTrustBundlePod("billing", "other-signer",
                                    {{"signerName", "example.com/mesh"}, {"labelSelector", json::object()}}, after));
  index.apply("ADDED", clusterTrustBundlePod("billing", "other-labels",
                                             {{"signerName", "example.com/edge"},
                                              {"labelSelector", {{"matchLabels", {{"rotor.dev/bundle", "mesh"}}}}}},
                                             after));
  index.apply("ADDED", clusterTrustBundlePod("payments", "other-name", {{"name", "example.com:edge:other"}}, after));

  ConsumerQuery query = queryAt("2026-03-01T10:00:00Z");
  EXPECT_EQ(index.tally(query).running, 0) << "no ClusterTrustBundle asked for: none of them reads the bundle";
  query.clusterTrustBundle = api::ClusterTrustBundleSpec{
      "example.com:edge:ca", "example.com/edge", {{"rotor.dev/bundle", "edge"}, {"team", "edge"}}};
  PodTally tally = index.tally(query);
  EXPECT_EQ(tally.running, 2);
  EXPECT_EQ(tally.adopted, 0)
      << "by name, a signer's bundle comes from the kubelet's cache, which its changes do not clear: a pod "
         "started 5 s after the change may hold the old one";
  EXPECT_EQ(tally.cachedReaders, (std::set<api::WorkloadRef>{{"Deployment", "payments", "by-name"}}));
  // Started once the kubelet's cache has expired, it counts.
  index.apply("MODIFIED",
              clusterTrustBundlePod("payments", "by-name", {{"name", "example.com:edge:ca"}}, "2026-03-01T10:05:00Z"));
  tally = index.tally(query);
  EXPECT_EQ(tally.adopted, 1);
  ASSERT_EQ(tally.workloads.size(), 2u);
  EXPECT_EQ(tally.workloads.front().workload, (api::WorkloadRef{"Deployment", "billing", "by-signer"}))
      << "the laggard first";
  // By name, a bundle without a signer is dropped from the kubelet's cache when it changes.
  ConsumerQuery unsigned_ = queryAt("2026-03-01T10:00:00Z");
  unsigned_.clusterTrustBundle = api::ClusterTrustBundleSpec{.name = "edge-ca"};
  index.apply("ADDED", clusterTrustBundlePod("payments", "unsigned", {{"name", "edge-ca"}}, after));
  tally = index.tally(unsigned_);
  EXPECT_EQ(tally.running, 1);
  EXPECT_EQ(tally.adopted, 1);
  EXPECT_TRUE(tally.cachedReaders.empty());

  // An empty selector selects every bundle of the signer.
  index.apply("MODIFIED",
              clusterTrustBundlePod("billing", "no-selector",
                                    {{"signerName", "example.com/edge"}, {"labelSelector", json::object()}}, after));
  EXPECT_EQ(index.tally(query).running, 3);
}

TEST(ConsumerPodsTest, APodOfAnyShapeIsSummarisedWithoutThrowing) {
  for (const char* text :
       {R"({"metadata": {"ownerReferences": [1, {"controller": "yes", "kind": "Job"}]}})",
        R"({"metadata": [], "spec": {"containers": [1, {"env": {}}]}, "status": 7})",
        R"({"spec": {"volumes": [{"projected": {"sources": [null]}}], "initContainers": [{}]}})",
        R"({"spec": {"volumes": [{"projected": {"sources": [{"clusterTrustBundle": {"signerName": "a/b",
            "labelSelector": {"matchLabels": [1], "matchExpressions": [1, {"values": {}}]}}}]}}]}})",
        R"(null)"}) {
    const json pod = json::parse(text);
    EXPECT_NO_THROW((void)summarizePod(pod)) << text;
  }
  const PodSummary owned = summarizePod(json::parse(
      R"({"metadata": {"name": "j", "ownerReferences": [1, {"controller": "yes", "kind": "Job", "name": "batch"}]}})"));
  EXPECT_EQ(owned.owner.kind, "Job");
}

TEST(ConsumerPodsTest, SelectorsMatchAsKubernetesDoes) {
  const std::map<std::string, std::string> labels{{"tier", "web"}, {"env", "prod"}};
  EXPECT_TRUE(selectorMatches({}, labels));
  EXPECT_TRUE(selectorMatches({.matchLabels = {{"tier", "web"}}}, labels));
  EXPECT_FALSE(selectorMatches({.matchLabels = {{"tier", "api"}}}, labels));
  EXPECT_TRUE(selectorMatches({.matchExpressions = {{"env", "In", {"prod", "stage"}}}}, labels));
  EXPECT_FALSE(selectorMatches({.matchExpressions = {{"env", "NotIn", {"prod"}}}}, labels));
  EXPECT_TRUE(selectorMatches({.matchExpressions = {{"zone", "NotIn", {"a"}}}}, labels));
  EXPECT_TRUE(selectorMatches({.matchExpressions = {{"tier", "Exists", {}}}}, labels));
  EXPECT_FALSE(selectorMatches({.matchExpressions = {{"tier", "DoesNotExist", {}}}}, labels));
}

}  // namespace
}  // namespace rotor::store::kube
