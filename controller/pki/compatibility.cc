#include "controller/pki/compatibility.h"

#include <algorithm>
#include <set>

#include "controller/common/duration.h"
#include "controller/common/strings.h"
#include "controller/pki/verify.h"

namespace rotor::pki {
namespace {

std::string describeSet(const std::set<std::string>& values) {
  std::vector<std::string> v(values.begin(), values.end());
  return "[" + join(v, ", ") + "]";
}

void compareSets(std::vector<Finding>& out, std::string_view check, std::string_view what,
                 const std::vector<std::string>& candidate, const std::vector<std::string>& previous) {
  std::set<std::string> a(candidate.begin(), candidate.end());
  std::set<std::string> b(previous.begin(), previous.end());
  if (a != b) {
    out.push_back(
        {std::string(check), std::string(what) + " differ: new " + describeSet(a) + ", served " + describeSet(b)});
  }
}

}  // namespace

std::vector<Finding> checkCompatibility(const CompatibilityInput& in) {
  std::vector<Finding> out;
  if (in.key != nullptr && !in.candidate.matchesKey(*in.key)) {
    out.push_back({std::string(checks::kKeyMatches), "private key does not match the new certificate"});
  }
  const SystemTime caNotAfter = in.issuingCa.notAfter();
  if (caNotAfter <= in.at || in.issuingCa.notBefore() > in.at) {
    out.push_back({std::string(checks::kCaValid),
                   "CA " + in.issuingCa.subject() + " is not valid now (notAfter " + formatRfc3339(caNotAfter) + ")"});
  }
  for (const Certificate& root : in.roots) {
    Status s = verifyChain(in.candidate, in.intermediates, std::span(&root, 1), in.at);
    if (!s.ok()) {
      out.push_back(
          {std::string(checks::kChainsToRoot), "chain does not verify against " + root.subject() + ": " + s.message()});
    }
  }
  if (in.previous != nullptr) {
    if (in.candidate.subject() != in.previous->subject()) {
      out.push_back({std::string(checks::kSubject), "subject differs: new \"" + in.candidate.subject() +
                                                        "\", served \"" + in.previous->subject() + "\""});
    }
    compareSets(out, checks::kDnsNames, "DNS names", in.candidate.dnsNames(), in.previous->dnsNames());
    compareSets(out, checks::kIpAddresses, "IP addresses", in.candidate.ipAddresses(), in.previous->ipAddresses());
  }
  if (in.candidate.notAfter() > caNotAfter) {
    out.push_back({std::string(checks::kValidityWithinCa), "certificate notAfter " +
                                                               formatRfc3339(in.candidate.notAfter()) +
                                                               " is after the CA's " + formatRfc3339(caNotAfter)});
  }
  return out;
}

std::vector<Finding> checkImportedCa(const ImportedCaInput& in) {
  std::vector<Finding> out;
  const Certificate& ca = in.certificate;
  const auto add = [&](std::string_view check, const std::string& message) {
    out.push_back({std::string(check), message});
  };
  if (ca.notBefore() > in.at) {
    add(checks::kCaNotYetValid, "CA " + ca.subject() + " is not valid before " + formatRfc3339(ca.notBefore()));
  }
  if (ca.notAfter() <= in.at) {
    add(checks::kCaExpired, "CA " + ca.subject() + " expired at " + formatRfc3339(ca.notAfter()));
  } else if (ca.notAfter() < in.at + in.certificateValidity) {
    add(checks::kCaOutlivesCertificates, "CA " + ca.subject() + " expires at " + formatRfc3339(ca.notAfter()) +
                                             ", before a certificate issued now for " +
                                             formatDuration(in.certificateValidity) + " would");
  }
  if (!ca.hasCaBasicConstraints()) {
    add(checks::kCaBasicConstraints, "certificate " + ca.subject() + " is not a CA (no basicConstraints CA:TRUE)");
  }
  if (!ca.mayUseKeyForCertSign()) {
    add(checks::kCaKeyUsage, "certificate " + ca.subject() + " may not sign certificates (keyUsage lacks keyCertSign)");
  }
  if (!ca.matchesKey(in.key)) {
    add(checks::kKeyMatches, "the private key does not match CA certificate " + ca.subject());
  }
  return out;
}

}  // namespace rotor::pki
