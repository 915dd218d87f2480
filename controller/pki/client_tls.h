#pragma once

// What a TLS client trusts and presents (the Kubernetes client, the agent), parsed and checked
// once, when it is configured: an unreadable CA file or a client key that does not match its
// certificate is an error then, never a connection that silently trusts the system roots or
// presents no certificate.

#include <optional>
#include <string>
#include <vector>

#include "controller/common/status.h"
#include "controller/pki/certificate.h"
#include "controller/pki/key.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace rotor::pki {

class ClientTls {
public:
  /** `trustedPem` empty: the system roots. `chainPem` (leaf first) and `keyPem` go together. */
  static StatusOr<ClientTls> fromPem(const std::string& trustedPem, const std::string& chainPem,
                                     const std::string& keyPem);
  /** The same from files; empty names are left out. Errors name the file, never its content. */
  static StatusOr<ClientTls> fromFiles(const std::string& trustedFile, const std::string& chainFile,
                                       const std::string& keyFile);

  /** Replaces ctx's trust store when a CA was given, and sets the client certificate. fromPem
   *  made the same calls on a scratch context and checked them, so they succeed here. */
  void applyTo(SSL_CTX* ctx) const { (void)apply(ctx); }

private:
  Status apply(SSL_CTX* ctx) const;

  std::vector<Certificate> trusted_;
  std::vector<Certificate> chain_;
  std::optional<PrivateKey> key_;
};

}  // namespace rotor::pki
