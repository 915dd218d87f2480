// Kubeconfig parsing: any bytes as the file --kubeconfig names. Never crashes; a configuration
// that loads names an http(s) server.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "controller/kube/kubeconfig.h"

using namespace rotor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Relative file references resolve below a directory that does not exist: nothing is read.
  auto config = kube::parseKubeconfig(text, "/nonexistent/rotor-fuzz/config");
  if (config.ok() && !config->server.starts_with("http")) std::abort();
  return 0;
}
