// The agent's HTTP client over cpprestsdk. cpprest headers are heavy: they stay in this file.
#include <cpprest/http_client.h>
#include <pplx/threadpool.h>

#include <mutex>

#include "controller/agent/agent.h"
#include "controller/pki/client_tls.h"

namespace rotor::agent {
namespace {

namespace http = web::http;

/** A response's status and, for errors, the API's {"reason","message"} (never the token). */
Status statusOf(const http::http_response& response, const std::string& what) {
  const int code = response.status_code();
  std::string detail;
  try {
    const web::json::value body = response.extract_json(true).get();
    if (body.has_field("message")) detail = ": " + body.at("message").as_string();
  } catch (const std::exception&) {
  }
  const std::string message = what + " answered " + std::to_string(code) + detail;
  if (code == 401 || code == 403) return permissionDenied(message);
  if (code == 404) return notFound(message);
  if (code >= 400 && code < 500) return invalidArgument(message);
  return unavailable(message);
}

class CpprestClient final : public AdoptionClient {
public:
  CpprestClient(const ClientOptions& o, std::shared_ptr<const pki::ClientTls> tls)
      : options_(o),
        client_(web::uri(o.server), configOf(o, std::move(tls))),
        prefix_("/v1/namespaces/" + o.ns + "/rotations/" + o.rotation) {}

  StatusOr<std::optional<std::string>> fetchBundle(const std::string& etag) override {
    http::http_request request(http::methods::GET);
    request.set_request_uri(prefix_ + "/bundle");
    authorize(request);
    if (!etag.empty()) request.headers().add("If-None-Match", etag);
    return call<std::optional<std::string>>(request, "GET bundle", [](http::http_response& r) {
      if (r.status_code() == http::status_codes::NotModified) return StatusOr<std::optional<std::string>>(std::nullopt);
      if (r.status_code() != http::status_codes::OK)
        return StatusOr<std::optional<std::string>>(statusOf(r, "GET bundle"));
      const std::vector<unsigned char> bytes = r.extract_vector().get();
      return StatusOr<std::optional<std::string>>(std::string(bytes.begin(), bytes.end()));
    });
  }

  Status report(const std::vector<std::string>& trusted, const std::string& version) override {
    web::json::value body = web::json::value::object();
    std::vector<web::json::value> list;
    for (const std::string& fp : trusted) list.push_back(web::json::value::string(fp));
    body["trusted"] = web::json::value::array(list);
    if (!version.empty()) body["version"] = web::json::value::string(version);
    http::http_request request(http::methods::PUT);
    request.set_request_uri(prefix_ + "/agents/" + options_.agentId);
    authorize(request);
    request.set_body(body);
    return call<bool>(request, "PUT check-in",
                      [](http::http_response& r) {
                        if (r.status_code() != http::status_codes::OK)
                          return StatusOr<bool>(statusOf(r, "PUT check-in"));
                        return StatusOr<bool>(true);
                      })
        .status();
  }

private:
  static http::client::http_client_config configOf(const ClientOptions& o, std::shared_ptr<const pki::ClientTls> tls) {
    http::client::http_client_config config;
    config.set_timeout(o.timeout);
    config.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) { tls->applyTo(ctx.native_handle()); });
    return config;
  }

  void authorize(http::http_request& request) const {
    if (!options_.token.empty()) request.headers().add("Authorization", "Bearer " + options_.token);
  }

  template <typename T, typename OnResponse>
  StatusOr<T> call(http::http_request& request, const std::string& what, OnResponse onResponse) {
    try {
      http::http_response response = client_.request(request).get();
      return onResponse(response);
    } catch (const std::exception& e) {
      return unavailable(what + " failed: " + e.what());
    }
  }

  ClientOptions options_;
  http::client::http_client client_;
  std::string prefix_;
};

}  // namespace

StatusOr<std::unique_ptr<AdoptionClient>> makeHttpClient(const ClientOptions& options) {
  // cpprest's default pool starts 40 threads; an agent makes one request at a time.
  static std::once_flag pool;
  std::call_once(pool, [] { crossplat::threadpool::initialize_with_threads(2); });
  auto tls = pki::ClientTls::fromFiles(options.serverCaFile, options.clientCertFile, options.clientKeyFile);
  if (!tls.ok()) return tls.status();
  try {
    return std::unique_ptr<AdoptionClient>(
        std::make_unique<CpprestClient>(options, std::make_shared<const pki::ClientTls>(std::move(tls).value())));
  } catch (const std::exception& e) {
    return invalidArgument("cannot use adoption API address " + options.server + ": " + e.what());
  }
}

StatusOr<HttpAnswer> httpGet(const std::string& url, std::chrono::seconds timeout) {
  try {
    http::client::http_client_config config;
    config.set_timeout(timeout);
    http::client::http_client client(web::uri(url), config);
    http::http_response response = client.request(http::methods::GET).get();
    const std::vector<unsigned char> bytes = response.extract_vector().get();
    return HttpAnswer{response.status_code(), std::string(bytes.begin(), bytes.end())};
  } catch (const std::exception& e) {
    return unavailable("GET " + url + ": " + e.what());
  }
}

}  // namespace rotor::agent
