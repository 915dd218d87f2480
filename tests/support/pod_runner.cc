#include "tests/support/pod_runner.h"

#include <csignal>
#include <fstream>
#include <regex>
#include <set>

#include "controller/common/clock.h"
#include "controller/common/time_zone.h"
#include "controller/kube/leader_pod_label.h"
#include "tests/support/tls_client.h"

namespace rotor::testing {

using nlohmann::json;

namespace {
constexpr kube::ResourceType kNodes{"", "v1", "nodes", "Node", false};
}  // namespace

bool podReady(const json& pod) {
  for (const json& c : pod.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

PodRunner::PodRunner(kube::Client& client, PodRunnerOptions options) : client_(client), options_(std::move(options)) {
  std::filesystem::create_directories(options_.workDir);
  loop_ = std::jthread([this](std::stop_token stop) { loop(stop); });
}

PodRunner::~PodRunner() {
  loop_ = {};
  std::lock_guard lock(mu_);
  pods_.clear();  // each ChildProcess stops its process
}

void PodRunner::loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    sync();
    sleepUnlessStopped(stop, std::chrono::milliseconds(200));
  }
}

void PodRunner::sync() {
  auto listed = client_.list(kube::kPods, options_.ns, {.labelSelector = options_.labelSelector});
  if (!listed.ok()) return;
  std::lock_guard lock(mu_);
  std::set<std::string> present;
  for (const json& object : listed->items) {
    const std::string name = object["metadata"]["name"];
    const std::string uid = object["metadata"]["uid"];
    if (object["metadata"].contains("deletionTimestamp")) {
      if (terminate(name, uid)) present.insert(name);
      continue;
    }
    present.insert(name);
    Pod& pod = pods_[name];
    if (pod.uid != uid) {  // new, or deleted and created again under its name
      pod = Pod{};
      pod.uid = uid;
      if (!options_.node.empty()) bind(name);
      start(object, pod);
    } else if (pod.exitCode) {
      continue;  // ran to completion (restartPolicy Never)
    } else if (const std::optional<int> exited = pod.process->wait(std::chrono::milliseconds(0))) {
      if (object.value("/spec/restartPolicy"_json_pointer, std::string("Always")) == "Never") {
        pod.exitCode = exited;  // a test pod, a job: its phase says how it ended
        pod.ready = false;
        writeStatus(name, pod);
        continue;
      }
      ++pod.restarts;  // the container exited: the kubelet starts it again, not ready until probed
      start(object, pod);
    }
    const bool ready = probeReady(pod);
    if (ready != pod.ready || !pod.statusWritten) {
      pod.ready = ready;
      writeStatus(name, pod);
    }
  }
  for (auto it = pods_.begin(); it != pods_.end();) {
    it = present.contains(it->first) ? std::next(it) : pods_.erase(it);  // ~ChildProcess: SIGTERM
  }
}

void PodRunner::bind(const std::string& name) {
  if (!nodeCreated_) {
    // The EndpointSlice controller skips pods whose node it cannot find.
    auto node =
        client_.create(kNodes, "", {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", options_.node}}}});
    nodeCreated_ = node.ok() || node.status().code() == Code::kAlreadyExists;
  }
  // As the scheduler does: a Binding sets spec.nodeName.
  (void)client_.createSubresource(kube::kPods, options_.ns, name, "binding",
                                  {{"apiVersion", "v1"},
                                   {"kind", "Binding"},
                                   {"metadata", {{"name", name}}},
                                   {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", options_.node}}}});
}

bool PodRunner::terminate(const std::string& name, const std::string& uid) {
  auto found = pods_.find(name);
  if (found != pods_.end() && found->second.uid == uid && found->second.process) {
    Pod& pod = found->second;
    if (pod.terminatingSince == std::chrono::steady_clock::time_point()) {
      pod.terminatingSince = std::chrono::steady_clock::now();
      pod.process->signal(SIGTERM);
    } else if (std::chrono::steady_clock::now() - pod.terminatingSince > std::chrono::seconds(30)) {
      pod.process->signal(SIGKILL);
    }
    if (!pod.process->wait(std::chrono::milliseconds(0)).has_value()) return true;  // still stopping
    pods_.erase(found);
  }
  // The container is gone: as the kubelet, confirm the deletion.
  (void)client_.remove(kube::kPods, options_.ns, name, {.uid = uid, .gracePeriodSeconds = 0});
  return false;
}

void PodRunner::start(const json& object, Pod& pod) {
  if (pod.ip.empty()) pod.ip = "10.244.0." + std::to_string(nextIp_++);
  pod.container = object["spec"]["containers"][0];
  if (pod.ports.empty()) {
    for (const json& port : pod.container.value("ports", json::array())) {
      pod.ports[port["containerPort"].get<int>()] = static_cast<uint16_t>(freeLoopbackPort());
    }
  }
  for (const auto& [name, value] : serviceEnv_) pod.env.try_emplace(name, value);
  for (const json& var : pod.container.value("env", json::array())) {
    if (var.contains("value")) {
      pod.env[var["name"]] = var["value"];
    } else if (var.contains("valueFrom") && var["valueFrom"].contains("fieldRef")) {
      const std::string field = var["valueFrom"]["fieldRef"]["fieldPath"];
      if (field == "metadata.name") pod.env[var["name"]] = object["metadata"]["name"];
      if (field == "metadata.namespace") pod.env[var["name"]] = object["metadata"]["namespace"];
      if (field == "status.podIP") pod.env[var["name"]] = pod.ip;
    }
  }
  const std::string name = object["metadata"]["name"];
  logs_[name].push_back(options_.workDir / (name + "-" + std::to_string(started_) + ".log"));
  pod.process.reset();
  pod.process = std::make_unique<ChildProcess>(argvOf(pod, options_.kubeconfig(object)), logs_[name].back());
  pod.ready = false;
  pod.statusWritten = false;
  ++started_;
}

std::vector<std::string> PodRunner::argvOf(const Pod& pod, const std::string& kubeconfig) const {
  static const std::regex reference(R"(\$\(([A-Za-z_][A-Za-z0-9_]*)\))");
  static const std::regex listen(R"(^(--[a-z-]+=)[^=]*:([0-9]+)$)");
  std::vector<std::string> argv = {rotorBinary()};
  for (const json& value : pod.container.value("args", json::array())) {
    std::string arg = value.get<std::string>();
    // $(VAR) as the kubelet expands it; an unknown reference stays as written.
    std::string expanded;
    auto from = arg.cbegin();
    for (std::sregex_iterator m(arg.begin(), arg.end(), reference), end; m != end; ++m) {
      expanded.append(from, (*m)[0].first);
      auto found = pod.env.find((*m)[1].str());
      expanded += found != pod.env.end() ? found->second : (*m)[0].str();
      from = (*m)[0].second;
    }
    expanded.append(from, arg.cend());
    arg = expanded;
    if (arg == "--in-cluster") {
      argv.insert(argv.end(), {"--kubeconfig", kubeconfig});
      continue;
    }
    std::smatch m;
    if (std::regex_match(arg, m, listen)) {
      auto port = pod.ports.find(std::stoi(m[2].str()));
      if (port != pod.ports.end()) arg = m[1].str() + "127.0.0.1:" + std::to_string(port->second);
    }
    for (const auto& [address, local] : hosts_) {
      if (const size_t at = arg.find(address); at != std::string::npos) arg.replace(at, address.size(), local);
    }
    argv.push_back(arg);
  }
  return argv;
}

bool PodRunner::probeReady(const Pod& pod) const {
  const json probe = pod.container.value("readinessProbe", json::object());
  if (!probe.contains("httpGet")) return true;
  const json& get = probe["httpGet"];
  uint16_t port = 0;
  if (get["port"].is_number()) {
    auto found = pod.ports.find(get["port"].get<int>());
    port = found != pod.ports.end() ? found->second : 0;
  } else {
    for (const json& p : pod.container.value("ports", json::array())) {
      if (p.value("name", "") == get["port"]) port = pod.ports.at(p["containerPort"].get<int>());
    }
  }
  if (port == 0) return false;
  Socket socket(port, std::chrono::milliseconds(500));
  if (socket.fd() < 0) return false;
  const std::string request =
      "GET " + get.value("path", std::string("/")) + " HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n";
  if (::send(socket.fd(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
    return false;
  char head[16] = {};
  const ssize_t n = ::recv(socket.fd(), head, sizeof head - 1, MSG_WAITALL);
  // As the kubelet: any status from 200 to 399 is a success.
  return n >= 12 && std::string_view(head, 9) == "HTTP/1.1 " && (head[9] == '2' || head[9] == '3');
}

void PodRunner::writeStatus(const std::string& name, Pod& pod) {
  auto object = client_.get(kube::kPods, options_.ns, name);
  if (!object.ok() || (*object)["metadata"]["uid"] != pod.uid) return;
  const std::string now = formatRfc3339(std::chrono::system_clock::now());
  const std::string ready = pod.ready ? "True" : "False";
  const std::string phase = !pod.exitCode ? "Running" : *pod.exitCode == 0 ? "Succeeded" : "Failed";
  const json state = pod.exitCode
                         ? json{{"terminated", {{"exitCode", *pod.exitCode}, {"startedAt", now}, {"finishedAt", now}}}}
                         : json{{"running", {{"startedAt", now}}}};
  (*object)["status"] = {{"phase", phase},
                         {"podIP", pod.ip},
                         {"podIPs", {{{"ip", pod.ip}}}},
                         {"hostIP", "10.244.0.1"},
                         {"startTime", now},
                         {"conditions",
                          {{{"type", "Initialized"}, {"status", "True"}, {"lastTransitionTime", now}},
                           {{"type", "Ready"}, {"status", ready}, {"lastTransitionTime", now}},
                           {{"type", "ContainersReady"}, {"status", ready}, {"lastTransitionTime", now}},
                           {{"type", "PodScheduled"}, {"status", "True"}, {"lastTransitionTime", now}}}},
                         {"containerStatuses",
                          {{{"name", pod.container["name"]},
                            {"ready", pod.ready},
                            {"started", true},
                            {"restartCount", pod.restarts},
                            {"image", pod.container.value("image", "")},
                            {"imageID", ""},
                            {"state", state}}}}};
  pod.statusWritten = client_.updateStatus(kube::kPods, options_.ns, *object).ok();
}

void PodRunner::addHost(const std::string& address, const std::string& local) {
  std::lock_guard lock(mu_);
  hosts_[address] = local;
}

void PodRunner::addServiceEnv(const std::string& name, const std::string& value) {
  std::lock_guard lock(mu_);
  serviceEnv_[name] = value;
}

bool PodRunner::signal(const std::string& pod, int sig) {
  std::lock_guard lock(mu_);
  auto found = pods_.find(pod);
  if (found == pods_.end() || !found->second.process) return false;
  found->second.process->signal(sig);
  return true;
}

uint16_t PodRunner::localPort(const std::string& podIp, int containerPort) const {
  std::lock_guard lock(mu_);
  for (const auto& [name, pod] : pods_) {
    if (pod.ip != podIp) continue;
    auto found = pod.ports.find(containerPort);
    return found != pod.ports.end() ? found->second : 0;
  }
  return 0;
}

uint16_t PodRunner::localPortOf(const std::string& pod, const std::string& portName) const {
  std::lock_guard lock(mu_);
  auto found = pods_.find(pod);
  if (found == pods_.end()) return 0;
  for (const json& p : found->second.container.value("ports", json::array())) {
    if (p.value("name", "") == portName) return found->second.ports.at(p["containerPort"].get<int>());
  }
  return 0;
}

std::string PodRunner::output(const std::string& pod) const {
  std::lock_guard lock(mu_);
  auto found = logs_.find(pod);
  if (found == logs_.end()) return "";
  std::string out;
  for (const auto& log : found->second) {
    std::ifstream in(log);
    out += std::string(std::istreambuf_iterator<char>(in), {});
  }
  return out;
}

std::vector<std::string> PodRunner::pods() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, pod] : pods_) names.push_back(name);
  return names;
}

int PodRunner::started() const {
  std::lock_guard lock(mu_);
  return started_;
}

}  // namespace rotor::testing
