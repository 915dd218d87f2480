#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include <sys/stat.h>

#include "controller/common/clock.h"
#include "controller/store/local/background_worker.h"
#include "controller/store/local/file_lock.h"
#include "controller/store/store.h"

namespace rotor::store::local {

struct LocalStoreOptions {
  /** The state directory: manifests' relative paths resolve against it. */
  std::filesystem::path root;
  /** How long a server's reloadCommand may run. */
  std::chrono::milliseconds reloadTimeout = std::chrono::seconds(60);
  /** Use a spec.ca.files key that every user may read. Off: such a key is refused, not used. */
  bool allowWorldReadableCaKey = false;
};

/**
 * The Store over a directory, for servers outside Kubernetes. Layout under `root`:
 *
 *   .rotor/                        0700, rotor's own state
 *     controller.lock              held by the one controller driving this directory
 *     write.lock                   held for the length of each write (CLI and controller)
 *     sequence                     the last resourceVersion handed out
 *     rotations/NS/NAME.json       metadata, spec and status
 *     authorities/NS/NAME.json     CA certificates and keys (0600)
 *     served/NS/NAME/SERVER.ca.pem the CA last written beside each server's material
 *     journal/NS/NAME/SERVER.json  material being written (0600); rolled forward on next read
 *     snapshots/NS/NAME/SNAP.json  snapshot index: where each backup file is and its SHA-256
 *     agents/NS/NAME.agents        agent records: an append-only journal (agent_journal.h)
 *     tokens/NS/NAME               SHA-256 digests of the agents' bearer tokens, one per line
 *   <the servers' files and the bundle, wherever the manifests put them>
 *   <backups: DIR-YYYYMMDD-HHMMSS/ beside each backed-up file's directory DIR>
 *
 * Every file is replaced atomically (temp file, fsync, rename, directory fsync). Keys are 0600,
 * directories holding keys 0700.
 */
class LocalStore final : public Store {
public:
  /**
   * Opens the state directory, creating .rotor/ inside it. kNotFound when `root` does not exist,
   * kFailedPrecondition when it is not a directory, kPermissionDenied when it cannot be written.
   */
  static StatusOr<std::unique_ptr<LocalStore>> open(const LocalStoreOptions& options, const Clock& clock);

  /** The lock that keeps a second controller off this directory; kFailedPrecondition if held. */
  StatusOr<ProcessLock> lockForController();

  /**
   * Removes the temporary files that writes interrupted by a crash left behind, below the state
   * directory and beside every file a rotation names outside it; returns how many. Call it while
   * holding lockForController(): it takes the write lock, so no write is in flight meanwhile.
   */
  StatusOr<size_t> removeAbandonedTemporaries();

  /** `path` as the store uses it: relative paths are taken from the state directory. */
  std::filesystem::path resolve(const std::string& path) const;
  const std::filesystem::path& root() const { return options_.root; }
  std::filesystem::path stateDirectory() const { return options_.root / ".rotor"; }

  StatusOr<std::vector<CertificateRotation>> listRotations(const std::string& ns) override;
  StatusOr<std::vector<ObjectKey>> listRotationKeys() override;
  StatusOr<CertificateRotation> getRotation(const ObjectKey& key) override;
  StatusOr<CertificateRotation> applyRotation(const CertificateRotation& desired) override;
  Status updateRotation(CertificateRotation& rotation) override;
  Status updateRotationStatus(CertificateRotation& rotation) override;
  Status deleteRotation(const ObjectKey& key) override;

  StatusOr<Versioned<Authorities>> readAuthorities(const CertificateRotation& r) override;
  Status writeAuthorities(const CertificateRotation& r, const Authorities& authorities,
                          const Version& expected) override;
  StatusOr<AuthorityMaterial> readCustomAuthority(const CertificateRotation& r) override;

  StatusOr<Versioned<std::optional<ServedMaterial>>> readServed(const CertificateRotation& r,
                                                                std::string_view server) override;
  Status writeServed(const CertificateRotation& r, std::string_view server, const ServedMaterial& material,
                     const Version& expected) override;

  StatusOr<Versioned<std::optional<std::string>>> readBundle(const CertificateRotation& r) override;
  Status writeBundle(const CertificateRotation& r, const std::string& bundlePem, const Version& expected) override;

  Status putSnapshot(const CertificateRotation& r, const Snapshot& snapshot) override;
  StatusOr<Snapshot> getSnapshot(const CertificateRotation& r, std::string_view name) override;
  StatusOr<std::vector<std::string>> listSnapshots(const CertificateRotation& r) override;

  Status reload(const CertificateRotation& r, std::string_view server) override;

  Status visitAgents(const ObjectKey& key, const std::function<void(const AgentRecord&)>& visit) override;
  /** Appends to the rotation's journal; a journal then due for compaction is compacted in the
   *  background (a low-priority thread), not by this call. */
  Status putAgents(const ObjectKey& key, const std::vector<AgentRecord>& agents) override;
  /** Waits for the compactions putAgents asked for. */
  void drainAgentCompactions() { compactor_.drain(); }
  StatusOr<std::vector<std::string>> readAgentTokenDigests(const ObjectKey& key) override;
  Status addAgentTokenDigest(const ObjectKey& key, const std::string& digestHex) override;

private:
  LocalStore(LocalStoreOptions options, const Clock& clock)
      : options_(std::move(options)), clock_(clock), compactor_([this](const ObjectKey& key) { compactAgents(key); }) {}

  /** Rewrites the rotation's agent journal, one line per agent: without the write lock but for
   *  its last step (a copy of what was appended meanwhile, and the rename). */
  void compactAgents(const ObjectKey& key);

  /** A rotation as decoded from its file, kept while the file stays the same one: every write
   *  replaces the file (a new inode), so a resync decodes only what changed since the last. */
  struct DecodedRotation {
    ino_t inode;
    off_t size;
    timespec modified;
    CertificateRotation rotation;

    bool sameFile(const struct stat& st) const {
      return st.st_ino == inode && st.st_size == size && st.st_mtim.tv_sec == modified.tv_sec &&
             st.st_mtim.tv_nsec == modified.tv_nsec;
    }
  };

  std::filesystem::path objectPath(std::string_view kind, const ObjectKey& key, std::string_view suffix) const;
  StatusOr<FileLock> lockWrites();
  /** A resourceVersion no process has handed out; the caller holds the write lock. */
  StatusOr<std::string> nextResourceVersion();
  StatusOr<std::optional<CertificateRotation>> loadRotation(const ObjectKey& key);
  Status storeRotation(const CertificateRotation& r);
  /** Locked read-check-modify-write of a rotation: kConflict on a stale version; on success
   *  `rotation.metadata` holds the stored metadata. */
  Status writeRotation(CertificateRotation& rotation, const std::function<void(CertificateRotation& stored)>& change);
  /** kPermissionDenied when the CA key may be read by any user (unless the options allow it). */
  Status checkCaKeyPrivate(const std::filesystem::path& keyPath) const;
  StatusOr<const api::ServerSpec*> serverOf(const CertificateRotation& r, std::string_view server);
  StatusOr<Versioned<std::optional<ServedMaterial>>> readServedFiles(const CertificateRotation& r,
                                                                     const api::ServerSpec& server);
  Status writeServedFiles(const CertificateRotation& r, const api::ServerSpec& server, const ServedMaterial& m);
  Status rollForwardJournal(const CertificateRotation& r, const api::ServerSpec& server);
  Status writeTruststore(const CertificateRotation& r, const std::string& bundlePem);

  LocalStoreOptions options_;
  const Clock& clock_;
  std::mutex cacheMu_;
  std::map<ObjectKey, DecodedRotation> decoded_;
  // resourceVersions are reserved in `sequence` a block at a time (1, 2, 4, ... up to
  // kMaxVersionBlock per reservation): a one-off CLI write reserves one, as before, and a
  // controller bootstrapping thousands of rotations writes the file a dozen times instead of
  // once per write. Blocks never overlap, so no version is handed out twice, crash or not.
  static constexpr int64_t kMaxVersionBlock = 1024;
  std::mutex versionMu_;
  int64_t nextVersion_ = 1;
  int64_t reservedUpTo_ = 0;
  int64_t versionBlock_ = 1;
  BackgroundWorker compactor_;  // last: its thread uses the members above
};

}  // namespace rotor::store::local
