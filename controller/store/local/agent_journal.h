#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "controller/common/atomic_file.h"
#include "controller/common/status.h"
#include "controller/store/store.h"

namespace rotor::store::local {

/**
 * A rotation's agent records as an append-only journal: one line per check-in batch entry, the
 * latest line per agent id wins. Check-ins arrive far more often than anyone reads them, so a
 * batch costs one append and one fdatasync instead of a rewrite of every record; the file is
 * compacted (rewritten atomically, one line per agent) once it has grown to twice its compacted
 * size. A line torn by a crash is cut off before the next append and skipped by readers.
 *
 *   rotor-agents 1 <bytes after last compaction>
 *   <id> <last seen, unix seconds> <version or -> <hex>,<hex>... or -
 *
 * Appends need the writers' lock (the caller's); a compaction needs it only for its last step,
 * so that at a million agents (a 140 MB rewrite) other writers wait for a small copy and a
 * rename, not for the rewrite.
 */
class AgentJournal {
public:
  explicit AgentJournal(std::filesystem::path path) : path_(std::move(path)) {}

  /** Visits the latest record of each agent, in the order of those lines. A missing file
   *  has no records. kFailedPrecondition when a complete line is damaged. */
  Status visit(const std::function<void(const AgentRecord&)>& fn) const;
  /** Appends the batch (one write, then fdatasync); true when the journal is now due for a
   *  compaction. kInvalidArgument, and nothing written, when a record fails validateAgentRecord. */
  StatusOr<bool> append(const std::vector<AgentRecord>& agents) const;

  /** A compaction written beside the journal, not yet in its place. */
  struct Compaction {
    StagedFile file;
    UniqueFd journal;  // open, so that its inode cannot be reused by a journal created meanwhile
    dev_t device = 0;
    ino_t inode = 0;
    uint64_t compactedUpTo = 0;  // the journal's bytes it holds
  };
  /** Writes the compacted journal beside it (no lock needed); nullopt when there is no journal. */
  StatusOr<std::optional<Compaction>> prepareCompaction() const;
  /** Under the writers' lock: copies what was appended since prepareCompaction and puts the
   *  compaction in the journal's place. A journal replaced meanwhile (compacted by another
   *  writer, or removed and created again) is left as it is. */
  Status finishCompaction(Compaction compaction) const;
  /** Both steps: rewrites the journal with one line per agent. */
  Status compact() const;

private:
  std::filesystem::path path_;
};

}  // namespace rotor::store::local
