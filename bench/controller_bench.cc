// Local mode at scale, with the real rotor binary:
//  - issuance: `rotor controller --once` bootstraps N rotations (a P-256 CA and a P-256 server
//    certificate each, every file written durably) against the crypto floor measured here — the
//    same OpenSSL keygen and sign calls in a tight loop — and against the durable-write floor: the
//    same number of atomic file writes (write, fsync, rename, fsync the directory).
//  - steady state: what each resync costs a running controller with N Ready rotations — the
//    manager's loop over the LocalStore in this process, a pass to warm it and then three measured
//    passes: CPU per rotation and resident memory; the largest N against the smallest for growth.
//   controller_bench ROTOR_BINARY [N...]   (default 1000 10000)
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "bench/bench_util.h"
#include "controller/common/atomic_file.h"
#include "controller/common/clock.h"
#include "controller/manager/manager.h"
#include "controller/probe/tls_prober.h"
#include "controller/store/local/local_store.h"

using namespace rotor;
using namespace rotor::bench;
namespace fs = std::filesystem;

namespace {

X509* newCertificate(const std::string& commonName, EVP_PKEY* subjectKey, X509* issuer, EVP_PKEY* issuerKey, bool ca,
                     long serial) {
  X509* cert = X509_new();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 90L * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(commonName.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert, subjectKey);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
  const std::string constraints = ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, constraints.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (!ca) {
    ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, ("DNS:" + commonName).c_str());
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, issuerKey, EVP_sha256());
  return cert;
}

/** The crypto floor: per rotation, a P-256 CA key and self-signed certificate, a server key and
 *  certificate signed by the CA. Nothing written. */
double cryptoFloorSeconds(int n) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    EVP_PKEY* caKey = EVP_EC_gen("P-256");
    X509* ca = newCertificate("Svc CA", caKey, nullptr, caKey, true, 2 * i + 1);
    EVP_PKEY* serverKey = EVP_EC_gen("P-256");
    X509* server = newCertificate("svc.example.test", serverKey, ca, caKey, false, 2 * i + 2);
    X509_free(server);
    EVP_PKEY_free(serverKey);
    X509_free(ca);
    EVP_PKEY_free(caKey);
  }
  return secondsSince(start);
}

/** The durable-write floor: `writes` atomic writes of 1 KiB spread over `files` files. */
double durableWriteFloorSeconds(const fs::path& dir, int writes, int files) {
  fs::create_directories(dir);
  const std::string content(1024, 'x');
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < writes; ++i) {
    if (Status s = writeFileAtomic(dir / ("f" + std::to_string(i % files)), content, 0600); !s.ok()) {
      std::fprintf(stderr, "durable-write floor: %s\n", s.message().c_str());
      return 0;
    }
  }
  const double seconds = secondsSince(start);
  fs::remove_all(dir);
  return seconds;
}

api::CertificateRotation rotationNumbered(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "svc-%05d", i);
  api::CertificateRotation r;
  r.metadata.name = name;
  r.metadata.ns = "default";
  r.spec.certificate.commonName = std::string(name) + ".example.test";
  r.spec.certificate.dnsNames = {r.spec.certificate.commonName};
  api::ServerSpec server;
  server.name = "main";
  server.certFile = std::string("certs/") + name + ".crt";
  server.keyFile = std::string("certs/") + name + ".key";
  r.spec.servers.push_back(server);
  r.spec.ca.generate = api::CaGenerateSpec{std::string(name) + " CA", std::chrono::hours(24 * 365), {}};
  r.spec.trustBundle.file = std::string("trust/") + name + ".pem";
  return r;
}

/** Rotations stored in `dir` by phase. */
std::map<std::string, int> phases(const fs::path& dir) {
  RealClock clock;
  auto store = std::move(store::local::LocalStore::open({.root = dir}, clock)).value();
  std::map<std::string, int> count;
  const std::vector<api::CertificateRotation> rotations = store->listRotations(store::kAllNamespaces).value();
  for (const api::CertificateRotation& r : rotations) {
    ++count[std::string(api::phaseName(r.status.phase))];
  }
  return count;
}

/** Atomic file writes a bootstrap made: the files under the state directory, certs and trust. */
int countFiles(const fs::path& dir) {
  int n = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename() != "controller.lock" &&
        entry.path().filename() != "write.lock") {
      ++n;
    }
  }
  return n;
}

struct SteadyState {
  double cpuPerRotation = 0;  // the cheapest of the measured passes
  long residentBytes = 0;     // the process after them
};

/** The manager's resync over `dir` as a running controller does it, one worker, in this process. */
SteadyState resyncPasses(const fs::path& dir, int n) {
  RealClock clock;
  auto store = std::move(store::local::LocalStore::open({.root = dir}, clock)).value();
  probe::TlsProber prober;
  NoEvents events;
  std::ostringstream discarded;
  Logger log(discarded, clock, LogLevel::kError);
  manager::Manager manager({*store, clock, prober, events}, log);
  SteadyState result{1e9, 0};
  for (int pass = 0; pass < 4; ++pass) {
    const double before = cpuSeconds();
    (void)manager.resync();
    int reconciled = 0;
    while (manager.processOne()) ++reconciled;
    if (reconciled != n) std::fprintf(stderr, "resync pass reconciled %d of %d\n", reconciled, n);
    if (pass > 0) result.cpuPerRotation = std::min(result.cpuPerRotation, (cpuSeconds() - before) / n);
  }
  result.residentBytes = residentBytes();
  return result;
}

struct Scale {
  int n;
  ChildCost bootstrap;
  double cryptoFloor = 0, writeFloor = 0;
  SteadyState steady;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: controller_bench ROTOR_BINARY [N...]\n");
    return 2;
  }
  const std::string rotor = fs::absolute(argv[1]);
  std::vector<int> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::stoi(argv[i]));
  if (sizes.empty()) sizes = {1000, 10000};
  const fs::path work = fs::temp_directory_path() / "rotor-controller-bench";
  fs::remove_all(work);
  const std::string log = (work / "controller.log").string();
  fs::create_directories(work);

  const long residentAtStart = residentBytes();
  std::vector<Scale> scales;
  for (int n : sizes) {
    Scale s{n};
    const fs::path dir = work / ("n" + std::to_string(n));
    fs::create_directories(dir);
    {
      RealClock clock;
      auto store = std::move(store::local::LocalStore::open({.root = dir}, clock)).value();
      for (int i = 0; i < n; ++i) (void)store->applyRotation(rotationNumbered(i)).value();
    }
    const int filesBefore = countFiles(dir);
    s.cryptoFloor = cryptoFloorSeconds(n);
    s.bootstrap = runMeasured({rotor, "--local", dir.string(), "controller", "--once"}, log);
    const auto after = phases(dir);
    if (s.bootstrap.exitCode != 0 || after.size() != 1 || after.begin()->first != "Ready") {
      std::fprintf(stderr, "bootstrap of %d rotations did not end Ready (exit %d, see %s)\n", n, s.bootstrap.exitCode,
                   log.c_str());
      return 1;
    }
    // Every file the bootstrap left was written atomically at least once.
    const int filesWritten = countFiles(dir) - filesBefore;
    std::printf("issuance  %d rotations: %.2f s wall, %.2f s CPU; crypto floor %.2f s; %d files written\n", n,
                s.bootstrap.wallSeconds, s.bootstrap.cpuSeconds, s.cryptoFloor, filesWritten);
    s.writeFloor = durableWriteFloorSeconds(work / "floor", filesWritten, 64) + s.cryptoFloor;
    // Each scale in its own child, so that none inherits another's heap.
    int pipeFds[2];
    if (pipe(pipeFds) != 0) return 1;
    if (pid_t child = fork(); child == 0) {
      const SteadyState steady = resyncPasses(dir, n);
      (void)!write(pipeFds[1], &steady, sizeof steady);
      _exit(0);
    } else {
      (void)!read(pipeFds[0], &s.steady, sizeof s.steady);
      waitpid(child, nullptr, 0);
      close(pipeFds[0]);
      close(pipeFds[1]);
    }
    std::printf("steady    %d Ready rotations, a resync pass: %.1f us CPU per rotation, %.1f MB resident\n", n,
                s.steady.cpuPerRotation * 1e6, s.steady.residentBytes / 1e6);
    scales.push_back(s);
    fs::remove_all(dir);
  }

  for (const Scale& s : scales) {
    row(format("Issuance: bootstrap %d rotations, local mode (P-256 CA + server certificate)", s.n),
        format("%.2f s", s.bootstrap.wallSeconds), format("crypto floor: %.2f s", s.cryptoFloor),
        format("%.1fx", s.bootstrap.wallSeconds / s.cryptoFloor), "<= 1.5x");
    row(format("Issuance: bootstrap %d rotations, against crypto + durable writes", s.n),
        format("%.2f s", s.bootstrap.wallSeconds),
        format("crypto + the same files written atomically: %.2f s", s.writeFloor),
        format("%.2fx", s.bootstrap.wallSeconds / s.writeFloor), "-");
  }
  const Scale& first = scales.front();
  for (const Scale& s : scales) {
    const bool base = &s == &first;
    row(format("Steady state: CPU per rotation per resync, %d Ready", s.n),
        format("%.1f us", s.steady.cpuPerRotation * 1e6),
        base ? "-" : format("at %d: %.1f us", first.n, first.steady.cpuPerRotation * 1e6),
        base ? "-" : format("%.2fx", s.steady.cpuPerRotation / first.steady.cpuPerRotation), "<= 50 us, flat");
    row(format("Steady state: controller resident memory, %d Ready", s.n),
        format("%.1f MB", s.steady.residentBytes / 1e6),
        base ? format("before the store opened: %.1f MB", residentAtStart / 1e6)
             : format("at %d: %.1f MB", first.n, first.steady.residentBytes / 1e6),
        format("%.2fx",
               static_cast<double>(s.steady.residentBytes) / (base ? residentAtStart : first.steady.residentBytes)),
        base ? "<= 150 MB" : format("<= 150 MB, <= %dx", s.n / first.n));
  }
  fs::remove_all(work);
  return 0;
}
