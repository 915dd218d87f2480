#include "reconcilers/transitions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rotor::reconcilers {
namespace {

using api::Phase;
using ::testing::ElementsAre;

TEST(TransitionsTest, TheRotationPathIsLegalStepByStep) {
  const std::vector<Phase> path = {Phase::kReady,     Phase::kStaging,  Phase::kAwaitingAdoption, Phase::kSwapping,
                                   Phase::kVerifying, Phase::kDraining, Phase::kPruning,          Phase::kReady};
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    EXPECT_TRUE(isLegalTransition(path[i], path[i + 1]))
        << api::phaseName(path[i]) << " -> " << api::phaseName(path[i + 1]);
  }
  EXPECT_TRUE(isLegalTransition(Phase::kPending, Phase::kIssuing));
  EXPECT_TRUE(isLegalTransition(Phase::kIssuing, Phase::kReady));
}

TEST(TransitionsTest, NoPhaseIsSkipped) {
  EXPECT_FALSE(isLegalTransition(Phase::kStaging, Phase::kSwapping));  // never without the adoption gate
  EXPECT_FALSE(isLegalTransition(Phase::kAwaitingAdoption, Phase::kPruning));
  EXPECT_FALSE(isLegalTransition(Phase::kPending, Phase::kReady));
  EXPECT_FALSE(isLegalTransition(Phase::kReady, Phase::kReady));
  EXPECT_FALSE(isLegalTransition(Phase::kIssuing, Phase::kRollingBack));  // nothing to roll back to yet
}

TEST(TransitionsTest, SideStatesAndRollback) {
  for (Phase p : api::allPhases()) {
    if (p != Phase::kPaused) {
      EXPECT_TRUE(isLegalTransition(p, Phase::kPaused)) << api::phaseName(p);
    }
    if (p != Phase::kFailed) {
      EXPECT_TRUE(isLegalTransition(p, Phase::kFailed)) << api::phaseName(p);
    }
  }
  EXPECT_TRUE(isLegalTransition(Phase::kPaused, Phase::kAwaitingAdoption));
  EXPECT_TRUE(isLegalTransition(Phase::kVerifying, Phase::kRollingBack));
  EXPECT_THAT(nextPhases(Phase::kRollingBack),
              ElementsAre(Phase::kPaused, Phase::kBlocked, Phase::kRolledBack, Phase::kFailed));
}

}  // namespace
}  // namespace rotor::reconcilers
