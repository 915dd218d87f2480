#pragma once

// The leader election Lease on the Kubernetes API (coordination.k8s.io/v1).

#include "controller/kube/client.h"
#include "controller/kube/leader_election.h"

namespace rotor::kube {

class ApiLeaseStore final : public LeaseStore {
public:
  ApiLeaseStore(Client& client, std::string ns, std::string name)
      : client_(client), ns_(std::move(ns)), name_(std::move(name)) {}

  StatusOr<std::optional<LeaseRecord>> get() override;
  Status create(LeaseRecord& lease) override;
  Status update(LeaseRecord& lease) override;

private:
  Client& client_;
  std::string ns_, name_;
};

}  // namespace rotor::kube
