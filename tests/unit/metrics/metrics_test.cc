#include "controller/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "controller/metrics/endpoint.h"
#include "tests/support/rotation_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::metrics {
namespace {

using api::Phase;
using ::testing::HasSubstr;
using ::testing::Not;

class MetricsTest : public ::testing::Test {
protected:
  /** Reconciles as the manager would, telling the metrics each outcome, until `phase`. */
  void runObserved(const api::ObjectKey& key, Phase phase) {
    reconcilers::Driver driver = h.driver(h.store);
    for (int i = 0; i < 400; ++i) {
      if (auto r = h.store.getRotation(key); r.ok() && r->status.phase == phase) return;
      auto result = driver.reconcile(key);
      metrics.reconciled(key, result, std::chrono::microseconds(700));
      ASSERT_OK(result.status());
      h.clock.advance(result->requeueAfter > Duration::zero() ? result->requeueAfter : std::chrono::seconds(1));
    }
    FAIL() << "never reached " << api::phaseName(phase);
  }

  /** A rotation that rolls back after failed probes, then blocks on the dns_names pre-check. */
  api::ObjectKey rollBackThenBlockOnAPrecheck() {
    const auto key = h.create(rotor::testing::rotationTemplate()).key();
    runObserved(key, Phase::kReady);
    h.prober.fail("127.0.0.1:9000", failedPrecondition("handshake failure"));
    h.annotate(key, std::string(api::kRotateAnnotation), "1");
    runObserved(key, Phase::kRolledBack);
    h.prober.heal("127.0.0.1:9000");
    h.editSpec(key, [](api::RotationSpec& s) { s.certificate.dnsNames = {"other.example.com"}; });
    h.annotate(key, std::string(api::kRenewAnnotation), "x");
    runObserved(key, Phase::kBlocked);
    return key;
  }

  rotor::testing::RotationHarness h;
  ControllerMetrics metrics{h.store, "1.2.3"};
};

std::string seconds(SystemTime t) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

TEST_F(MetricsTest, ExportsEachRotationsStateFromItsStatus) {
  const auto key = h.create(rotor::testing::rotationTemplate()).key();
  runObserved(key, Phase::kReady);
  const auto r = h.get(key);
  const std::string text = metrics.render();
  const std::string id = "namespace=\"default\",name=\"proxy\"";
  EXPECT_THAT(text, HasSubstr("rotor_rotation_phase{" + id + ",phase=\"Ready\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("rotor_rotation_phase{" + id + ",phase=\"AwaitingAdoption\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("rotor_rotation_revision{" + id + "} 1\n"));
  EXPECT_THAT(text, HasSubstr("rotor_certificate_expiration_timestamp_seconds{" + id +
                              ",role=\"ca\",slot=\"current\"} " + seconds(*r.status.ca.current->notAfter)));
  EXPECT_THAT(text, HasSubstr("rotor_certificate_expiration_timestamp_seconds{" + id +
                              ",role=\"server\",slot=\"current\",server=\"a\"} " +
                              seconds(*r.status.servers.front().notAfter)));
  EXPECT_THAT(text, HasSubstr("rotor_rotation_phase_started_timestamp_seconds{" + id + "} " +
                              seconds(*r.status.phaseStartedAt)));
  EXPECT_THAT(text, HasSubstr("rotor_rotation_agents{" + id + ",state=\"pending\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("rotor_build_info{version=\"1.2.3\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("rotor_reconcile_total{result=\"success\"} "));
  EXPECT_THAT(text, HasSubstr("rotor_reconcile_duration_seconds_bucket{le=\"0.001\"} "));
  // Identifiers only: no fingerprint, certificate or key ever reaches a label or a value.
  EXPECT_THAT(text, Not(HasSubstr("sha256:")));
  EXPECT_THAT(text, Not(HasSubstr("BEGIN")));
}

TEST_F(MetricsTest, CountsRollbacksAndFailedPrechecksAndForgetsADeletedRotation) {
  const auto key = rollBackThenBlockOnAPrecheck();
  // prometheus-cpp orders a counter's labels by name.
  const std::string id = "name=\"proxy\",namespace=\"default\"";
  std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("rotor_rollbacks_total{" + id + ",reason=\"ProbeFailed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("rotor_precheck_failures_total{check=\"dns_names\"," + id + "} 1\n"));
  EXPECT_THAT(text, HasSubstr("rotor_rotation_phase{namespace=\"default\",name=\"proxy\",phase=\"Blocked\"} 1\n"));

  ASSERT_OK(h.store.deleteRotation(key));
  metrics.reconciled(key, h.driver(h.store).reconcile(key), std::chrono::microseconds(100));
  text = metrics.render();
  EXPECT_THAT(text, Not(HasSubstr("name=\"proxy\"")));
  EXPECT_THAT(text, HasSubstr("rotor_build_info"));
}

TEST_F(MetricsTest, OnlyTheLeaderExportsTheRotationsState) {
  runObserved(h.create(rotor::testing::rotationTemplate()).key(), Phase::kReady);
  bool leading = false;
  metrics.setLeading([&leading] { return leading; });
  const std::string follower = metrics.render();
  EXPECT_THAT(follower, HasSubstr("rotor_leader 0\n"));
  EXPECT_THAT(follower, HasSubstr("rotor_build_info"));
  EXPECT_THAT(follower, ::testing::Not(HasSubstr("rotor_rotation_phase{")));  // scraped twice, it would count twice
  leading = true;
  const std::string leader = metrics.render();
  EXPECT_THAT(leader, HasSubstr("rotor_leader 1\n"));
  EXPECT_THAT(leader, HasSubstr("rotor_rotation_phase{"));
}

TEST_F(MetricsTest, CheckInsAndQueueDepthComeFromTheirSources) {
  metrics.setCheckInCounts([] {
    return std::vector<std::pair<std::string, uint64_t>>{{"accepted", 7}, {"bad_request", 2}};
  });
  metrics.setQueueDepth([] { return size_t{3}; });
  metrics.checkInTook(std::chrono::microseconds(40));
  const std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("rotor_agent_checkins_total{result=\"accepted\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("rotor_agent_checkins_total{result=\"bad_request\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("rotor_workqueue_depth 3\n"));
  EXPECT_THAT(text, HasSubstr("rotor_agent_checkin_duration_seconds_bucket{le=\"5e-05\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("rotor_agent_checkin_duration_seconds_bucket{le=\"2.5e-05\"} 0\n"));
}

TEST_F(MetricsTest, HealthAndReadinessAnswerFromTheirChecks) {
  bool live = true, ready = false;
  HealthChecks health{[&] { return live; }, [&] { return ready; }};
  const auto get = [&](const std::string& target, const std::string& method = "GET") {
    http::HttpRequest request;
    request.method = method;
    request.target = target;
    return handleOperationalRequest(metrics, health, request);
  };
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/readyz").status, 503);
  ready = true;
  EXPECT_EQ(get("/readyz").status, 200);
  live = false;
  EXPECT_EQ(get("/healthz").status, 503);
  const auto scrape = get("/metrics");
  EXPECT_EQ(scrape.status, 200);
  EXPECT_EQ(scrape.contentType, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(scrape.body, HasSubstr("rotor_build_info"));
  EXPECT_TRUE(get("/metrics", "HEAD").body.empty());
  EXPECT_EQ(get("/metrics", "POST").status, 405);
  EXPECT_EQ(get("/other").status, 404);
}

/** The metric families a scrape declares ("# TYPE name kind"), with every source set. Event
 *  families appear once they have a series. */
std::set<std::string> exportedFamilies(ControllerMetrics& metrics) {
  metrics.setCheckInCounts([] { return std::vector<std::pair<std::string, uint64_t>>{{"accepted", 1}}; });
  metrics.setQueueDepth([] { return size_t{0}; });
  metrics.setLeading([] { return true; });
  std::set<std::string> names;
  std::istringstream lines(metrics.render());
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ")) names.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  return names;
}

/** Every rotor_* name a shipped file queries, with a histogram's _bucket/_sum/_count folded. */
std::set<std::string> queriedFamilies(const std::string& relativePath, const std::set<std::string>& exported) {
  const std::string all = rotor::testing::readSourceFile(relativePath);
  EXPECT_FALSE(all.empty()) << "cannot read " << relativePath;
  std::set<std::string> names;
  const std::regex metric("rotor_[a-z_]+");
  for (auto it = std::sregex_iterator(all.begin(), all.end(), metric); it != std::sregex_iterator(); ++it) {
    std::string name = it->str();
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (!name.ends_with(suffix)) continue;
      const std::string base = name.substr(0, name.size() - suffix.size());
      if (exported.contains(base)) name = base;
    }
    names.insert(name);
  }
  return names;
}

TEST_F(MetricsTest, TheDashboardAndTheAlertRulesQueryOnlyExportedMetrics) {
  rollBackThenBlockOnAPrecheck();
  // A rotation that copies its bundle, one namespace behind: the copies' family is exported.
  api::CertificateRotation copier = rotor::testing::rotationTemplate();
  copier.metadata.name = "copier";
  copier = h.create(copier);
  copier.status.bundleCopies = api::BundleCopiesStatus{2, 1, {}};
  ASSERT_OK(h.store.updateRotationStatus(copier));
  EXPECT_THAT(metrics.render(),
              HasSubstr("rotor_rotation_bundle_copies{namespace=\"default\",name=\"copier\",state=\"current\"} 1\n"));
  const std::set<std::string> exported = exportedFamilies(metrics);
  const std::set<std::string> dashboard = queriedFamilies("charts/rotor/dashboards/rotor.json", exported);
  const std::set<std::string> rules = queriedFamilies("charts/rotor/prometheus/rotor-rules.yaml", exported);
  for (const std::string& name : dashboard) EXPECT_TRUE(exported.contains(name)) << "dashboard queries " << name;
  for (const std::string& name : rules) EXPECT_TRUE(exported.contains(name)) << "alert rules query " << name;
  // And the dashboard shows every family rotor exports.
  for (const std::string& name : exported) EXPECT_TRUE(dashboard.contains(name)) << "dashboard never shows " << name;
  EXPECT_GE(rules.size(), 6u);
}

}  // namespace
}  // namespace rotor::metrics
