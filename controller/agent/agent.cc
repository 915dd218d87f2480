#include "controller/agent/agent.h"

#include "controller/common/atomic_file.h"
#include "controller/pki/bundle.h"
#include "controller/pki/digest.h"

namespace rotor::agent {

Status Agent::syncOnce() {
  ASSIGN_OR_RETURN(std::optional<std::string> current, readFileIfExists(options_.trustStore));
  // The API's ETag is the bundle's SHA-256, so the file on disk is its own cache validator.
  const std::string etag = current ? "\"" + pki::sha256Hex(*current) + "\"" : std::string();
  ASSIGN_OR_RETURN(std::optional<std::string> fetched, client_.fetchBundle(etag));
  if (fetched) {
    RETURN_IF_ERROR(pki::parsePemBundle(*fetched).status().withContext("the server sent a bundle that does not parse"));
    RETURN_IF_ERROR(writeFileAtomic(options_.trustStore, *fetched, kPublicFileMode));
    log_.info("Updated the trust store", {{"file", options_.trustStore}, {"sha256", pki::sha256Hex(*fetched)}});
    current = std::move(fetched);
  }
  std::vector<std::string> trusted;
  if (current) {
    ASSIGN_OR_RETURN(std::vector<pki::Certificate> certs, pki::parsePemBundle(*current));
    for (const Fingerprint& fp : pki::fingerprints(certs)) trusted.push_back(fp.toString());
  }
  RETURN_IF_ERROR(client_.report(trusted, options_.version));
  // Each acknowledged check-in, for whoever checks what the API kept (the real-node failover test).
  log_.debug("Reported what the trust store holds", {{"cas", std::to_string(trusted.size())}});
  return okStatus();
}

std::chrono::milliseconds Agent::nextDelay(bool failed) {
  using std::chrono::milliseconds;
  if (!failed) {
    failures_ = 0;
    const auto jitter = options_.interval.count() / 10;
    return milliseconds(options_.interval.count() + std::uniform_int_distribution<int64_t>(-jitter, jitter)(random_));
  }
  failures_ = std::min(failures_ + 1, 30);
  const int64_t ceiling =
      std::min<int64_t>(options_.maxBackoff.count(), options_.interval.count() << std::min(failures_, 16));
  return milliseconds(std::uniform_int_distribution<int64_t>(options_.interval.count() / 10, ceiling)(random_));
}

void Agent::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    Status s = syncOnce();
    if (!s.ok()) log_.warn("Sync failed; backing off", {{"error", s.message()}});
    sleepUnlessStopped(stop, nextDelay(!s.ok()));
  }
}

}  // namespace rotor::agent
