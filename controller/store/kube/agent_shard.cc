#include "controller/store/kube/agent_shard.h"

#include <zlib.h>

#include <algorithm>
#include <map>
#include <optional>

#include "controller/common/strings.h"

namespace rotor::store::kube {
namespace {

constexpr std::string_view kMagic = "RAG2";
constexpr size_t kFingerprintBytes = 32;
constexpr std::string_view kFingerprintPrefix = "sha256:";
// A decoded shard is bounded long before this; a corrupt length must not allocate gigabytes.
constexpr size_t kMaxDecodedBytes = 256u << 20;

void putVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

int64_t seconds(SystemTime t) { return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count(); }

std::string fingerprintBytes(std::string_view fingerprint) {
  std::string hex(fingerprint.substr(kFingerprintPrefix.size()));
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string fingerprintText(std::string_view bytes) {
  return std::string(kFingerprintPrefix) +
         hexEncode(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

/** Reads what putVarint and the raw appends wrote; any overrun makes the reader fail for good. */
class Reader {
public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (rest_.empty()) return fail();
      const auto byte = static_cast<uint8_t>(rest_.front());
      rest_.remove_prefix(1);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    return fail();
  }
  std::string_view bytes(uint64_t n) {
    if (n > rest_.size()) {
      fail();
      return {};
    }
    std::string_view out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return out;
  }
  bool ok() const { return ok_; }
  bool atEnd() const { return rest_.empty(); }

private:
  uint64_t fail() {
    ok_ = false;
    rest_ = {};
    return 0;
  }
  std::string_view rest_;
  bool ok_ = true;
};

std::string deflate(const std::string& raw) {
  uLongf size = compressBound(raw.size());
  std::string out(size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(raw.data()), raw.size(),
            Z_BEST_COMPRESSION);
  out.resize(size);
  return out;
}

std::optional<std::string> inflate(std::string_view compressed) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return std::nullopt;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK && out.size() < kMaxDecodedBytes) {
    const size_t at = out.size();
    out.resize(at + std::max<size_t>(compressed.size() * 4, 64 * 1024));
    z.next_out = reinterpret_cast<Bytef*>(out.data() + at);
    z.avail_out = static_cast<uInt>(out.size() - at);
    rc = ::inflate(&z, Z_NO_FLUSH);
    out.resize(out.size() - z.avail_out);
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END || z.avail_in != 0) return std::nullopt;
  return out;
}

}  // namespace

std::string encodeAgentShard(std::vector<AgentRecord> records) {
  std::sort(records.begin(), records.end(), [](const AgentRecord& a, const AgentRecord& b) { return a.id < b.id; });
  std::map<std::vector<std::string>, uint64_t> trustSets;
  std::map<std::string, uint64_t> versions;
  int64_t base = records.empty() ? 0 : seconds(records.front().lastSeen);
  for (const AgentRecord& r : records) {
    trustSets.try_emplace(r.trusted, trustSets.size());
    versions.try_emplace(r.version, versions.size());
    base = std::min(base, seconds(r.lastSeen));
  }
  std::string raw(kMagic);
  putVarint(raw, static_cast<uint64_t>(base));  // two's complement: a time before 1970 still round-trips
  std::vector<const std::vector<std::string>*> setsByIndex(trustSets.size());
  for (const auto& [set, index] : trustSets) setsByIndex[index] = &set;
  putVarint(raw, setsByIndex.size());
  for (const std::vector<std::string>* set : setsByIndex) {
    putVarint(raw, set->size());
    for (const std::string& fingerprint : *set) raw += fingerprintBytes(fingerprint);
  }
  std::vector<const std::string*> versionsByIndex(versions.size());
  for (const auto& [version, index] : versions) versionsByIndex[index] = &version;
  putVarint(raw, versionsByIndex.size());
  for (const std::string* version : versionsByIndex) {
    putVarint(raw, version->size());
    raw += *version;
  }
  putVarint(raw, records.size());
  std::string_view previous;
  for (const AgentRecord& r : records) {
    const size_t shared =
        std::mismatch(previous.begin(), previous.end(), r.id.begin(), r.id.end()).first - previous.begin();
    putVarint(raw, shared);
    putVarint(raw, r.id.size() - shared);
    raw.append(r.id, shared);
    putVarint(raw, static_cast<uint64_t>(seconds(r.lastSeen) - base));
    putVarint(raw, trustSets.at(r.trusted));
    putVarint(raw, versions.at(r.version));
    previous = r.id;
  }
  return deflate(raw);
}

StatusOr<std::vector<AgentRecord>> decodeAgentShard(std::string_view bytes) {
  const Status damaged = failedPrecondition("an agent shard is damaged");
  std::optional<std::string> raw = inflate(bytes);
  if (!raw || !raw->starts_with(kMagic)) return damaged;
  Reader in(std::string_view(*raw).substr(kMagic.size()));
  const auto base = static_cast<int64_t>(in.varint());
  std::vector<std::vector<std::string>> trustSets(std::min<uint64_t>(in.varint(), raw->size()));
  for (std::vector<std::string>& set : trustSets) {
    const uint64_t n = std::min<uint64_t>(in.varint(), raw->size());
    for (uint64_t i = 0; i < n && in.ok(); ++i) set.push_back(fingerprintText(in.bytes(kFingerprintBytes)));
  }
  std::vector<std::string> versions(std::min<uint64_t>(in.varint(), raw->size()));
  for (std::string& version : versions) version = in.bytes(in.varint());
  const uint64_t count = in.varint();
  std::vector<AgentRecord> records;
  records.reserve(std::min<uint64_t>(count, raw->size()));
  std::string id;
  for (uint64_t i = 0; i < count && in.ok(); ++i) {
    const uint64_t shared = in.varint();
    const std::string_view rest = in.bytes(in.varint());
    if (shared > id.size()) return damaged;
    id.resize(shared);
    id += rest;
    AgentRecord record;
    record.id = id;
    record.lastSeen = SystemTime(std::chrono::seconds(base + static_cast<int64_t>(in.varint())));
    const uint64_t set = in.varint(), version = in.varint();
    if (!in.ok() || set >= trustSets.size() || version >= versions.size()) return damaged;
    record.trusted = trustSets[set];
    record.version = versions[version];
    if (!validateAgentRecord(record).ok()) return damaged;
    records.push_back(std::move(record));
  }
  if (!in.ok() || !in.atEnd()) return damaged;
  return records;
}

}  // namespace rotor::store::kube
