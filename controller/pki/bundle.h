#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/fingerprint.h"
#include "controller/common/status.h"
#include "controller/pki/certificate.h"

namespace rotor::pki {

/**
 * Reads a PEM bundle: any number of CERTIFICATE blocks, separated by white space or '#' comment
 * lines. Any other block type (a key, a CSR), text outside blocks, an unterminated block or a block
 * that does not decode is kInvalidArgument naming the block's position ("PEM block 2: ...").
 * An empty or all-white-space input is an empty bundle.
 */
StatusOr<std::vector<Certificate>> parsePemBundle(std::string_view pem);

/** Concatenated PEM, in order. */
std::string writePemBundle(std::span<const Certificate> certificates);

/** The certificates' fingerprints, in order. */
std::vector<Fingerprint> fingerprints(std::span<const Certificate> certificates);

/** Appends the certificates of `extra` not already in `bundle` (by fingerprint), keeping order. */
std::vector<Certificate> unionOf(std::span<const Certificate> bundle, std::span<const Certificate> extra);

}  // namespace rotor::pki
