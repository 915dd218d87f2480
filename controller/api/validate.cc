#include "controller/api/validate.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "controller/api/cron.h"
#include "controller/api/field_reader.h"
#include "controller/common/strings.h"
#include "controller/common/time_zone.h"

namespace rotor::api {
namespace {

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool isHostLabel(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
    return false;
  }
  for (char c : label) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!isLowerAlnum(l) && l != '-') {
      return false;
    }
  }
  return true;
}

/** Why `name` is not a DNS-1123 `kind` of at most `max` characters: its length first, in the
 *  words a schema's maxLength uses. */
std::string notDns1123(const std::string& kind, const std::string& name, MaxSize max) {
  if (name.size() > max.value) {
    return "must be at most " + std::to_string(max.value) + " characters, got " + std::to_string(name.size());
  }
  return "must be a DNS-1123 " + kind + ", got " + quoteForMessage(name);
}

bool isHostPort(std::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size()) {
    return false;
  }
  std::string_view port = address.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  int p = std::stoi(std::string(port));
  std::string_view host = address.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return p > 0 && p < 65536 && (isValidIpAddress(host) || isValidDnsName(host));
}

void validateLocalPath(FieldErrors& e, const std::string& path, const std::string& value) {
  if (value.find('\0') != std::string::npos || value.empty()) {
    e.add(path, "must be a file path");
  }
}

void validateCertificate(FieldErrors& e, const CertificateSpec& c) {
  if (c.commonName.empty() && c.dnsNames.empty() && c.ipAddresses.empty()) {
    e.add("spec.certificate", "needs at least one of commonName, dnsNames, ipAddresses");
  }
  if (c.commonName.size() > 64) {
    e.add("spec.certificate.commonName", "must be at most 64 characters, got " + std::to_string(c.commonName.size()));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < c.dnsNames.size(); ++i) {
    std::string path = "spec.certificate.dnsNames[" + std::to_string(i) + "]";
    if (!isValidDnsName(c.dnsNames[i])) {
      e.add(path, "must be a DNS name such as \"proxy.example.com\" or \"*.example.com\", got " +
                      quoteForMessage(c.dnsNames[i]));
    } else if (!seen.insert(toLower(c.dnsNames[i])).second) {
      e.add(path, "duplicate DNS name " + quoteForMessage(c.dnsNames[i]));
    }
  }
  for (size_t i = 0; i < c.ipAddresses.size(); ++i) {
    if (!isValidIpAddress(c.ipAddresses[i])) {
      e.add("spec.certificate.ipAddresses[" + std::to_string(i) + "]",
            "must be an IPv4 or IPv6 address, got " + quoteForMessage(c.ipAddresses[i]));
    }
  }
  if (c.validity <= Duration::zero()) {
    e.add("spec.certificate.validity", "must be positive");
  }
  if (c.renewBefore <= Duration::zero()) {
    e.add("spec.certificate.renewBefore", "must be positive");
  } else if (c.renewBefore >= c.validity) {
    e.add("spec.certificate.renewBefore",
          "must be shorter than validity (" + formatDuration(c.validity) + "), got " + formatDuration(c.renewBefore));
  }
}

void validateServers(FieldErrors& e, const std::vector<ServerSpec>& servers, Mode mode) {
  if (servers.empty()) {
    e.add("spec.servers", "needs at least one server");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < servers.size(); ++i) {
    const ServerSpec& s = servers[i];
    const std::string p = "spec.servers[" + std::to_string(i) + "]";
    if (!isDns1123Label(s.name)) {
      e.add(p + ".name", notDns1123("label (lower-case letters, digits, '-')", s.name, limits::kDnsLabel));
    } else if (!names.insert(s.name).second) {
      e.add(p + ".name", "duplicate server name " + quoteForMessage(s.name));
    }
    if (!s.secretName.empty() && !isDns1123Subdomain(s.secretName)) {
      e.add(p + ".secretName", notDns1123("subdomain", s.secretName, limits::kDnsName));
    }
    if (s.restart) {
      const std::string& kind = s.restart->kind;
      if (!isRestartableKind(kind)) {
        e.add(p + ".restart.kind", "must be one of Deployment, StatefulSet, DaemonSet, got " + quoteForMessage(kind));
      }
      if (!isDns1123Subdomain(s.restart->name)) {
        e.add(p + ".restart.name", notDns1123("subdomain", s.restart->name, limits::kDnsName));
      }
    }
    if (s.healthCheck && !isHostPort(s.healthCheck->address)) {
      e.add(p + ".healthCheck.address", "must be host:port, got " + quoteForMessage(s.healthCheck->address));
    }
    if (!s.reloadCommand.empty() && s.reloadCommand.front().empty()) {
      e.add(p + ".reloadCommand[0]", "must name a program");
    }
    if (mode == Mode::kLocal) {
      if (s.certFile.empty()) e.add(p + ".certFile", "is required in local mode");
      if (s.keyFile.empty()) e.add(p + ".keyFile", "is required in local mode");
      if (!s.certFile.empty() && s.certFile == s.keyFile) {
        e.add(p + ".keyFile", "must differ from certFile");
      }
      if (s.pkcs12) {
        validateLocalPath(e, p + ".pkcs12.file", s.pkcs12->file);
      }
    }
    if (mode == Mode::kKubernetes && s.secretName.empty()) {
      e.add(p + ".secretName", "is required in Kubernetes mode");
    }
  }
}

void validateCa(FieldErrors& e, const CaSpec& ca) {
  int sources = (ca.generate ? 1 : 0) + (ca.secretRef ? 1 : 0) + (ca.files ? 1 : 0);
  if (sources != 1) {
    e.add("spec.ca", "must set exactly one of generate, secretRef, files; got " + std::to_string(sources));
  }
  if (ca.generate) {
    if (ca.generate->commonName.size() > 64) {
      e.add("spec.ca.generate.commonName", "must be at most 64 characters");
    }
    if (ca.generate->validity <= Duration::zero()) {
      e.add("spec.ca.generate.validity", "must be positive");
    } else if (ca.rotateBefore >= ca.generate->validity) {
      e.add("spec.ca.rotateBefore", "must be shorter than spec.ca.generate.validity (" +
                                        formatDuration(ca.generate->validity) + "), got " +
                                        formatDuration(ca.rotateBefore));
    }
  }
  if (ca.secretRef && !isDns1123Subdomain(ca.secretRef->name)) {
    e.add("spec.ca.secretRef.name", notDns1123("subdomain", ca.secretRef->name, limits::kDnsName));
  }
  if (ca.rotateBefore <= Duration::zero()) {
    e.add("spec.ca.rotateBefore", "must be positive");
  }
}

void validateBackup(FieldErrors& e, const BackupSpec& b, Mode mode) {
  if (b.directory.empty()) {
    return;
  }
  const std::string field = "spec.backup.directory";
  if (mode == Mode::kKubernetes) {
    e.add(field, "is for local mode only (in Kubernetes a snapshot is a Secret)");
    return;
  }
  if (b.directory.front() == '/') {
    e.add(field, "must be relative to the directory of the file it backs up, got " + quoteForMessage(b.directory));
    return;
  }
  std::string rest = b.directory;
  for (const char* known : {"{date}", "{time}", "{dirname}"}) {
    for (size_t at = rest.find(known); at != std::string::npos; at = rest.find(known)) rest.erase(at, strlen(known));
  }
  if (rest.find_first_of("{}") != std::string::npos) {
    e.add(field, "knows only {date}, {time} and {dirname}, got " + quoteForMessage(b.directory));
  } else if (b.directory.find("{date}") == std::string::npos || b.directory.find("{time}") == std::string::npos) {
    e.add(field, "needs {date} and {time}, so that each snapshot gets its own directory");
  }
}

/** A label key: an optional DNS subdomain prefix and "/", then a name of at most 63 characters
 *  (alphanumerics, '-', '_', '.', beginning and ending alphanumeric); values are such names or empty. */
bool isLabelName(std::string_view name) {
  if (name.empty() || name.size() > 63 || !std::isalnum(static_cast<unsigned char>(name.front())) ||
      !std::isalnum(static_cast<unsigned char>(name.back()))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool isLabelKey(std::string_view key) {
  const size_t slash = key.find('/');
  if (slash == std::string_view::npos) return isLabelName(key);
  return isDns1123Subdomain(key.substr(0, slash)) && isLabelName(key.substr(slash + 1));
}

bool isLabelValue(std::string_view value) { return value.empty() || isLabelName(value); }

/** Label keys and values at `field` (labels of an object, or a selector's matchLabels). */
void validateLabels(FieldErrors& e, const std::string& field, const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : labels) {
    if (!isLabelKey(key)) e.add(field, "key " + quoteForMessage(key) + " is not a label key");
    if (!isLabelValue(value)) e.add(field + "." + key, quoteForMessage(value) + " is not a label value");
  }
}

void validateLabelSelector(FieldErrors& e, const std::string& field, const LabelSelector& selector) {
  if (selector.matchLabels.size() > limits::kSelectorTerms.value) {
    e.add(field + ".matchLabels", "must have at most " + std::to_string(limits::kSelectorTerms.value) + " labels");
  }
  validateLabels(e, field + ".matchLabels", selector.matchLabels);
  for (size_t i = 0; i < selector.matchExpressions.size(); ++i) {
    const LabelSelectorRequirement& r = selector.matchExpressions[i];
    const std::string at = field + ".matchExpressions[" + std::to_string(i) + "]";
    if (!isLabelKey(r.key)) e.add(at + ".key", quoteForMessage(r.key) + " is not a label key");
    const bool listed = r.op == "In" || r.op == "NotIn";
    if (!listed && r.op != "Exists" && r.op != "DoesNotExist") {
      e.add(at + ".operator", "must be In, NotIn, Exists or DoesNotExist, got " + quoteForMessage(r.op));
    } else if (listed && r.values.empty()) {
      e.add(at + ".values", "must not be empty for " + r.op);
    } else if (!listed && !r.values.empty()) {
      e.add(at + ".values", "must be empty for " + r.op);
    }
    for (const std::string& v : r.values) {
      if (!isLabelValue(v)) e.add(at + ".values", quoteForMessage(v) + " is not a label value");
    }
  }
}

/** A signer name as the API server accepts it: "<domain>/<path>", the domain DNS labels with at
 *  least one dot, the path DNS subdomains joined by dots. */
bool isSignerName(std::string_view name) {
  const size_t slash = name.find('/');
  if (slash == std::string_view::npos || name.find('/', slash + 1) != std::string_view::npos) return false;
  const std::string_view domain = name.substr(0, slash), path = name.substr(slash + 1);
  if (domain.size() > limits::kDnsName.value || domain.find('.') == std::string_view::npos) return false;
  for (const std::string& label : split(std::string(domain), '.')) {
    if (!isDns1123Label(label)) return false;
  }
  for (const std::string& part : split(std::string(path), '.')) {
    if (!isDns1123Subdomain(part)) return false;
  }
  return true;
}

/** spec.trustBundle.clusterTrustBundle: what the API server would refuse, refused here first. */
void validateClusterTrustBundle(FieldErrors& e, const ClusterTrustBundleSpec& ctb) {
  const std::string at = "spec.trustBundle.clusterTrustBundle";
  if (!ctb.signerName.empty() && !isSignerName(ctb.signerName)) {
    e.add(at + ".signerName",
          "must be a domain and a path such as \"example.com/edge\", got " + quoteForMessage(ctb.signerName));
  }
  if (ctb.signerName.empty()) {
    if (!isDns1123Subdomain(ctb.name)) {
      e.add(at + ".name", "must be a DNS subdomain without ':' (no signerName), got " + quoteForMessage(ctb.name));
    }
  } else {
    std::string prefix = ctb.signerName;
    std::replace(prefix.begin(), prefix.end(), '/', ':');
    prefix += ':';
    if (!ctb.name.starts_with(prefix) || !isDns1123Subdomain(ctb.name.substr(prefix.size()))) {
      e.add(at + ".name", "must be \"" + prefix + "\" and a DNS subdomain (the API server's rule for a bundle of " +
                              "signer " + ctb.signerName + "), got " + quoteForMessage(ctb.name));
    }
  }
  validateLabels(e, at + ".labels", ctb.labels);
}

/** What Kubernetes accepts as a ConfigMap key: [-._a-zA-Z0-9]+, at most 253, not "." or "..". */
bool isConfigMapKey(std::string_view key) {
  if (key.empty() || key.size() > limits::kConfigMapKey.value || key == "." || key == "..") return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
}

void validateTrustBundle(FieldErrors& e, const TrustBundleSpec& b, Mode mode) {
  for (const auto& [field, name] : {std::pair<const char*, const std::string&>{"configMapName", b.configMapName},
                                    std::pair<const char*, const std::string&>{"secretName", b.secretName}}) {
    if (!name.empty() && !isDns1123Subdomain(name)) {
      e.add(std::string("spec.trustBundle.") + field, notDns1123("subdomain", name, limits::kDnsName));
    }
  }
  if (!b.configMapName.empty() && !b.secretName.empty()) {
    e.add("spec.trustBundle", "takes configMapName or secretName, not both");
  }
  if (b.configMapName.empty() && b.secretName.empty() && b.file.empty()) {
    e.add("spec.trustBundle", "needs configMapName or secretName (Kubernetes) or file (local)");
  }
  if (mode == Mode::kLocal && b.file.empty()) {
    e.add("spec.trustBundle.file", "is required in local mode");
  }
  if (mode == Mode::kLocal && !b.secretName.empty()) {
    e.add("spec.trustBundle.secretName", "is for Kubernetes mode only");
  }
  if (mode == Mode::kKubernetes && b.configMapName.empty() && b.secretName.empty()) {
    e.add("spec.trustBundle", "needs configMapName or secretName in Kubernetes mode");
  }
  if (b.truststore) {
    if (mode == Mode::kLocal) e.add("spec.trustBundle.truststore", "is for Kubernetes mode only (local: pkcs12)");
    if (!isConfigMapKey(b.truststore->key)) {
      e.add("spec.trustBundle.truststore.key",
            "must be a ConfigMap key (letters, digits, '-', '_', '.'), got " + quoteForMessage(b.truststore->key));
    } else if (b.truststore->key == b.key) {
      e.add("spec.trustBundle.truststore.key", "must differ from spec.trustBundle.key");
    }
  }
  if (b.namespaceSelector) {
    if (mode == Mode::kLocal) e.add("spec.trustBundle.namespaceSelector", "is for Kubernetes mode only");
    validateLabelSelector(e, "spec.trustBundle.namespaceSelector", *b.namespaceSelector);
  }
  if (b.clusterTrustBundle) {
    if (mode == Mode::kLocal) e.add("spec.trustBundle.clusterTrustBundle", "is for Kubernetes mode only");
    validateClusterTrustBundle(e, *b.clusterTrustBundle);
  }
}

void validateConsumerPods(FieldErrors& e, const std::optional<ConsumerPodsSpec>& pods, Mode mode) {
  if (!pods) return;
  if (mode == Mode::kLocal) e.add("spec.adoption.pods", "is for Kubernetes mode only");
  if (pods->selector) validateLabelSelector(e, "spec.adoption.pods.selector", *pods->selector);
  if (pods->maxConcurrentRestarts < 1 || pods->maxConcurrentRestarts > 100) {
    e.add("spec.adoption.pods.maxConcurrentRestarts", "must be between 1 and 100");
  }
}

void validatePolicy(FieldErrors& e, const RotationSpec& spec) {
  if (spec.adoption.staleAfter <= Duration::zero()) {
    e.add("spec.adoption.staleAfter", "must be positive");
  }
  if (spec.adoption.timeout && *spec.adoption.timeout <= Duration::zero()) {
    e.add("spec.adoption.timeout", "must be positive");
  }
  if (!spec.adoption.timeout && spec.adoption.onTimeout == api::TimeoutAction::kProceed) {
    e.add("spec.adoption.onTimeout", "Proceed needs spec.adoption.timeout (the grace period it ends)");
  }
  if (spec.adoption.minStageDuration < Duration::zero()) {
    e.add("spec.adoption.minStageDuration", "must not be negative");
  }
  if (const auto& w = spec.swap.maintenanceWindow) {
    auto cron = CronSchedule::parse(w->schedule);
    if (!cron.ok()) {
      e.add("spec.swap.maintenanceWindow.schedule", cron.status().message());
    }
    if (w->duration <= Duration::zero()) {
      e.add("spec.swap.maintenanceWindow.duration", "must be positive");
    }
    if (!timeZoneExists(w->timeZone)) {
      e.add("spec.swap.maintenanceWindow.timeZone",
            "unknown time zone " + quoteForMessage(w->timeZone) + " (use an IANA name such as \"Europe/Paris\")");
    }
  }
  if (spec.swap.probe.period <= Duration::zero()) {
    e.add("spec.swap.probe.period", "must be positive");
  }
  if (spec.swap.bakeTime < Duration::zero()) {
    e.add("spec.swap.bakeTime", "must not be negative");
  }
  if (spec.swap.rolloutTimeout <= Duration::zero()) {
    e.add("spec.swap.rolloutTimeout", "must be positive");
  }
  if (spec.prune.after < Duration::zero()) {
    e.add("spec.prune.after", "must not be negative");
  }
  if (!spec.rollbackTo.empty() && !isDns1123Subdomain(spec.rollbackTo)) {
    e.add("spec.rollbackTo", notDns1123("subdomain naming a snapshot", spec.rollbackTo, limits::kDnsName));
  }
}

}  // namespace

bool isDns1123Subdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  for (const std::string& part : split(name, '.')) {
    if (!isDns1123Label(part)) {
      return false;
    }
  }
  return true;
}

bool isDns1123Label(std::string_view name) {
  if (name.empty() || name.size() > 63 || !isLowerAlnum(name.front()) || !isLowerAlnum(name.back())) {
    return false;
  }
  for (char c : name) {
    if (!isLowerAlnum(c) && c != '-') {
      return false;
    }
  }
  return true;
}

bool isValidDnsName(std::string_view name) {
  if (name.substr(0, 2) == "*.") {
    name.remove_prefix(2);
  }
  if (name.empty() || name.size() > 253) {
    return false;
  }
  for (const std::string& label : split(name, '.')) {
    if (!isHostLabel(label)) {
      return false;
    }
  }
  return true;
}

bool isValidIpAddress(std::string_view address) {
  std::string text(address);
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 || inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

bool timeZoneExists(std::string_view zone) { return TimeZone::load(zone).ok(); }

Status validateRotation(const CertificateRotation& r, Mode mode) {
  FieldErrors e;
  if (!isDns1123Subdomain(r.metadata.name)) {
    e.add("metadata.name", "must be a DNS-1123 subdomain (lower-case letters, digits, '-', '.'), got " +
                               quoteForMessage(r.metadata.name));
  }
  if (!isDns1123Label(r.metadata.ns)) {
    e.add("metadata.namespace", "must be a DNS-1123 label, got " + quoteForMessage(r.metadata.ns));
  }
  validateCertificate(e, r.spec.certificate);
  validateServers(e, r.spec.servers, mode);
  validateCa(e, r.spec.ca);
  validateTrustBundle(e, r.spec.trustBundle, mode);
  validateBackup(e, r.spec.backup, mode);
  validatePolicy(e, r.spec);
  validateConsumerPods(e, r.spec.adoption.pods, mode);
  return e.toStatus();
}

}  // namespace rotor::api
