#pragma once

// Upper bounds on the size of spec fields. The CRD's schema carries the same numbers as
// maxLength and maxItems (tests/unit/api/crd_test.cc keeps the two equal): a real API server
// refuses a CRD whose CEL rules touch unbounded strings or lists, because it cannot bound their
// cost, and rotor's codec refuses locally exactly what the server refuses.

#include <cstddef>
#include <cstdint>

namespace rotor::api {

/** The most characters a string, or items a list, may hold. */
struct MaxSize {
  size_t value;
};

namespace limits {
inline constexpr MaxSize kUnbounded{SIZE_MAX};
/** A file path (Linux PATH_MAX) and one argument of a reload command. */
inline constexpr MaxSize kPath{4096};
/** A duration such as "720h" or "1h30m0.5s". */
inline constexpr MaxSize kDuration{32};
/** A DNS-1123 label: a server's name within its rotation. */
inline constexpr MaxSize kDnsLabel{63};
/** A DNS name (RFC 1123), a TLS server name and a Kubernetes object name (DNS-1123 subdomain). */
inline constexpr MaxSize kDnsName{253};
/** An IPv6 address in its longest text form (RFC 4291 with an embedded IPv4 address). */
inline constexpr MaxSize kIpAddress{45};
/** host:port, the host possibly a bracketed IPv6 address. */
inline constexpr MaxSize kHostPort{261};
/** A ConfigMap key. */
inline constexpr MaxSize kConfigMapKey{253};
/** spec.trustBundle.truststore.password. */
inline constexpr MaxSize kTruststorePassword{128};
/** A cron schedule ("0 2 * * 1-5") and an IANA time zone name. */
inline constexpr MaxSize kSchedule{256};
inline constexpr MaxSize kTimeZone{64};
inline constexpr MaxSize kSubjectAltNames{100};
inline constexpr MaxSize kServers{64};
inline constexpr MaxSize kReloadArguments{64};
/** A certificate signer name ("example.com/path": a domain, "/", a path of subdomains) and a
 *  ClusterTrustBundle's name, which starts with it. */
inline constexpr MaxSize kSignerName{507};
/** A label key: a DNS subdomain prefix, "/", and a name of 63. */
inline constexpr MaxSize kLabelKey{317};
/** Labels and requirements of one label selector. */
inline constexpr MaxSize kSelectorTerms{64};
}  // namespace limits

}  // namespace rotor::api
