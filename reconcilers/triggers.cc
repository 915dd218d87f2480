#include "reconcilers/triggers.h"

#include "controller/api/ca_source.h"
#include "controller/pki/digest.h"

namespace rotor::reconcilers {
std::string annotationOf(const api::CertificateRotation& r, std::string_view key) {
  auto it = r.metadata.annotations.find(std::string(key));
  return it == r.metadata.annotations.end() ? std::string() : it->second;
}

std::string pendingRequest(const api::CertificateRotation& r, std::string_view key) {
  std::string asked = annotationOf(r, key);
  const api::HandledRequests& h = r.status.handled;
  const std::string& handled = key == api::kRotateAnnotation  ? h.rotate
                               : key == api::kRenewAnnotation ? h.renew
                                                              : h.renewCa;
  return asked == handled ? std::string() : asked;
}

bool isRenewal(std::string_view trigger) {
  return trigger == triggers::kRenewRequested || trigger == triggers::kCertificateExpiring || isCaRenewal(trigger);
}

bool isCaRenewal(std::string_view trigger) {
  return trigger == triggers::kCaRenewRequested || trigger == triggers::kCaSourceRenewed;
}

std::string caSourceHash(const api::CaSpec& ca) {
  return std::string(api::kCaSourceVersion) + ":sha256:" + pki::sha256Hex(api::canonicalCaSource(ca));
}

bool isCurrentCaSourceHash(std::string_view stored) {
  return stored.starts_with(std::string(api::kCaSourceVersion) + ":sha256:");
}

TriggerDecision detectTrigger(const api::CertificateRotation& r, SystemTime now, bool includeExpiry) {
  const api::RotationStatus& s = r.status;
  if (const std::string rotate = pendingRequest(r, api::kRotateAnnotation); !rotate.empty()) {
    return {std::string(triggers::kRotateRequested),
            "Rotation requested (" + std::string(api::kRotateAnnotation) + "=" + rotate + ")", std::nullopt};
  }
  if (isCurrentCaSourceHash(s.caSourceHash) && caSourceHash(r.spec.ca) != s.caSourceHash) {
    return {std::string(triggers::kCaChanged), "spec.ca changed", std::nullopt};
  }
  if (const std::string renewCa = pendingRequest(r, api::kRenewCaAnnotation); !renewCa.empty()) {
    return {std::string(triggers::kCaRenewRequested),
            "CA renewal requested (" + std::string(api::kRenewCaAnnotation) + "=" + renewCa + ")", std::nullopt};
  }
  TriggerDecision none;
  const auto consider = [&](SystemTime fireAt) {
    if (!none.nextExpiryCheck || fireAt < *none.nextExpiryCheck) {
      none.nextExpiryCheck = fireAt;
    }
  };
  if (includeExpiry && s.ca.current && s.ca.current->notAfter) {
    const SystemTime fireAt = *s.ca.current->notAfter - r.spec.ca.rotateBefore;
    if (now >= fireAt) {
      return {std::string(triggers::kCaExpiring),
              "CA expires at " + formatRfc3339(*s.ca.current->notAfter) + ", within ca.rotateBefore", std::nullopt};
    }
    consider(fireAt);
  }
  if (const std::string renew = pendingRequest(r, api::kRenewAnnotation); !renew.empty()) {
    return {std::string(triggers::kRenewRequested),
            "Renewal requested (" + std::string(api::kRenewAnnotation) + "=" + renew + ")", std::nullopt};
  }
  if (includeExpiry) {
    for (const api::ServerStatus& server : s.servers) {
      if (!server.notAfter) {
        continue;
      }
      const SystemTime fireAt = *server.notAfter - r.spec.certificate.renewBefore;
      if (now >= fireAt) {
        return {std::string(triggers::kCertificateExpiring),
                "Certificate of server \"" + server.name + "\" expires at " + formatRfc3339(*server.notAfter) +
                    ", within certificate.renewBefore",
                std::nullopt};
      }
      consider(fireAt);
    }
  }
  return none;
}

}  // namespace rotor::reconcilers
