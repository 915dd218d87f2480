#pragma once

// The Store's role for CA material: the CAs a rotation holds, and the operator's own CA it
// imports (spec.ca.files or spec.ca.secretRef).

#include <optional>
#include <string>

#include "controller/api/rotation.h"
#include "controller/common/status.h"
#include "controller/store/versioned.h"

namespace rotor::store {

/** A CA certificate with its key. Secret. */
struct AuthorityMaterial {
  std::string certificatePem;
  std::string keyPem;
  friend bool operator==(const AuthorityMaterial&, const AuthorityMaterial&) = default;
};

/** The CAs a rotation holds: the one issuing now, the one being introduced, the one retired. */
struct Authorities {
  std::optional<AuthorityMaterial> current;
  std::optional<AuthorityMaterial> next;
  std::optional<AuthorityMaterial> previous;
  friend bool operator==(const Authorities&, const Authorities&) = default;
};

class AuthorityStore {
public:
  virtual ~AuthorityStore() = default;

  virtual StatusOr<Versioned<Authorities>> readAuthorities(const api::CertificateRotation& r) = 0;
  /** kConflict unless `expected` is the version read last (empty: must not exist yet). */
  virtual Status writeAuthorities(const api::CertificateRotation& r, const Authorities& authorities,
                                  const Version& expected) = 0;
  /** The operator's own CA named by spec.ca.files (local) or spec.ca.secretRef (Kubernetes), as
   *  stored there now. kNotFound when it is absent; kFailedPrecondition when the spec names no
   *  custom CA this store can read. */
  virtual StatusOr<AuthorityMaterial> readCustomAuthority(const api::CertificateRotation& r) = 0;
};

}  // namespace rotor::store
