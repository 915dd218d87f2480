#include "controller/pki/bundle.h"

#include <algorithm>

#include "controller/common/strings.h"

namespace rotor::pki {
namespace {

constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kEnd = "-----END ";
constexpr std::string_view kDashes = "-----";

/** True when `text` holds only white space and lines starting with '#'. */
bool onlyCommentsOrSpace(std::string_view text) {
  for (const std::string& line : split(text, '\n')) {
    std::string_view t = trim(line);
    if (!t.empty() && t.front() != '#') {
      return false;
    }
  }
  return true;
}

}  // namespace

StatusOr<std::vector<Certificate>> parsePemBundle(std::string_view pem) {
  std::vector<Certificate> out;
  size_t pos = 0;
  for (int block = 1;; ++block) {
    size_t begin = pem.find(kBegin, pos);
    std::string_view between = pem.substr(pos, begin == std::string_view::npos ? pem.npos : begin - pos);
    if (!onlyCommentsOrSpace(between)) {
      return invalidArgument("PEM bundle has text that is not a PEM block before block " + std::to_string(block));
    }
    if (begin == std::string_view::npos) {
      return out;
    }
    const std::string prefix = "PEM block " + std::to_string(block);
    size_t labelStart = begin + kBegin.size();
    size_t labelEnd = pem.find(kDashes, labelStart);
    if (labelEnd == std::string_view::npos) {
      return invalidArgument(prefix + ": malformed BEGIN line");
    }
    std::string label(pem.substr(labelStart, labelEnd - labelStart));
    std::string endLine = std::string(kEnd) + label + std::string(kDashes);
    size_t end = pem.find(endLine, labelEnd);
    if (end == std::string_view::npos) {
      return invalidArgument(prefix + " (" + label + "): no matching END line; the bundle is truncated");
    }
    if (label != "CERTIFICATE") {
      return invalidArgument(prefix + " is a " + label + ", not a CERTIFICATE");
    }
    size_t blockEnd = end + endLine.size();
    auto cert = Certificate::fromPem(pem.substr(begin, blockEnd - begin));
    if (!cert.ok()) {
      return cert.status().withContext(prefix);
    }
    out.push_back(std::move(cert).value());
    pos = blockEnd;
  }
}

std::string writePemBundle(std::span<const Certificate> certificates) {
  std::string out;
  for (const Certificate& c : certificates) {
    out += c.toPem();
  }
  return out;
}

std::vector<Fingerprint> fingerprints(std::span<const Certificate> certificates) {
  std::vector<Fingerprint> out;
  out.reserve(certificates.size());
  for (const Certificate& c : certificates) {
    out.push_back(c.fingerprint());
  }
  return out;
}

std::vector<Certificate> unionOf(std::span<const Certificate> bundle, std::span<const Certificate> extra) {
  std::vector<Certificate> out(bundle.begin(), bundle.end());
  std::vector<Fingerprint> seen = fingerprints(bundle);
  for (const Certificate& c : extra) {
    Fingerprint f = c.fingerprint();
    if (std::find(seen.begin(), seen.end(), f) == seen.end()) {
      seen.push_back(f);
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace rotor::pki
