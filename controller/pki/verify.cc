#include "controller/pki/verify.h"

#include "controller/pki/handles.h"
#include "controller/pki/openssl_error.h"

namespace rotor::pki {

Status verifyChain(const Certificate& leaf, std::span<const Certificate> intermediates,
                   std::span<const Certificate> roots, SystemTime at, Purpose purpose) {
  if (roots.empty()) {
    return invalidArgument("no trusted roots to verify against");
  }
  X509StorePtr store(X509_STORE_new());
  for (const Certificate& root : roots) {
    if (!X509_STORE_add_cert(store.get(), root.get())) {
      return opensslError(Code::kInternal, "could not add root to store");
    }
  }
  X509StackPtr untrusted(sk_X509_new_null());
  for (const Certificate& c : intermediates) {
    X509_up_ref(c.get());
    sk_X509_push(untrusted.get(), c.get());
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get())) {
    return opensslError(Code::kInternal, "could not initialise verification");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(at));
  if (purpose == Purpose::kServer) {
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  }
  if (X509_verify_cert(ctx.get()) == 1) {
    return okStatus();
  }
  drainOpensslErrors();
  int error = X509_STORE_CTX_get_error(ctx.get());
  int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
  std::string subject = bad != nullptr ? subjectOf(bad) : leaf.subject();
  return failedPrecondition(std::string(X509_verify_cert_error_string(error)) + " (depth " + std::to_string(depth) +
                            ", " + subject + ")");
}

}  // namespace rotor::pki
