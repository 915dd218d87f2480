#pragma once

// `rotor agent --report-pod`: a sidecar for clients that reload a mounted trust bundle without
// restarting. It watches the bundle file in the pod's volume and, each time its bytes change,
// annotates its own pod with rotor.dev/bundle-digest: sha256:<hex>, which the adoption gate
// (spec.adoption.pods) counts as this pod having adopted that bundle. It claims what the file
// holds, so it belongs beside an application that reloads the file when it changes.

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>

#include "controller/common/log.h"
#include "controller/common/status.h"

namespace rotor::agent {

struct PodReporterOptions {
  std::string bundleFile;  // the mounted bundle, as the application reads it
  std::chrono::milliseconds interval = std::chrono::seconds(5);
  std::chrono::milliseconds maxBackoff = std::chrono::minutes(1);
};

class PodReporter {
public:
  /** Writes "sha256:<hex>" into the pod's annotation. */
  using Annotate = std::function<Status(const std::string& digest)>;

  PodReporter(PodReporterOptions options, Annotate annotate, Logger& log)
      : options_(std::move(options)), annotate_(std::move(annotate)), log_(log) {}

  /** Reads the file; annotates the pod when its digest differs from the last one the API server
   *  took. A file that is missing or holds no certificate is reported as an error, never annotated. */
  Status syncOnce();
  /** syncOnce every interval until stopped; after failures, backs off up to maxBackoff. */
  void run(std::stop_token stop);
  /** The digest the pod carries as far as this reporter knows; empty before the first annotation. */
  const std::string& reported() const { return reported_; }

private:
  PodReporterOptions options_;
  Annotate annotate_;
  Logger& log_;
  std::string reported_;
};

}  // namespace rotor::agent
