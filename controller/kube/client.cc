#include "controller/kube/client.h"

#include <algorithm>
#include <thread>

#include "controller/api/json_codec.h"
#include "controller/kube/api_error.h"

namespace rotor::kube {
namespace {

/** Percent-encodes a query value (continue tokens hold '=', selectors ',' and '!'). */
std::string queryEscape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : value) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[static_cast<unsigned char>(c) >> 4];
      out += kHex[static_cast<unsigned char>(c) & 0xF];
    }
  }
  return out;
}

/** Builds "path?k=v&k=v", skipping empty values. */
class Target {
public:
  explicit Target(std::string path) : text_(std::move(path)) {}
  Target& add(std::string_view key, std::string_view value) {
    if (value.empty()) return *this;
    text_ += first_ ? '?' : '&';
    first_ = false;
    text_.append(key).append("=").append(queryEscape(value));
    return *this;
  }
  std::string str() const { return text_; }

private:
  std::string text_;
  bool first_ = true;
};

StatusOr<json> parseBody(const std::string& body) {
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return unavailable("the Kubernetes API answered with a body that is not JSON");
  return parsed;
}

std::string nameOf(const json& object) { return object.value("/metadata/name"_json_pointer, std::string()); }

std::string_view contentTypeOf(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
  }
  return "";
}

}  // namespace

std::string ResourceType::apiVersion() const {
  return group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
}

std::string ResourceType::path(std::string_view ns, std::string_view name, std::string_view subresource) const {
  std::string out = group.empty() ? "/api/" + std::string(version) : "/apis/" + apiVersion();
  if (namespaced && !ns.empty()) out.append("/namespaces/").append(ns);
  out.append("/").append(plural);
  if (!name.empty()) out.append("/").append(name);
  if (!subresource.empty()) out.append("/").append(subresource);
  return out;
}

Status statusOfAnswer(const ApiResponse& response) {
  if (response.status >= 200 && response.status < 300) return Status();
  return decodeApiError(response.status, response.body, response.retryAfter).toStatus();
}

Client::Client(Transport& transport, ClientOptions options) : transport_(transport), options_(std::move(options)) {
  if (!options_.sleep) options_.sleep = [](std::chrono::seconds d) { std::this_thread::sleep_for(d); };
}

StatusOr<json> Client::call(const ApiRequest& request) {
  for (int attempt = 0;; ++attempt) {
    auto response = transport_.send(request);
    if (!response.ok()) return response.status();
    if (response->status >= 200 && response->status < 300) return parseBody(response->body);
    const ApiError error = decodeApiError(response->status, response->body, response->retryAfter);
    const bool throttled = response->status == 429 || (response->status == 503 && error.retryAfterSeconds);
    if (!throttled || attempt >= options_.throttledRetries) return error.toStatus();
    const auto wait = std::chrono::seconds(
        std::clamp(error.retryAfterSeconds.value_or(1), 1, static_cast<int>(options_.maxRetryAfter.count())));
    options_.sleep(wait);
  }
}

StatusOr<json> Client::get(const ResourceType& type, std::string_view ns, std::string_view name) {
  return call({"GET", type.path(ns, name), "", ""});
}

StatusOr<ObjectList> Client::list(const ResourceType& type, std::string_view ns, const ListOptions& options) {
  ObjectList out;
  ASSIGN_OR_RETURN(out.resourceVersion,
                   listEach(
                       type, ns, options, [&out](json& item) { out.items.push_back(std::move(item)); },
                       [&out] { out.items.clear(); }));
  return out;
}

StatusOr<std::string> Client::listEach(const ResourceType& type, std::string_view ns, const ListOptions& options,
                                       const std::function<void(json& item)>& onItem,
                                       const std::function<void()>& restarted) {
  bool startedOver = false;
  std::string resourceVersion;
  std::string continueToken;
  while (true) {
    const std::string target = Target(type.path(ns))
                                   .add("labelSelector", options.labelSelector)
                                   .add("fieldSelector", options.fieldSelector)
                                   .add("limit", std::to_string(options.pageSize))
                                   .add("continue", continueToken)
                                   .str();
    auto page = call({"GET", target, "", ""});
    if (!page.ok()) {
      // A continue token outlives compaction only so long: start over, once, from a fresh list.
      if (page.status().code() == Code::kGone && !continueToken.empty() && !startedOver) {
        startedOver = true;
        resourceVersion.clear();
        continueToken.clear();
        if (restarted) restarted();
        continue;
      }
      return page.status();
    }
    if (auto items = page->find("items"); items != page->end() && items->is_array()) {
      for (json& item : *items) onItem(item);
    }
    // The first page's resourceVersion is the snapshot every later page is read at.
    if (resourceVersion.empty()) {
      resourceVersion = page->value("/metadata/resourceVersion"_json_pointer, std::string());
    }
    continueToken = page->value("/metadata/continue"_json_pointer, std::string());
    if (continueToken.empty()) return resourceVersion;
  }
}

// Every write asks for strict field validation: a field the server does not know is an error,
// not silently pruned behind a Warning header (servers before 1.25 ignore the parameter).
constexpr std::string_view kStrict = "?fieldValidation=Strict";

StatusOr<json> Client::create(const ResourceType& type, std::string_view ns, const json& object) {
  return call({"POST", type.path(ns) + std::string(kStrict), "application/json", api::dumpJson(object)});
}

StatusOr<bool> Client::allowed(std::string_view verb, const ResourceType& type, std::string_view ns) {
  json attributes = {{"verb", verb}, {"group", type.group}, {"resource", type.plural}};
  if (!ns.empty()) attributes["namespace"] = ns;
  ASSIGN_OR_RETURN(json review, create(kSelfSubjectAccessReviews, "",
                                       {{"apiVersion", kSelfSubjectAccessReviews.apiVersion()},
                                        {"kind", kSelfSubjectAccessReviews.kind},
                                        {"spec", {{"resourceAttributes", attributes}}}}));
  const json allowed = review.value("/status/allowed"_json_pointer, json());
  if (!allowed.is_boolean()) return internalError("the API server's access review carries no status.allowed");
  return allowed.get<bool>();
}

StatusOr<bool> Client::serves(const ResourceType& type) {
  const std::string path = type.group.empty() ? "/api/" + std::string(type.version) : "/apis/" + type.apiVersion();
  StatusOr<json> list = call({"GET", path, "", ""});
  if (list.status().code() == Code::kNotFound) return false;  // the group or version is not served
  if (!list.ok()) return list.status();
  const json resources = list->value("resources", json::array());
  if (!resources.is_array()) return false;
  return std::any_of(resources.begin(), resources.end(),
                     [&](const json& r) { return r.is_object() && r.value("name", "") == type.plural; });
}

StatusOr<json> Client::update(const ResourceType& type, std::string_view ns, const json& object) {
  return call({"PUT", type.path(ns, nameOf(object)) + std::string(kStrict), "application/json", api::dumpJson(object)});
}

StatusOr<json> Client::updateStatus(const ResourceType& type, std::string_view ns, const json& object) {
  return call({"PUT", type.path(ns, nameOf(object), "status") + std::string(kStrict), "application/json",
               api::dumpJson(object)});
}

StatusOr<json> Client::patch(const ResourceType& type, std::string_view ns, std::string_view name, PatchType patchType,
                             const json& patch) {
  return call({"PATCH", type.path(ns, name) + std::string(kStrict), std::string(contentTypeOf(patchType)),
               api::dumpJson(patch)});
}

StatusOr<json> Client::createSubresource(const ResourceType& type, std::string_view ns, std::string_view name,
                                         std::string_view subresource, const json& object) {
  return call(
      {"POST", type.path(ns, name, subresource) + std::string(kStrict), "application/json", api::dumpJson(object)});
}

Status Client::remove(const ResourceType& type, std::string_view ns, std::string_view name,
                      const DeleteOptions& options) {
  ApiRequest request{"DELETE", type.path(ns, name), "", ""};
  json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (!options.uid.empty()) body["preconditions"]["uid"] = options.uid;
  if (!options.resourceVersion.empty()) body["preconditions"]["resourceVersion"] = options.resourceVersion;
  if (options.gracePeriodSeconds) body["gracePeriodSeconds"] = *options.gracePeriodSeconds;
  if (body.size() > 2) {
    request.contentType = "application/json";
    request.body = api::dumpJson(body);
  }
  return call(request).status();
}

Status Client::watch(const ResourceType& type, std::string_view ns, const WatchOptions& options,
                     const std::function<void(const WatchEvent&)>& onEvent, std::stop_token stop) {
  const std::string target = Target(type.path(ns))
                                 .add("watch", "1")
                                 .add("resourceVersion", options.resourceVersion)
                                 .add("labelSelector", options.labelSelector)
                                 .add("allowWatchBookmarks", options.allowBookmarks ? "true" : "")
                                 .add("timeoutSeconds", std::to_string(options.timeoutSeconds))
                                 .str();
  Status ended;
  auto response = transport_.stream(
      {"GET", target, "", ""},
      [&](std::string_view line) {
        if (line.empty()) return true;
        json event = json::parse(line, nullptr, false);
        if (event.is_discarded() || !event.is_object() || !event.contains("type") || !event["type"].is_string() ||
            !event.contains("object") || !event["object"].is_object()) {
          ended = unavailable("the watch stream carried an event that is not a watch event");
          return false;
        }
        WatchEvent decoded{event["type"].get<std::string>(), std::move(event["object"])};
        if (decoded.type == "ERROR") {
          ended = decodeStatusObject(decoded.object).toStatus();
          return false;
        }
        onEvent(decoded);
        return true;
      },
      stop);
  if (!response.ok()) return response.status();
  if (Status s = statusOfAnswer(*response); !s.ok()) return s;
  return ended;
}

}  // namespace rotor::kube
