// A full (or read-only) file system under the served files: the rotation reports the error in
// status, the servers keep what they had, and it goes on by itself once writes succeed again.
// (DiskFullEndToEnd does the same with the rotor binary on a real tmpfs where mounts are allowed.)

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/store/forwarding_store.h"
#include "tests/support/rotation_harness.h"
#include "tests/support/status_matchers.h"

namespace rotor::reconcilers {
namespace {

using rotor::testing::RotationHarness;

/** Fails every write of served material, as a full file system under the servers' files would. */
class FullDiskStore final : public store::ForwardingStore {
public:
  using ForwardingStore::ForwardingStore;
  bool full = false;
  Status writeServed(const store::CertificateRotation& r, std::string_view server, const store::ServedMaterial& m,
                     const store::Version& v) override {
    if (full) return unavailable("could not write /srv/certs/a.crt: No space left on device");
    return ForwardingStore::writeServed(r, server, m, v);
  }
};

TEST(DiskFullTest, TheErrorIsInStatusTheServersKeepTheirMaterialAndTheRotationResumesWhenWritesSucceed) {
  RotationHarness h;
  FullDiskStore disk(h.store);
  const auto key = h.create(rotor::testing::rotationTemplate()).key();
  ASSERT_OK(h.runUntilPhase(key, api::Phase::kReady, 1));
  const auto servedBefore = h.store.readServed(h.store.getRotation(key).value(), "a").value().value;

  disk.full = true;
  h.annotate(key, std::string(api::kRotateAnnotation), "now");
  const Status stuck = h.runUntil(
      key, [](const api::CertificateRotation& r) { return r.status.revision == 2; }, 60, &disk);
  EXPECT_THAT(stuck, rotor::testing::StatusIs(Code::kUnavailable, ::testing::HasSubstr("No space left on device")));
  const auto r = h.store.getRotation(key).value();
  const api::Condition* degraded = api::findCondition(r.status, api::kConditionDegraded);
  ASSERT_NE(degraded, nullptr);
  EXPECT_EQ(degraded->status, "True");
  EXPECT_EQ(degraded->reason, "StoreUnavailable");
  EXPECT_THAT(degraded->message, ::testing::HasSubstr("No space left on device"));
  EXPECT_EQ(h.store.readServed(r, "a").value().value, servedBefore) << "the server keeps what it had";

  disk.full = false;
  ASSERT_OK(h.runUntil(
      key,
      [](const api::CertificateRotation& c) { return c.status.phase == api::Phase::kReady && c.status.revision == 2; },
      400, &disk));
  const auto done = h.store.getRotation(key).value();
  EXPECT_EQ(api::findCondition(done.status, api::kConditionDegraded)->status, "False");
  EXPECT_NE(h.store.readServed(done, "a").value().value, servedBefore);
}

}  // namespace
}  // namespace rotor::reconcilers
