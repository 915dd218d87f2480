#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace rotor {

/** A SHA-256 fingerprint, written "sha256:<64 lower-case hex digits>" everywhere rotor shows one. */
class Fingerprint {
public:
  Fingerprint() = default;
  /** From 64 lower-case hex digits (no prefix). */
  static Fingerprint fromHex(std::string hex) { return Fingerprint(std::move(hex)); }
  /** Parses "sha256:<hex>"; upper-case hex and ':'-separated pairs are accepted and normalised. */
  static StatusOr<Fingerprint> parse(std::string_view text);

  const std::string& hex() const { return hex_; }
  std::string toString() const { return hex_.empty() ? std::string() : "sha256:" + hex_; }
  bool empty() const { return hex_.empty(); }

  friend auto operator<=>(const Fingerprint&, const Fingerprint&) = default;

private:
  explicit Fingerprint(std::string hex) : hex_(std::move(hex)) {}
  std::string hex_;
};

}  // namespace rotor
