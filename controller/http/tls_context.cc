#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "controller/http/server_impl.h"

namespace rotor::http {
namespace {

std::string opensslError() {
  const unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace

std::optional<std::string> clientIdentityOf(SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  const X509_NAME* subject = X509_get_subject_name(peer);
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0) return std::nullopt;
  const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                     static_cast<size_t>(ASN1_STRING_length(cn)));
}

StatusOr<std::shared_ptr<SslContext>> makeServerContext(const ServerOptions& o) {
  auto ctx = std::make_shared<SslContext>(SslContext::tls_server);
  SSL_CTX* raw = ctx->native_handle();
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  // Idle connections then hold no read/write buffers: thousands of them stay cheap.
  SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(raw, o.certFile.c_str()) != 1) {
    return invalidArgument("cannot use certificate " + o.certFile + ": " + opensslError());
  }
  if (SSL_CTX_use_PrivateKey_file(raw, o.keyFile.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(raw) != 1) {
    return invalidArgument("cannot use key " + o.keyFile + " with " + o.certFile + ": " + opensslError());
  }
  if (!o.clientCaFile.empty()) {
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.clientCaFile.c_str());
    if (names == nullptr || SSL_CTX_load_verify_locations(raw, o.clientCaFile.c_str(), nullptr) != 1) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return invalidArgument("cannot use client CA " + o.clientCaFile + ": " + opensslError());
    }
    SSL_CTX_set_client_CA_list(raw, names);
    // Asked for, not required: agents may authenticate with a bearer token instead.
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  }
  return ctx;
}

}  // namespace rotor::http
