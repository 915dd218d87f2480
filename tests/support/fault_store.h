#pragma once

#include "controller/store/store.h"

namespace rotor::testing {

/**
 * Wraps a Store and "dies" at the N-th write: that write and every later one fail with
 * kUnavailable without reaching the inner store, as if the process had been killed just before
 * it. Reads pass through. Crash sweeps run a job once per N and then resume it on the inner store.
 */
class FaultStore final : public store::Store {
public:
  FaultStore(store::Store& inner, int failAtWrite) : inner_(inner), failAt_(failAtWrite) {}

  /** Writes attempted so far (including the failed ones). */
  int writes() const { return writes_; }
  bool crashed() const { return writes_ >= failAt_; }

  StatusOr<std::vector<store::CertificateRotation>> listRotations() override { return inner_.listRotations(); }
  StatusOr<store::CertificateRotation> getRotation(const store::ObjectKey& k) override { return inner_.getRotation(k); }
  StatusOr<store::CertificateRotation> applyRotation(const store::CertificateRotation& d) override {
    RETURN_IF_ERROR(write());
    return inner_.applyRotation(d);
  }
  Status updateRotation(store::CertificateRotation& r) override { return write().ok() ? inner_.updateRotation(r) : dead(); }
  Status updateRotationStatus(store::CertificateRotation& r) override {
    return write().ok() ? inner_.updateRotationStatus(r) : dead();
  }
  Status deleteRotation(const store::ObjectKey& k) override { return write().ok() ? inner_.deleteRotation(k) : dead(); }
  StatusOr<store::Versioned<store::Authorities>> readAuthorities(const store::CertificateRotation& r) override {
    return inner_.readAuthorities(r);
  }
  Status writeAuthorities(const store::CertificateRotation& r, const store::Authorities& a,
                          const store::Version& v) override {
    return write().ok() ? inner_.writeAuthorities(r, a, v) : dead();
  }
  StatusOr<store::AuthorityMaterial> readCustomAuthority(const store::CertificateRotation& r) override {
    return inner_.readCustomAuthority(r);
  }
  StatusOr<store::Versioned<std::optional<store::ServedMaterial>>> readServed(const store::CertificateRotation& r,
                                                                              std::string_view s) override {
    return inner_.readServed(r, s);
  }
  Status writeServed(const store::CertificateRotation& r, std::string_view s, const store::ServedMaterial& m,
                     const store::Version& v) override {
    return write().ok() ? inner_.writeServed(r, s, m, v) : dead();
  }
  StatusOr<store::Versioned<std::optional<std::string>>> readBundle(const store::CertificateRotation& r) override {
    return inner_.readBundle(r);
  }
  Status writeBundle(const store::CertificateRotation& r, const std::string& b, const store::Version& v) override {
    return write().ok() ? inner_.writeBundle(r, b, v) : dead();
  }
  Status putSnapshot(const store::CertificateRotation& r, const store::Snapshot& s) override {
    return write().ok() ? inner_.putSnapshot(r, s) : dead();
  }
  StatusOr<store::Snapshot> getSnapshot(const store::CertificateRotation& r, std::string_view n) override {
    return inner_.getSnapshot(r, n);
  }
  StatusOr<std::vector<std::string>> listSnapshots(const store::CertificateRotation& r) override {
    return inner_.listSnapshots(r);
  }
  Status reload(const store::CertificateRotation& r, std::string_view s) override {
    return write().ok() ? inner_.reload(r, s) : dead();
  }
  StatusOr<std::vector<store::AgentRecord>> listAgents(const store::ObjectKey& k) override { return inner_.listAgents(k); }
  Status putAgent(const store::ObjectKey& k, const store::AgentRecord& a) override {
    return write().ok() ? inner_.putAgent(k, a) : dead();
  }

private:
  Status write() { return ++writes_ >= failAt_ ? dead() : okStatus(); }
  static Status dead() { return unavailable("injected crash"); }

  store::Store& inner_;
  int failAt_;
  int writes_ = 0;
};

}  // namespace rotor::testing
