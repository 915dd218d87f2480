#include "reconcilers/transitions.h"

#include <algorithm>
#include <map>

namespace rotor::reconcilers {
namespace {

using api::Phase;

const std::map<Phase, std::vector<Phase>>& edges() {
  static const std::map<Phase, std::vector<Phase>> kEdges = {
      {Phase::kPending, {Phase::kIssuing}},
      {Phase::kIssuing, {Phase::kReady}},
      {Phase::kReady, {Phase::kStaging, Phase::kSwapping, Phase::kRollingBack}},
      {Phase::kStaging, {Phase::kAwaitingAdoption, Phase::kReady, Phase::kRollingBack}},
      {Phase::kAwaitingAdoption, {Phase::kSwapping, Phase::kReady, Phase::kRollingBack}},
      {Phase::kSwapping, {Phase::kVerifying, Phase::kRollingBack}},
      {Phase::kVerifying, {Phase::kSwapping, Phase::kDraining, Phase::kReady, Phase::kRollingBack}},
      {Phase::kDraining, {Phase::kPruning, Phase::kRollingBack}},
      {Phase::kPruning, {Phase::kReady, Phase::kRollingBack}},
      {Phase::kRollingBack, {Phase::kRolledBack}},
      {Phase::kRolledBack, {Phase::kReady, Phase::kStaging, Phase::kSwapping, Phase::kRollingBack}},
      {Phase::kFailed, {Phase::kReady, Phase::kRollingBack}},
  };
  return kEdges;
}

/** Side states that any phase may enter, and leave again to the phase it came from. */
bool isSideState(Phase p) { return p == Phase::kPaused || p == Phase::kBlocked; }

}  // namespace

bool isLegalTransition(Phase from, Phase to) {
  if (from == to) {
    return false;
  }
  if (to == Phase::kFailed || isSideState(to) || isSideState(from)) {
    return from != Phase::kFailed || to != Phase::kBlocked;
  }
  auto it = edges().find(from);
  return it != edges().end() && std::find(it->second.begin(), it->second.end(), to) != it->second.end();
}

std::vector<Phase> nextPhases(Phase from) {
  std::vector<Phase> out;
  for (Phase to : api::allPhases()) {
    if (isLegalTransition(from, to)) {
      out.push_back(to);
    }
  }
  return out;
}

}  // namespace rotor::reconcilers
