// The --report-pod sidecar's loop: it annotates its pod with the digest of exactly the bytes the
// mounted bundle holds, once per change, never for a file that is missing or holds no
// certificate, and tries again after the API server refused the annotation.
#include "controller/agent/pod_reporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "controller/common/clock.h"
#include "controller/pki/digest.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/temp_dir.h"

namespace rotor::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PodReporterTest : public ::testing::Test {
protected:
  PodReporter reporter() {
    return PodReporter(
        {.bundleFile = (dir_.path() / "ca.crt").string()},
        [this](const std::string& digest) {
          if (refuse_) return unavailable("the API server refused it");
          annotations_.push_back(digest);
          return okStatus();
        },
        log_);
  }

  rotor::testing::TempDir dir_;
  std::ostringstream logged_;
  RealClock clock_;
  Logger log_{logged_, clock_, LogLevel::kInfo, LogFormat::kText};
  std::vector<std::string> annotations_;
  bool refuse_ = false;
};

TEST_F(PodReporterTest, AnnotatesTheDigestOfTheMountedBytesOncePerChange) {
  PodReporter r = reporter();
  EXPECT_EQ(r.syncOnce().code(), Code::kNotFound) << "no file yet: nothing is claimed";
  dir_.write("ca.crt", "not a certificate\n");
  EXPECT_THAT(r.syncOnce().message(), HasSubstr("is not a PEM bundle"));
  EXPECT_TRUE(annotations_.empty());

  const std::string oldCa = rotor::testing::makeCa("Old CA").certificate().toPem();
  const std::string both = oldCa + rotor::testing::makeCa("New CA").certificate().toPem();
  dir_.write("ca.crt", oldCa);
  ASSERT_TRUE(r.syncOnce().ok());
  ASSERT_TRUE(r.syncOnce().ok());
  dir_.write("ca.crt", both);
  refuse_ = true;
  EXPECT_THAT(r.syncOnce().message(), HasSubstr("could not annotate the pod"));
  EXPECT_EQ(r.reported(), "sha256:" + pki::sha256Hex(oldCa)) << "a refused write is not taken for done";
  refuse_ = false;
  ASSERT_TRUE(r.syncOnce().ok());
  EXPECT_THAT(annotations_, ElementsAre("sha256:" + pki::sha256Hex(oldCa), "sha256:" + pki::sha256Hex(both)));
  EXPECT_THAT(logged_.str(), HasSubstr("Reported the bundle on the pod"));
  EXPECT_THAT(logged_.str(), ::testing::Not(HasSubstr("BEGIN CERTIFICATE")));
}

}  // namespace
}  // namespace rotor::agent
