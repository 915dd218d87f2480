// Manifest decoding and validation: any bytes as a manifest file (as `rotor apply -f` and the
// local controller read them). Never crashes; what decodes also encodes, and decodes back equal.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "controller/api/json_codec.h"
#include "controller/api/validate.h"
#include "controller/api/yaml_codec.h"

using namespace rotor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (api::Mode mode : {api::Mode::kAny, api::Mode::kLocal}) {
    auto decoded = api::decodeManifests(text, mode);
    if (!decoded.ok()) continue;
    for (const api::CertificateRotation& rotation : *decoded) {
      if (!api::validateRotation(rotation, mode).ok()) std::abort();  // decodeManifests validates
      auto again = api::decodeManifests(api::rotationToYaml(rotation), mode);
      if (!again.ok() || again->size() != 1 || (*again)[0].spec != rotation.spec) std::abort();
      auto viaJson = api::rotationFromJson(api::rotationToJson(rotation));
      if (!viaJson.ok() || viaJson->spec != rotation.spec) std::abort();
    }
  }
  return 0;
}
