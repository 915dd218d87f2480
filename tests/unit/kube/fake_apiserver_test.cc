// The fake API server answers the recorded requests as the real kube-apiserver did. Requests are
// replayed in the recorded order; resourceVersions and uids the real server handed out are
// mapped to the fake's, and answers are compared as JSON with only values that differ by nature
// (uids, resourceVersions, timestamps) masked.
#include "tests/support/fake_apiserver.h"

#include <gtest/gtest.h>

#include <regex>

#include "tests/support/fake_clock.h"
#include "tests/support/kube_transcript.h"

namespace rotor::testing {
namespace {

using nlohmann::json;

class Replay {
public:
  explicit Replay(FakeApiServer& fake) : fake_(fake) {}

  /** Replays every exchange of `file`; compares bodies too unless `statusOnly`. */
  void run(const std::string& file, bool statusOnly = false) {
    for (const TranscriptExchange& e : loadTranscript(file)) {
      adoption::HttpRequest request;
      request.method = e.method();
      request.target = e.target();
      request.userAgent = e.request.header("User-Agent");
      request.contentType = e.request.header("Content-Type");
      request.body = substitute(e.request.body);
      const adoption::HttpResponse got = fake_.handle(request);
      SCOPED_TRACE(file + ": " + request.method + " " + request.target);
      ASSERT_EQ(got.status, e.status()) << got.body;
      const json expected = json::parse(e.response.body, nullptr, false);
      const json actual = json::parse(got.body, nullptr, false);
      learn(expected, actual);
      if (statusOnly) continue;
      if (expected.is_discarded()) {
        EXPECT_EQ(got.body, e.response.body);
      } else {
        EXPECT_EQ(mask(actual), mask(expected)) << "fake:     " << mask(actual).dump() << "\nrecorded: " << mask(expected).dump();
      }
    }
  }

private:
  /** The recorded resourceVersions and uids in a request, as the fake knows them. */
  std::string substitute(std::string body) {
    for (const auto& [recorded, ours] : ids_) {
      for (size_t at = body.find("\"" + recorded + "\""); at != std::string::npos; at = body.find("\"" + recorded + "\"", at)) {
        body.replace(at + 1, recorded.size(), ours);
        at += ours.size() + 2;
      }
    }
    return body;
  }

  void learn(const json& expected, const json& actual) {
    if (!expected.is_object() || !actual.is_object()) return;
    for (const char* field : {"resourceVersion", "uid"}) {
      if (expected.contains("metadata") && expected["metadata"].contains(field) && actual["metadata"].contains(field)) {
        ids_[expected["metadata"][field].get<std::string>()] = actual["metadata"][field].get<std::string>();
      }
    }
  }

  /** Uids, resourceVersions and times replaced by "*", and ids inside messages by their recorded form. */
  json mask(json j) const {
    if (j.is_object()) {
      for (auto& [k, v] : j.items()) {
        if (k == "uid" || k == "resourceVersion" || k == "creationTimestamp" || k == "time") {
          v = "*";
        } else if (k == "message" && v.is_string()) {
          // Versions and uids quoted in messages, e.g. "the ResourceVersion in the precondition
          // (249) does not match ... (256)": the record's may come from exchanges not replayed.
          v = std::regex_replace(v.get<std::string>(), std::regex(R"(\(([0-9]+|[0-9a-f-]{36})\))"), "(*)");
        } else {
          v = mask(v);
        }
      }
    } else if (j.is_array()) {
      for (auto& v : j) v = mask(v);
    }
    return j;
  }

  FakeApiServer& fake_;
  std::map<std::string, std::string> ids_;  // recorded -> the fake's
};

TEST(FakeApiServerTest, AnswersCreateGetUpdateStatusAndDeleteAsRecorded) {
  FakeClock clock;
  FakeApiServer fake(clock);
  Replay replay(fake);
  replay.run("01-crd-create.http", true);
  replay.run("03-namespace-create.http", true);
  replay.run("04-cr-create.http");
  replay.run("05-cr-get.http");
  replay.run("06-cr-create-already-exists.http");
  replay.run("12-cr-update-put.http");
  replay.run("13-cr-update-put-stale.http");
  replay.run("14-cr-update-put-no-resourceversion.http");
  replay.run("15-cr-update-put-missing.http");
  replay.run("16-cr-status-put.http");
  replay.run("30-cr-get-not-found.http");
  replay.run("69-cr-delete-precondition-failed.http");
  replay.run("70-cr-delete-not-found.http");
  replay.run("78-cr-create-namespace-not-found.http");
  replay.run("81-cr-create-namespace-mismatch.http");
  replay.run("80-unknown-resource-404.http");
}

}  // namespace
}  // namespace rotor::testing
