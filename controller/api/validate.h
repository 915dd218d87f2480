#pragma once

#include <string_view>

#include "controller/api/rotation.h"
#include "controller/common/status.h"

namespace rotor::api {

/** Where a rotation runs decides which location fields are required. */
enum class Mode {
  kAny,         // only what both modes share
  kLocal,       // servers need certFile/keyFile; the bundle needs file
  kKubernetes,  // servers need secretName; the bundle needs configMapName
};

/**
 * Cross-field and format rules the codec cannot check alone: names, SANs, IPs, the CA source
 * (exactly one of generate/secretRef/files), durations that must be positive or ordered, the
 * cron schedule and time zone, unique server names, and the fields `mode` requires.
 * kInvalidArgument lists every problem as "field.path: reason", one per line.
 */
Status validateRotation(const CertificateRotation& rotation, Mode mode = Mode::kAny);

/** DNS-1123 subdomain: lower-case alphanumerics, '-' and '.', at most 253 characters. */
bool isDns1123Subdomain(std::string_view name);
/** DNS-1123 label: lower-case alphanumerics and '-', at most 63 characters. */
bool isDns1123Label(std::string_view name);
/** A host name for a certificate: RFC 1123 labels, optionally a leading "*." wildcard. */
bool isValidDnsName(std::string_view name);
/** IPv4 dotted quad or IPv6 text. */
bool isValidIpAddress(std::string_view address);
/** Whether the system's tz database has this IANA zone ("Europe/Paris", "UTC"). */
bool timeZoneExists(std::string_view zone);

}  // namespace rotor::api
