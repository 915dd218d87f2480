#include "controller/pki/certificate.h"

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "controller/common/strings.h"
#include "controller/pki/openssl_error.h"

namespace rotor::pki {
namespace {

X509Ptr upRef(X509* x) {
  X509_up_ref(x);
  return X509Ptr(x);
}

std::string nameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string octetsToHex(const ASN1_OCTET_STRING* s) {
  if (s == nullptr) {
    return "";
  }
  return hexEncode(std::span<const uint8_t>(ASN1_STRING_get0_data(s), static_cast<size_t>(ASN1_STRING_length(s))));
}

std::string ipToString(const ASN1_OCTET_STRING* ip) {
  const uint8_t* bytes = ASN1_STRING_get0_data(ip);
  int len = ASN1_STRING_length(ip);
  char buffer[INET6_ADDRSTRLEN] = {};
  if (len == 4) {
    inet_ntop(AF_INET, bytes, buffer, sizeof(buffer));
  } else if (len == 16) {
    inet_ntop(AF_INET6, bytes, buffer, sizeof(buffer));
  } else {
    return "<invalid>";
  }
  return buffer;
}

template <typename Fn>
void forEachAltName(X509* x, int type, Fn fn) {
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) {
    return;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == type) {
      fn(name);
    }
  }
}

}  // namespace

std::string subjectOf(const X509* x) { return nameToString(X509_get_subject_name(x)); }

SystemTime fromAsn1Time(const ASN1_TIME* t) {
  std::tm tm{};
  ASN1_TIME_to_tm(t, &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

Certificate::Certificate(const Certificate& other) : x509_(upRef(other.x509_.get())) {}

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    x509_ = upRef(other.x509_.get());
  }
  return *this;
}

Certificate Certificate::adopt(X509Ptr x509) { return Certificate(std::move(x509)); }

StatusOr<Certificate> Certificate::fromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!x) {
    return opensslError(Code::kInvalidArgument, "invalid PEM certificate");
  }
  return Certificate(std::move(x));
}

StatusOr<Certificate> Certificate::fromDer(std::span<const uint8_t> der) {
  const uint8_t* cursor = der.data();
  X509Ptr x(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!x) {
    return opensslError(Code::kInvalidArgument, "invalid DER certificate");
  }
  if (cursor != der.data() + der.size()) {
    return invalidArgument("invalid DER certificate: " + std::to_string(der.data() + der.size() - cursor) +
                           " trailing bytes after the certificate");
  }
  return Certificate(std::move(x));
}

std::string Certificate::toPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), x509_.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::vector<uint8_t> Certificate::toDer() const {
  int len = i2d_X509(x509_.get(), nullptr);
  std::vector<uint8_t> der(static_cast<size_t>(len > 0 ? len : 0));
  uint8_t* cursor = der.data();
  i2d_X509(x509_.get(), &cursor);
  return der;
}

Fingerprint Certificate::fingerprint() const {
  std::vector<uint8_t> der = toDer();
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(der.data(), der.size(), digest);
  return Fingerprint::fromHex(hexEncode(digest));
}

Fingerprint Certificate::publicKeyFingerprint() const {
  return pki::publicKeyFingerprint(X509_get0_pubkey(x509_.get()));
}

std::string Certificate::subject() const { return subjectOf(x509_.get()); }

std::string Certificate::issuer() const { return nameToString(X509_get_issuer_name(x509_.get())); }

std::string Certificate::commonName() const {
  const X509_NAME* name = X509_get_subject_name(x509_.get());
  int index = -1, last = -1;
  while ((index = X509_NAME_get_index_by_NID(name, NID_commonName, index)) >= 0) {
    last = index;
  }
  if (last < 0) {
    return "";
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    return "";
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::vector<std::string> Certificate::dnsNames() const {
  std::vector<std::string> out;
  forEachAltName(x509_.get(), GEN_DNS, [&](const GENERAL_NAME* n) {
    const ASN1_IA5STRING* s = n->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  });
  return out;
}

std::vector<std::string> Certificate::ipAddresses() const {
  std::vector<std::string> out;
  forEachAltName(x509_.get(), GEN_IPADD, [&](const GENERAL_NAME* n) { out.push_back(ipToString(n->d.iPAddress)); });
  return out;
}

SystemTime Certificate::notBefore() const { return fromAsn1Time(X509_get0_notBefore(x509_.get())); }

SystemTime Certificate::notAfter() const { return fromAsn1Time(X509_get0_notAfter(x509_.get())); }

std::string Certificate::serialHex() const {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509_.get()), nullptr));
  char* hex = BN_bn2hex(bn.get());
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

bool Certificate::isCa() const { return X509_check_ca(x509_.get()) > 0; }

bool Certificate::hasCaBasicConstraints() const {
  return (X509_get_extension_flags(x509_.get()) & EXFLAG_BCONS) != 0 &&
         (X509_get_extension_flags(x509_.get()) & EXFLAG_CA) != 0;
}

bool Certificate::mayUseKeyForCertSign() const {
  // UINT32_MAX when the certificate has no keyUsage extension.
  return (X509_get_key_usage(x509_.get()) & KU_KEY_CERT_SIGN) != 0;
}

bool Certificate::isSelfSigned() const { return X509_self_signed(x509_.get(), 1) == 1; }

std::string Certificate::subjectKeyId() const { return octetsToHex(X509_get0_subject_key_id(x509_.get())); }

std::string Certificate::authorityKeyId() const { return octetsToHex(X509_get0_authority_key_id(x509_.get())); }

bool Certificate::matchesKey(const PrivateKey& key) const {
  bool ok = X509_check_private_key(x509_.get(), key.get()) == 1;
  drainOpensslErrors();
  return ok;
}

bool Certificate::isSignedBy(const Certificate& issuerCert) const {
  bool ok = X509_verify(x509_.get(), X509_get0_pubkey(issuerCert.get())) == 1;
  drainOpensslErrors();
  return ok;
}

}  // namespace rotor::pki
