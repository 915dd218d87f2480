#include "controller/api/ca_source.h"

namespace rotor::api {
namespace {

void field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append("=").append(std::to_string(value.size())).append(":").append(value).append("\n");
}

}  // namespace

std::string canonicalCaSource(const CaSpec& ca) {
  std::string out = "rotor.dev/ca-source " + std::string(kCaSourceVersion) + "\n";
  if (ca.generate) {
    field(out, "generate.commonName", ca.generate->commonName);
    field(out, "generate.validitySeconds",
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(ca.generate->validity).count()));
    field(out, "generate.privateKey.algorithm", keyAlgorithmName(ca.generate->privateKey.algorithm));
    field(out, "generate.privateKey.size", std::to_string(ca.generate->privateKey.size));
  }
  if (ca.files) {
    field(out, "files.certFile", ca.files->certFile);
    field(out, "files.keyFile", ca.files->keyFile);
  }
  if (ca.secretRef) field(out, "secretRef.name", ca.secretRef->name);
  return out;
}

}  // namespace rotor::api
