#pragma once

// The Store's role for CertificateRotations themselves: read, apply, update spec or status,
// delete. What controller-runtime's Reader, Writer and StatusWriter are to one kind.

#include <string>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/common/status.h"

namespace rotor::store {

using api::CertificateRotation;
using api::ObjectKey;

/** listRotations() across every namespace. */
inline const std::string kAllNamespaces;

class RotationStore {
public:
  virtual ~RotationStore() = default;

  /** The rotations in namespace `ns` (kAllNamespaces: every namespace), ordered by namespace then
   *  name. A namespaced list needs only namespaced rights in a cluster. */
  virtual StatusOr<std::vector<CertificateRotation>> listRotations(const std::string& ns) = 0;
  /** The keys of all rotations, in the same order; a resync needs no more. By default from
   *  listRotations(); a Store that can list names without reading the objects overrides it. */
  virtual StatusOr<std::vector<ObjectKey>> listRotationKeys();
  /** kNotFound when absent. */
  virtual StatusOr<CertificateRotation> getRotation(const ObjectKey& key) = 0;
  /**
   * Creates the rotation (generation 1, new uid, empty status) or updates spec, labels and
   * annotations of the existing one (labels and annotations merge; the manifest's win). The
   * generation grows only when the spec changes. Returns what is stored now.
   */
  virtual StatusOr<CertificateRotation> applyRotation(const CertificateRotation& desired) = 0;
  /**
   * Writes spec, labels and annotations (not status). kConflict when
   * rotation.metadata.resourceVersion is stale; on success it holds the new version.
   */
  virtual Status updateRotation(CertificateRotation& rotation) = 0;
  /** Writes status only, with the same version rule as updateRotation. */
  virtual Status updateRotationStatus(CertificateRotation& rotation) = 0;
  /** Deletes the rotation, its CA material, snapshot records and agent records; kNotFound when
   *  absent. Served files, bundles and backup copies stay where they are. */
  virtual Status deleteRotation(const ObjectKey& key) = 0;
};

/** Merges desired spec/labels/annotations into `stored` as applyRotation describes; returns
 *  whether the spec changed (so the generation must grow). Shared by every implementation. */
bool mergeApplied(CertificateRotation& stored, const CertificateRotation& desired);

}  // namespace rotor::store
