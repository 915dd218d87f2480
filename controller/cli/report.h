#pragma once

// `rotor status` and `rotor plan`: what a rotation is doing, every gate and why it waits, and
// what the next rotation would do.

#include <string>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/store/store.h"

namespace rotor::cli {

/** Phase and timeline, CA slots, servers, adoption bar and laggards, gates, conditions, snapshots. */
std::string formatStatusReport(const api::CertificateRotation& r, const std::vector<store::Snapshot>& snapshots,
                               SystemTime now);

/** The consumer pods of status.pods by workload, laggards first, and the restarts rotor made
 *  (`rotor status`, `rotor agents`). */
std::string formatConsumerPods(const api::PodAdoptionStatus& pods);

/** A dry run: the trigger that would fire (or when one will), and each step of that rotation. */
std::string formatPlan(const api::CertificateRotation& r, SystemTime now);

}  // namespace rotor::cli
