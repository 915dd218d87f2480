#pragma once

// The Store's role for the trust bundle: the bundle itself, its copies in other namespaces and
// its other forms (a PKCS#12 truststore), and cleaning up the copies a deleted rotation left.

#include <optional>
#include <string>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/common/status.h"
#include "controller/store/versioned.h"

namespace rotor::store {

class BundleStore {
public:
  virtual ~BundleStore() = default;

  virtual StatusOr<Versioned<std::optional<std::string>>> readBundle(const api::CertificateRotation& r) = 0;
  virtual Status writeBundle(const api::CertificateRotation& r, const std::string& bundlePem,
                             const Version& expected) = 0;
  /**
   * Kubernetes: makes every namespace spec.trustBundle.namespaceSelector matches (besides the
   * rotation's own) hold `bundlePem` in a copy of the bundle, and removes the copies it made
   * where the selector no longer matches (or is gone). An object of the bundle's name that rotor
   * did not create is reported as foreign and left alone. The bundle's other forms (Kubernetes:
   * the PKCS#12 truststore of spec.trustBundle.truststore) are made current here too, in the
   * bundle and in every copy. This default: a store without namespaces keeps no copies.
   */
  virtual StatusOr<api::BundleCopiesStatus> syncBundleCopies(const api::CertificateRotation& r,
                                                             const std::string& bundlePem);
  /** The rotation `key` is gone: removes what it left that owner references cannot (Kubernetes:
   *  the bundle's copies this process made in other namespaces). This default: nothing. */
  virtual Status rotationGone(const api::ObjectKey& key);
  /** `rotations` are every rotation there is in this controller's scope: removes what rotor left
   *  for any other (Kubernetes: copies of trust bundles whose rotation was deleted while no
   *  controller ran). Returns how many objects it removed. This default: none. */
  virtual StatusOr<size_t> collectOrphans(const std::vector<api::ObjectKey>& rotations);
};

}  // namespace rotor::store
