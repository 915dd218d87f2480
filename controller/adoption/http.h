#pragma once

// Plain request/response values between the HTTP server and the handlers, so that handlers are
// tested without sockets and the server knows nothing of rotations.

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rotor::adoption {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query as received
  std::string authorization;
  std::string ifNoneMatch;
  std::string contentType;
  std::string body;
  /** The common name of a client certificate that the configured client CA verified. */
  std::optional<std::string> clientIdentity;
};

struct HttpResponse {
  int status = 200;
  std::string contentType;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace rotor::adoption
