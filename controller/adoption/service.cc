#include "controller/adoption/service.h"

#include <nlohmann/json.hpp>

#include "controller/api/json_codec.h"
#include "controller/api/validate.h"
#include "controller/common/fingerprint.h"
#include "controller/common/strings.h"
#include "controller/pki/digest.h"

namespace rotor::adoption {
namespace {

using nlohmann::json;

http::HttpResponse jsonResponse(int status, const json& body) {
  return {status, "application/json", api::dumpJson(body) + "\n", {}};
}

http::HttpResponse refusal(int status, std::string_view reason, std::string_view message) {
  return jsonResponse(status, {{"code", status}, {"reason", reason}, {"message", message}});
}

http::HttpResponse unauthorized(std::string_view message, bool invalidToken) {
  http::HttpResponse r = refusal(401, "Unauthorized", message);
  r.headers.emplace_back("WWW-Authenticate",
                         invalidToken ? "Bearer realm=\"rotor\", error=\"invalid_token\"" : "Bearer realm=\"rotor\"");
  return r;
}

/** Path segments of the target, without its query. */
std::vector<std::string> segmentsOf(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string> out;
  for (std::string& s : split(target, '/')) {
    if (!s.empty()) out.push_back(std::move(s));
  }
  return out;
}

/** True when the If-None-Match header names `etag` (or is "*"). */
bool matchesEtag(std::string_view header, const std::string& etag) {
  for (const std::string& part : split(header, ',')) {
    std::string_view tag = trim(part);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

/** The index of the stored digest the token matches, or -1. The lookup is by the token's SHA-256,
 *  so its timing can only tell how a stored digest compares with the digest of what was presented,
 *  which says nothing about any token (that would take a preimage): no constant-time scan of every
 *  digest is needed, and a rotation may have hundreds of tokens. */
int matchingToken(std::string_view token, const std::unordered_map<std::string, int>& digestIndex) {
  const auto it = digestIndex.find(pki::sha256Hex(token));
  return it == digestIndex.end() ? -1 : it->second;
}

}  // namespace

std::string_view checkInResultName(CheckInResult result) {
  switch (result) {
    case CheckInResult::kAccepted:
      return "accepted";
    case CheckInResult::kBadRequest:
      return "bad_request";
    case CheckInResult::kUnauthorized:
      return "unauthorized";
    case CheckInResult::kNotFound:
      return "not_found";
    case CheckInResult::kError:
      return "error";
    case CheckInResult::kCount:
      break;
  }
  return "unknown";
}

void AdoptionService::invalidate(const api::ObjectKey& key) {
  std::lock_guard lock(viewsMu_);
  views_.erase(key);
}

StatusOr<std::shared_ptr<const AdoptionService::View>> AdoptionService::viewOf(const api::ObjectKey& key) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(viewsMu_);
    if (auto it = views_.find(key); it != views_.end() && now - it->second->readAt < kViewTtl) return it->second;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const View> view, readView(key));
  std::lock_guard lock(viewsMu_);
  views_[key] = view;
  return view;
}

StatusOr<std::shared_ptr<const AdoptionService::View>> AdoptionService::readView(const api::ObjectKey& key) {
  auto view = std::make_shared<View>();
  view->readAt = std::chrono::steady_clock::now();
  StatusOr<store::CertificateRotation> r = rotations_.getRotation(key);
  if (r.status().code() == Code::kNotFound) return std::shared_ptr<const View>(view);
  RETURN_IF_ERROR(r.status());
  view->exists = true;
  view->uid = r->metadata.uid;
  ASSIGN_OR_RETURN(view->tokenDigests, tokens_.readAgentTokenDigests(key));
  for (size_t i = 0; i < view->tokenDigests.size(); ++i)
    view->tokenIndex.emplace(view->tokenDigests[i], static_cast<int>(i));
  ASSIGN_OR_RETURN(store::Versioned<std::optional<std::string>> bundle, bundles_.readBundle(*r));
  if (bundle.value) {
    view->bundlePem = *bundle.value;
    view->etag = "\"" + pki::sha256Hex(view->bundlePem) + "\"";
  }
  return std::shared_ptr<const View>(view);
}

http::HttpResponse AdoptionService::count(CheckInResult result, http::HttpResponse response) {
  checkIns_[static_cast<size_t>(result)].fetch_add(1, std::memory_order_relaxed);
  return response;
}

http::HttpResponse AdoptionService::handle(const http::HttpRequest& request) {
  const std::vector<std::string> path = segmentsOf(request.target);
  const bool bundlePath = path.size() == 6 && path[5] == "bundle";
  const bool agentPath = path.size() == 7 && path[5] == "agents";
  if (!(bundlePath || agentPath) || path[0] != "v1" || path[1] != "namespaces" || path[3] != "rotations") {
    return refusal(404, "NotFound", "no such endpoint; see docs/adoption-api.md");
  }
  const bool put = request.method == "PUT";
  if ((bundlePath && request.method != "GET" && request.method != "HEAD") || (agentPath && !put)) {
    http::HttpResponse r = refusal(405, "MethodNotAllowed", request.method + " is not allowed here");
    r.headers.emplace_back("Allow", bundlePath ? "GET, HEAD" : "PUT");
    return agentPath ? count(CheckInResult::kBadRequest, std::move(r)) : r;
  }
  const auto done = [&](CheckInResult result, http::HttpResponse r) { return put ? count(result, std::move(r)) : r; };
  const api::ObjectKey key{path[2], path[4]};
  if (!api::isDns1123Label(key.ns) || !api::isDns1123Subdomain(key.name)) {
    return done(CheckInResult::kBadRequest, refusal(400, "InvalidName", "namespace or rotation name is not valid"));
  }
  if (Status id = agentPath ? store::validateAgentId(path[6]) : okStatus(); !id.ok()) {
    return done(CheckInResult::kBadRequest, refusal(400, "InvalidAgentId", id.message()));
  }
  StatusOr<std::shared_ptr<const View>> view = viewOf(key);
  if (!view.ok()) {
    return done(CheckInResult::kError, refusal(503, "Unavailable", "the rotation cannot be read now; retry"));
  }
  if (!(*view)->exists) {
    return done(CheckInResult::kNotFound,
                refusal(404, "RotationNotFound", "CertificateRotation " + key.toString() + " does not exist"));
  }
  Caller caller = authorize(request, **view, agentPath ? path[6] : std::string());
  if (caller.unknownToken && std::chrono::steady_clock::now() - (*view)->readAt >= kUnknownTokenRereadAfter) {
    invalidate(key);
    view = viewOf(key);
    if (!view.ok() || !(*view)->exists) {
      return done(CheckInResult::kError, refusal(503, "Unavailable", "the rotation cannot be read now; retry"));
    }
    caller = authorize(request, **view, agentPath ? path[6] : std::string());
  }
  if (caller.refusal) return done(CheckInResult::kUnauthorized, std::move(*caller.refusal));
  return agentPath ? putAgent(request, key, **view, path[6], caller.token) : getBundle(request, **view);
}

AgentRegistry::AdmitNew AdoptionService::admissionFor(const api::ObjectKey& key, const View& view, int token) {
  if (token < 0 || options_.agentsPerToken == 0) return {};
  return [this, counter = std::pair{key, view.tokenDigests[static_cast<size_t>(token)]}] {
    std::lock_guard lock(admittedMu_);
    size_t& admitted = admitted_[counter];
    if (admitted >= options_.agentsPerToken) return false;
    ++admitted;
    return true;
  };
}

AdoptionService::Caller AdoptionService::authorize(const http::HttpRequest& request, const View& view,
                                                   const std::string& agentId) {
  constexpr std::string_view kBearer = "Bearer ";
  if (request.authorization.starts_with(kBearer)) {
    const int token =
        matchingToken(trim(std::string_view(request.authorization).substr(kBearer.size())), view.tokenIndex);
    if (token >= 0) return {token, std::nullopt};
    return {-1, unauthorized("the bearer token is not valid for this rotation", true), true};
  }
  if (!request.authorization.empty()) {
    return {-1, unauthorized("only Bearer authorization is supported", true)};
  }
  if (request.clientIdentity) {
    if (agentId.empty() || *request.clientIdentity == agentId) return {};
    return {-1, refusal(403, "Forbidden", "a client certificate may only report for the agent id it names")};
  }
  return {-1, unauthorized("a bearer token or a client certificate is required", false)};
}

http::HttpResponse AdoptionService::getBundle(const http::HttpRequest& request, const View& view) {
  if (view.etag.empty()) {
    return refusal(404, "NoBundleYet", "the rotation has not written its trust bundle yet; retry");
  }
  http::HttpResponse r;
  r.headers.emplace_back("ETag", view.etag);
  r.headers.emplace_back("Cache-Control", "no-cache");
  if (!request.ifNoneMatch.empty() && matchesEtag(request.ifNoneMatch, view.etag)) {
    r.status = 304;
    return r;
  }
  r.contentType = "application/x-pem-file";
  r.body = request.method == "HEAD" ? std::string() : view.bundlePem;
  return r;
}

http::HttpResponse AdoptionService::putAgent(const http::HttpRequest& request, const api::ObjectKey& key,
                                             const View& view, const std::string& agentId, int token) {
  const auto bad = [&](std::string_view reason, std::string_view message) {
    return count(CheckInResult::kBadRequest, refusal(400, reason, message));
  };
  if (request.body.size() > kMaxBodyBytes) {
    return count(
        CheckInResult::kBadRequest,
        refusal(413, "BodyTooLarge", "a check-in body is at most " + std::to_string(kMaxBodyBytes) + " bytes"));
  }
  const std::string_view type = trim(std::string_view(request.contentType).substr(0, request.contentType.find(';')));
  if (!type.empty() && toLower(type) != "application/json") {
    return count(CheckInResult::kBadRequest, refusal(415, "UnsupportedMediaType", "the body must be application/json"));
  }
  const json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return bad("MalformedBody", "the body must be a JSON object {\"trusted\": [...], \"version\": \"...\"}");
  }
  CheckIn report{agentId, {}, {}};
  const auto trusted = body.find("trusted");
  if (trusted == body.end() || !trusted->is_array()) {
    return bad("MissingTrusted", "\"trusted\" must be an array of \"sha256:<hex>\" fingerprints");
  }
  if (trusted->size() > kMaxTrusted) {
    return bad("TooManyFingerprints", "at most " + std::to_string(kMaxTrusted) + " fingerprints per agent");
  }
  for (const json& item : *trusted) {
    StatusOr<Fingerprint> fp = item.is_string() ? Fingerprint::parse(item.get<std::string>())
                                                : StatusOr<Fingerprint>(invalidArgument("not a string"));
    if (!fp.ok()) {
      return bad("InvalidFingerprint", "each entry of \"trusted\" must read sha256:<64 hex digits>");
    }
    report.trusted.push_back(fp->toString());
  }
  if (const auto version = body.find("version"); version != body.end()) {
    if (!version->is_string()) return bad("InvalidVersion", "\"version\" must be a string");
    report.version = version->get<std::string>();
  }
  Status s = registry_.checkIn(key, report, view.uid, admissionFor(key, view, token));
  if (s.code() == Code::kInvalidArgument) return bad("InvalidCheckIn", s.message());
  if (s.code() == Code::kResourceExhausted) {
    return count(CheckInResult::kUnauthorized,
                 refusal(403, "TooManyAgents",
                         "this bearer token has registered its limit of " + std::to_string(options_.agentsPerToken) +
                             " new agents; give further agents a token of their own (rotor token)"));
  }
  if (s.code() == Code::kNotFound) {
    invalidate(key);  // the view may name a rotation deleted since
    return count(CheckInResult::kNotFound,
                 refusal(404, "RotationNotFound", "CertificateRotation " + key.toString() + " does not exist"));
  }
  if (!s.ok()) return count(CheckInResult::kError, refusal(503, "Unavailable", "the check-in could not be recorded"));
  const std::string etag = view.etag.empty() ? std::string() : view.etag.substr(1, view.etag.size() - 2);
  return count(CheckInResult::kAccepted, jsonResponse(200, {{"bundleEtag", etag}}));
}

}  // namespace rotor::adoption
