#pragma once

// A status with every field set to a value that is not its default: a write and a read that
// lose any field (a codec, a CRD schema that prunes it) show up as a difference.

#include <chrono>

#include "controller/api/rotation.h"

namespace rotor::testing {

inline api::RotationStatus everyStatusField() {
  using api::Phase;
  const auto at = [](int seconds) { return std::chrono::system_clock::from_time_t(1795342500 + seconds); };
  api::RotationStatus s;
  s.phase = Phase::kAwaitingAdoption;
  s.revision = 2;
  s.observedGeneration = 1;
  s.conditions.push_back({"Ready", "True", 1, "Rotated", "ok", at(100)});
  s.ca.current = api::CertificateRef{"sha256:" + std::string(64, 'a'), at(200)};
  s.ca.next = api::CertificateRef{"sha256:" + std::string(64, 'b'), at(250)};
  s.ca.previous = api::CertificateRef{"sha256:" + std::string(64, 'c'), at(260)};
  api::ServerStatus server{"proxy", "sha256:" + std::string(64, 'd'), at(300), "sha256:" + std::string(64, 'a')};
  server.swappedAt = at(500);
  server.rolledOutAt = at(520);
  server.verifiedAt = at(560);
  server.lastProbeAt = at(550);
  server.probeFailures = 2;
  server.lastProbeError = "handshake failed";
  s.servers.push_back(server);
  s.adoption = {10, 9, 1, 0.9, {"agent-7"}};
  s.bundleCopies =
      api::BundleCopiesStatus{3,
                              2,
                              {"legacy"},
                              api::ClusterTrustBundleStatus{"example.com:edge:proxy-ca", "certificates.k8s.io/v1beta1",
                                                            false, true, "not rotor's"}};
  s.pods = api::PodAdoptionStatus{
      .ca = "sha256:" + std::string(64, 'b'),
      .bundleSince = at(120),
      .running = 5,
      .adopted = 3,
      .workloads = {{{"Deployment", "shop", "web"}, 3, 1}, {{"DaemonSet", "edge", "agent"}, 2, 2}},
      .restarting = {{"Deployment", "shop", "web"}},
      .restarted = {{"StatefulSet", "shop", "db"}}};
  s.snapshots.push_back({"proxy-r2-swap", at(400), 2, "before swap"});
  s.phaseStartedAt = at(600);
  s.message = "Waiting for agents";
  s.attempt = 2;
  s.trigger = "RotateRequested";
  s.rollbackSnapshot = "proxy-r1-swap";
  s.rollbackRestagedCa = "sha256:" + std::string(64, 'f');
  s.resumePhase = Phase::kSwapping;
  s.handled = {"2026-11-22T10:00:00Z", "1", "proxy-r1-swap", "2026-11-22T11:00:00Z", "2026-11-22T12:00:00Z",
               "2026-11-22T13:00:00Z"};
  s.caSourceHash = "v1:sha256:" + std::string(64, 'e');
  s.caSecret = {"sha256:" + std::string(64, '1'), "sha256:" + std::string(64, '2')};
  s.timeline.push_back({Phase::kStaging, at(600), "Staged"});
  return s;
}

}  // namespace rotor::testing
