#include "controller/kube/api_lease_store.h"

namespace rotor::kube {

StatusOr<std::optional<LeaseRecord>> ApiLeaseStore::get() {
  auto object = client_.get(kLeases, ns_, name_);
  if (!object.ok() && object.status().code() == Code::kNotFound) return std::optional<LeaseRecord>();
  if (!object.ok()) return object.status();
  auto lease = leaseFromJson(*object);
  if (!lease.ok()) return lease.status();
  return std::optional<LeaseRecord>(*lease);
}

Status ApiLeaseStore::create(LeaseRecord& lease) {
  json object = leaseToJson(lease, ns_, name_);
  object["metadata"].erase("resourceVersion");
  auto created = client_.create(kLeases, ns_, object);
  if (!created.ok()) return created.status();
  lease.resourceVersion = created->value("/metadata/resourceVersion"_json_pointer, std::string());
  return Status();
}

Status ApiLeaseStore::update(LeaseRecord& lease) {
  auto updated = client_.update(kLeases, ns_, leaseToJson(lease, ns_, name_));
  if (!updated.ok()) return updated.status();
  lease.resourceVersion = updated->value("/metadata/resourceVersion"_json_pointer, std::string());
  return Status();
}

}  // namespace rotor::kube
