#include "controller/store/agent_tally.h"

#include <algorithm>

#include "controller/store/store.h"

namespace rotor::store {

AgentState classifyAgent(const AgentRecord& agent, const std::string& fingerprint, SystemTime now,
                         Duration staleAfter) {
  if (agent.lastSeen + staleAfter < now) return AgentState::kStale;
  const bool trusts = std::find(agent.trusted.begin(), agent.trusted.end(), fingerprint) != agent.trusted.end();
  return trusts ? AgentState::kAdopted : AgentState::kPending;
}

std::string_view agentStateName(AgentState state) {
  switch (state) {
    case AgentState::kAdopted:
      return "adopted";
    case AgentState::kPending:
      return "pending";
    case AgentState::kStale:
      return "stale";
  }
  return "unknown";
}

void AdoptionCounter::add(const AgentRecord& agent) {
  add(classifyAgent(agent, query_.fingerprint, query_.now, query_.staleAfter), agent.id);
}

void AdoptionCounter::add(AgentState state, std::string_view id) {
  switch (state) {
    case AgentState::kStale:
      ++tally_.stale;
      return;
    case AgentState::kAdopted:
      ++tally_.active;
      ++tally_.adopted;
      return;
    case AgentState::kPending:
      ++tally_.active;
      if (laggards_.size() < kMaxLaggards) {
        laggards_.emplace_back(id);
        std::push_heap(laggards_.begin(), laggards_.end());
      } else if (id < laggards_.front()) {
        std::pop_heap(laggards_.begin(), laggards_.end());
        laggards_.back() = id;
        std::push_heap(laggards_.begin(), laggards_.end());
      }
      return;
  }
}

api::AdoptionStatus AdoptionCounter::result() const {
  api::AdoptionStatus out = tally_;
  out.laggards = laggards_;
  std::sort(out.laggards.begin(), out.laggards.end());
  out.ratio = api::adoptionRatio(out.adopted, out.active);
  return out;
}

}  // namespace rotor::store
