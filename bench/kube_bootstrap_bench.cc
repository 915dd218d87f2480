// Issuance in Kubernetes mode: N new rotations bootstrapped by the controller's Manager over the
// Kubernetes store (one worker, Events written, as `rotor controller --once` runs), against the
// floor of creating the same objects with no crypto: each rotation's CA Secret, trust bundle
// ConfigMap and server TLS Secret with the bytes the bootstrap left, and its status written once.
// Against the fake API server over HTTPS, or a real one (ROTOR_BENCH_KUBECONFIG).
//   kube_bootstrap_bench [N]   (default 1000)
#include <cstdio>

#include "bench/bench_cluster.h"
#include "bench/bench_util.h"
#include "controller/kube/event_writer.h"
#include "controller/manager/manager.h"
#include "controller/store/kube/kube_store.h"

using namespace rotor;
using namespace rotor::bench;

namespace {

/** Events go to the API server, as `rotor controller` records them in a cluster. */
class ApiEvents final : public reconcilers::EventRecorder {
public:
  explicit ApiEvents(kube::EventWriter& writer) : writer_(writer) {}
  void record(const api::CertificateRotation& r, reconcilers::EventType type, const std::string& reason,
              const std::string& message) override {
    (void)writer_.write(r, type == reconcilers::EventType::kWarning, "Reconcile", reason, message);
  }

private:
  kube::EventWriter& writer_;
};

class Counting final : public manager::ReconcileObserver {
public:
  void reconciled(const api::ObjectKey&, const StatusOr<reconcilers::ReconcileResult>& result,
                  std::chrono::nanoseconds) override {
    failed += result.ok() || result.status().code() == Code::kConflict ? 0 : 1;  // a conflict is retried
  }
  int failed = 0;
};

void must(const Status& s, const std::string& what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.message().c_str());
  std::exit(1);
}

json unpaused(int i, const std::string& ns) {
  json object = pausedRotation(i, ns);
  object["spec"].erase("paused");
  return object;
}

/** The object as a client would create it: no server-set metadata. */
json asNew(const json& object, const std::string& ns) {
  json out = object;
  json& metadata = out["metadata"];
  for (const char* field : {"uid", "resourceVersion", "creationTimestamp", "managedFields", "ownerReferences"}) {
    metadata.erase(field);
  }
  metadata["namespace"] = ns;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  BenchCluster cluster;
  kube::Client& client = cluster.client();
  const std::string& ns = cluster.ns;
  for (int i = 0; i < n; ++i) must(client.create(kube::kRotations, ns, unpaused(i, ns)).status(), "creating rotations");

  // The controller's own connection, counted.
  auto https = kube::makeHttpsTransport(kube::loadKubeconfig(cluster.kubeconfig()).value());
  must(https.status(), "transport");
  CountingTransport counted(**https);
  kube::Client controllerClient(counted);
  RealClock clock;
  store::kube::KubeStore store(controllerClient, clock);
  kube::EventWriter writer(controllerClient, clock, "kube-bootstrap-bench");
  ApiEvents events(writer);
  NoProbes prober;
  std::ostringstream discarded;
  Logger log(discarded, clock, LogLevel::kError);
  Counting counting;
  manager::Manager manager({store, clock, prober, events}, log, {.observer = &counting});
  const auto began = std::chrono::steady_clock::now();
  must(manager.resync(), "resync");
  while (manager.processOne()) {
  }
  const double bootstrapSeconds = secondsSince(began);
  std::string requests;
  for (const auto& [method, count] : counted.byMethod) {
    requests += format("%s%s %.1f", requests.empty() ? "" : ", ", method.c_str(), static_cast<double>(count) / n);
  }

  // What the bootstrap left, to be created again with no crypto.
  std::vector<json> objects[3];
  std::vector<api::CertificateRotation> rotations;
  for (int i = 0; i < n; ++i) {
    const json rotation = unpaused(i, ns);
    const std::string name = rotation["metadata"]["name"];
    auto r = store.getRotation({ns, name});
    must(r.status(), "reading " + name);
    if (r->status.phase != api::Phase::kReady) {
      std::fprintf(stderr, "%s is %s after the bootstrap, not Ready\n", name.c_str(),
                   std::string(api::phaseName(r->status.phase)).c_str());
      return 1;
    }
    rotations.push_back(*r);
    const std::pair<const kube::ResourceType*, std::string> left[3] = {{&kube::kSecrets, name + "-rotor-ca"},
                                                                       {&kube::kConfigMaps, name + "-bundle"},
                                                                       {&kube::kSecrets, name + "-tls"}};
    for (int k = 0; k < 3; ++k) {
      auto object = client.get(*left[k].first, ns, left[k].second);
      must(object.status(), "reading " + left[k].second);
      objects[k].push_back(*object);
    }
  }

  // The floor, in a namespace of its own: the rotations exist; then per rotation the three
  // objects are created and the status is written once.
  const std::string floorNs = ns + "-floor";
  must(client
           .create(kube::kNamespaces, "",
                   {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", floorNs}}}})
           .status(),
       "namespace " + floorNs);
  std::vector<api::CertificateRotation> floorRotations;
  for (int i = 0; i < n; ++i) {
    auto created = client.create(kube::kRotations, floorNs, unpaused(i, floorNs));
    must(created.status(), "creating floor rotations");
    floorRotations.push_back(api::decodeRotation(*created).value());
  }
  const auto floorBegan = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    must(client.create(kube::kSecrets, floorNs, asNew(objects[0][i], floorNs)).status(), "floor CA Secret");
    must(client.create(kube::kConfigMaps, floorNs, asNew(objects[1][i], floorNs)).status(), "floor bundle");
    must(client.create(kube::kSecrets, floorNs, asNew(objects[2][i], floorNs)).status(), "floor TLS Secret");
    floorRotations[i].status = rotations[i].status;
    must(store.updateRotationStatus(floorRotations[i]), "floor status");
  }
  const double floorSeconds = secondsSince(floorBegan);
  (void)client.remove(kube::kNamespaces, "", floorNs);

  const char* server = cluster.real() ? "the real API server" : "the fake API server";
  std::printf(
      "kube      %d rotations bootstrapped against %s in %.2f s (%d failed reconciles); the same objects "
      "created with no crypto in %.2f s\n          the bootstrap's requests per rotation: %s\n",
      n, server, bootstrapSeconds, counting.failed, floorSeconds, requests.c_str());
  row(format("Kubernetes mode (%s): issuance, bootstrap of %d rotations", server, n),
      format("%.2f s (%.1f ms each)", bootstrapSeconds, bootstrapSeconds * 1000 / n),
      format("the same objects created, no crypto: %.2f s", floorSeconds),
      format("%.2fx", bootstrapSeconds / floorSeconds), "-");
  return counting.failed == 0 ? 0 : 1;
}
