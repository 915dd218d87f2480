#include "controller/pki/client_tls.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "controller/pki/bundle.h"
#include "controller/pki/openssl_error.h"

namespace rotor::pki {
namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

StatusOr<std::string> readFile(const std::string& path, const std::string& what) {
  if (path.empty()) return std::string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalidArgument(what + " " + path + " cannot be read");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

StatusOr<ClientTls> ClientTls::fromPem(const std::string& trustedPem, const std::string& chainPem,
                                       const std::string& keyPem) {
  ClientTls tls;
  if (!trustedPem.empty()) {
    auto trusted = parsePemBundle(trustedPem);
    if (!trusted.ok()) return invalidArgument("the certificate authority is unusable: " + trusted.status().message());
    if (trusted->empty()) return invalidArgument("the certificate authority holds no certificate");
    tls.trusted_ = std::move(trusted).value();
  }
  if (chainPem.empty() != keyPem.empty())
    return invalidArgument("a client certificate needs its key, and a key its certificate");
  if (!chainPem.empty()) {
    auto chain = parsePemBundle(chainPem);
    if (!chain.ok() || chain->empty()) return invalidArgument("the client certificate is unusable");
    auto key = PrivateKey::fromPem(keyPem);
    if (!key.ok()) return invalidArgument("the client key is unusable");  // never its content
    if (!chain->front().matchesKey(*key))
      return invalidArgument("the client key does not match the client certificate");
    tls.chain_ = std::move(chain).value();
    tls.key_ = std::move(key).value();
  }
  // What applyTo will do, done once where a failure can still be reported.
  std::unique_ptr<SSL_CTX, SslCtxFree> scratch(SSL_CTX_new(TLS_client_method()));
  if (!scratch) return internalError("cannot create a TLS context: " + drainOpensslErrors());
  RETURN_IF_ERROR(tls.apply(scratch.get()));
  return tls;
}

StatusOr<ClientTls> ClientTls::fromFiles(const std::string& trustedFile, const std::string& chainFile,
                                         const std::string& keyFile) {
  ASSIGN_OR_RETURN(const std::string trusted, readFile(trustedFile, "the CA file"));
  ASSIGN_OR_RETURN(const std::string chain, readFile(chainFile, "the client certificate file"));
  ASSIGN_OR_RETURN(const std::string key, readFile(keyFile, "the client key file"));
  auto tls = fromPem(trusted, chain, key);
  if (!tls.ok()) {
    const std::string files = trustedFile + (chainFile.empty() ? "" : ", " + chainFile + ", " + keyFile);
    return invalidArgument(tls.status().message() + " (" + files + ")");
  }
  return tls;
}

Status ClientTls::apply(SSL_CTX* ctx) const {
  if (!trusted_.empty()) {
    // cpprest loads the system roots first; the store is replaced to trust only this CA.
    X509_STORE* store = X509_STORE_new();
    if (store == nullptr) return internalError("cannot create a certificate store: " + drainOpensslErrors());
    for (const Certificate& c : trusted_) {
      if (X509_STORE_add_cert(store, c.get()) != 1) {
        X509_STORE_free(store);
        return invalidArgument("the certificate authority cannot be trusted: " + drainOpensslErrors());
      }
    }
    SSL_CTX_set_cert_store(ctx, store);  // takes ownership
  }
  if (key_) {
    if (SSL_CTX_use_certificate(ctx, chain_.front().get()) != 1) {
      return invalidArgument("the client certificate cannot be used: " + drainOpensslErrors());
    }
    for (size_t i = 1; i < chain_.size(); ++i) {
      if (SSL_CTX_add1_chain_cert(ctx, chain_[i].get()) != 1) {
        return invalidArgument("the client certificate's chain cannot be used: " + drainOpensslErrors());
      }
    }
    if (SSL_CTX_use_PrivateKey(ctx, key_->get()) != 1)
      return invalidArgument("the client key cannot be used: " + drainOpensslErrors());
  }
  return okStatus();
}

}  // namespace rotor::pki
