#pragma once

// The wire under the Kubernetes client: one HTTPS request and answer, or one streamed answer read
// line by line (a watch). The cpprestsdk implementation lives alone in cpprest_transport.cc so
// that its heavy headers stay out of every other translation unit.

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/status.h"
#include "controller/kube/kubeconfig.h"

namespace rotor::kube {

struct ApiRequest {
  std::string method;
  std::string target;       // path and query: "/api/v1/namespaces/ns/secrets?limit=500"
  std::string contentType;  // only with a body
  std::string body;
};

/** An answer the server sent, whatever its status (errors are decoded by the Client). */
struct ApiResponse {
  int status = 0;
  std::string body;
  std::string retryAfter;             // the Retry-After header (429, 503)
  std::vector<std::string> warnings;  // Warning headers (pruned fields, deprecations)
};

class Transport {
public:
  virtual ~Transport() = default;
  /** kUnavailable when no answer came (connection, TLS, timeout); any answer otherwise. */
  virtual StatusOr<ApiResponse> send(const ApiRequest& request) = 0;
  /**
   * Sends the request and, when the answer is 200, calls `onLine` with each line of the body as
   * it arrives (without its "\n") until the body ends, `onLine` returns false or `stop` is
   * requested. The returned response carries the status, and the whole body when it is not 200.
   */
  virtual StatusOr<ApiResponse> stream(const ApiRequest& request,
                                       const std::function<bool(std::string_view line)>& onLine,
                                       std::stop_token stop) = 0;
};

struct TransportOptions {
  /** Bound on a request without a streamed answer. */
  std::chrono::seconds requestTimeout{30};
  /** Bound on the silence between two chunks of a streamed answer: longer than the server's
   *  watch timeout, which ends every watch before it. */
  std::chrono::seconds streamIdleTimeout{15 * 60};
  std::string userAgent = "rotor-controller";
};

/** HTTPS with the cluster's CA (or the system roots), a bearer token re-read per request, or a
 *  client certificate. kInvalidArgument for an unusable server address or credential. */
StatusOr<std::unique_ptr<Transport>> makeHttpsTransport(const ClusterConfig& cluster, TransportOptions options = {});

}  // namespace rotor::kube
