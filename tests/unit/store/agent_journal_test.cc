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
  int compactions = 0;
  for (int round = 0; round < 20; ++round) {
    for (AgentRecord& a : batch) a.lastSeen = kSeen + std::chrono::seconds(round);
    ASSERT_OK_AND_ASSIGN(bool due, journal.append(batch));
    largest = std::max(largest, std::filesystem::file_size(path));
    if (due) {
      ASSERT_OK(journal.compact());
      ++compactions;
    }
  }
  // 20 rounds of ~140 KB would be 2.8 MB uncompacted; compacting when due keeps it near one round.
  EXPECT_GE(compactions, 2);
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

TEST(AgentJournalTest, LinesAppendedWhileACompactionIsPreparedAreKeptWhenItFinishes) {
  rotor::testing::TempDir dir;
  AgentJournal journal(dir.path() / "r.agents");
  ASSERT_OK(journal.append({{"a", kSeen, {fp('1')}, "1.0"}, {"b", kSeen, {fp('1')}, "1.0"}}));
  ASSERT_OK(journal.append({{"a", kSeen + std::chrono::seconds(1), {fp('1'), fp('2')}, "1.0"}}));
  ASSERT_OK_AND_ASSIGN(std::optional<AgentJournal::Compaction> compaction, journal.prepareCompaction());
  ASSERT_TRUE(compaction.has_value());
  const auto later = kSeen + std::chrono::seconds(9);
  ASSERT_OK(journal.append({{"b", later, {fp('2')}, "1.1"}, {"c", later, {}, ""}}));
  ASSERT_OK(journal.finishCompaction(std::move(*compaction)));
  auto records = recordsOf(journal);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records.at("a").trusted, (std::vector<std::string>{fp('1'), fp('2')}));
  EXPECT_EQ(records.at("b"), (AgentRecord{"b", later, {fp('2')}, "1.1"}));
  EXPECT_EQ(records.at("c").lastSeen, later);
  // The compacted part holds one line per agent, "a" and "b"; the two appended lines follow it.
  const std::string text = dir.read("r.agents");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5);
  const size_t compacted = std::stoul(text.substr(std::string_view("rotor-agents 1 ").size()));
  EXPECT_EQ(text.substr(compacted), "b 1800000009 1.1 " + std::string(64, '2') + "\nc 1800000009 - -\n");
  // No temporary file is left beside it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(AgentJournalTest, ACompactionOfAJournalReplacedMeanwhileIsDropped) {
  rotor::testing::TempDir dir;
  const auto path = dir.path() / "r.agents";
  AgentJournal journal(path);
  ASSERT_OK(journal.append({{"old", kSeen, {fp('1')}, "1.0"}}));
  ASSERT_OK_AND_ASSIGN(std::optional<AgentJournal::Compaction> compaction, journal.prepareCompaction());
  ASSERT_TRUE(compaction.has_value());
  // The rotation was deleted and created again under its name: a new journal with a new agent.
  std::filesystem::remove(path);
  ASSERT_OK(journal.append({{"new", kSeen, {fp('2')}, "1.0"}}));
  ASSERT_OK(journal.finishCompaction(std::move(*compaction)));
  auto records = recordsOf(journal);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records.contains("new"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
  // A journal that is gone has nothing to compact.
  std::filesystem::remove(path);
  ASSERT_OK_AND_ASSIGN(std::optional<AgentJournal::Compaction> none, journal.prepareCompaction());
  EXPECT_FALSE(none.has_value());
}

}  // namespace
}  // namespace rotor::store::local
