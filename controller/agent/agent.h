#pragma once

// The reference agent (`rotor agent`): keeps a trust store file in step with a rotation's bundle
// and reports what it trusts, so that the adoption gate measures this client. Any client that
// speaks docs/adoption-api.md can do the same; this one is what rotor ships.

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <vector>

#include "controller/common/log.h"
#include "controller/common/status.h"

namespace rotor::agent {

/** The adoption API as the agent sees it. */
class AdoptionClient {
public:
  virtual ~AdoptionClient() = default;
  /** The bundle when it differs from `etag` (quoted, as sent in If-None-Match), nullopt on 304. */
  virtual StatusOr<std::optional<std::string>> fetchBundle(const std::string& etag) = 0;
  /** Reports the trusted fingerprints ("sha256:<hex>"). */
  virtual Status report(const std::vector<std::string>& trusted, const std::string& version) = 0;
};

struct ClientOptions {
  std::string server;  // https://host:port
  std::string ns, rotation, agentId;
  std::string token;
  std::string serverCaFile;  // verify the API against this CA instead of the system's
  std::string clientCertFile, clientKeyFile;
  std::chrono::seconds timeout{30};
};

/** The client over cpprestsdk (the only unit of the agent that includes it). */
StatusOr<std::unique_ptr<AdoptionClient>> makeHttpClient(const ClientOptions& options);

/** An answer to httpGet: its status code and body. */
struct HttpAnswer {
  int code = 0;
  std::string body;
};
/** One GET of an http:// or https:// URL (system CAs), for `rotor check`; kUnavailable when no
 *  answer came within `timeout`. */
StatusOr<HttpAnswer> httpGet(const std::string& url, std::chrono::seconds timeout);

struct AgentOptions {
  std::string trustStore;  // PEM file the agent's applications read
  std::chrono::milliseconds interval = std::chrono::seconds(30);
  std::chrono::milliseconds maxBackoff = std::chrono::minutes(5);
  std::string version;
};

class Agent {
public:
  Agent(AdoptionClient& client, AgentOptions options, Logger& log)
      : client_(client), options_(std::move(options)), log_(log), random_(std::random_device{}()) {}

  /** One round: fetch the bundle if it changed, write the trust store atomically, report. */
  Status syncOnce();
  /** Rounds every interval (±10% jitter) until stopped; after a failure waits with exponential,
   *  fully jittered backoff up to maxBackoff, so that a fleet does not return in lockstep. */
  void run(std::stop_token stop);

private:
  std::chrono::milliseconds nextDelay(bool failed);

  AdoptionClient& client_;
  AgentOptions options_;
  Logger& log_;
  std::mt19937_64 random_;
  int failures_ = 0;
};

}  // namespace rotor::agent
