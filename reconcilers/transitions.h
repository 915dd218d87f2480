#pragma once

#include <vector>

#include "controller/api/rotation.h"

namespace rotor::reconcilers {

/**
 * The legal phase edges (brief §3). The driver refuses any other transition: an illegal edge is
 * a bug, logged and counted, never written to status.
 *
 *   Pending -> Issuing -> Ready
 *   Ready -> Staging -> AwaitingAdoption -> Swapping -> Verifying -> Draining -> Pruning -> Ready
 *   Ready|RolledBack -> Swapping           (a renewal under the same CA)
 *   Verifying -> Swapping                  (the next server) | Ready (a renewal's end)
 *   any -> Paused -> (the phase it left)   (resume)
 *   gates and pre-checks -> Blocked -> (the phase it left, once fixed)
 *   Ready..Pruning|RolledBack|Failed -> RollingBack -> RolledBack   (requested, or a failed swap)
 *   RolledBack -> Staging                  (rotate again)
 *   any -> Failed; Failed -> Ready | RollingBack
 */
bool isLegalTransition(api::Phase from, api::Phase to);

/** The phases reachable from `from` in one step. */
std::vector<api::Phase> nextPhases(api::Phase from);

}  // namespace rotor::reconcilers
