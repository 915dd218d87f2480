#include "reconcilers/prechecks.h"

namespace rotor::reconcilers {

std::vector<pki::Finding> runSwapPrechecks(const SwapCandidate& c, SystemTime now) {
  std::vector<pki::Certificate> roots{c.issuer.certificate()};
  if (c.crossSignedBy != nullptr) {
    roots.push_back(*c.crossSignedBy);
  }
  return pki::checkCompatibility({c.leaf, c.intermediates, &c.key, c.previous, c.issuer.certificate(), roots, now});
}

std::string describeFindings(const std::vector<pki::Finding>& findings) {
  std::string out;
  for (const pki::Finding& f : findings) {
    out += (out.empty() ? "" : "; ") + f.check + ": " + f.message;
  }
  return out;
}

}  // namespace rotor::reconcilers
