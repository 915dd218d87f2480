#include "controller/pki/authority.h"

#include <openssl/rand.h>

#include <algorithm>

#include "controller/pki/openssl_error.h"

namespace rotor::pki {
namespace {

using std::chrono::system_clock;

Status setValidity(X509* x, SystemTime notBefore, SystemTime notAfter) {
  if (!ASN1_TIME_set(X509_getm_notBefore(x), system_clock::to_time_t(notBefore)) ||
      !ASN1_TIME_set(X509_getm_notAfter(x), system_clock::to_time_t(notAfter))) {
    return opensslError(Code::kInternal, "could not set validity");
  }
  return okStatus();
}

Status setRandomSerial(X509* x) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return opensslError(Code::kInternal, "could not generate serial number");
  }
  bytes[0] &= 0x7F;  // positive
  bytes[0] |= 0x01;  // and never shorter than 16 bytes once encoded
  BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x)) == nullptr) {
    return opensslError(Code::kInternal, "could not set serial number");
  }
  return okStatus();
}

Status setCommonName(X509* x, const std::string& cn) {
  X509_NAME* name = X509_get_subject_name(x);
  if (!X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0)) {
    return opensslError(Code::kInvalidArgument, "invalid common name");
  }
  return okStatus();
}

/** Adds an extension written in OpenSSL's config syntax; only constant strings reach this. */
Status addExtension(X509* subject, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || !X509_add_ext(subject, ext.get(), -1)) {
    return opensslError(Code::kInternal, std::string("could not add extension ") + OBJ_nid2sn(nid));
  }
  return okStatus();
}

Status addSubjectAltNames(X509* x, const LeafSpec& spec) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  for (const std::string& dns : spec.dnsNames) {
    GeneralNamePtr gn(GENERAL_NAME_new());
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    ASN1_STRING_set(ia5, dns.data(), static_cast<int>(dns.size()));
    GENERAL_NAME_set0_value(gn.get(), GEN_DNS, ia5);
    sk_GENERAL_NAME_push(names.get(), gn.release());
  }
  for (const std::string& ip : spec.ipAddresses) {
    Asn1OctetStringPtr octets(a2i_IPADDRESS(ip.c_str()));
    if (!octets) {
      drainOpensslErrors();
      return invalidArgument("invalid IP address \"" + ip + "\"");
    }
    GeneralNamePtr gn(GENERAL_NAME_new());
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, octets.release());
    sk_GENERAL_NAME_push(names.get(), gn.release());
  }
  if (sk_GENERAL_NAME_num(names.get()) == 0) {
    return okStatus();
  }
  if (!X509_add1_ext_i2d(x, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT)) {
    return opensslError(Code::kInternal, "could not add subjectAltName");
  }
  return okStatus();
}

/** Ed25519 signs the message itself; every other algorithm here signs a SHA-2 digest. */
const EVP_MD* digestFor(EVP_PKEY* signingKey) {
  switch (EVP_PKEY_get_base_id(signingKey)) {
    case EVP_PKEY_ED25519:
      return nullptr;
    case EVP_PKEY_EC:
      return EVP_PKEY_get_bits(signingKey) > 256 ? EVP_sha384() : EVP_sha256();
    default:
      return EVP_sha256();
  }
}

Status sign(X509* x, const PrivateKey& key) {
  if (X509_sign(x, key.get(), digestFor(key.get())) <= 0) {
    return opensslError(Code::kInternal, "could not sign certificate");
  }
  return okStatus();
}

/** Issuer = subject, the extensions of a root CA (the key identifier derived from the key, so a
 *  re-issued root keeps it), signed by `key`. */
Status makeSelfSignedRoot(X509* x, const PrivateKey& key) {
  if (!X509_set_issuer_name(x, X509_get_subject_name(x))) {
    return opensslError(Code::kInternal, "could not set issuer");
  }
  RETURN_IF_ERROR(addExtension(x, x, NID_basic_constraints, "critical,CA:TRUE"));
  RETURN_IF_ERROR(addExtension(x, x, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(addExtension(x, x, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(addExtension(x, x, NID_authority_key_identifier, "keyid:always"));
  return sign(x, key);
}

StatusOr<X509Ptr> newCertificate(EVP_PKEY* publicKey, SystemTime notBefore, SystemTime notAfter) {
  X509Ptr x(X509_new());
  if (!x || !X509_set_version(x.get(), X509_VERSION_3) || !X509_set_pubkey(x.get(), publicKey)) {
    return opensslError(Code::kInternal, "could not create certificate");
  }
  RETURN_IF_ERROR(setRandomSerial(x.get()));
  RETURN_IF_ERROR(setValidity(x.get(), notBefore, notAfter));
  return x;
}

}  // namespace

StatusOr<CertificateAuthority> CertificateAuthority::generate(const CaSpec& spec, SystemTime now) {
  if (spec.commonName.empty()) {
    return invalidArgument("CA common name must not be empty");
  }
  if (spec.validity <= Duration::zero()) {
    return invalidArgument("CA validity must be positive");
  }
  ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::generate(spec.key));
  ASSIGN_OR_RETURN(X509Ptr x, newCertificate(key.get(), now - kBackdate, now + spec.validity));
  RETURN_IF_ERROR(setCommonName(x.get(), spec.commonName));
  RETURN_IF_ERROR(makeSelfSignedRoot(x.get(), key));
  return CertificateAuthority(Certificate::adopt(std::move(x)), std::move(key));
}

StatusOr<CertificateAuthority> CertificateAuthority::renew(Duration validity, SystemTime now) const {
  if (validity <= Duration::zero()) {
    return invalidArgument("CA validity must be positive");
  }
  if (!certificate_.isSignedBy(certificate_)) {
    return failedPrecondition("CA " + certificate_.subject() +
                              " is not self-signed: only a root can be re-issued under its own key");
  }
  ASSIGN_OR_RETURN(X509Ptr x, newCertificate(key_.get(), now - kBackdate, now + validity));
  if (!X509_set_subject_name(x.get(), X509_get_subject_name(certificate_.get()))) {
    return opensslError(Code::kInternal, "could not set subject");
  }
  RETURN_IF_ERROR(makeSelfSignedRoot(x.get(), key_));
  return CertificateAuthority(Certificate::adopt(std::move(x)), key_);
}

StatusOr<CertificateAuthority> CertificateAuthority::fromPem(std::string_view certPem, std::string_view keyPem) {
  ASSIGN_OR_RETURN(Certificate cert, Certificate::fromPem(certPem));
  ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::fromPem(keyPem));
  if (!cert.isCa()) {
    return invalidArgument("certificate " + cert.subject() + " is not a CA (basicConstraints CA:TRUE)");
  }
  if (!cert.matchesKey(key)) {
    return invalidArgument("private key does not match CA certificate " + cert.subject());
  }
  return CertificateAuthority(std::move(cert), std::move(key));
}

StatusOr<Certificate> CertificateAuthority::issue(const LeafSpec& spec, const PrivateKey& subjectKey,
                                                  SystemTime now) const {
  if (spec.commonName.empty() && spec.dnsNames.empty() && spec.ipAddresses.empty()) {
    return invalidArgument("a server certificate needs a common name, a DNS name or an IP address");
  }
  if (spec.validity <= Duration::zero()) {
    return invalidArgument("certificate validity must be positive");
  }
  const SystemTime caNotAfter = certificate_.notAfter();
  if (caNotAfter <= now) {
    return failedPrecondition("CA " + certificate_.subject() + " expired at " + formatRfc3339(caNotAfter));
  }
  const SystemTime notAfter = std::min(now + spec.validity, caNotAfter);
  ASSIGN_OR_RETURN(X509Ptr x, newCertificate(subjectKey.get(), now - kBackdate, notAfter));
  if (!spec.commonName.empty()) {
    RETURN_IF_ERROR(setCommonName(x.get(), spec.commonName));
  }
  X509* issuer = certificate_.get();
  if (!X509_set_issuer_name(x.get(), X509_get_subject_name(issuer))) {
    return opensslError(Code::kInternal, "could not set issuer");
  }
  const bool rsa = EVP_PKEY_get_base_id(subjectKey.get()) == EVP_PKEY_RSA;
  RETURN_IF_ERROR(addExtension(x.get(), issuer, NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(addExtension(x.get(), issuer, NID_key_usage,
                               rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"));
  RETURN_IF_ERROR(addExtension(x.get(), issuer, NID_ext_key_usage, "serverAuth"));
  RETURN_IF_ERROR(addExtension(x.get(), issuer, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(addExtension(x.get(), issuer, NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(addSubjectAltNames(x.get(), spec));
  RETURN_IF_ERROR(sign(x.get(), key_));
  return Certificate::adopt(std::move(x));
}

StatusOr<Certificate> CertificateAuthority::crossSign(const Certificate& otherRoot, SystemTime now) const {
  if (!otherRoot.isCa()) {
    return invalidArgument("cannot cross-sign " + otherRoot.subject() + ": it is not a CA");
  }
  const SystemTime caNotAfter = certificate_.notAfter();
  if (caNotAfter <= now) {
    return failedPrecondition("CA " + certificate_.subject() + " expired at " + formatRfc3339(caNotAfter));
  }
  ASSIGN_OR_RETURN(X509Ptr x, newCertificate(X509_get0_pubkey(otherRoot.get()), otherRoot.notBefore(),
                                             std::min(otherRoot.notAfter(), caNotAfter)));
  X509* issuer = certificate_.get();
  if (!X509_set_subject_name(x.get(), X509_get_subject_name(otherRoot.get())) ||
      !X509_set_issuer_name(x.get(), X509_get_subject_name(issuer))) {
    return opensslError(Code::kInternal, "could not set names");
  }
  RETURN_IF_ERROR(addExtension(x.get(), issuer, NID_basic_constraints, "critical,CA:TRUE"));
  RETURN_IF_ERROR(addExtension(x.get(), issuer, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"));
  // The same SKI as the root it stands for, so path building links the server's AKI to it.
  int skiIndex = X509_get_ext_by_NID(otherRoot.get(), NID_subject_key_identifier, -1);
  if (skiIndex >= 0) {
    if (!X509_add_ext(x.get(), X509_get_ext(otherRoot.get(), skiIndex), -1)) {
      return opensslError(Code::kInternal, "could not copy subjectKeyIdentifier");
    }
  } else {
    RETURN_IF_ERROR(addExtension(x.get(), issuer, NID_subject_key_identifier, "hash"));
  }
  RETURN_IF_ERROR(addExtension(x.get(), issuer, NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(sign(x.get(), key_));
  return Certificate::adopt(std::move(x));
}

}  // namespace rotor::pki
