#include "reconcilers/gates.h"

#include <algorithm>

namespace rotor::reconcilers {

api::AdoptionStatus tallyAdoption(const std::vector<store::AgentRecord>& agents, const std::string& fingerprint,
                                  SystemTime now, Duration staleAfter) {
  api::AdoptionStatus out;
  std::vector<std::string> laggards;
  for (const store::AgentRecord& agent : agents) {
    if (agent.lastSeen + staleAfter < now) {
      ++out.stale;
      continue;
    }
    ++out.active;
    if (std::find(agent.trusted.begin(), agent.trusted.end(), fingerprint) != agent.trusted.end()) {
      ++out.adopted;
    } else {
      laggards.push_back(agent.id);
    }
  }
  std::sort(laggards.begin(), laggards.end());
  laggards.resize(std::min(laggards.size(), kMaxLaggards));
  out.laggards = std::move(laggards);
  out.ratio = out.active == 0 ? 1.0 : static_cast<double>(out.adopted) / static_cast<double>(out.active);
  return out;
}

GateDecision evaluateAdoptionGate(const api::AdoptionSpec& spec, const api::AdoptionStatus& tally, SystemTime stagedAt,
                                  SystemTime now) {
  GateDecision d;
  const Duration staged = std::chrono::duration_cast<Duration>(now - stagedAt);
  const bool timedOut = spec.timeout && staged >= *spec.timeout;
  const auto closed = [&](std::string why, Duration recheck) {
    d.message = std::move(why);
    d.timedOut = timedOut;
    if (spec.timeout && !timedOut) {
      recheck = std::min(recheck, *spec.timeout - staged);
    }
    d.recheckAfter = recheck;
    return d;
  };
  if (tally.active < spec.minAgents) {
    return closed("Waiting for agents: " + std::to_string(tally.active) + " active, at least " +
                      std::to_string(spec.minAgents) + " required",
                  kAdoptionPollInterval);
  }
  if (tally.adopted * 100 < static_cast<int64_t>(spec.threshold) * tally.active) {
    return closed("Waiting for adoption: " + std::to_string(tally.adopted) + "/" + std::to_string(tally.active) +
                      " active agents trust the new CA, " + std::to_string(spec.threshold) + "% required",
                  kAdoptionPollInterval);
  }
  if (staged < spec.minStageDuration) {
    return closed("Waiting for adoption.minStageDuration: " + formatDuration(spec.minStageDuration - staged) + " left",
                  spec.minStageDuration - staged);
  }
  d.open = true;
  d.message = tally.active == 0 ? "New CA staged for " + formatDuration(spec.minStageDuration) + "; no agents report"
                                : std::to_string(tally.adopted) + "/" + std::to_string(tally.active) +
                                      " active agents trust the new CA";
  return d;
}

}  // namespace rotor::reconcilers
