#include "controller/store/local/local_store.h"

#include "controller/store/local/background_worker.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "controller/pki/bundle.h"
#include "controller/pki/pkcs12.h"
#include "tests/support/fake_clock.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::store::local {
namespace {

namespace fs = std::filesystem;
using rotor::testing::StatusIs;
using ::testing::HasSubstr;

class LocalStoreTest : public ::testing::Test {
protected:
  rotor::testing::FakeClock clock;
  rotor::testing::TempDir dir;
  std::unique_ptr<LocalStore> store = std::move(LocalStore::open({.root = dir.path()}, clock)).value();
  rotor::pki::CertificateAuthority ca = rotor::testing::makeCa("Root");
  rotor::testing::IssuedLeaf leaf = rotor::testing::issueLeaf(ca);

  CertificateRotation apply(std::function<void(CertificateRotation&)> edit = {}) {
    CertificateRotation r;
    r.metadata.name = "proxy";
    r.spec.certificate.commonName = "proxy.example.com";
    r.spec.servers.push_back({.name = "a", .certFile = "ssl/server.crt", .keyFile = "ssl/server.key"});
    r.spec.ca.generate = api::CaGenerateSpec{"Root", std::chrono::hours(24 * 365), {}};
    r.spec.trustBundle.file = "trust/bundle.pem";
    if (edit) edit(r);
    return store->applyRotation(r).value();
  }
  ServedMaterial material() { return {leaf.certificate.toPem(), leaf.key.toPem(), ca.certificate().toPem()}; }
};

TEST_F(LocalStoreTest, KeysArePrivateAndStateIsOwnerOnly) {
  auto r = apply();
  ASSERT_OK(store->writeServed(r, "a", material(), ""));
  EXPECT_EQ(rotor::testing::permissionsOf(dir.path() / "ssl/server.key"), 0600u);
  EXPECT_EQ(rotor::testing::permissionsOf(dir.path() / "ssl/server.crt"), 0644u);
  EXPECT_EQ(rotor::testing::permissionsOf(dir.path() / "ssl"), 0700u);
  EXPECT_EQ(rotor::testing::permissionsOf(dir.path() / ".rotor"), 0700u);
  Authorities a;
  a.current = AuthorityMaterial{ca.certificate().toPem(), ca.key().toPem()};
  ASSERT_OK(store->writeAuthorities(r, a, ""));
  EXPECT_EQ(rotor::testing::permissionsOf(dir.path() / ".rotor/authorities/default/proxy.json"), 0600u);
}

TEST_F(LocalStoreTest, AWorldReadableCaKeyIsRefusedUnlessAllowed) {
  auto r = apply([](CertificateRotation& edited) {
    edited.spec.ca.generate.reset();
    edited.spec.ca.files = api::CaFilesSpec{"ca/ca.crt", "ca/ca.key"};
  });
  dir.write("ca/ca.crt", ca.certificate().toPem());
  dir.write("ca/ca.key", ca.key().toPem());
  ASSERT_EQ(::chmod((dir.path() / "ca/ca.key").c_str(), 0600), 0);
  EXPECT_OK(store->readCustomAuthority(r));
  ASSERT_EQ(::chmod((dir.path() / "ca/ca.key").c_str(), 0644), 0);
  auto refused = store->readCustomAuthority(r);
  EXPECT_THAT(refused, StatusIs(Code::kPermissionDenied, HasSubstr("mode 0644")));
  EXPECT_THAT(refused.status().message(), ::testing::Not(HasSubstr("PRIVATE KEY")));
  auto allowing = std::move(LocalStore::open({.root = dir.path(), .allowWorldReadableCaKey = true}, clock)).value();
  EXPECT_OK(allowing->readCustomAuthority(r));
}

TEST_F(LocalStoreTest, TemporaryFilesAbandonedByACrashMidWriteAreRemovedAndNothingElse) {
  rotor::testing::TempDir outside;
  apply(
      [&](CertificateRotation& edited) { edited.spec.servers[0].keyFile = (outside.path() / "server.key").string(); });
  const std::vector<std::string> abandoned = {".rotor/rotations/default/.proxy.json.tmp-a1B2c3",
                                              "ssl/.server.crt.tmp-XyZ789", ".bundle.pem.tmp-000000"};
  for (const std::string& f : abandoned) dir.write(f, "partial");
  outside.write(".server.key.tmp-Qw3rTy", "partial");
  const std::vector<std::string> kept = {"ssl/server.tmp-ab", "notes.tmp-abcdef", ".config.tmp-abcdefg", "ssl/.keep"};
  for (const std::string& f : kept) dir.write(f, "mine");
  auto removed = store->removeAbandonedTemporaries();
  ASSERT_OK(removed);
  EXPECT_EQ(*removed, abandoned.size() + 1);
  for (const std::string& f : abandoned) EXPECT_FALSE(fs::exists(dir.path() / f)) << f;
  EXPECT_FALSE(fs::exists(outside.path() / ".server.key.tmp-Qw3rTy"));
  for (const std::string& f : kept) EXPECT_EQ(dir.read(f), "mine") << f;
  EXPECT_OK(store->getRotation({"default", "proxy"}));
}

TEST_F(LocalStoreTest, AgentBatchesKeepTheJournalCompactedAndEveryLatestRecord) {
  auto r = apply();
  const auto journal = dir.path() / ".rotor/agents/default/proxy.agents";
  std::vector<AgentRecord> batch;
  const std::vector<std::string> trusted = {"sha256:" + std::string(64, '1'), "sha256:" + std::string(64, '2')};
  for (int i = 0; i < 2000; ++i) batch.push_back({"agent-" + std::to_string(i), clock.now(), trusted, "1.0"});
  uintmax_t largest = 0;
  for (int round = 0; round < 12; ++round) {
    for (AgentRecord& a : batch) a.version = "1." + std::to_string(round);
    ASSERT_OK(store->putAgents(r.key(), batch));
    store->drainAgentCompactions();  // compacted on a thread of the store's own
    largest = std::max(largest, fs::file_size(journal));
  }
  // 12 rounds of ~330 KB would be 4 MB; compaction (due past twice the compacted size plus 1 MiB)
  // keeps it near 2 MB, and the header records the compacted size.
  EXPECT_LT(largest, 2'200'000u);
  std::ifstream in(journal);
  std::string magic, version;
  uint64_t compacted = 0;
  in >> magic >> version >> compacted;
  EXPECT_GT(compacted, 300'000u);
  size_t visited = 0;
  ASSERT_OK(store->visitAgents(r.key(), [&](const AgentRecord& a) {
    ++visited;
    EXPECT_EQ(a.version, "1.11") << a.id;
  }));
  EXPECT_EQ(visited, batch.size());
}

TEST(BackgroundWorkerTest, RunsEachRequestedKeyOnceAfterTheJobUnderWayAndDrains) {
  std::mutex mu;
  std::condition_variable released;
  bool release = false, started = false;
  std::vector<std::string> ran;
  BackgroundWorker worker([&](const ObjectKey& key) {
    std::unique_lock lock(mu);
    ran.push_back(key.name);
    started = true;
    released.notify_all();
    released.wait(lock, [&] { return release; });
  });
  worker.request({"default", "a"});
  {
    std::unique_lock lock(mu);
    released.wait(lock, [&] { return started; });  // a's job is under way
  }
  worker.request({"default", "b"});
  worker.request({"default", "b"});  // asked twice before it ran: runs once
  worker.request({"default", "a"});  // asked again while under way: runs again
  {
    std::lock_guard lock(mu);
    release = true;
  }
  released.notify_all();
  worker.drain();
  EXPECT_EQ(ran, (std::vector<std::string>{"a", "a", "b"}));
}

TEST_F(LocalStoreTest, OnlyOneControllerMayDriveADirectory) {
  auto first = store->lockForController();
  ASSERT_OK(first);
  auto other = LocalStore::open({.root = dir.path()}, clock).value();
  EXPECT_THAT(other->lockForController(), StatusIs(Code::kFailedPrecondition, HasSubstr("another rotor controller")));
  { auto released = std::move(first).value(); }
  EXPECT_OK(other->lockForController());
}

TEST_F(LocalStoreTest, UnusableDirectoriesAreClearErrors) {
  EXPECT_THAT(LocalStore::open({.root = dir.path() / "missing"}, clock),
              StatusIs(Code::kNotFound, HasSubstr("does not exist")));
  dir.write("file", "x");
  EXPECT_THAT(LocalStore::open({.root = dir.path() / "file"}, clock),
              StatusIs(Code::kFailedPrecondition, HasSubstr("not a directory")));
  EXPECT_THAT(LocalStore::open({.root = ""}, clock), StatusIs(Code::kInvalidArgument, HasSubstr("--local")));
}

TEST_F(LocalStoreTest, ChainFileAndKeystoreAreWrittenBesideTheCertificate) {
  dir.write("secrets/p12.pass", "s3cret\n");
  auto r = apply([](CertificateRotation& edit) {
    edit.spec.servers[0].chainFile = "ssl/chain.pem";
    edit.spec.servers[0].pkcs12 = api::Pkcs12Spec{"ssl/server.p12", "secrets/p12.pass"};
  });
  auto other = rotor::testing::makeCa("Other");
  auto cross = ca.crossSign(other.certificate(), rotor::testing::fixtureNow()).value();
  ServedMaterial m = material();
  m.certificateChainPem += cross.toPem();
  ASSERT_OK(store->writeServed(r, "a", m, ""));
  EXPECT_EQ(dir.read("ssl/chain.pem"), cross.toPem());
  std::string p12 = dir.read("ssl/server.p12");
  auto certs = rotor::pki::readPkcs12Certificates(std::vector<uint8_t>(p12.begin(), p12.end()), "s3cret");
  ASSERT_OK(certs);
  EXPECT_EQ(certs->size(), 2u);
}

TEST_F(LocalStoreTest, TruststoreFollowsTheBundle) {
  dir.write("secrets/trust.pass", "changeit");
  auto r = apply([](CertificateRotation& edit) {
    edit.spec.trustBundle.pkcs12 = api::Pkcs12Spec{"trust/bundle.p12", "secrets/trust.pass"};
  });
  ASSERT_OK(store->writeBundle(r, ca.certificate().toPem(), ""));
  std::string p12 = dir.read("trust/bundle.p12");
  auto certs = rotor::pki::readPkcs12Certificates(std::vector<uint8_t>(p12.begin(), p12.end()), "changeit");
  ASSERT_OK(certs);
  ASSERT_EQ(certs->size(), 1u);
  EXPECT_EQ(certs->front().fingerprint(), ca.certificate().fingerprint());
}

TEST_F(LocalStoreTest, AnInterruptedServedWriteIsFinishedByTheNextRead) {
  auto r = apply();
  ASSERT_OK(store->writeServed(r, "a", material(), ""));
  // Simulate a crash after the journal was written but before the files were replaced.
  auto newCa = rotor::testing::makeCa("Root 2");
  auto newLeaf = rotor::testing::issueLeaf(newCa);
  ServedMaterial next{newLeaf.certificate.toPem(), newLeaf.key.toPem(), newCa.certificate().toPem()};
  nlohmann::json journal = {{"certificateChain", next.certificateChainPem}, {"key", next.keyPem}, {"ca", next.caPem}};
  dir.write(".rotor/journal/default/proxy/a.json", journal.dump());
  auto read = store->readServed(r, "a");
  ASSERT_OK(read);
  EXPECT_EQ(read->value, next);
  EXPECT_EQ(dir.read("ssl/server.key"), next.keyPem);
  EXPECT_FALSE(fs::exists(dir.path() / ".rotor/journal/default/proxy/a.json"));
}

TEST_F(LocalStoreTest, SnapshotsLandInTimestampedDirectoriesBesideTheFilesAndDetectDamage) {
  auto r = apply();
  Snapshot s{"proxy-r1-swap", rotor::testing::fixtureNow(), 1,
             "before swap",   {{"a", material()}},          ca.certificate().toPem()};
  ASSERT_OK(store->putSnapshot(r, s));
  EXPECT_EQ(dir.read("ssl-20261122-101500/server.key"), leaf.key.toPem());
  EXPECT_EQ(rotor::testing::permissionsOf(dir.path() / "ssl-20261122-101500/server.key"), 0600u);
  EXPECT_EQ(dir.read("ssl-20261122-101500/server.crt"), leaf.certificate.toPem());
  EXPECT_EQ(dir.read("trust-20261122-101500/bundle.pem"), ca.certificate().toPem());
  // A second snapshot in the same second gets its own directory.
  Snapshot t = s;
  t.name = "proxy-r1-prune";
  ASSERT_OK(store->putSnapshot(r, t));
  EXPECT_TRUE(fs::exists(dir.path() / "ssl-20261122-101500.2/server.crt"));
  // Tampering with a backup is detected, never silently restored.
  dir.write("ssl-20261122-101500/server.crt", "tampered");
  EXPECT_THAT(store->getSnapshot(r, "proxy-r1-swap"), StatusIs(Code::kFailedPrecondition, HasSubstr("was modified")));
}

TEST_F(LocalStoreTest, ABackupLayoutPutsSnapshotsWhereTheOperatorsProcedureRestoresThemFrom) {
  // A sensor proxy's procedure restores with `cp ssl/certs-<date>-<time>/* ssl/`.
  auto r = apply([](CertificateRotation& edit) { edit.spec.backup.directory = "certs-{date}-{time}"; });
  ASSERT_OK(store->writeServed(r, "a", material(), ""));
  Snapshot s{"proxy-r1-swap", rotor::testing::fixtureNow(), 1,
             "before swap",   {{"a", material()}},          ca.certificate().toPem()};
  ASSERT_OK(store->putSnapshot(r, s));
  EXPECT_EQ(dir.read("ssl/certs-20261122-101500/server.crt"), leaf.certificate.toPem());
  EXPECT_EQ(rotor::testing::permissionsOf(dir.path() / "ssl/certs-20261122-101500/server.key"), 0600u);
  EXPECT_EQ(dir.read("trust/certs-20261122-101500/bundle.pem"), ca.certificate().toPem());
  Snapshot t = s;
  t.name = "proxy-r1-prune";
  ASSERT_OK(store->putSnapshot(r, t));
  EXPECT_TRUE(fs::exists(dir.path() / "ssl/certs-20261122-101500.2/server.crt"));
  // The manual restore works on what rotor wrote: the marker file is hidden from the glob.
  dir.write("ssl/server.crt", "overwritten");
  std::string out;
  ASSERT_EQ(rotor::testing::runShell("cd " + dir.path().string() + " && cp ssl/certs-20261122-101500/* ssl/", &out), 0)
      << out;
  EXPECT_EQ(dir.read("ssl/server.crt"), leaf.certificate.toPem());
  // {dirname} names the file's own directory; "../" puts the copies beside it, as the default does.
  auto beside = apply([](CertificateRotation& edit) { edit.spec.backup.directory = "../old-{dirname}-{date}T{time}"; });
  Snapshot u = s;
  u.name = "proxy-r2-swap";
  u.takenAt += std::chrono::seconds(61);
  ASSERT_OK(store->putSnapshot(beside, u));
  EXPECT_TRUE(fs::exists(dir.path() / "old-ssl-20261122T101601/server.crt"));
  EXPECT_OK(store->getSnapshot(beside, "proxy-r2-swap"));
}

TEST_F(LocalStoreTest, ReloadRunsTheServersCommandAndReportsFailure) {
  auto r = apply([](CertificateRotation& edit) {
    edit.spec.servers[0].reloadCommand = {"sh", "-c", "touch reloaded"};
  });
  ASSERT_OK(store->reload(r, "a"));
  EXPECT_TRUE(fs::exists(dir.path() / "reloaded"));
  auto failing = apply([](CertificateRotation& edit) { edit.spec.servers[0].reloadCommand = {"false"}; });
  EXPECT_THAT(store->reload(failing, "a"),
              StatusIs(Code::kFailedPrecondition, HasSubstr("reload of server \"a\" failed")));
}

TEST_F(LocalStoreTest, RejectsNamesThatWouldEscapeTheStateDirectory) {
  EXPECT_THAT(store->getRotation({"default", "../../etc"}), StatusIs(Code::kInvalidArgument));
  auto r = apply();
  EXPECT_THAT(store->getSnapshot(r, "../x"), StatusIs(Code::kInvalidArgument));
}

TEST_F(LocalStoreTest, RotationsChangedOrRemovedByAnotherProcessAreSeenDespiteTheDecodedCopy) {
  apply();
  ASSERT_EQ(store->getRotation({"default", "proxy"})->status.phase, api::Phase::kPending);  // now kept decoded
  auto other = std::move(LocalStore::open({.root = dir.path()}, clock)).value();            // as the CLI would
  CertificateRotation r = other->getRotation({"default", "proxy"}).value();
  r.status.phase = api::Phase::kIssuing;
  ASSERT_OK(other->updateRotationStatus(r));
  EXPECT_EQ(store->getRotation({"default", "proxy"})->status.phase, api::Phase::kIssuing);
  EXPECT_EQ(store->getRotation({"default", "proxy"})->metadata.resourceVersion, r.metadata.resourceVersion);
  ASSERT_OK(other->deleteRotation({"default", "proxy"}));
  EXPECT_THAT(store->getRotation({"default", "proxy"}), StatusIs(Code::kNotFound));
  EXPECT_TRUE(store->listRotationKeys()->empty());
}

TEST_F(LocalStoreTest, ResourceVersionsAreNeverHandedOutTwiceAcrossProcessesAndRestarts) {
  CertificateRotation r = apply();
  std::set<std::string> seen = {r.metadata.resourceVersion};
  const auto write = [&](LocalStore& by) {
    CertificateRotation current = by.getRotation(r.key()).value();
    current.status.message = "write " + std::to_string(seen.size());
    ASSERT_OK(by.updateRotationStatus(current));
    EXPECT_TRUE(seen.insert(current.metadata.resourceVersion).second) << current.metadata.resourceVersion;
  };
  for (int i = 0; i < 100; ++i) write(*store);
  // 101 writes reserved blocks of 1, 2, 4, ..., 64: the sequence file was written 7 times.
  EXPECT_EQ(dir.read(".rotor/sequence"), "127\n");
  {
    auto cli = std::move(LocalStore::open({.root = dir.path()}, clock)).value();  // another process
    for (int i = 0; i < 3; ++i) write(*cli);
    for (int i = 0; i < 30; ++i) write(*store);  // both hold blocks: they never overlap
  }
  store.reset();  // a crash: what the process had reserved and not used is never used
  store = std::move(LocalStore::open({.root = dir.path()}, clock)).value();
  for (int i = 0; i < 10; ++i) write(*store);
  EXPECT_EQ(seen.size(), 144u);  // every version distinct
}

TEST_F(LocalStoreTest, DamagedStateFilesAreReportedNotIgnored) {
  apply();
  dir.write(".rotor/rotations/default/proxy.json", "{broken");
  EXPECT_THAT(store->getRotation({"default", "proxy"}), StatusIs(Code::kFailedPrecondition, HasSubstr("damaged")));
}

}  // namespace
}  // namespace rotor::store::local
