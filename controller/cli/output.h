#pragma once

#include <string>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/common/clock.h"

namespace rotor::cli {

/** kubectl-style age: "45s", "12m", "5h", "3d". */
std::string formatAge(Duration age);

/** Rows as aligned columns (the first row is the header). */
std::string formatTable(const std::vector<std::vector<std::string>>& rows);

/** The `rotor get` table: NAMESPACE NAME PHASE REVISION ADOPTION NEXT-EXPIRY AGE. */
std::string formatRotationTable(const std::vector<api::CertificateRotation>& rotations, SystemTime now);

}  // namespace rotor::cli
