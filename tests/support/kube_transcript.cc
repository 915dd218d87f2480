#include "tests/support/kube_transcript.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/temp_dir.h"

namespace rotor::testing {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/** Parses "start line, headers, blank line, body" from `lines`; the body ends where `lines` do,
 *  less the one blank line that closes an exchange. */
TranscriptMessage parseMessage(const std::vector<std::string>& lines) {
  TranscriptMessage m;
  size_t i = 0;
  while (i < lines.size() && lines[i].empty()) ++i;
  if (i == lines.size()) throw std::runtime_error("empty message");
  m.startLine = lines[i++];
  for (; i < lines.size() && !lines[i].empty(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string::npos) throw std::runtime_error("bad header line: " + lines[i]);
    std::string value = lines[i].substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    m.headers.emplace_back(lines[i].substr(0, colon), value);
  }
  size_t end = lines.size();
  while (end > i + 1 && lines[end - 1].empty()) --end;
  for (size_t j = i + 1; j < end; ++j) m.body += lines[j] + "\n";
  return m;
}

}  // namespace

std::string TranscriptMessage::header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (lower(n) == lower(name)) return v;
  }
  return "";
}

std::string TranscriptExchange::method() const { return request.startLine.substr(0, request.startLine.find(' ')); }

std::string TranscriptExchange::target() const {
  const size_t from = request.startLine.find(' ') + 1;
  return request.startLine.substr(from, request.startLine.rfind(' ') - from);
}

int TranscriptExchange::status() const { return std::stoi(response.startLine.substr(9, 3)); }

std::filesystem::path transcriptsDir() {
  if (const char* dir = std::getenv("ROTOR_KUBE_TRANSCRIPTS"); dir != nullptr && *dir != '\0') return dir;
  return sourceDir() / "tests" / "data" / "kube-transcripts";
}

std::vector<TranscriptExchange> loadTranscript(const std::string& fileName) {
  std::ifstream in(transcriptsDir() / fileName);
  if (!in) throw std::runtime_error("cannot read transcript " + fileName);
  std::vector<TranscriptExchange> out;
  std::vector<std::string> request, response;
  std::vector<std::string>* current = nullptr;
  const auto flush = [&] {
    if (request.empty() && response.empty()) return;
    out.push_back({parseMessage(request), parseMessage(response)});
    request.clear();
    response.clear();
  };
  for (std::string line; std::getline(in, line);) {
    if (line == "### request") {
      flush();
      current = &request;
    } else if (line == "### response") {
      current = &response;
    } else if (current == nullptr || line.starts_with("# ")) {
      continue;  // notes before or between exchanges (no body line starts with "# ")
    } else {
      current->push_back(line);
    }
  }
  flush();
  return out;
}

}  // namespace rotor::testing
