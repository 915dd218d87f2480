#include "controller/kube/rollout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace rotor::kube {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json deployment(int generation, int observed, int replicas, int updated, int total, int available) {
  return {{"metadata", {{"name", "edge-proxy"}, {"generation", generation}}},
          {"spec", {{"replicas", replicas}}},
          {"status",
           {{"observedGeneration", observed},
            {"replicas", total},
            {"updatedReplicas", updated},
            {"availableReplicas", available}}}};
}

TEST(RolloutTest, ADeploymentIsRolledOutAsKubectlRolloutStatusSays) {
  EXPECT_THAT(rolloutOf("Deployment", deployment(3, 2, 2, 2, 2, 2)).progress, HasSubstr("waiting for its controller"));
  EXPECT_THAT(rolloutOf("Deployment", deployment(3, 3, 2, 1, 3, 2)).progress,
              HasSubstr("1 of 2 new replicas have been updated"));
  EXPECT_THAT(rolloutOf("Deployment", deployment(3, 3, 2, 2, 3, 2)).progress,
              HasSubstr("1 old replicas are pending termination"));
  EXPECT_THAT(rolloutOf("Deployment", deployment(3, 3, 2, 2, 2, 1)).progress,
              HasSubstr("Deployment edge-proxy: 1 of 2 updated replicas are available"));
  EXPECT_FALSE(rolloutOf("Deployment", deployment(3, 3, 2, 2, 2, 1)).done);
  EXPECT_TRUE(rolloutOf("Deployment", deployment(3, 3, 2, 2, 2, 2)).done);
  json stuck = deployment(3, 3, 2, 1, 2, 1);
  stuck["status"]["conditions"] = {{{"type", "Progressing"}, {"reason", "ProgressDeadlineExceeded"}}};
  EXPECT_THAT(rolloutOf("Deployment", stuck).progress, HasSubstr("exceeded its progress deadline"));
  // replicas defaults to 1, as the API server defaults it.
  json single = deployment(2, 2, 1, 1, 1, 1);
  single["spec"].erase("replicas");
  EXPECT_TRUE(rolloutOf("Deployment", single).done);
}

TEST(RolloutTest, StatefulSetsAndDaemonSets) {
  json sts = {{"metadata", {{"name", "db"}, {"generation", 2}}},
              {"spec", {{"replicas", 3}}},
              {"status",
               {{"observedGeneration", 2},
                {"updatedReplicas", 3},
                {"readyReplicas", 2},
                {"currentRevision", "db-1"},
                {"updateRevision", "db-2"}}}};
  EXPECT_THAT(rolloutOf("StatefulSet", sts).progress, HasSubstr("2 of 3 pods are ready"));
  sts["status"]["readyReplicas"] = 3;
  EXPECT_THAT(rolloutOf("StatefulSet", sts).progress, HasSubstr("waiting for the update to finish"));
  sts["status"]["currentRevision"] = "db-2";
  EXPECT_TRUE(rolloutOf("StatefulSet", sts).done);
  sts["spec"]["updateStrategy"] = {{"type", "OnDelete"}};
  sts["status"]["readyReplicas"] = 0;
  EXPECT_TRUE(rolloutOf("StatefulSet", sts).done);

  json ds = {{"metadata", {{"name", "agent"}, {"generation", 5}}},
             {"status",
              {{"observedGeneration", 5},
               {"desiredNumberScheduled", 4},
               {"updatedNumberScheduled", 4},
               {"numberAvailable", 3}}}};
  EXPECT_THAT(rolloutOf("DaemonSet", ds).progress, HasSubstr("3 of 4 updated pods are available"));
  ds["status"]["numberAvailable"] = 4;
  EXPECT_TRUE(rolloutOf("DaemonSet", ds).done);
}

}  // namespace
}  // namespace rotor::kube
