#pragma once

// Drives rotations through reconcilers::Driver on a MemoryStore and a FakeClock, with a prober
// that behaves like a server presenting exactly what the Store holds.

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "controller/pki/bundle.h"
#include "controller/pki/verify.h"
#include "reconcilers/driver.h"
#include "tests/support/fake_clock.h"
#include "tests/support/memory_store.h"

namespace rotor::testing {

/** Events as "Reason" strings, in order. */
class RecordingEvents final : public reconcilers::EventRecorder {
public:
  void record(const api::CertificateRotation&, reconcilers::EventType type, const std::string& reason,
              const std::string&) override {
    reasons.push_back((type == reconcilers::EventType::kWarning ? "Warning:" : "") + reason);
  }
  std::vector<std::string> reasons;
};

/**
 * A prober whose servers present what the Store holds for them, as a server that reloaded
 * perfectly would: the probe verifies that certificate against the bundle it is given and compares
 * fingerprints. `fail(address, status)` makes one address fail instead.
 */
class StoreBackedProber final : public reconcilers::Prober {
public:
  StoreBackedProber(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  void watch(const api::ObjectKey& key) { key_ = key; }
  void fail(const std::string& address, Status status) { failures_[address] = std::move(status); }
  void heal(const std::string& address) { failures_.erase(address); }
  int probes() const { return probes_; }

  Status probe(const api::HealthCheckSpec& check, const std::string& bundlePem,
               const std::string& expectedFingerprint) override {
    ++probes_;
    if (auto it = failures_.find(check.address); it != failures_.end()) return it->second;
    ASSIGN_OR_RETURN(api::CertificateRotation r, store_.getRotation(key_));
    for (const api::ServerSpec& server : r.spec.servers) {
      if (!server.healthCheck || server.healthCheck->address != check.address) continue;
      ASSIGN_OR_RETURN(auto served, store_.readServed(r, server.name));
      if (!served.value) return unavailable("connection refused");
      ASSIGN_OR_RETURN(auto chain, pki::parsePemBundle(served.value->certificateChainPem));
      ASSIGN_OR_RETURN(auto roots, pki::parsePemBundle(bundlePem));
      std::vector<pki::Certificate> intermediates(chain.begin() + 1, chain.end());
      RETURN_IF_ERROR(pki::verifyChain(chain.front(), intermediates, roots, clock_.now()));
      if (chain.front().fingerprint().toString() != expectedFingerprint) {
        return failedPrecondition("presents another certificate");
      }
      return okStatus();
    }
    return unavailable("nothing listens on " + check.address);
  }

private:
  store::Store& store_;
  const Clock& clock_;
  api::ObjectKey key_;
  std::map<std::string, Status> failures_;
  int probes_ = 0;
};

/** A rotation with `servers` servers named a, b, ... each with a health check. */
inline api::CertificateRotation rotationTemplate(int servers = 1) {
  api::CertificateRotation r;
  r.metadata.name = "proxy";
  r.spec.certificate.commonName = "proxy.example.com";
  r.spec.certificate.dnsNames = {"proxy.example.com"};
  r.spec.certificate.ipAddresses = {"127.0.0.1"};
  for (int i = 0; i < servers; ++i) {
    const std::string name(1, static_cast<char>('a' + i));
    api::ServerSpec s;
    s.name = name;
    s.certFile = name + ".crt";
    s.keyFile = name + ".key";
    s.healthCheck = api::HealthCheckSpec{"127.0.0.1:" + std::to_string(9000 + i), "proxy.example.com"};
    r.spec.servers.push_back(s);
  }
  r.spec.ca.generate = api::CaGenerateSpec{"Proxy CA", std::chrono::hours(24 * 365), {}};
  r.spec.ca.rotateBefore = std::chrono::hours(24 * 30);
  r.spec.trustBundle.file = "bundle.pem";
  r.spec.adoption.minStageDuration = std::chrono::minutes(10);
  r.spec.swap.bakeTime = std::chrono::seconds(60);
  r.spec.prune.after = std::chrono::hours(1);
  return r;
}

/** Every server that presents a certificate verifies against the stored bundle. */
inline ::testing::AssertionResult servedVerifiesAgainstBundle(store::Store& s, const api::CertificateRotation& r,
                                                              SystemTime at) {
  auto bundle = s.readBundle(r);
  if (!bundle.ok()) return ::testing::AssertionFailure() << bundle.status();
  for (const auto& server : r.spec.servers) {
    auto served = s.readServed(r, server.name);
    if (!served.ok()) return ::testing::AssertionFailure() << served.status();
    if (!served->value) continue;
    if (!bundle->value) return ::testing::AssertionFailure() << server.name << " serves before the bundle exists";
    auto roots = pki::parsePemBundle(*bundle->value).value();
    auto chain = pki::parsePemBundle(served->value->certificateChainPem).value();
    std::vector<pki::Certificate> intermediates(chain.begin() + 1, chain.end());
    if (Status v = pki::verifyChain(chain.front(), intermediates, roots, at); !v.ok()) {
      return ::testing::AssertionFailure() << server.name << ": " << v;
    }
  }
  return ::testing::AssertionSuccess();
}

class RotationHarness {
public:
  FakeClock clock;
  MemoryStore store{clock};
  StoreBackedProber prober{store, clock};
  RecordingEvents events;

  api::CertificateRotation create(const api::CertificateRotation& desired) {
    auto r = store.applyRotation(desired).value();
    prober.watch(r.key());
    return r;
  }
  reconcilers::Driver driver(store::Store& via) { return reconcilers::Driver({via, clock, prober, events}); }

  /** Reconciles through `via` (default: the store), advancing the clock by each requeueAfter,
   *  until `done` holds or `rounds` reconciles ran. Returns the last error, if any. */
  Status runUntil(const api::ObjectKey& key, const std::function<bool(const api::CertificateRotation&)>& done,
                  int rounds = 400, store::Store* via = nullptr) {
    reconcilers::Driver d = driver(via ? *via : store);
    for (int i = 0; i < rounds; ++i) {
      auto current = store.getRotation(key);
      if (current.ok() && done(*current)) return okStatus();
      auto result = d.reconcile(key);
      if (!result.ok()) return result.status();
      clock.advance(result->requeueAfter > Duration::zero() ? result->requeueAfter : std::chrono::seconds(1));
    }
    return Status(Code::kDeadlineExceeded, "not done after " + std::to_string(rounds) + " reconciles");
  }
  Status runUntilPhase(const api::ObjectKey& key, api::Phase phase, int64_t revision = 0, int rounds = 400) {
    return runUntil(
        key,
        [&](const api::CertificateRotation& r) {
          return r.status.phase == phase && (revision == 0 || r.status.revision == revision);
        },
        rounds);
  }
  /** Sets an annotation (as `rotor rotate` does). */
  void annotate(const api::ObjectKey& key, const std::string& name, const std::string& value) {
    auto r = store.getRotation(key).value();
    r.metadata.annotations[name] = value;
    EXPECT_TRUE(store.updateRotation(r).ok());
  }
  void editSpec(const api::ObjectKey& key, const std::function<void(api::RotationSpec&)>& edit) {
    auto r = store.getRotation(key).value();
    edit(r.spec);
    EXPECT_TRUE(store.applyRotation(r).ok());
  }
  api::CertificateRotation get(const api::ObjectKey& key) { return store.getRotation(key).value(); }
};

}  // namespace rotor::testing
