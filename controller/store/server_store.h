#pragma once

// The Store's role for the servers (spec.servers[]): the material each presents, and making it
// pick up new material (a reload command, a workload restart).

#include <optional>
#include <string>
#include <string_view>

#include "controller/api/rotation.h"
#include "controller/common/status.h"
#include "controller/store/versioned.h"

namespace rotor::store {

/** What one server presents. Secret: keyPem never leaves the process in logs or status. */
struct ServedMaterial {
  std::string certificateChainPem;  // leaf first, then any intermediates (e.g. a cross-signed CA)
  std::string keyPem;
  std::string caPem;  // the issuing CA, for consumers that want it beside the chain (ca.crt)
  friend bool operator==(const ServedMaterial&, const ServedMaterial&) = default;
};

class ServerStore {
public:
  virtual ~ServerStore() = default;

  /** The material a server presents now, or nullopt when there is none yet. kNotFound for a
   *  server the rotation does not name. */
  virtual StatusOr<Versioned<std::optional<ServedMaterial>>> readServed(const api::CertificateRotation& r,
                                                                        std::string_view server) = 0;
  /** Replaces it as one unit: a crash never leaves a certificate beside the wrong key. */
  virtual Status writeServed(const api::CertificateRotation& r, std::string_view server, const ServedMaterial& material,
                             const Version& expected) = 0;
  /** Makes the server pick up newly written material (reload command / workload restart). */
  virtual Status reload(const api::CertificateRotation& r, std::string_view server) = 0;
  /** After reload(): whether the server's restarted workload has rolled out. A server without
   *  one (a reload command, or no restart) is rolled out at once: this default. */
  virtual StatusOr<api::Rollout> rolloutStatus(const api::CertificateRotation& r, std::string_view server);
};

/** The ServerSpec named `server`, or null. */
const api::ServerSpec* findServer(const api::CertificateRotation& r, std::string_view server);

}  // namespace rotor::store
