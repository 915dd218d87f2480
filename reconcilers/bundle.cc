#include "reconcilers/bundle.h"

#include <algorithm>

#include "controller/common/strings.h"
#include "controller/pki/bundle.h"

namespace rotor::reconcilers {

using api::CertificateRotation;

StatusOr<store::Versioned<std::vector<pki::Certificate>>> readBundleCertificates(store::BundleStore& bundles,
                                                                                 const CertificateRotation& r) {
  ASSIGN_OR_RETURN(auto bundle, bundles.readBundle(r));
  store::Versioned<std::vector<pki::Certificate>> out{{}, bundle.version};
  if (bundle.value) {
    ASSIGN_OR_RETURN(out.value, pki::parsePemBundle(*bundle.value));
  }
  return out;
}

Status addToBundle(store::BundleStore& bundles, const CertificateRotation& r,
                   std::span<const pki::Certificate> certificates) {
  ASSIGN_OR_RETURN(auto bundle, readBundleCertificates(bundles, r));
  std::vector<pki::Certificate> wanted = pki::unionOf(bundle.value, certificates);
  if (wanted.size() == bundle.value.size()) {
    return okStatus();
  }
  return bundles.writeBundle(r, pki::writePemBundle(wanted), bundle.version);
}

Status setBundle(store::BundleStore& bundles, const CertificateRotation& r, const std::string& pem) {
  ASSIGN_OR_RETURN(auto bundle, bundles.readBundle(r));
  if (bundle.value == pem) {
    return okStatus();
  }
  RETURN_IF_ERROR(pki::parsePemBundle(pem).status());
  return bundles.writeBundle(r, pem, bundle.version);
}

StatusOr<bool> syncBundleCopies(RotationContext& ctx, CertificateRotation& r) {
  // A truststore is kept beside the bundle by the same sync (the store's other forms of it).
  const api::TrustBundleSpec& spec = r.spec.trustBundle;
  if (!spec.namespaceSelector && !r.status.bundleCopies && !spec.truststore && !spec.clusterTrustBundle) return true;
  ASSIGN_OR_RETURN(auto bundle, ctx.bundles.readBundle(r));
  if (!bundle.value) return false;  // nothing to copy before the bundle is first written
  ASSIGN_OR_RETURN(api::BundleCopiesStatus copies, ctx.bundles.syncBundleCopies(r, *bundle.value));
  const std::vector<std::string> known =
      r.status.bundleCopies ? r.status.bundleCopies->foreign : std::vector<std::string>{};
  for (const std::string& ns : copies.foreign) {
    if (std::find(known.begin(), known.end(), ns) != known.end()) continue;
    ctx.events.record(r, EventType::kWarning, "ForeignBundleObject",
                      "Namespace " + ns + " holds a " + std::string(api::bundleObjectKind(r.spec.trustBundle)) + " \"" +
                          api::bundleObjectName(r.spec.trustBundle) +
                          "\" that rotor did not create: it is left alone, and its clients do not get the bundle");
  }
  const auto& clusterTrustBundle = copies.clusterTrustBundle;
  const bool wasForeign = r.status.bundleCopies && r.status.bundleCopies->clusterTrustBundle &&
                          r.status.bundleCopies->clusterTrustBundle->foreign;
  if (clusterTrustBundle && clusterTrustBundle->foreign && !wasForeign) {
    ctx.events.record(r, EventType::kWarning, "ForeignBundleObject",
                      "ClusterTrustBundle \"" + clusterTrustBundle->name +
                          "\" exists and rotor did not create it: it is left alone, and its readers do not get the "
                          "bundle");
  }
  if (!spec.namespaceSelector && !clusterTrustBundle) {
    r.status.bundleCopies.reset();  // every copy removed
    return true;
  }
  r.status.bundleCopies = copies;
  return api::copiesComplete(copies);
}

std::string bundleCopiesMessage(const api::BundleCopiesStatus& copies) {
  std::vector<std::string> parts;
  if (copies.wanted > 0 || !copies.foreign.empty()) {
    std::string namespaces = "the bundle is in " + std::to_string(copies.current) + " of " +
                             std::to_string(copies.wanted) + " namespaces its selector matches";
    if (!copies.foreign.empty()) {
      namespaces += " (" + std::to_string(copies.foreign.size()) +
                    " more hold a ConfigMap of its name that rotor did not create)";
    }
    parts.push_back(std::move(namespaces));
  }
  if (const auto& ctb = copies.clusterTrustBundle; ctb && !ctb->current) {
    parts.push_back("ClusterTrustBundle " + ctb->name + " is not current" +
                    (ctb->message.empty() ? "" : ": " + ctb->message));
  }
  return parts.empty() ? "every copy is current" : join(parts, "; ");
}

}  // namespace rotor::reconcilers
