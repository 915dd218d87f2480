#pragma once

#include <string>

namespace rotor::store {

/** Opaque version of a stored value for optimistic concurrency: compare for equality only. An
 *  empty Version means "absent": writing with it fails with kConflict if the value exists. */
using Version = std::string;

template <typename T>
struct Versioned {
  T value;
  Version version;
};

}  // namespace rotor::store
