// Watch-event decoding: any bytes as the body of a watch of CertificateRotations, one event per
// line, through the Client as the Reflector uses it, then each object through the decoder the
// Kubernetes store uses, and through the pod summary the watch of consumer pods keeps (and into
// its index and a tally). Never crashes.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "controller/api/json_codec.h"
#include "controller/api/validate.h"
#include "controller/kube/client.h"
#include "controller/store/kube/consumer_pods.h"

using namespace rotor;

namespace {

/** Answers every streamed request with the fuzz input, line by line. */
class InputTransport final : public kube::Transport {
public:
  explicit InputTransport(std::string_view body) : body_(body) {}
  StatusOr<kube::ApiResponse> send(const kube::ApiRequest&) override { return kube::ApiResponse{200, "{}", {}, {}}; }
  StatusOr<kube::ApiResponse> stream(const kube::ApiRequest&, const std::function<bool(std::string_view)>& onLine,
                                     std::stop_token) override {
    std::string_view rest = body_;
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      if (!onLine(rest.substr(0, end))) break;
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
    return kube::ApiResponse{200, "", {}, {}};
  }

private:
  std::string_view body_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  InputTransport transport(std::string_view(reinterpret_cast<const char*>(data), size));
  kube::Client client(transport);
  store::kube::ConsumerPodIndex pods;
  (void)client.watch(kube::kRotations, "", {},
                     [&pods](const kube::WatchEvent& event) {
                       auto rotation = api::decodeRotation(event.object);
                       if (rotation.ok()) (void)api::validateRotation(*rotation, api::Mode::kKubernetes);
                       pods.apply(event.type, event.object);
                     },
                     {});
  (void)pods.tally({"ca", {"", "default"}, std::nullopt, api::LabelSelector{}, {"sha256:", SystemTime()}});
  // Readers of a ClusterTrustBundle, by name or by signer and labels, in every namespace.
  (void)pods.tally({"ca",
                    {"default"},
                    api::ClusterTrustBundleSpec{"example.com:edge:ca", "example.com/edge", {{"app", "edge"}}},
                    std::nullopt,
                    {"sha256:", SystemTime()}});
  return 0;
}
