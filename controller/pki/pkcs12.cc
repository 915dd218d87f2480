#include "controller/pki/pkcs12.h"

#include <set>
#include <string>

#include "controller/pki/handles.h"
#include "controller/pki/openssl_error.h"

namespace rotor::pki {
namespace {

constexpr int kIterations = 10000;
constexpr const char* kJdkTrustedKeyUsage = "2.16.840.1.113894.746875.1.1";
constexpr const char* kAnyExtendedKeyUsage = "2.5.29.37.0";

std::vector<uint8_t> toDer(PKCS12* p12) {
  int len = i2d_PKCS12(p12, nullptr);
  std::vector<uint8_t> der(static_cast<size_t>(len > 0 ? len : 0));
  uint8_t* cursor = der.data();
  i2d_PKCS12(p12, &cursor);
  return der;
}

std::string uniqueAlias(const Certificate& c, std::set<std::string>& used, size_t index) {
  std::string base = c.commonName();
  if (base.empty()) {
    base = "ca-" + std::to_string(index + 1);
  }
  std::string alias = base;
  for (int n = 2; used.count(alias) > 0; ++n) {
    alias = base + "-" + std::to_string(n);
  }
  used.insert(alias);
  return alias;
}

}  // namespace

StatusOr<std::vector<uint8_t>> exportKeystore(const PrivateKey& key, const Certificate& leaf,
                                              std::span<const Certificate> chain, std::string_view password,
                                              std::string_view alias) {
  if (!leaf.matchesKey(key)) {
    return invalidArgument("keystore key does not match its certificate");
  }
  X509StackPtr ca(sk_X509_new_null());
  for (const Certificate& c : chain) {
    X509_up_ref(c.get());
    sk_X509_push(ca.get(), c.get());
  }
  const std::string pass(password);
  const std::string name(alias);
  Pkcs12Ptr p12(PKCS12_create_ex(pass.c_str(), name.c_str(), key.get(), leaf.get(), ca.get(), NID_aes_256_cbc,
                                 NID_aes_256_cbc, kIterations, -1, 0, nullptr, nullptr));
  if (!p12) {
    return opensslError(Code::kInternal, "could not create PKCS#12 keystore");
  }
  if (!PKCS12_set_mac(p12.get(), pass.c_str(), -1, nullptr, 0, kIterations, EVP_sha256())) {
    return opensslError(Code::kInternal, "could not set PKCS#12 MAC");
  }
  return toDer(p12.get());
}

StatusOr<std::vector<uint8_t>> exportTruststore(std::span<const Certificate> certificates, std::string_view password) {
  SafebagStackPtr bags(sk_PKCS12_SAFEBAG_new_null());
  Asn1ObjectPtr anyUsage(OBJ_txt2obj(kAnyExtendedKeyUsage, 1));
  std::set<std::string> used;
  for (size_t i = 0; i < certificates.size(); ++i) {
    STACK_OF(PKCS12_SAFEBAG)* raw = bags.get();
    PKCS12_SAFEBAG* bag = PKCS12_add_cert(&raw, certificates[i].get());
    if (bag == nullptr) {
      return opensslError(Code::kInternal, "could not add certificate to truststore");
    }
    std::string alias = uniqueAlias(certificates[i], used, i);
    if (!PKCS12_add_friendlyname_utf8(bag, alias.c_str(), -1) ||
        !PKCS12_add1_attr_by_txt(bag, kJdkTrustedKeyUsage, V_ASN1_OBJECT,
                                 reinterpret_cast<const unsigned char*>(anyUsage.get()), -1)) {
      return opensslError(Code::kInternal, "could not label truststore entry");
    }
  }
  const std::string pass(password);
  Pkcs7StackPtr safes(sk_PKCS7_new_null());
  STACK_OF(PKCS7)* rawSafes = safes.get();
  if (!PKCS12_add_safe(&rawSafes, bags.get(), NID_aes_256_cbc, kIterations, pass.c_str())) {
    return opensslError(Code::kInternal, "could not encrypt truststore");
  }
  Pkcs12Ptr p12(PKCS12_add_safes(safes.get(), 0));
  if (!p12 || !PKCS12_set_mac(p12.get(), pass.c_str(), -1, nullptr, 0, kIterations, EVP_sha256())) {
    return opensslError(Code::kInternal, "could not assemble truststore");
  }
  return toDer(p12.get());
}

StatusOr<std::vector<Certificate>> readPkcs12Certificates(std::span<const uint8_t> der, std::string_view password) {
  const uint8_t* cursor = der.data();
  Pkcs12Ptr p12(d2i_PKCS12(nullptr, &cursor, static_cast<long>(der.size())));
  if (!p12) {
    return opensslError(Code::kInvalidArgument, "invalid PKCS#12 data");
  }
  const std::string pass(password);
  if (!PKCS12_verify_mac(p12.get(), pass.c_str(), -1)) {
    return opensslError(Code::kInvalidArgument, "PKCS#12 password is wrong or the file is corrupt");
  }
  EVP_PKEY* rawKey = nullptr;
  X509* rawCert = nullptr;
  STACK_OF(X509)* rawCa = nullptr;
  if (!PKCS12_parse(p12.get(), pass.c_str(), &rawKey, &rawCert, &rawCa)) {
    return opensslError(Code::kInvalidArgument, "could not decrypt PKCS#12 data");
  }
  EvpPkeyPtr key(rawKey);
  X509StackPtr ca(rawCa);
  std::vector<Certificate> out;
  if (rawCert != nullptr) {
    out.push_back(Certificate::adopt(X509Ptr(rawCert)));
  }
  for (int i = 0; ca && i < sk_X509_num(ca.get()); ++i) {
    X509* c = sk_X509_value(ca.get(), i);
    X509_up_ref(c);
    out.push_back(Certificate::adopt(X509Ptr(c)));
  }
  return out;
}

}  // namespace rotor::pki
