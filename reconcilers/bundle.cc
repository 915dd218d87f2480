#include "reconcilers/bundle.h"

#include "controller/pki/bundle.h"

namespace rotor::reconcilers {

using api::CertificateRotation;

StatusOr<store::Versioned<std::vector<pki::Certificate>>> readBundleCertificates(RotationContext& ctx,
                                                                                 const CertificateRotation& r) {
  ASSIGN_OR_RETURN(auto bundle, ctx.store.readBundle(r));
  store::Versioned<std::vector<pki::Certificate>> out{{}, bundle.version};
  if (bundle.value) {
    ASSIGN_OR_RETURN(out.value, pki::parsePemBundle(*bundle.value));
  }
  return out;
}

Status addToBundle(RotationContext& ctx, const CertificateRotation& r, std::span<const pki::Certificate> certificates) {
  ASSIGN_OR_RETURN(auto bundle, readBundleCertificates(ctx, r));
  std::vector<pki::Certificate> wanted = pki::unionOf(bundle.value, certificates);
  if (wanted.size() == bundle.value.size()) {
    return okStatus();
  }
  return ctx.store.writeBundle(r, pki::writePemBundle(wanted), bundle.version);
}

Status setBundle(RotationContext& ctx, const CertificateRotation& r, const std::string& pem) {
  ASSIGN_OR_RETURN(auto bundle, ctx.store.readBundle(r));
  if (bundle.value == pem) {
    return okStatus();
  }
  RETURN_IF_ERROR(pki::parsePemBundle(pem).status());
  return ctx.store.writeBundle(r, pem, bundle.version);
}

}  // namespace rotor::reconcilers
