#pragma once

#include "controller/store/forwarding_store.h"

namespace rotor::testing {

/**
 * Wraps a Store and "dies" at the N-th write: that write and every later one fail with
 * kUnavailable without reaching the inner store, as if the process had been killed just before
 * it. Reads pass through. Crash sweeps run a job once per N and then resume it on the inner store.
 */
class FaultStore final : public store::ForwardingStore {
public:
  FaultStore(store::Store& inner, int failAtWrite) : ForwardingStore(inner), failAt_(failAtWrite) {}

  /** Writes attempted so far (including the failed ones). */
  int writes() const { return writes_; }
  bool crashed() const { return writes_ >= failAt_; }

  StatusOr<store::CertificateRotation> applyRotation(const store::CertificateRotation& d) override {
    RETURN_IF_ERROR(write());
    return ForwardingStore::applyRotation(d);
  }
  Status updateRotation(store::CertificateRotation& r) override {
    return guarded([&] { return ForwardingStore::updateRotation(r); });
  }
  Status updateRotationStatus(store::CertificateRotation& r) override {
    return guarded([&] { return ForwardingStore::updateRotationStatus(r); });
  }
  Status deleteRotation(const store::ObjectKey& k) override {
    return guarded([&] { return ForwardingStore::deleteRotation(k); });
  }
  Status writeAuthorities(const store::CertificateRotation& r, const store::Authorities& a,
                          const store::Version& v) override {
    return guarded([&] { return ForwardingStore::writeAuthorities(r, a, v); });
  }
  Status writeServed(const store::CertificateRotation& r, std::string_view s, const store::ServedMaterial& m,
                     const store::Version& v) override {
    return guarded([&] { return ForwardingStore::writeServed(r, s, m, v); });
  }
  Status writeBundle(const store::CertificateRotation& r, const std::string& b, const store::Version& v) override {
    return guarded([&] { return ForwardingStore::writeBundle(r, b, v); });
  }
  Status putSnapshot(const store::CertificateRotation& r, const store::Snapshot& s) override {
    return guarded([&] { return ForwardingStore::putSnapshot(r, s); });
  }
  Status reload(const store::CertificateRotation& r, std::string_view s) override {
    return guarded([&] { return ForwardingStore::reload(r, s); });
  }
  Status putAgents(const store::ObjectKey& k, const std::vector<store::AgentRecord>& a) override {
    return guarded([&] { return ForwardingStore::putAgents(k, a); });
  }
  Status addAgentTokenDigest(const store::ObjectKey& k, const std::string& d) override {
    return guarded([&] { return ForwardingStore::addAgentTokenDigest(k, d); });
  }

private:
  Status write() { return ++writes_ >= failAt_ ? dead() : okStatus(); }
  static Status dead() { return unavailable("injected crash"); }
  template <typename Write>
  Status guarded(Write&& w) {
    return write().ok() ? w() : dead();
  }

  int failAt_;
  int writes_ = 0;
};

}  // namespace rotor::testing
