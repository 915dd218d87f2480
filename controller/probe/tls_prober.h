#pragma once

#include <chrono>

#include "reconcilers/context.h"

namespace rotor::probe {

/**
 * The Verifying phase's health probe over a real TLS handshake (OpenSSL): SNI and host-name
 * check against healthCheck.serverName, chain verified against the trust bundle as a client
 * holding it would, and the leaf compared with the certificate rotor installed.
 */
class TlsProber final : public reconcilers::Prober {
public:
  explicit TlsProber(std::chrono::milliseconds timeout = std::chrono::seconds(5)) : timeout_(timeout) {}

  Status probe(const api::HealthCheckSpec& check, const std::string& bundlePem,
               const std::string& expectedFingerprint) override;

private:
  std::chrono::milliseconds timeout_;
};

}  // namespace rotor::probe
