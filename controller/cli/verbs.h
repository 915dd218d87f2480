#pragma once

// The handler of each verb, by the file that holds it; commands.cc maps names and flags to them.

#include "controller/cli/invocation.h"

namespace rotor::cli {

// resource_verbs.cc: rotations and what they hold
int runApply(Context& ctx, const Invocation& inv);
int runGet(Context& ctx, const Invocation& inv);
int runDelete(Context& ctx, const Invocation& inv);
int runRotate(Context& ctx, const Invocation& inv);
int runPause(Context& ctx, const Invocation& inv);
int runResume(Context& ctx, const Invocation& inv);
int runRollback(Context& ctx, const Invocation& inv);
int runAbandon(Context& ctx, const Invocation& inv);
int runApprove(Context& ctx, const Invocation& inv);
int runSnapshots(Context& ctx, const Invocation& inv);
int runStatus(Context& ctx, const Invocation& inv);
int runPlan(Context& ctx, const Invocation& inv);
/** What `helm test` runs: the CRD is served to this identity, and the controller behind --url
 *  is ready and exports its metrics. One line per check; exit 1 when any failed. */
int runCheck(Context& ctx, const Invocation& inv);
int runVersion(Context& ctx, const Invocation& inv);

// controller_command.cc
int runController(Context& ctx, const Invocation& inv);

// agent_verbs.cc
int runToken(Context& ctx, const Invocation& inv);
int runAgents(Context& ctx, const Invocation& inv);
int runAgent(Context& ctx, const Invocation& inv);

}  // namespace rotor::cli
