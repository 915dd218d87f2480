#pragma once

#include <filesystem>
#include <functional>
#include <vector>

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
 */
class AgentJournal {
public:
  explicit AgentJournal(std::filesystem::path path) : path_(std::move(path)) {}

  /** Visits the latest record of each agent, in the order of those lines. A missing file
   *  has no records. kFailedPrecondition when a complete line is damaged. */
  Status visit(const std::function<void(const AgentRecord&)>& fn) const;
  /** Appends the batch (one write, then fdatasync) and compacts when due. kInvalidArgument, and
   *  nothing written, when a record fails validateAgentRecord. */
  Status append(const std::vector<AgentRecord>& agents) const;
  /** Rewrites the journal with one line per agent. */
  Status compact() const;

private:
  std::filesystem::path path_;
};

}  // namespace rotor::store::local
