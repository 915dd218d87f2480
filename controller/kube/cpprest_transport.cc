// The Kubernetes transport over cpprestsdk. cpprest headers are heavy: they stay in this file.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <pplx/threadpool.h>

#include <mutex>
#include <optional>

#include "controller/kube/transport.h"
#include "controller/pki/client_tls.h"

namespace rotor::kube {
namespace {

namespace http = web::http;

/** The TLS material, parsed and checked once: a bad credential is refused at start, not per connection. */
struct TlsMaterial {
  pki::ClientTls client;
  bool skipVerify = false;
};

StatusOr<std::shared_ptr<const TlsMaterial>> tlsMaterialOf(const ClusterConfig& cluster) {
  auto client = pki::ClientTls::fromPem(cluster.caPem, cluster.clientCertPem, cluster.clientKeyPem);
  if (!client.ok()) return invalidArgument("the cluster's credentials: " + client.status().message());
  return std::make_shared<const TlsMaterial>(TlsMaterial{std::move(client).value(), cluster.insecureSkipTlsVerify});
}

http::client::http_client_config configOf(std::shared_ptr<const TlsMaterial> tls, std::chrono::seconds timeout) {
  http::client::http_client_config config;
  config.set_timeout(timeout);
  config.set_validate_certificates(!tls->skipVerify);
  config.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) { tls->client.applyTo(ctx.native_handle()); });
  return config;
}

ApiResponse headOf(const http::http_response& response) {
  ApiResponse out;
  out.status = response.status_code();
  const auto& headers = response.headers();
  if (auto it = headers.find("Retry-After"); it != headers.end()) out.retryAfter = it->second;
  if (auto it = headers.find("Warning"); it != headers.end()) out.warnings.push_back(it->second);
  return out;
}

std::string bodyOf(http::http_response& response) {
  const std::vector<unsigned char> bytes = response.extract_vector().get();
  return std::string(bytes.begin(), bytes.end());
}

class CpprestTransport final : public Transport {
public:
  CpprestTransport(const ClusterConfig& cluster, std::shared_ptr<const TlsMaterial> tls,
                   const TransportOptions& options)
      : cluster_(cluster),
        userAgent_(options.userAgent),
        client_(web::uri(cluster.server), configOf(tls, options.requestTimeout)),
        streamClient_(web::uri(cluster.server), configOf(tls, options.streamIdleTimeout)) {}

  StatusOr<ApiResponse> send(const ApiRequest& request) override {
    auto prepared = prepare(request);
    if (!prepared.ok()) return prepared.status();
    try {
      http::http_response response = client_.request(*prepared).get();
      ApiResponse out = headOf(response);
      out.body = bodyOf(response);
      return out;
    } catch (const std::exception& e) {
      return unavailable(request.method + " " + pathOf(request) + " failed: " + e.what());
    }
  }

  StatusOr<ApiResponse> stream(const ApiRequest& request, const std::function<bool(std::string_view)>& onLine,
                               std::stop_token stop) override {
    auto prepared = prepare(request);
    if (!prepared.ok()) return prepared.status();
    pplx::cancellation_token_source cancel;
    // Closing the connection is the only way to end a body cpprest is still reading.
    std::stop_callback onStop(stop, [&cancel] { cancel.cancel(); });
    try {
      http::http_response response = streamClient_.request(*prepared, cancel.get_token()).get();
      ApiResponse out = headOf(response);
      if (out.status != http::status_codes::OK) {
        out.body = bodyOf(response);
        return out;
      }
      concurrency::streams::istream body = response.body();
      while (!stop.stop_requested()) {
        concurrency::streams::container_buffer<std::string> line;
        const size_t read = body.read_line(line).get();
        if (read == 0 && body.is_eof()) return out;
        if (!onLine(line.collection())) break;
      }
      cancel.cancel();
      return out;
    } catch (const std::exception& e) {
      if (stop.stop_requested()) return ApiResponse{.status = http::status_codes::OK};
      return unavailable(request.method + " " + pathOf(request) + " stream broke: " + e.what());
    }
  }

private:
  static std::string pathOf(const ApiRequest& request) { return request.target.substr(0, request.target.find('?')); }

  StatusOr<http::http_request> prepare(const ApiRequest& request) const {
    auto token = cluster_.bearerToken();
    if (!token.ok()) return token.status();
    http::http_request out(request.method);
    out.set_request_uri(request.target);
    out.headers().add("Accept", "application/json");
    out.headers().add("User-Agent", userAgent_);
    if (!token->empty()) out.headers().add("Authorization", "Bearer " + *token);
    if (!request.body.empty() || !request.contentType.empty()) out.set_body(request.body, request.contentType);
    return out;
  }

  ClusterConfig cluster_;
  std::string userAgent_;
  http::client::http_client client_;
  http::client::http_client streamClient_;
};

}  // namespace

StatusOr<std::unique_ptr<Transport>> makeHttpsTransport(const ClusterConfig& cluster, TransportOptions options) {
  // cpprest's default pool starts 40 threads; the client needs a few (its requests block callers).
  static std::once_flag pool;
  std::call_once(pool, [] {
    try {
      crossplat::threadpool::initialize_with_threads(4);
    } catch (const std::exception&) {
      // Another part of the process sized it first.
    }
  });
  auto tls = tlsMaterialOf(cluster);
  if (!tls.ok()) return tls.status();
  if (cluster.server.rfind("https://", 0) != 0 && cluster.server.rfind("http://", 0) != 0) {
    return invalidArgument("the API server address '" + cluster.server + "' is not an http(s) URL");
  }
  try {
    return std::unique_ptr<Transport>(std::make_unique<CpprestTransport>(cluster, *std::move(tls), options));
  } catch (const std::exception& e) {
    return invalidArgument("cannot use API server address " + cluster.server + ": " + e.what());
  }
}

}  // namespace rotor::kube
