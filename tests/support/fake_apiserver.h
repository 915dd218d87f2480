#pragma once

// An in-process Kubernetes API server for tests, answering as the kube-apiserver v1.25 recorded
// in tests/data/kube-transcripts does. It speaks HTTP request/response values, so the same
// object serves unit tests directly and the real client over HTTPS (through HttpServer).
//
// This first slice: namespaces, CustomResourceDefinitions (which register their resources, with
// their schema's defaults, pruning and validation, and fieldValidation Strict/Warn/Ignore on
// create), and objects of any registered resource — create (generateName,
// namespace checks, status dropped), get, list (label selectors, limit/continue paging), update
// with optimistic concurrency (409 on a stale resourceVersion; 422 without one for custom
// resources), merge and JSON patches (strategic merge refused for custom resources), the /status
// subresource (spec ignored, generation kept), delete (a Success Status, preconditions). resourceVersion is one counter across all objects; generation counts spec
// changes. Errors are Status objects with the recorded messages.

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "controller/adoption/http.h"
#include "controller/common/clock.h"

namespace rotor::testing {

class FakeApiServer {
public:
  explicit FakeApiServer(const Clock& clock);

  adoption::HttpResponse handle(const adoption::HttpRequest& request);

  /** The newest resourceVersion handed out. */
  uint64_t resourceVersion() const;

private:
  struct Resource {
    std::string group, version, plural, kind;
    bool namespaced = true;
    bool statusSubresource = false;
    bool generation = false;  // spec changes count (custom resources)
    bool requireResourceVersion = false;  // unconditional updates refused (custom resources)
    nlohmann::json schema;                // openAPIV3Schema of a custom resource: its defaults
    /** "plural.group" or "plural" for the core group, as messages name it. */
    std::string qualified() const { return group.empty() ? plural : plural + "." + group; }
  };
  struct Target {
    const Resource* resource = nullptr;
    std::string ns, name, subresource;
  };

  std::optional<Target> route(const std::string& path) const;
  adoption::HttpResponse create(const Target& t, const adoption::HttpRequest& request, const std::string& query);
  adoption::HttpResponse get(const Target& t);
  adoption::HttpResponse list(const Target& t, const std::string& query);
  adoption::HttpResponse update(const Target& t, const adoption::HttpRequest& request);
  adoption::HttpResponse patch(const Target& t, const adoption::HttpRequest& request);
  adoption::HttpResponse remove(const Target& t, const adoption::HttpRequest& request);
  void registerCrd(const nlohmann::json& crd);
  /** The checks built-in kinds get from the API server that rotor relies on (TLS Secrets). */
  std::optional<adoption::HttpResponse> validateBuiltIn(const Resource& r, const nlohmann::json& object) const;
  /** A Status's details as the API server fills them: name, group (absent for the core group)
   *  and kind, which is the resource's plural in most answers and its kind in some. */
  static nlohmann::ordered_json details(const Resource& r, const std::string& name, const std::string& kind);
  static adoption::HttpResponse notFound(const Resource& r, const std::string& name);
  /** 422 Invalid naming each cause ("field: message"; bracketed when more than one). */
  static adoption::HttpResponse invalid(const Resource& r, const std::string& name, const nlohmann::ordered_json& causes);
  std::string nextResourceVersion();
  std::string key(const Target& t) const;

  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, Resource> resources_;  // by "group/version/plural"
  std::map<std::string, nlohmann::json> objects_;  // by "group/plural/ns/name"
  uint64_t resourceVersion_ = 200;
};

}  // namespace rotor::testing
