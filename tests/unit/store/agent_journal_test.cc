#include "controller/store/local/agent_journal.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::store::local {
namespace {

using rotor::testing::StatusIs;

const SystemTime kSeen = SystemTime(std::chrono::seconds(1'800'000'000));
std::string fp(char digit) { return "sha256:" + std::string(64, digit); }

std::map<std::string, AgentRecord> recordsOf(const AgentJournal& journal) {
  std::map<std::string, AgentRecord> out;
  EXPECT_OK(journal.visit([&](const AgentRecord& a) { out[a.id] = a; }));
  return out;
}

TEST(AgentJournalTest, AbsentJournalHasNoRecordsAndIsCreatedPrivate) {
  rotor::testing::TempDir dir;
  AgentJournal journal(dir.path() / "ns" / "r.agents");
  EXPECT_TRUE(recordsOf(journal).empty());
  ASSERT_OK(journal.append({{"a", kSeen, {fp('1')}, "1.0"}}));
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "ns" / "r.agents").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(recordsOf(journal).at("a"), (AgentRecord{"a", kSeen, {fp('1')}, "1.0"}));
}

TEST(AgentJournalTest, ATornLastLineIsSkippedAndCutBeforeTheNextAppend) {
  rotor::testing::TempDir dir;
  const auto path = dir.path() / "r.agents";
  AgentJournal journal(path);
  ASSERT_OK(journal.append({{"a", kSeen, {fp('1')}, ""}}));
  {
    std::ofstream torn(path, std::ios::app);
    torn << "b 1800000000 - " << std::string(30, 'f');  // a crash in the middle of a line
  }
  EXPECT_EQ(recordsOf(journal).size(), 1u);
  ASSERT_OK(journal.append({{"c", kSeen, {}, ""}}));
  auto records = recordsOf(journal);
  EXPECT_EQ(records.size(), 2u);
  EXPECT_TRUE(records.contains("a"));
  EXPECT_TRUE(records.contains("c"));
}

TEST(AgentJournalTest, ADamagedCompleteLineIsReportedNotGuessed) {
  rotor::testing::TempDir dir;
  AgentJournal journal(dir.write("r.agents", "rotor-agents 1 0\na 1800000000 - zz\n"));
  EXPECT_THAT(journal.visit([](const AgentRecord&) {}), StatusIs(Code::kFailedPrecondition));
  AgentJournal headless(dir.write("h.agents", "a 1800000000 - -\n"));
  EXPECT_THAT(headless.visit([](const AgentRecord&) {}), StatusIs(Code::kFailedPrecondition));
}

TEST(AgentJournalTest, GrowthBeyondTwiceTheCompactedSizeCompactsToOneLinePerAgent) {
  rotor::testing::TempDir dir;
  const auto path = dir.path() / "r.agents";
  AgentJournal journal(path);
  std::vector<AgentRecord> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back({"agent-" + std::to_string(i), kSeen, {fp('1'), fp('2')}, "1.0"});
  uintmax_t largest = 0;
  for (int round = 0; round < 20; ++round) {
    for (AgentRecord& a : batch) a.lastSeen = kSeen + std::chrono::seconds(round);
    ASSERT_OK(journal.append(batch));
    largest = std::max(largest, std::filesystem::file_size(path));
  }
  // 20 rounds of ~140 KB would be 2.8 MB uncompacted; compaction keeps it near one round.
  EXPECT_LT(largest, 2'000'000u);
  auto records = recordsOf(journal);
  ASSERT_EQ(records.size(), 1000u);
  EXPECT_EQ(records.at("agent-999").lastSeen, kSeen + std::chrono::seconds(19));
  ASSERT_OK(journal.compact());
  EXPECT_EQ(recordsOf(journal), records);
  const std::string text = dir.read("r.agents");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1001);
  EXPECT_EQ(text.substr(0, text.find('\n')), "rotor-agents 1 " + std::to_string(text.size()));
}

TEST(AgentJournalTest, LinesAppendedAfterACompactionOverrideTheCompactedOnes) {
  rotor::testing::TempDir dir;
  AgentJournal journal(dir.path() / "r.agents");
  ASSERT_OK(journal.append({{"a", kSeen, {fp('1')}, "1.0"}, {"b", kSeen, {fp('1')}, "1.0"}}));
  ASSERT_OK(journal.compact());
  const auto later = kSeen + std::chrono::seconds(5);
  ASSERT_OK(journal.append({{"b", later, {fp('1'), fp('2')}, "1.1"}, {"c", later, {}, ""}}));
  ASSERT_OK(journal.append({{"b", later + std::chrono::seconds(1), {fp('2')}, "1.2"}}));
  auto records = recordsOf(journal);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records.at("a").version, "1.0");
  EXPECT_EQ(records.at("b").trusted, std::vector<std::string>{fp('2')});
  EXPECT_EQ(records.at("b").version, "1.2");
  EXPECT_TRUE(records.at("c").trusted.empty());
  int visits = 0;
  ASSERT_OK(journal.visit([&](const AgentRecord&) { ++visits; }));
  EXPECT_EQ(visits, 3);
}

TEST(AgentJournalTest, AHeaderSizeThatIsNotALineBoundaryIsNotTrusted) {
  rotor::testing::TempDir dir;
  // The header claims a compacted prefix ending mid-line; every line is then checked for repeats.
  AgentJournal journal(dir.write("r.agents", "rotor-agents 1 25\na 1800000000 - -\na 1800000001 2.0 -\n"));
  int visits = 0;
  ASSERT_OK(journal.visit([&](const AgentRecord& a) {
    ++visits;
    EXPECT_EQ(a.version, "2.0");
  }));
  EXPECT_EQ(visits, 1);
}

}  // namespace
}  // namespace rotor::store::local
