// The rotor binary: everything lives in the libraries so that tests can drive it.
#include <openssl/ssl.h>

#include <iostream>

#include "controller/cli/commands.h"

int main(int argc, char** argv) {
  // First, so that OpenSSL's exit-time cleanup runs last: cpprestsdk's thread pool, created later,
  // is torn down before it, and its threads' OpenSSL state is freed as they exit. In the other
  // order OpenSSL deletes its thread-local keys first and that state is lost (LeakSanitizer).
  OPENSSL_init_ssl(0, nullptr);
  return rotor::cli::run(argc, argv, std::cin, std::cout, std::cerr);
}
