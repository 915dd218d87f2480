#include "tests/support/fake_apiserver.h"

#include <algorithm>
#include <array>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "controller/common/strings.h"
#include "controller/pki/base64.h"
#include "controller/pki/certificate.h"
#include "controller/pki/digest.h"
#include "tests/support/managed_fields.h"
#include "tests/support/structural_schema.h"

namespace rotor::testing {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using nlohmann::json;
using nlohmann::ordered_json;

HttpResponse respond(int status, const ordered_json& body) {
  return {status, "application/json", body.dump() + "\n", {}, {}};
}
HttpResponse respond(int status, const json& body) { return {status, "application/json", body.dump() + "\n", {}, {}}; }

/** A Failure Status as the API server writes it (its key order too). */
HttpResponse failure(int code, const std::string& reason, const std::string& message, ordered_json details) {
  ordered_json body = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
                       {"status", "Failure"}, {"message", message}, {"reason", reason}};
  if (!details.is_null()) body["details"] = std::move(details);
  body["code"] = code;
  return respond(code, body);
}

/** The manager name Kubernetes derives from a User-Agent: everything before the first '/'. */
constexpr const char* kRootCaDescription =
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the "
    "internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes "
    "clusters.";

std::string managerOf(const HttpRequest& request) {
  const std::string agent = request.userAgent.empty() ? "unknown" : request.userAgent;
  return agent.substr(0, agent.find('/'));
}

std::string randomUid() {
  static std::mt19937_64 random{std::random_device{}()};
  std::uniform_int_distribution<int> hex(0, 15);
  std::string uid = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (char& c : uid) {
    if (c == 'x' || c == 'y') c = "0123456789abcdef"[c == 'x' ? hex(random) : 8 + hex(random) % 4];
  }
  return uid;
}

/** generateName's suffix: five characters from Kubernetes' alphabet (no vowels, no 0/1/3). */
std::string randomSuffix() {
  static std::mt19937 random{std::random_device{}()};
  static const std::string alphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (int i = 0; i < 5; ++i) out += alphabet[random() % alphabet.size()];
  return out;
}

std::string urlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> queryOf(const std::string& query) {
  std::map<std::string, std::string> out;
  for (const std::string& pair : split(query, '&')) {
    const size_t eq = pair.find('=');
    if (!pair.empty())
      out[urlDecode(pair.substr(0, eq))] = eq == std::string::npos ? "" : urlDecode(pair.substr(eq + 1));
  }
  return out;
}

/** The field selector's terms ("metadata.name=x,metadata.namespace!=y") as field, op, value. */
std::vector<std::array<std::string, 3>> fieldTerms(const std::string& selector) {
  std::vector<std::array<std::string, 3>> terms;
  size_t from = 0;
  while (from < selector.size()) {
    size_t comma = selector.find(',', from);
    if (comma == std::string::npos) comma = selector.size();
    const std::string term = selector.substr(from, comma - from);
    from = comma + 1;
    const size_t op = term.find_first_of("!=");
    if (op == std::string::npos) continue;
    const size_t valueAt = term.find_first_not_of("!=", op);
    terms.push_back({term.substr(0, op), term.substr(op, (valueAt == std::string::npos ? term.size() : valueAt) - op),
                     valueAt == std::string::npos ? "" : term.substr(valueAt)});
  }
  return terms;
}

/** Every resource answers field selectors on metadata.name and metadata.namespace; the first
 *  other field named, which the API server refuses (for ConfigMaps, Secrets and the resources
 *  rotor lists this way: '"data.k" is not a known field selector: only "metadata.name",
 *  "metadata.namespace"'). */
std::optional<std::string> unsupportedField(const std::string& selector) {
  for (const auto& [field, op, value] : fieldTerms(selector)) {
    if (field != "metadata.name" && field != "metadata.namespace") return field;
  }
  return std::nullopt;
}

bool fieldsMatch(const std::string& selector, const json& meta) {
  for (const auto& [field, op, value] : fieldTerms(selector)) {
    const std::string actual = meta.value(field == "metadata.name" ? "name" : "namespace", "");
    if ((op == "!=") == (actual == value)) return false;
  }
  return true;
}

/** Whether `labels` satisfy a selector: "k=v", "k==v", "k!=v", "k", "!k", "k in (a,b)",
 *  "k notin (a,b)", comma-separated (commas inside parentheses belong to a set). */
bool labelsMatch(const std::string& selector, const json& labels) {
  std::vector<std::string> requirements(1);
  int depth = 0;
  for (char c : selector) {
    depth += c == '(' ? 1 : c == ')' ? -1 : 0;
    if (c == ',' && depth == 0) {
      requirements.emplace_back();
    } else {
      requirements.back() += c;
    }
  }
  const auto value = [&](const std::string& k) -> std::optional<std::string> {
    return labels.is_object() && labels.contains(k) ? std::optional<std::string>(labels[k].get<std::string>())
                                                    : std::nullopt;
  };
  for (std::string r : requirements) {
    r = std::string(trim(r));
    if (r.empty()) continue;
    if (const size_t at = r.find(" notin "); at != std::string::npos || r.find(" in ") != std::string::npos) {
      const bool notIn = at != std::string::npos;
      const size_t op = notIn ? at : r.find(" in ");
      const std::string k(trim(r.substr(0, op)));
      const std::string set = r.substr(r.find('(') + 1, r.rfind(')') - r.find('(') - 1);
      bool member = false;
      for (const std::string& v : split(set, ',')) member |= value(k) == std::string(trim(v));
      if (member == notIn) return false;
    } else if (const size_t ne = r.find("!="); ne != std::string::npos) {
      if (value(std::string(trim(r.substr(0, ne)))) == std::string(trim(r.substr(ne + 2)))) return false;
    } else if (const size_t eq = r.find('='); eq != std::string::npos) {
      const size_t vAt = r.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
      if (value(std::string(trim(r.substr(0, eq)))) != std::string(trim(r.substr(vAt)))) return false;
    } else if (r.starts_with("!")) {
      if (value(r.substr(1))) return false;
    } else if (!value(r)) {
      return false;
    }
  }
  return true;
}

std::string base64Url(std::string_view bytes) {
  std::string s = pki::base64Encode(bytes);
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::optional<std::string> fromBase64Url(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4 != 0) s += '=';
  StatusOr<std::string> bytes = pki::base64Decode(s);
  return bytes.ok() ? std::optional<std::string>(*bytes) : std::nullopt;
}

}  // namespace

FakeApiServer::FakeApiServer(const Clock& clock) : clock_(clock) {
  const auto add = [&](Resource r) { resources_[r.group + "/" + r.version + "/" + r.plural] = r; };
  add({"", "v1", "namespaces", "Namespace", false, true, false, false});
  add({"", "v1", "secrets", "Secret", true, false, false, false});
  add({"", "v1", "configmaps", "ConfigMap", true, false, false, false});
  add({"", "v1", "events", "Event", true, false, false, false});
  add({"events.k8s.io", "v1", "events", "Event", true, false, false, false});
  add({"coordination.k8s.io", "v1", "leases", "Lease", true, false, false, false});
  add({"apps", "v1", "deployments", "Deployment", true, true, true, false});
  add({"", "v1", "pods", "Pod", true, true, false, false});
  add({"", "v1", "services", "Service", true, true, false, false});
  add({"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, true, true,
       false});
}

void FakeApiServer::setRootCa(std::string pem) {
  std::lock_guard lock(mu_);
  rootCaPem_ = std::move(pem);
}

uint64_t FakeApiServer::resourceVersion() const {
  std::lock_guard lock(mu_);
  return resourceVersion_;
}

ordered_json FakeApiServer::details(const Resource& r, const std::string& name, const std::string& kind) {
  ordered_json out = {{"name", name}};
  if (!r.group.empty()) out["group"] = r.group;
  out["kind"] = kind;
  return out;
}

HttpResponse FakeApiServer::notFound(const Resource& r, const std::string& name) {
  return failure(404, "NotFound", r.qualified() + " \"" + name + "\" not found", details(r, name, r.plural));
}

HttpResponse FakeApiServer::invalid(const Resource& r, const std::string& name, const ordered_json& causes) {
  std::string listed;
  for (const ordered_json& c : causes) {
    listed += (listed.empty() ? "" : ", ") + c["field"].get<std::string>() + ": " + c["message"].get<std::string>();
  }
  ordered_json refused = details(r, name, r.kind);
  refused["causes"] = causes;
  return failure(422, "Invalid",
                 r.kind + (r.group.empty() ? "" : "." + r.group) + " \"" + name +
                     "\" is invalid: " + (causes.size() == 1 ? listed : "[" + listed + "]"),
                 refused);
}

std::string FakeApiServer::nextResourceVersion() { return std::to_string(++resourceVersion_); }

std::string FakeApiServer::key(const Target& t) const {
  return t.resource->group + "/" + t.resource->plural + "/" + t.ns + "/" + t.name;
}

std::optional<FakeApiServer::Target> FakeApiServer::route(const std::string& path) const {
  std::vector<std::string> s;
  for (std::string& part : split(path.substr(0, path.find('?')), '/')) {
    if (!part.empty()) s.push_back(std::move(part));
  }
  std::string group, version;
  size_t at = 0;
  if (s.size() >= 2 && s[0] == "api") {
    version = s[1];
    at = 2;
  } else if (s.size() >= 3 && s[0] == "apis") {
    group = s[1];
    version = s[2];
    at = 3;
  } else {
    return std::nullopt;
  }
  Target t;
  std::string plural;
  const bool inNamespace = s.size() >= at + 3 && s[at] == "namespaces";
  const bool namespaceSubresource =
      inNamespace && group.empty() && s.size() == at + 3 && (s[at + 2] == "finalize" || s[at + 2] == "status");
  if (namespaceSubresource) {  // /api/v1/namespaces/<name>/finalize names the Namespace itself
    plural = s[at++];
  } else if (inNamespace) {
    t.ns = s[at + 1];
    plural = s[at + 2];
    at += 3;
  } else if (s.size() > at) {
    plural = s[at++];
  }
  if (s.size() > at) t.name = s[at++];
  if (s.size() > at) t.subresource = s[at++];
  if (s.size() > at) return std::nullopt;
  const auto it = resources_.find(group + "/" + version + "/" + plural);
  if (it == resources_.end() || (inNamespace && !namespaceSubresource && !it->second.namespaced)) return std::nullopt;
  t.resource = &it->second;
  const bool finalize = t.subresource == "finalize" && t.resource->plural == "namespaces" && t.resource->group.empty();
  if (!t.subresource.empty() && !(t.subresource == "status" && t.resource->statusSubresource) && !finalize) {
    return std::nullopt;
  }
  return t;
}

std::optional<HttpResponse> FakeApiServer::serveInfo(const HttpRequest& request) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  const auto text = [](std::string body) {
    return HttpResponse{200, "text/plain; charset=utf-8", std::move(body), {}, {}};
  };
  // These answer anyone, even without credentials.
  if (path == "/healthz" || path == "/livez") return text("ok");
  if (path == "/readyz") {
    if (request.target.find("verbose") == std::string::npos) return text("ok");
    std::string checks;
    for (const char* check : {"ping",
                              "log",
                              "etcd",
                              "etcd-readiness",
                              "informer-sync",
                              "poststarthook/start-kube-apiserver-admission-initializer",
                              "poststarthook/generic-apiserver-start-informers",
                              "poststarthook/priority-and-fairness-config-consumer",
                              "poststarthook/priority-and-fairness-filter",
                              "poststarthook/storage-object-count-tracker-hook",
                              "poststarthook/start-apiextensions-informers",
                              "poststarthook/start-apiextensions-controllers",
                              "poststarthook/crd-informer-synced",
                              "poststarthook/bootstrap-controller",
                              "poststarthook/rbac/bootstrap-roles",
                              "poststarthook/scheduling/bootstrap-system-priority-classes",
                              "poststarthook/priority-and-fairness-config-producer",
                              "poststarthook/start-cluster-authentication-info-controller",
                              "poststarthook/start-kube-aggregator-informers",
                              "poststarthook/apiservice-registration-controller",
                              "poststarthook/apiservice-status-available-controller",
                              "poststarthook/apiservice-wait-for-first-sync",
                              "poststarthook/kube-apiserver-autoregistration",
                              "autoregister-completion",
                              "poststarthook/apiservice-openapi-controller",
                              "poststarthook/apiservice-openapiv3-controller",
                              "shutdown"}) {
      checks += std::string("[+]") + check + " ok\n";
    }
    return text(checks + "readyz check passed\n");
  }
  if (path == "/version") {
    return respond(200, ordered_json{{"major", "1"},
                                     {"minor", "25"},
                                     {"gitVersion", "v1.25.9"},
                                     {"gitCommit", "1485cc947720a841d83204046599f02432d32707"},
                                     {"gitTreeState", "clean"},
                                     {"buildDate", "2026-11-22T09:44:07Z"},
                                     {"goVersion", "go1.19.8"},
                                     {"compiler", "gc"},
                                     {"platform", "linux/amd64"}});
  }
  const std::vector<std::string> parts = [&] {
    std::vector<std::string> out;
    for (std::string& p : split(path, '/')) {
      if (!p.empty()) out.push_back(std::move(p));
    }
    return out;
  }();
  if (parts.empty() || parts[0] != "apis" || parts.size() < 2 || parts.size() > 3) return std::nullopt;
  const std::string& group = parts[1];
  std::vector<const Resource*> served;
  for (const auto& [key, r] : resources_) {
    if (r.group == group && (parts.size() == 2 || r.version == parts[2])) served.push_back(&r);
  }
  if (served.empty()) return std::nullopt;
  if (request.authorization.empty() && !users_.empty()) {
    return failure(403, "Forbidden", "forbidden: User \"system:anonymous\" cannot get path \"" + path + "\"", nullptr);
  }
  if (parts.size() == 2) {
    ordered_json versions = ordered_json::array();
    std::set<std::string> listed;
    for (const Resource* r : served) {
      if (listed.insert(r->version).second)
        versions.push_back({{"groupVersion", group + "/" + r->version}, {"version", r->version}});
    }
    return respond(200, ordered_json{{"kind", "APIGroup"},
                                     {"apiVersion", "v1"},
                                     {"name", group},
                                     {"versions", versions},
                                     {"preferredVersion", versions.front()}});
  }
  ordered_json resources = ordered_json::array();
  for (const Resource* r : served) {
    ordered_json entry = {
        {"name", r->plural},
        {"singularName", r->singular},
        {"namespaced", r->namespaced},
        {"kind", r->kind},
        {"verbs", {"delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"}}};
    if (!r->shortNames.empty()) entry["shortNames"] = r->shortNames;
    if (!r->categories.empty()) entry["categories"] = r->categories;
    // Kubernetes' storage version hash: the first 8 bytes of SHA-256("group/version/Kind"), base64.
    const std::string digest = pki::sha256Hex(r->group + "/" + r->version + "/" + r->kind).substr(0, 16);
    std::string raw;
    for (size_t i = 0; i < digest.size(); i += 2) raw += static_cast<char>(std::stoi(digest.substr(i, 2), nullptr, 16));
    entry["storageVersionHash"] = pki::base64Encode(raw);
    resources.push_back(entry);
    if (r->statusSubresource) {
      resources.push_back({{"name", r->plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", r->namespaced},
                           {"kind", r->kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
  }
  return respond(200, ordered_json{{"kind", "APIResourceList"},
                                   {"apiVersion", "v1"},
                                   {"groupVersion", group + "/" + parts[2]},
                                   {"resources", resources}});
}

void FakeApiServer::freeze(bool frozen) {
  {
    std::lock_guard lock(frozenMu_);
    frozen_ = frozen;
  }
  thawed_.notify_all();
}

HttpResponse FakeApiServer::handle(const HttpRequest& request) {
  {
    std::unique_lock frozen(frozenMu_);
    thawed_.wait(frozen, [this] { return !frozen_; });
  }
  std::lock_guard lock(mu_);
  if (std::optional<HttpResponse> info = serveInfo(request)) return *info;
  if (request.method == "POST" &&
      request.target.substr(0, request.target.find('?')) == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") {
    return reviewAccess(request);
  }
  const std::optional<Target> t = route(request.target);
  if (!t) return {404, "text/plain; charset=utf-8", "404 page not found\n", {}, {}};
  const size_t q = request.target.find('?');
  const std::string query = q == std::string::npos ? "" : request.target.substr(q + 1);
  const auto params = queryOf(query);
  const bool watching = request.method == "GET" && t->name.empty() && params.contains("watch") &&
                        (params.at("watch") == "1" || params.at("watch") == "true");
  const std::map<std::string, std::string> kVerbs = {
      {"POST", "create"}, {"PUT", "update"}, {"PATCH", "patch"}, {"DELETE", "delete"}};
  const std::string verb = request.method == "GET"           ? (watching          ? "watch"
                                                                : t->name.empty() ? "list"
                                                                                  : "get")
                           : kVerbs.contains(request.method) ? kVerbs.at(request.method)
                                                             : request.method;
  if (std::optional<HttpResponse> refused = authorize(request, *t, verb)) return *refused;
  if (verb == "create" || verb == "update") {
    if (std::optional<HttpResponse> refused = admitOwnerReferences(request, *t)) return *refused;
    if (std::optional<HttpResponse> refused = admitClusterTrustBundle(request, *t)) return *refused;
  }
  if (throttledRequests_ > 0) {
    --throttledRequests_;
    HttpResponse throttled = failure(429, "TooManyRequests", "Too many requests, please try again later.",
                                     ordered_json{{"retryAfterSeconds", 1}});
    throttled.headers.emplace_back("Retry-After", "1");
    return throttled;
  }
  if ((verb == "update" || verb == "patch") && conflictingWrites_ > 0 && objects_.contains(key(*t))) {
    --conflictingWrites_;
    return failure(
        409, "Conflict",
        "Operation cannot be fulfilled on " + t->resource->qualified() + " \"" + t->name +
            "\": the object has been modified; please apply your changes to the latest version and try again",
        details(*t->resource, t->name, t->resource->plural));
  }
  if (watching) return watch(*t, query);
  if (request.method == "POST" && t->name.empty()) return create(*t, request, query);
  if (request.method == "GET" && t->name.empty()) return list(*t, query);
  if (request.method == "GET") return get(*t, query);
  if (request.method == "PUT" && !t->name.empty()) return update(*t, request);
  if (request.method == "PATCH" && !t->name.empty()) return patch(*t, request);
  if (request.method == "DELETE" && !t->name.empty()) return remove(*t, request);
  return failure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", nullptr);
}

void FakeApiServer::addUser(const std::string& token, const std::string& user, bool admin) {
  std::lock_guard lock(mu_);
  users_[token] = {user, admin};
}

void FakeApiServer::grant(const std::string& user, const std::set<std::string>& verbs, const std::string& resource,
                          const std::string& ns) {
  std::lock_guard lock(mu_);
  grants_[user][resource][ns].insert(verbs.begin(), verbs.end());
}

std::vector<std::string> FakeApiServer::forbidden() const {
  std::lock_guard lock(mu_);
  return forbidden_;
}

std::optional<std::string> FakeApiServer::callerOf(const HttpRequest& request) const {
  if (users_.empty()) return std::nullopt;
  if (request.authorization.empty()) return "system:anonymous";
  const std::string token = request.authorization.starts_with("Bearer ") ? request.authorization.substr(7) : "";
  const auto it = users_.find(token);
  if (it == users_.end()) return "";  // authenticates as nobody: 401
  if (it->second.admin) return std::nullopt;
  return it->second.name;
}

bool FakeApiServer::granted(const std::string& user, const std::string& resource, const std::string& ns,
                            const std::string& verb) const {
  const auto u = grants_.find(user);
  if (u == grants_.end()) return false;
  const auto g = u->second.find(resource);
  if (g == u->second.end()) return false;
  for (const std::string& scope : {std::string(), ns}) {
    const auto verbs = g->second.find(scope);
    if (verbs != g->second.end() && verbs->second.contains(verb) && (scope.empty() || !ns.empty())) return true;
  }
  return false;
}

HttpResponse FakeApiServer::reviewAccess(const HttpRequest& request) {
  const std::optional<std::string> caller = callerOf(request);
  if (caller && caller->empty()) return failure(401, "Unauthorized", "Unauthorized", nullptr);
  ordered_json review = ordered_json::parse(request.body, nullptr, false);
  if (!review.is_object() || !review.contains("spec") || !review["spec"].is_object()) {
    return failure(400, "BadRequest", "the access review carries no spec", nullptr);
  }
  const json attributes = json(review).value("/spec/resourceAttributes"_json_pointer, json::object());
  const auto field = [&](const char* name) {
    return attributes.is_object() && attributes.contains(name) && attributes[name].is_string()
               ? attributes[name].get<std::string>()
               : std::string();
  };
  const bool allowed =
      !caller || granted(*caller, field("group") + "/" + field("resource"), field("namespace"), field("verb"));
  review["metadata"] = {{"creationTimestamp", nullptr}};
  review["status"] = {{"allowed", allowed}};
  return respond(201, review);
}

std::optional<HttpResponse> FakeApiServer::authorize(const HttpRequest& request, const Target& t,
                                                     const std::string& verb) {
  const std::optional<std::string> caller = callerOf(request);
  if (!caller) return std::nullopt;
  if (caller->empty()) return failure(401, "Unauthorized", "Unauthorized", nullptr);
  const std::string& user = *caller;
  const Resource& r = *t.resource;
  const std::string resource = r.plural + (t.subresource.empty() ? "" : "/" + t.subresource);
  if (granted(user, r.group + "/" + resource, t.ns, verb)) return std::nullopt;
  forbidden_.push_back(verb + " " + r.group + "/" + resource);
  ordered_json refused = ordered_json::object();
  if (!t.name.empty()) refused["name"] = t.name;
  if (!r.group.empty()) refused["group"] = r.group;
  refused["kind"] = r.plural;
  return failure(403, "Forbidden",
                 r.qualified() + (t.name.empty() ? "" : " \"" + t.name + "\"") + " is forbidden: User \"" + user +
                     "\" cannot " + verb + " resource \"" + resource + "\" in API group \"" + r.group + "\"" +
                     (t.ns.empty() ? " at the cluster scope" : " in the namespace \"" + t.ns + "\""),
                 refused);
}

void FakeApiServer::serveClusterTrustBundles(const std::string& version) {
  std::lock_guard lock(mu_);
  Resource r{"certificates.k8s.io", version, "clustertrustbundles", "ClusterTrustBundle", false, false, false, false};
  r.singular = "clustertrustbundle";
  resources_[r.group + "/" + r.version + "/" + r.plural] = r;
}

std::optional<HttpResponse> FakeApiServer::admitClusterTrustBundle(const HttpRequest& request, const Target& t) {
  if (t.resource->plural != "clustertrustbundles" || t.resource->group != "certificates.k8s.io") return std::nullopt;
  const std::optional<std::string> caller = callerOf(request);
  const json body = json::parse(request.body, nullptr, false);
  const std::string signer = body.is_object() ? body.value("/spec/signerName"_json_pointer, std::string()) : "";
  if (!caller || signer.empty()) return std::nullopt;
  // The signer by name, or every signer of its domain ("example.com/*").
  if (granted(*caller, "certificates.k8s.io/signers", "", "attest")) return std::nullopt;
  forbidden_.push_back("attest certificates.k8s.io/signers");
  const std::string name = body.value("/metadata/name"_json_pointer, t.name);
  return failure(403, "Forbidden",
                 t.resource->qualified() + " \"" + name +
                     "\" is forbidden: user not permitted to attest for signerName \"" + signer + "\"",
                 details(*t.resource, name, t.resource->plural));
}

std::optional<HttpResponse> FakeApiServer::validateClusterTrustBundle(const Resource& r, const json& object) const {
  const std::string name = object.value("/metadata/name"_json_pointer, std::string());
  const std::string signer = object.value("/spec/signerName"_json_pointer, std::string());
  const auto refuse = [&](const std::string& field, const std::string& value, const std::string& why) {
    return invalid(r, name,
                   ordered_json::array({{{"reason", "FieldValueInvalid"},
                                         {"message", "Invalid value: \"" + value + "\": " + why},
                                         {"field", field}}}));
  };
  std::string prefix = signer;
  std::replace(prefix.begin(), prefix.end(), '/', ':');
  prefix += ':';
  if (signer.empty() && name.find(':') != std::string::npos) {
    return refuse("metadata.name", name, "ClusterTrustBundle without signer name must not have \":\" in its name");
  }
  if (!signer.empty() && !name.starts_with(prefix)) {
    return refuse("metadata.name", name,
                  "ClusterTrustBundle for signerName " + signer + " must be named with prefix " + prefix);
  }
  static const std::regex kSubdomain(R"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)");
  const std::string rest = signer.empty() ? name : name.substr(prefix.size());
  if (rest.size() > 253 || !std::regex_match(rest, kSubdomain)) {
    return refuse("metadata.name", name,
                  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                  "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                  "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  }
  // The trust anchors: CERTIFICATE blocks of CA certificates, each once, at least one.
  const std::string pem = object.value("/spec/trustBundle"_json_pointer, std::string());
  std::map<std::string, int> seen;  // digest -> entry
  size_t at = 0;
  for (int entry = 0;; ++entry) {
    const size_t begin = pem.find("-----BEGIN ", at);
    if (begin == std::string::npos) break;
    const size_t typeEnd = pem.find("-----", begin + 11);
    const std::string type = pem.substr(begin + 11, typeEnd - begin - 11);
    const std::string endMarker = "-----END " + type + "-----";
    const size_t end = pem.find(endMarker, typeEnd);
    if (typeEnd == std::string::npos || end == std::string::npos) break;
    at = end + endMarker.size();
    const std::string block = pem.substr(begin, at - begin);
    std::string why;
    if (type != "CERTIFICATE") {
      why = "entry " + std::to_string(entry) + " has bad block type: " + type;
    } else if (StatusOr<pki::Certificate> certificate = pki::Certificate::fromPem(block); !certificate.ok()) {
      why = "entry " + std::to_string(entry) + " does not parse as X.509";
    } else if (!certificate->hasCaBasicConstraints()) {
      why = "entry " + std::to_string(entry) + " does not have the CA bit set";
    } else if (const auto [first, added] = seen.try_emplace(pki::sha256Hex(block), entry); !added) {
      why = "duplicate trust anchor (indices [" + std::to_string(first->second) + " " + std::to_string(entry) + "])";
    }
    if (!why.empty()) return refuse("spec.trustBundle", "<value omitted>", why);
  }
  if (seen.empty()) return refuse("spec.trustBundle", "<value omitted>", "at least one trust anchor must be provided");
  return std::nullopt;
}

void FakeApiServer::enforceOwnerReferencePermissions(bool on) {
  std::lock_guard lock(mu_);
  enforceOwnerReferences_ = on;
}

std::optional<HttpResponse> FakeApiServer::admitOwnerReferences(const HttpRequest& request, const Target& t) {
  const std::optional<std::string> caller = callerOf(request);
  if (!enforceOwnerReferences_ || !caller) return std::nullopt;
  const json body = json::parse(request.body, nullptr, false);
  const json refs =
      body.is_object() ? body.value("/metadata/ownerReferences"_json_pointer, json::array()) : json::array();
  for (const json& ref : refs) {
    if (!ref.value("blockOwnerDeletion", false)) continue;
    const std::string apiVersion = ref.value("apiVersion", "");
    const std::string group =
        apiVersion.find('/') == std::string::npos ? "" : apiVersion.substr(0, apiVersion.find('/'));
    for (const auto& [id, owner] : resources_) {
      if (owner.group != group || owner.kind != ref.value("kind", "")) continue;
      if (granted(*caller, owner.group + "/" + owner.plural + "/finalizers", t.ns, "update")) break;
      forbidden_.push_back("update " + owner.group + "/" + owner.plural + "/finalizers");
      return failure(
          403, "Forbidden",
          t.resource->qualified() + " \"" + body.value("/metadata/name"_json_pointer, std::string()) +
              "\" is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to a resource you "
              "can't set finalizers on: , <nil>",
          details(*t.resource, body.value("/metadata/name"_json_pointer, std::string()), t.resource->plural));
    }
  }
  return std::nullopt;
}

void FakeApiServer::failNextWrites(int count) {
  std::lock_guard lock(mu_);
  conflictingWrites_ = count;
}

int FakeApiServer::conflictsLeft() const {
  std::lock_guard lock(mu_);
  return conflictingWrites_;
}

void FakeApiServer::throttleNextRequests(int count) {
  std::lock_guard lock(mu_);
  throttledRequests_ = count;
}

// ---- watches --------------------------------------------------------------------------------

void FakeApiServer::setBookmarkInterval(std::chrono::milliseconds interval) {
  std::lock_guard lock(mu_);
  bookmarkInterval_ = interval;
}

void FakeApiServer::setWatchCacheCapacity(size_t events) {
  std::lock_guard lock(mu_);
  watchCacheCapacity_ = std::max<size_t>(events, 1);
}

void FakeApiServer::compact() {
  std::lock_guard lock(mu_);
  compacted_ = resourceVersion_;
}

void FakeApiServer::expireWatchCache() {
  std::lock_guard lock(mu_);
  for (auto& [resource, cache] : watchCaches_) {
    cache.events.clear();
    cache.floor = resourceVersion_;
  }
}

void FakeApiServer::endWatches() {
  std::lock_guard lock(mu_);
  for (const auto& w : watches_) w->end();
}

void FakeApiServer::expireWatches() {
  std::lock_guard lock(mu_);
  for (const auto& w : watches_) w->end();
  ++resourceVersion_;  // the writes of others meanwhile
  for (auto& [resource, cache] : watchCaches_) {
    cache.events.clear();
    cache.floor = resourceVersion_;
  }
}

void FakeApiServer::refuseWatches(bool refuse) {
  std::lock_guard lock(mu_);
  watchesRefused_ = refuse;
}

size_t FakeApiServer::openWatches() const {
  std::lock_guard lock(mu_);
  size_t open = 0;
  for (const auto& w : watches_) open += w->done() ? 0 : 1;
  return open;
}

bool FakeApiServer::selects(const FakeWatch::Options& o, const json& object) const {
  const json& meta = object.value("metadata", json::object());
  if (!o.ns.empty() && meta.value("namespace", "") != o.ns) return false;
  return labelsMatch(o.labelSelector, meta.value("labels", json::object()));
}

HttpResponse FakeApiServer::watch(const Target& t, const std::string& query) {
  const Resource& r = *t.resource;
  const auto params = queryOf(query);
  const auto param = [&](const char* name) { return params.contains(name) ? params.at(name) : std::string(); };
  const std::string from = param("resourceVersion");
  if (watchesRefused_)
    return failure(503, "ServiceUnavailable", "the watch cache is not ready", ordered_json::object());
  if (params.contains("resourceVersionMatch")) {
    ordered_json causes = ordered_json::array();
    causes.push_back({{"reason", "FieldValueForbidden"},
                      {"message", "Forbidden: resourceVersionMatch is forbidden for watch"},
                      {"field", "resourceVersionMatch"}});
    if (from.empty()) {
      causes.push_back({{"reason", "FieldValueForbidden"},
                        {"message", "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"},
                        {"field", "resourceVersionMatch"}});
    }
    std::string listed;
    for (const auto& c : causes)
      listed += (listed.empty() ? "" : ", ") + std::string("resourceVersionMatch: ") + c["message"].get<std::string>();
    return failure(422, "Invalid",
                   "ListOptions.meta.k8s.io \"\" is invalid: " + (causes.size() == 1 ? listed : "[" + listed + "]"),
                   ordered_json{{"group", "meta.k8s.io"}, {"kind", "ListOptions"}, {"causes", causes}});
  }
  const std::string resourceKey = r.group + "/" + r.plural;
  WatchCache& cache = watchCaches_[resourceKey];
  const bool fromNow = from.empty() || from == "0";
  const auto now = std::chrono::steady_clock::now();
  const int timeout = param("timeoutSeconds").empty() ? 1800 : std::stoi(param("timeoutSeconds"));
  FakeWatch::Options o{.resource = resourceKey,
                       .ns = t.ns,
                       .labelSelector = param("labelSelector"),
                       .startResourceVersion = fromNow ? resourceVersion_ : std::stoull(from),
                       .deadline = now + std::chrono::seconds(timeout),
                       .bookmarks = param("allowWatchBookmarks") == "true",
                       .bookmarkInterval = bookmarkInterval_,
                       .apiVersion = r.group.empty() ? r.version : r.group + "/" + r.version,
                       .kind = r.kind};
  auto stream = std::make_shared<FakeWatch>(o, now);
  stream->observed(cache.newest);
  if (fromNow) {
    // "Any starting point": a synthetic ADDED for every object there is now, then live events.
    const std::string prefix = resourceKey + "/";
    for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.starts_with(prefix); ++it) {
      if (selects(o, it->second)) stream->offer("ADDED", resourceVersion_, it->second);
    }
  } else if (o.startResourceVersion < cache.floor) {
    stream->fail(
        ordered_json{{"kind", "Status"},
                     {"apiVersion", "v1"},
                     {"metadata", json::object()},
                     {"status", "Failure"},
                     {"message", "too old resource version: " + from + " (" + std::to_string(cache.floor) + ")"},
                     {"reason", "Expired"},
                     {"code", 410}});
  } else {
    for (const CachedEvent& e : cache.events) {
      if (e.resourceVersion > o.startResourceVersion && selects(o, e.object)) {
        stream->offer(e.type, e.resourceVersion, e.object);
      }
    }
  }
  watches_.push_back(stream);
  if (!ticker_.joinable()) ticker_ = std::jthread([this](std::stop_token stop) { tickWatches(stop); });
  HttpResponse response{200, "application/json", "", {{"Cache-Control", "no-cache, private"}}, stream};
  return response;
}

void FakeApiServer::publish(const Resource& r, const std::string& type, const json& object) {
  const uint64_t rv = std::stoull(object["metadata"]["resourceVersion"].get<std::string>());
  const std::string resourceKey = r.group + "/" + r.plural;
  WatchCache& cache = watchCaches_[resourceKey];
  cache.events.push_back({rv, type, object});
  cache.newest = rv;
  while (cache.events.size() > watchCacheCapacity_) {
    cache.floor = cache.events.front().resourceVersion;
    cache.events.pop_front();
  }
  for (const auto& w : watches_) {
    if (w->options().resource != resourceKey) continue;
    w->observed(rv);
    if (rv > w->options().startResourceVersion && selects(w->options(), object)) w->offer(type, rv, object);
  }
}

void FakeApiServer::tickWatches(std::stop_token stop) {
  while (sleepUnlessStopped(stop, std::chrono::milliseconds(100))) {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    for (const auto& w : watches_) w->tick(now);
    std::erase_if(watches_, [](const auto& w) { return w->done(); });
  }
}

HttpResponse FakeApiServer::create(const Target& target, const HttpRequest& request, const std::string& query) {
  json object = json::parse(request.body, nullptr, false);
  if (!object.is_object())
    return failure(400, "BadRequest", "the body of the request was in an unknown format", nullptr);
  const Resource& r = *target.resource;
  std::vector<std::pair<std::string, std::string>> pendingWarnings;
  json& meta = object["metadata"];
  if (!meta.is_object()) meta = json::object();
  if (r.namespaced) {
    if (meta.contains("namespace") && meta["namespace"] != target.ns) {
      return failure(400, "BadRequest",
                     "the namespace of the provided object does not match the namespace sent on the request", nullptr);
    }
    if (!objects_.contains("/namespaces//" + target.ns)) {
      return failure(404, "NotFound", "namespaces \"" + target.ns + "\" not found",
                     ordered_json{{"name", target.ns}, {"kind", "namespaces"}});
    }
    meta["namespace"] = target.ns;
  }
  if (!meta.contains("name") && meta.contains("generateName"))
    meta["name"] = meta["generateName"].get<std::string>() + randomSuffix();
  Target t = target;
  t.name = meta.value("name", "");
  static const std::regex kSubdomain(R"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)");
  // A ClusterTrustBundle's name follows its own rule (validateClusterTrustBundle).
  const bool ownNameRule = target.resource->plural == "clustertrustbundles";
  if (!ownNameRule && (t.name.size() > 253 || !std::regex_match(t.name, kSubdomain))) {
    const std::string message =
        "Invalid value: \"" + t.name +
        "\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
        "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
        "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    return invalid(
        r, t.name,
        ordered_json::array({{{"reason", "FieldValueInvalid"}, {"message", message}, {"field", "metadata.name"}}}));
  }
  if (objects_.contains(key(t))) {
    return failure(409, "AlreadyExists", r.qualified() + " \"" + t.name + "\" already exists",
                   details(r, t.name, r.plural));
  }
  const std::string now = formatRfc3339(clock_.now());
  meta["uid"] = randomUid();
  meta["resourceVersion"] = nextResourceVersion();
  meta["creationTimestamp"] = now;
  if (r.generation) meta["generation"] = 1;
  if (r.statusSubresource) object.erase("status");
  if (std::optional<HttpResponse> invalid = validateBuiltIn(r, object)) return *invalid;
  if (std::optional<HttpResponse> refused = admitBySchema(r, object, query, pendingWarnings)) return *refused;
  const bool isNamespace = r.group.empty() && r.plural == "namespaces";
  if (isNamespace) meta["labels"]["kubernetes.io/metadata.name"] = t.name;
  recordWrite(object, json::object(), object, managerOf(request), object.value("apiVersion", ""), false,
              r.schema.is_null(), now);
  if (isNamespace) {  // set by the server, owned by nobody
    object["spec"]["finalizers"] = json::array({"kubernetes"});
    object["status"]["phase"] = "Active";
  }
  if (r.group.empty() && r.plural == "events" && !object.contains("eventTime")) object["eventTime"] = nullptr;
  if (r.group == "events.k8s.io") {  // the core Event's fields, as this API shows them
    object["deprecatedSource"] = json::object();
    object["deprecatedFirstTimestamp"] = nullptr;
    object["deprecatedLastTimestamp"] = nullptr;
  }
  if (r.plural == "customresourcedefinitions") registerCrd(object);
  objects_[key(t)] = object;
  publish(r, "ADDED", object);
  if (isNamespace) publishRootCa(t.name);
  HttpResponse created = respond(201, object);
  created.headers = pendingWarnings;
  return created;
}

void FakeApiServer::publishRootCa(const std::string& ns) {
  // kube-controller-manager's root-ca-cert-publisher does this shortly after a namespace appears;
  // here at once, so a test that counts a namespace's ConfigMaps meets it on the fake too.
  HttpRequest request;
  request.userAgent = "kube-controller-manager/v1.25.10";
  request.body =
      json{{"apiVersion", "v1"},
           {"kind", "ConfigMap"},
           {"metadata",
            {{"name", "kube-root-ca.crt"}, {"annotations", {{"kubernetes.io/description", kRootCaDescription}}}}},
           {"data", {{"ca.crt", rootCaPem_}}}}
          .dump();
  create(Target{&resources_.at("/v1/configmaps"), ns, ""}, request, "");
}

std::optional<HttpResponse> FakeApiServer::validateEvent(const Resource& r, const json& object) const {
  // Both Event APIs store core Events: errors name the core kind, without a group.
  Resource core = r;
  core.group.clear();
  const std::string name = object["metadata"].value("name", "");
  ordered_json causes = ordered_json::array();
  if (r.group == "events.k8s.io") {
    const std::string eventTime = object.value("eventTime", "");
    static const std::regex kMicroTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
    if (!eventTime.empty() && !std::regex_match(eventTime, kMicroTime)) {
      return failure(400, "BadRequest",
                     "Event in version \"v1\" cannot be handled as a Event: parsing time \"" + eventTime +
                         "\" as \"2006-01-02T15:04:05.000000Z07:00\": cannot parse \"" +
                         eventTime.substr(std::min<size_t>(19, eventTime.size())) + "\" as \".000000\"",
                     nullptr);
    }
    if (object.value("reportingController", "").empty()) {
      const std::string pattern =
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
          "alphanumeric "
          "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
          "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
      causes.push_back(
          {{"reason", "FieldValueRequired"}, {"message", "Required value"}, {"field", "reportingController"}});
      causes.push_back({{"reason", "FieldValueInvalid"},
                        {"message", "Invalid value: \"\": name part must be non-empty"},
                        {"field", "reportingController"}});
      causes.push_back({{"reason", "FieldValueInvalid"},
                        {"message", "Invalid value: \"\": " + pattern},
                        {"field", "reportingController"}});
    }
    if (object.value("action", "").empty()) {
      causes.push_back({{"reason", "FieldValueRequired"}, {"message", "Required value"}, {"field", "action"}});
    }
  } else {
    const std::string about = object.value("/involvedObject/namespace"_json_pointer, std::string());
    if (!about.empty() && about != object["metadata"].value("namespace", "")) {
      causes.push_back({{"reason", "FieldValueInvalid"},
                        {"message", "Invalid value: \"" + about + "\": does not match event.namespace"},
                        {"field", "involvedObject.namespace"}});
    }
  }
  if (causes.empty()) return std::nullopt;
  HttpResponse refused = invalid(core, name, causes);
  return refused;
}

std::optional<HttpResponse> FakeApiServer::validateBuiltIn(const Resource& r, const json& object) const {
  if (r.plural == "events") return validateEvent(r, object);
  if (r.plural == "clustertrustbundles") return validateClusterTrustBundle(r, object);
  // Secrets and ConfigMaps: bytes fields must be base64 (a 400 from decoding, as the real server
  // answers), and everything they hold together at most 1 MiB (a 422).
  if (r.group.empty() && (r.plural == "secrets" || r.plural == "configmaps")) {
    size_t total = 0;
    for (const char* field : {"data", "binaryData", "stringData"}) {
      const bool bytes =
          std::string_view(field) == "binaryData" || (r.plural == "secrets" && std::string_view(field) == "data");
      const json values = object.value(field, json::object());
      for (const auto& [k, value] : values.items()) {
        const std::string text = value.is_string() ? value.get<std::string>() : std::string();
        if (!bytes) {
          total += text.size();
          continue;
        }
        auto decoded = pki::base64Decode(text);
        if (!decoded.ok()) {
          const size_t bad =
              text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
          return failure(400, "BadRequest",
                         r.kind + " in version \"v1\" cannot be handled as a " + r.kind +
                             ": illegal base64 data at input byte " +
                             std::to_string(bad == std::string::npos ? text.size() - text.size() % 4 : bad),
                         nullptr);
        }
        total += decoded->size();
      }
    }
    if (total > 1048576) {
      return invalid(r, object["metadata"].value("name", ""),
                     ordered_json::array({ordered_json{{"reason", "FieldValueTooLong"},
                                                       {"message", "Too long: must have at most 1048576 bytes"},
                                                       {"field", "[]"}}}));
    }
  }
  // kubernetes.io/tls Secrets must hold both halves of the pair.
  if (r.group.empty() && r.plural == "secrets" && object.value("type", "") == "kubernetes.io/tls") {
    const json& data = object.value("data", json::object());
    ordered_json causes = ordered_json::array();
    for (const char* key : {"tls.crt", "tls.key"}) {
      if (data.contains(key)) continue;
      causes.push_back(ordered_json{{"reason", "FieldValueRequired"},
                                    {"message", "Required value"},
                                    {"field", std::string("data[") + key + "]"}});
    }
    if (!causes.empty()) return invalid(r, object["metadata"].value("name", ""), causes);
  }
  return std::nullopt;
}

HttpResponse FakeApiServer::get(const Target& t, const std::string& query) {
  const auto params = queryOf(query);
  if (const auto rv = params.find("resourceVersion");
      rv != params.end() && !rv->second.empty() && std::stoull(rv->second) > resourceVersion_) {
    // The real server waits ~3 s for its cache to catch up first.
    HttpResponse timeout =
        failure(504, "Timeout",
                "Timeout: Too large resource version: " + rv->second + ", current: " + std::to_string(resourceVersion_),
                ordered_json{{"causes", ordered_json::array({{{"reason", "ResourceVersionTooLarge"},
                                                              {"message", "Too large resource version"}}})},
                             {"retryAfterSeconds", 1}});
    timeout.headers.emplace_back("Retry-After", "1");
    return timeout;
  }
  const auto it = objects_.find(key(t));
  if (it == objects_.end()) return notFound(*t.resource, t.name);
  return respond(200, it->second);
}

HttpResponse FakeApiServer::list(const Target& t, const std::string& query) {
  const Resource& r = *t.resource;
  const std::map<std::string, std::string> params = queryOf(query);
  const std::string prefix = r.group + "/" + r.plural + "/" + (t.ns.empty() ? "" : t.ns + "/");
  // A continue token names the snapshot's resourceVersion and the key to start after.
  uint64_t snapshot = resourceVersion_;
  std::string start;
  if (const auto it = params.find("continue"); it != params.end() && !it->second.empty()) {
    const std::optional<std::string> decoded = fromBase64Url(it->second);
    const json token = decoded ? json::parse(*decoded, nullptr, false) : json();
    if (!token.is_object() || !token.contains("rv") || !token.contains("start")) {
      return failure(400, "BadRequest", "continue key is not valid: illegal base64 data", nullptr);
    }
    const int64_t rv = token["rv"].get<int64_t>();
    start = token["start"].get<std::string>();
    if (rv >= 0 && static_cast<uint64_t>(rv) < compacted_) {
      // The snapshot is gone: offer a token that continues at the newest state (rv -1) instead.
      const ordered_json fresh = {{"v", "meta.k8s.io/v1"}, {"rv", -1}, {"start", start}};
      ordered_json body = {{"kind", "Status"},
                           {"apiVersion", "v1"},
                           {"metadata", {{"continue", base64Url(fresh.dump())}}},
                           {"status", "Failure"},
                           {"message",
                            "The provided continue parameter is too old to display a consistent list result. You "
                            "can start a new list without the continue parameter, or use the continue token in "
                            "this response to retrieve the remainder of the results. Continuing with the provided "
                            "token results in an inconsistent list - objects that were created, modified, or "
                            "deleted between the time the first chunk was returned and now may show up in the list."},
                           {"reason", "Expired"},
                           {"code", 410}};
      return respond(410, body);
    }
    if (rv >= 0) snapshot = static_cast<uint64_t>(rv);
  } else if (params.contains("resourceVersionMatch") && params.at("resourceVersionMatch") == "Exact" &&
             params.contains("resourceVersion") && std::stoull(params.at("resourceVersion")) < compacted_) {
    return failure(410, "Expired", "The resourceVersion for the provided list is too old.", nullptr);
  }
  const std::string selector = params.contains("labelSelector") ? params.at("labelSelector") : "";
  const std::string fieldSelector = params.contains("fieldSelector") ? params.at("fieldSelector") : "";
  if (std::optional<std::string> unsupported = unsupportedField(fieldSelector)) {
    return failure(
        400, "BadRequest",
        "\"" + *unsupported + "\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        nullptr);
  }
  const size_t limit = params.contains("limit") ? std::stoul(params.at("limit")) : 0;
  std::vector<std::pair<std::string, const json*>> matching;
  for (auto it = objects_.lower_bound(prefix + start); it != objects_.end() && it->first.starts_with(prefix); ++it) {
    if (it->first.substr(prefix.size()) < start) continue;
    if (labelsMatch(selector, it->second["metadata"].value("labels", json::object())) &&
        fieldsMatch(fieldSelector, it->second["metadata"])) {
      matching.emplace_back(it->first.substr(prefix.size()), &it->second);
    }
  }
  json items = json::array();
  const size_t page = limit == 0 ? matching.size() : std::min(limit, matching.size());
  for (size_t i = 0; i < page; ++i) {
    json item = *matching[i].second;
    item["apiVersion"] = r.group.empty() ? r.version : r.group + "/" + r.version;
    item["kind"] = r.kind;
    items.push_back(std::move(item));
  }
  json metadata = {{"continue", ""}, {"resourceVersion", std::to_string(snapshot)}};
  if (page < matching.size()) {
    const ordered_json token = {{"v", "meta.k8s.io/v1"}, {"rv", snapshot}, {"start", matching[page - 1].first + '\0'}};
    metadata["continue"] = base64Url(token.dump());
    metadata["remainingItemCount"] = matching.size() - page;
  }
  return respond(200, json{{"apiVersion", r.group.empty() ? r.version : r.group + "/" + r.version},
                           {"kind", r.kind + "List"},
                           {"metadata", metadata},
                           {"items", items}});
}

std::optional<HttpResponse> FakeApiServer::admitBySchema(const Resource& r, json& object, const std::string& query,
                                                         std::vector<std::pair<std::string, std::string>>& warnings) {
  // As the API server does on every write of a custom resource: defaults, then the structural
  // schema (unknown fields pruned, refused with fieldValidation=Strict, warned of by default).
  applyDefaults(object, r.schema);
  if (r.schema.is_null()) return std::nullopt;
  SchemaFindings found;
  json checked = object;
  checked.erase("metadata");
  checkSchema(checked, r.schema, "", found);
  const auto params = queryOf(query);
  const std::string mode = params.contains("fieldValidation") ? params.at("fieldValidation") : "Warn";
  if (mode == "Strict" && !found.unknown.empty()) {
    std::string fields;
    for (const std::string& u : found.unknown)
      fields += (fields.empty() ? "" : ", ") + std::string("unknown field \"") + u + "\"";
    return failure(400, "BadRequest",
                   r.kind + " in version \"" + r.version + "\" cannot be handled as a " + r.kind +
                       ": strict decoding error: " + fields,
                   nullptr);
  }
  if (mode == "Warn") {
    for (const std::string& u : found.unknown)
      warnings.emplace_back("Warning", "299 - \"unknown field \\\"" + u + "\\\"\"");
  }
  if (found.count() > 0) {
    ordered_json causes = ordered_json::array();
    for (const auto& kind : found.causes) {
      for (const ordered_json& c : kind) causes.push_back(c);
    }
    HttpResponse refused = invalid(r, object["metadata"].value("name", ""), causes);
    refused.headers = warnings;
    return refused;
  }
  checked["metadata"] = object["metadata"];
  object = checked;
  return std::nullopt;
}

HttpResponse FakeApiServer::update(const Target& t, const HttpRequest& request) {
  const Resource& r = *t.resource;
  json body = json::parse(request.body, nullptr, false);
  if (!body.is_object()) return failure(400, "BadRequest", "the body of the request was in an unknown format", nullptr);
  const auto it = objects_.find(key(t));
  if (it == objects_.end()) return notFound(r, t.name);
  ordered_json refused = details(r, t.name, r.plural);
  json& stored = it->second;
  const std::string sent = body["metadata"].value("resourceVersion", "");
  if (sent.empty() && r.requireResourceVersion) {
    const std::string cause = "Invalid value: 0x0: must be specified for an update";
    refused["causes"] = ordered_json::array(
        {ordered_json{{"reason", "FieldValueInvalid"}, {"message", cause}, {"field", "metadata.resourceVersion"}}});
    return failure(422, "Invalid", r.qualified() + " \"" + t.name + "\" is invalid: metadata.resourceVersion: " + cause,
                   refused);
  }
  if (!sent.empty() && sent != stored["metadata"]["resourceVersion"]) {
    return failure(
        409, "Conflict",
        "Operation cannot be fulfilled on " + r.qualified() + " \"" + t.name +
            "\": the object has been modified; please apply your changes to the latest version and try again",
        refused);
  }
  const bool status = t.subresource == "status";
  const std::string query = request.target.find('?') == std::string::npos
                                ? std::string()
                                : request.target.substr(request.target.find('?') + 1);
  std::vector<std::pair<std::string, std::string>> warnings;
  json next = stored;
  if (status) {
    next["status"] = body.value("status", json::object());
    if (std::optional<HttpResponse> rejected = admitBySchema(r, next, query, warnings)) return *rejected;
  } else if (t.subresource == "finalize") {
    const json finalizers = body.value("/spec/finalizers"_json_pointer, json::array());
    next["spec"].erase("finalizers");
    if (!finalizers.empty()) next["spec"]["finalizers"] = finalizers;
  } else {
    next = body;
    for (const char* kept : {"uid", "creationTimestamp", "generation", "managedFields", "namespace", "name"}) {
      if (stored["metadata"].contains(kept)) next["metadata"][kept] = stored["metadata"][kept];
    }
    if (r.statusSubresource) {
      if (stored.contains("status")) {
        next["status"] = stored["status"];
      } else {
        next.erase("status");
      }
    }
    if (std::optional<HttpResponse> invalid = validateBuiltIn(r, next)) return *invalid;
    if (std::optional<HttpResponse> rejected = admitBySchema(r, next, query, warnings)) return *rejected;
    if (r.generation && next.value("spec", json()) != stored.value("spec", json())) {
      next["metadata"]["generation"] = stored["metadata"].value("generation", 0) + 1;
    }
  }
  next["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"];
  if (next == stored) return respond(200, stored);  // a no-op keeps its resourceVersion
  if (t.subresource != "finalize") {                // finalizing leaves ownership as it was (83)
    recordWrite(next, stored, body, managerOf(request), next.value("apiVersion", ""), status, r.schema.is_null(),
                formatRfc3339(clock_.now()));
  }
  if (next["metadata"].contains("deletionTimestamp") && next["metadata"].value("finalizers", json::array()).empty() &&
      next.value("/spec/finalizers"_json_pointer, json::array()).empty()) {
    // The last finalizer is gone: the object goes in the same request, answered with the
    // version it had (71); the DELETED event carries the deletion's.
    // The stored object is what is deleted: the event shows it as it was, finalizers included.
    json last = stored;
    last["metadata"]["resourceVersion"] = nextResourceVersion();
    publish(r, "DELETED", last);
    objects_.erase(it);
    return respond(200, next);
  }
  next["metadata"]["resourceVersion"] = nextResourceVersion();
  stored = next;
  publish(r, "MODIFIED", stored);
  HttpResponse updated = respond(200, stored);
  updated.headers = warnings;
  return updated;
}

HttpResponse FakeApiServer::patch(const Target& t, const HttpRequest& request) {
  const Resource& r = *t.resource;
  const auto it = objects_.find(key(t));
  if (it == objects_.end()) return update(t, request);  // the same NotFound
  const std::string type = std::string(trim(request.contentType.substr(0, request.contentType.find(';'))));
  json patched = it->second;
  const json body = json::parse(request.body, nullptr, false);
  const bool strategic = type == "application/strategic-merge-patch+json" && !r.requireResourceVersion;
  if ((type == "application/merge-patch+json" || strategic) && body.is_object()) {
    // Strategic merge differs from a merge patch only in lists with merge keys, which the fake
    // replaces whole (rotor's only strategic patch, the restart annotation, has none).
    patched.merge_patch(body);
  } else if (type == "application/json-patch+json" && body.is_array()) {
    try {
      patched = patched.patch(body);
    } catch (const json::exception&) {  // a failed "test", a missing path
      return failure(422, "Invalid", "the server rejected our request due to an error in our request", json::object());
    }
  } else if (type == "application/merge-patch+json" || type == "application/json-patch+json") {
    return failure(400, "BadRequest", "the body of the request was in an unknown format", nullptr);
  } else {
    std::string accepted = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";
    if (!r.requireResourceVersion) accepted += ", application/strategic-merge-patch+json";  // built-in kinds
    return failure(415, "UnsupportedMediaType",
                   "the body of the request was in an unknown format - accepted media types include: " + accepted,
                   nullptr);
  }
  // The patched object is written as a PUT would be: a resourceVersion the patch set is a
  // precondition, one it left alone is the stored one.
  HttpRequest asUpdate = request;
  asUpdate.body = patched.dump();
  return update(t, asUpdate);
}

HttpResponse FakeApiServer::remove(const Target& t, const HttpRequest& request) {
  const Resource& r = *t.resource;
  const auto it = objects_.find(key(t));
  if (it == objects_.end()) return notFound(r, t.name);
  const json options = json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
  const json& meta = it->second["metadata"];
  if (options.is_object() && options.contains("preconditions")) {
    const json& pre = options["preconditions"];
    // Precondition messages name the kind, not the resource.
    const std::string subject =
        "Operation cannot be fulfilled on " + r.kind + (r.group.empty() ? "" : "." + r.group) + " \"" + t.name + "\": ";
    const ordered_json kindDetails = details(r, t.name, r.kind);
    if (pre.contains("uid") && pre["uid"] != meta["uid"]) {
      return failure(409, "Conflict",
                     subject + "the UID in the precondition (" + pre["uid"].get<std::string>() +
                         ") does not match the UID in record (" + meta["uid"].get<std::string>() +
                         "). The object might have been deleted and then recreated",
                     kindDetails);
    }
    if (pre.contains("resourceVersion") && pre["resourceVersion"] != meta["resourceVersion"]) {
      return failure(409, "Conflict",
                     subject + "the ResourceVersion in the precondition (" + pre["resourceVersion"].get<std::string>() +
                         ") does not match the ResourceVersion in record (" +
                         meta["resourceVersion"].get<std::string>() + "). The object might have been modified",
                     kindDetails);
    }
  }
  // With finalizers, deletion only starts: the object stays, marked, until they are removed.
  json& stored = it->second;
  const bool isNamespace = r.group.empty() && r.plural == "namespaces";
  const json finalizers = isNamespace ? stored.value("/spec/finalizers"_json_pointer, json::array())
                                      : stored["metadata"].value("finalizers", json::array());
  if (!finalizers.empty()) {
    if (!stored["metadata"].contains("deletionTimestamp")) {
      stored["metadata"]["deletionTimestamp"] = formatRfc3339(clock_.now());
      if (isNamespace) {
        stored["status"]["phase"] = "Terminating";
      } else {
        stored["metadata"]["deletionGracePeriodSeconds"] = 0;
        if (r.generation) stored["metadata"]["generation"] = stored["metadata"].value("generation", 0) + 1;
      }
      stored["metadata"]["resourceVersion"] = nextResourceVersion();
      publish(r, "MODIFIED", stored);
    }
    return respond(200, stored);
  }
  ordered_json deleted = details(r, t.name, r.plural);
  deleted["uid"] = meta["uid"];
  json last = it->second;
  last["metadata"]["resourceVersion"] = nextResourceVersion();
  objects_.erase(it);
  publish(r, "DELETED", last);
  return respond(200, ordered_json{{"kind", "Status"},
                                   {"apiVersion", "v1"},
                                   {"metadata", json::object()},
                                   {"status", "Success"},
                                   {"details", deleted}});
}

void FakeApiServer::registerCrd(const json& crd) {
  const json& spec = crd.value("spec", json::object());
  const json& names = spec.value("names", json::object());
  for (const json& v : spec.value("versions", json::array())) {
    Resource r;
    r.group = spec.value("group", "");
    r.version = v.value("name", "");
    r.plural = names.value("plural", "");
    r.kind = names.value("kind", "");
    r.singular = names.value("singular", "");
    r.shortNames = names.value("shortNames", std::vector<std::string>{});
    r.categories = names.value("categories", std::vector<std::string>{});
    r.namespaced = spec.value("scope", "Namespaced") == "Namespaced";
    r.statusSubresource = v.contains("subresources") && v["subresources"].contains("status");
    r.generation = true;
    r.requireResourceVersion = true;
    if (v.contains("schema")) r.schema = v["schema"].value("openAPIV3Schema", json::object());
    resources_[r.group + "/" + r.version + "/" + r.plural] = r;
  }
}

}  // namespace rotor::testing
