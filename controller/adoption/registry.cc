#include "controller/adoption/registry.h"

#include <algorithm>

namespace rotor::adoption {
namespace {

int64_t toSeconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

template <typename T>
uint32_t AgentRegistry::Interner<T>::intern(const T& value) {
  auto [it, inserted] = index_.try_emplace(value, static_cast<uint32_t>(values_.size()));
  if (inserted) values_.push_back(value);
  return it->second;
}

store::AgentRecord AgentRegistry::Agents::recordOf(const std::string& id, const Entry& e) const {
  return {id, SystemTime(std::chrono::seconds(e.lastSeenSeconds)), trustSets.at(e.trustSet), versions.at(e.version)};
}

void AgentRegistry::markDirty(Agents& agents, const std::string& id, Entry& e) {
  if (e.dirty) return;
  e.dirty = 1;
  agents.dirtyIds.push_back(id);
}

bool AgentRegistry::upsert(Agents& agents, const store::AgentRecord& record, bool dirty) {
  std::vector<std::string> trusted = record.trusted;
  std::sort(trusted.begin(), trusted.end());
  trusted.erase(std::unique(trusted.begin(), trusted.end()), trusted.end());
  const uint32_t trustSet = agents.trustSets.intern(trusted);
  auto [it, inserted] = agents.byId.try_emplace(record.id);
  Entry& e = it->second;
  const bool changed = inserted || e.trustSet != trustSet;
  e.lastSeenSeconds = std::max(e.lastSeenSeconds, toSeconds(record.lastSeen));
  e.trustSet = trustSet;
  e.version = agents.versions.intern(record.version) & 0x7fffffffu;
  if (dirty) markDirty(agents, record.id, e);
  return changed;
}

StatusOr<std::shared_ptr<AgentRegistry::Agents>> AgentRegistry::agentsOf(const api::ObjectKey& key) {
  {
    std::shared_lock lock(mu_);
    if (auto it = rotations_.find(key); it != rotations_.end()) return it->second;
  }
  std::unique_lock lock(mu_);
  if (auto it = rotations_.find(key); it != rotations_.end()) return it->second;
  RETURN_IF_ERROR(store_.getRotation(key).status());
  auto agents = std::make_shared<Agents>();
  RETURN_IF_ERROR(store_.visitAgents(key, [&](const store::AgentRecord& a) { upsert(*agents, a, false); }));
  rotations_.emplace(key, agents);
  return agents;
}

Status AgentRegistry::checkIn(const api::ObjectKey& key, const CheckIn& report) {
  const store::AgentRecord record{report.agentId, clock_.now(), report.trusted, report.version};
  RETURN_IF_ERROR(store::validateAgentRecord(record));
  ASSIGN_OR_RETURN(std::shared_ptr<Agents> agents, agentsOf(key));
  bool changed = false;
  {
    std::lock_guard lock(agents->mu);
    changed = upsert(*agents, record, true);
  }
  if (changed && onChange_) onChange_(key);
  return okStatus();
}

Status AgentRegistry::visit(const api::ObjectKey& key, const std::function<void(const store::AgentRecord&)>& fn) {
  ASSIGN_OR_RETURN(std::shared_ptr<Agents> agents, agentsOf(key));
  std::lock_guard lock(agents->mu);
  for (const auto& [id, entry] : agents->byId) fn(agents->recordOf(id, entry));
  return okStatus();
}

Status AgentRegistry::loadAll() {
  ASSIGN_OR_RETURN(std::vector<store::CertificateRotation> rotations, store_.listRotations());
  for (const store::CertificateRotation& r : rotations) {
    Status s = agentsOf(r.key()).status();
    if (!s.ok() && s.code() != Code::kNotFound) return s;
  }
  return okStatus();
}

Status AgentRegistry::flush() {
  std::vector<std::pair<api::ObjectKey, std::shared_ptr<Agents>>> all;
  {
    std::shared_lock lock(mu_);
    all.assign(rotations_.begin(), rotations_.end());
  }
  Status result = okStatus();
  for (const auto& [key, agents] : all) {
    std::vector<store::AgentRecord> batch;
    std::vector<std::string> ids;
    {
      std::lock_guard lock(agents->mu);
      ids.swap(agents->dirtyIds);
      batch.reserve(ids.size());
      for (const std::string& id : ids) {
        Entry& e = agents->byId.at(id);
        e.dirty = 0;
        batch.push_back(agents->recordOf(id, e));
      }
    }
    if (batch.empty()) continue;
    Status s = store_.putAgents(key, batch);
    if (s.code() == Code::kNotFound) {
      forget(key);
      continue;
    }
    if (!s.ok()) {
      // Keep them dirty for the next flush; a check-in in between may already have re-marked some.
      std::lock_guard lock(agents->mu);
      for (const std::string& id : ids) markDirty(*agents, id, agents->byId.at(id));
      if (result.ok()) result = s.withContext("could not persist agent records of " + key.toString());
    }
  }
  return result;
}

void AgentRegistry::forget(const api::ObjectKey& key) {
  std::unique_lock lock(mu_);
  rotations_.erase(key);
}

size_t AgentRegistry::sumOverRotations(size_t (*count)(const Agents&)) const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [key, agents] : rotations_) {
    std::lock_guard inner(agents->mu);
    n += count(*agents);
  }
  return n;
}

size_t AgentRegistry::agentCount() const {
  return sumOverRotations([](const Agents& a) { return a.byId.size(); });
}

size_t AgentRegistry::dirtyCount() const {
  return sumOverRotations([](const Agents& a) { return a.dirtyIds.size(); });
}

}  // namespace rotor::adoption
