#pragma once

// Plain request/response values between the HTTP server and the handlers, so that handlers are
// tested without sockets and the server knows nothing of rotations.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rotor::http {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query as received
  std::string authorization;
  std::string ifNoneMatch;
  std::string contentType;
  std::string body;
  /** The common name of a client certificate that the configured client CA verified. */
  std::optional<std::string> clientIdentity;
  std::string userAgent;
};

/**
 * A body produced over time (a watch), sent with chunked transfer encoding. The server calls
 * next() once the previous chunk is written; the source calls `deliver` exactly once, from any
 * thread, with the next chunk or with nullopt to end the body. cancel() is called when the
 * connection goes away first; a source must then stop producing and may drop `deliver`.
 */
class BodyStream {
public:
  using Deliver = std::function<void(std::optional<std::string>)>;
  virtual ~BodyStream() = default;
  virtual void next(Deliver deliver) = 0;
  virtual void cancel() {}
};

struct HttpResponse {
  int status = 200;
  std::string contentType;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /** When set, the body comes from here instead of `body`. */
  std::shared_ptr<BodyStream> stream;
};

}  // namespace rotor::http
