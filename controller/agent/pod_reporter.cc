#include "controller/agent/pod_reporter.h"

#include <algorithm>

#include "controller/common/atomic_file.h"
#include "controller/common/clock.h"
#include "controller/pki/bundle.h"
#include "controller/pki/digest.h"

namespace rotor::agent {

Status PodReporter::syncOnce() {
  ASSIGN_OR_RETURN(std::optional<std::string> bundle, readFileIfExists(options_.bundleFile));
  if (!bundle) return notFound(options_.bundleFile + " does not exist");
  RETURN_IF_ERROR(pki::parsePemBundle(*bundle).status().withContext(options_.bundleFile + " is not a PEM bundle"));
  const std::string digest = "sha256:" + pki::sha256Hex(*bundle);
  if (digest == reported_) return okStatus();
  RETURN_IF_ERROR(annotate_(digest).withContext("could not annotate the pod"));
  log_.info("Reported the bundle on the pod", {{"file", options_.bundleFile}, {"digest", digest}});
  reported_ = digest;
  return okStatus();
}

void PodReporter::run(std::stop_token stop) {
  std::chrono::milliseconds delay = options_.interval;
  while (!stop.stop_requested()) {
    if (Status s = syncOnce(); s.ok()) {
      delay = options_.interval;
    } else {
      log_.warn("Could not report the bundle; retrying", {{"error", s.message()}});
      delay = std::min(delay * 2, options_.maxBackoff);
    }
    sleepUnlessStopped(stop, delay);
  }
}

}  // namespace rotor::agent
