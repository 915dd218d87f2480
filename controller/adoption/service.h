#pragma once

// The adoption API's handlers (docs/adoption-api.md is the wire format):
//   GET /v1/namespaces/{ns}/rotations/{name}/bundle             the trust bundle; ETag, 304
//   PUT /v1/namespaces/{ns}/rotations/{name}/agents/{agentId}   what the agent trusts now
// Every refusal is a precise 4xx with a JSON body {"code","reason","message"} and changes nothing.

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/adoption/registry.h"
#include "controller/common/clock.h"
#include "controller/http/http.h"
#include "controller/store/agent_store.h"
#include "controller/store/bundle_store.h"
#include "controller/store/rotation_store.h"

namespace rotor::adoption {

/** Largest PUT body accepted; a check-in is a few hundred bytes. */
inline constexpr size_t kMaxBodyBytes = 16 * 1024;
/** Most fingerprints one agent may report. */
inline constexpr size_t kMaxTrusted = 64;

struct ServiceOptions {
  /** Most new agent ids one bearer token may register while this process runs (0: no limit).
   *  Agents already known are never refused; a leaked token cannot fill memory with made-up ids. */
  size_t agentsPerToken = 2000;
};

/** Check-in outcomes, counted for rotor_agent_checkins_total{result}. */
enum class CheckInResult { kAccepted, kBadRequest, kUnauthorized, kNotFound, kError, kCount };
std::string_view checkInResultName(CheckInResult result);

class AdoptionService {
public:
  /** How long what the service read about a rotation (existence, token digests, bundle) is
   *  reused before it is read again; writes through AdoptionStore invalidate it at once. */
  static constexpr std::chrono::seconds kViewTtl{2};
  /** An unknown bearer token reads the rotation's tokens again when what was read is older than
   *  this: a token `rotor token` (another process) has just stored works at once, and a stream
   *  of wrong tokens costs the store at most ten reads a second per rotation. */
  static constexpr std::chrono::milliseconds kUnknownTokenRereadAfter{100};

  AdoptionService(store::RotationStore& rotations, store::BundleStore& bundles, store::AgentTokenStore& tokens,
                  AgentRegistry& registry, const Clock& clock, ServiceOptions options = {})
      : rotations_(rotations),
        bundles_(bundles),
        tokens_(tokens),
        registry_(registry),
        clock_(clock),
        options_(options) {}

  http::HttpResponse handle(const http::HttpRequest& request);

  /** Forgets what was read about the rotation (its bundle or tokens changed, or it was deleted). */
  void invalidate(const api::ObjectKey& key);

  uint64_t checkIns(CheckInResult result) const { return checkIns_[static_cast<size_t>(result)].load(); }

private:
  /** What the handlers need to know of a rotation, read together and cached for kViewTtl. */
  struct View {
    bool exists = false;
    std::string uid;  // check-ins go to this rotation, not to one created again under its name
    std::vector<std::string> tokenDigests;
    std::unordered_map<std::string, int> tokenIndex;  // digest -> its index in tokenDigests
    std::string bundlePem;
    std::string etag;  // quoted SHA-256 of bundlePem; empty while there is no bundle
    std::chrono::steady_clock::time_point readAt;
  };

  StatusOr<std::shared_ptr<const View>> viewOf(const api::ObjectKey& key);
  StatusOr<std::shared_ptr<const View>> readView(const api::ObjectKey& key);
  /** Who a request acts as: the index of its token in View::tokenDigests, or -1 (a client
   *  certificate); or the refusal when it may not act for `agentId` (empty: any agent). */
  struct Caller {
    int token = -1;
    std::optional<http::HttpResponse> refusal;
    bool unknownToken = false;  // a bearer token none of the view's digests matches
  };
  Caller authorize(const http::HttpRequest& request, const View& view, const std::string& agentId);
  /** Counts the new agents `token` registers and refuses them past the limit; empty (no limit)
   *  for a client certificate or when the options set none. */
  AgentRegistry::AdmitNew admissionFor(const api::ObjectKey& key, const View& view, int token);
  http::HttpResponse getBundle(const http::HttpRequest& request, const View& view);
  http::HttpResponse putAgent(const http::HttpRequest& request, const api::ObjectKey& key, const View& view,
                              const std::string& agentId, int token);
  http::HttpResponse count(CheckInResult result, http::HttpResponse response);

  store::RotationStore& rotations_;
  store::BundleStore& bundles_;
  store::AgentTokenStore& tokens_;
  AgentRegistry& registry_;
  const Clock& clock_;
  const ServiceOptions options_;
  std::mutex admittedMu_;
  std::map<std::pair<api::ObjectKey, std::string>, size_t> admitted_;  // (rotation, token digest) -> new ids
  std::mutex viewsMu_;
  std::map<api::ObjectKey, std::shared_ptr<const View>> views_;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(CheckInResult::kCount)> checkIns_{};
};

}  // namespace rotor::adoption
