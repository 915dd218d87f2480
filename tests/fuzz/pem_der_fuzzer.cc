// PEM and DER import: certificates, trust bundles, private keys and PKCS#12 stores from bytes a
// user, a Secret or a file supplied. The first byte picks the reader; never crashes, and what
// parses writes back to something that parses to the same thing.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "controller/pki/bundle.h"
#include "controller/pki/certificate.h"
#include "controller/pki/key.h"
#include "controller/pki/pkcs12.h"

using namespace rotor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
  switch (data[0] % 5) {
    case 0: {
      auto bundle = pki::parsePemBundle(text);
      if (bundle.ok()) {
        auto again = pki::parsePemBundle(pki::writePemBundle(*bundle));
        if (!again.ok() || pki::fingerprints(*again) != pki::fingerprints(*bundle)) std::abort();
      }
      break;
    }
    case 1: {
      auto cert = pki::Certificate::fromPem(text);
      if (cert.ok()) (void)cert->toPem();
      break;
    }
    case 2: {
      auto cert = pki::Certificate::fromDer(rest);
      if (cert.ok() && (!pki::Certificate::fromPem(cert->toPem()).ok())) std::abort();
      break;
    }
    case 3: {
      auto key = pki::PrivateKey::fromPem(text);
      if (key.ok() && !pki::PrivateKey::fromPem(key->toPem()).ok()) std::abort();
      break;
    }
    case 4:
      (void)pki::readPkcs12Certificates(rest, "changeit");
      break;
  }
  return 0;
}
