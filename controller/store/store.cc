#include "controller/store/store.h"

namespace rotor::store {

const api::ServerSpec* findServer(const CertificateRotation& r, std::string_view server) {
  for (const api::ServerSpec& s : r.spec.servers) {
    if (s.name == server) {
      return &s;
    }
  }
  return nullptr;
}

bool mergeApplied(CertificateRotation& stored, const CertificateRotation& desired) {
  for (const auto& [k, v] : desired.metadata.labels) {
    stored.metadata.labels[k] = v;
  }
  for (const auto& [k, v] : desired.metadata.annotations) {
    stored.metadata.annotations[k] = v;
  }
  bool specChanged = !(stored.spec == desired.spec);
  stored.spec = desired.spec;
  return specChanged;
}

}  // namespace rotor::store
