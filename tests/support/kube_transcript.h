#pragma once

// Reads the recorded kube-apiserver exchanges in tests/data/kube-transcripts (format in their
// README): each file holds requests and the responses a real v1.25 API server gave. Tests of the
// Kubernetes client and of the fake API server check their behaviour against these.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace rotor::testing {

struct TranscriptMessage {
  std::string startLine;  // "GET /api/... HTTP/1.1" or "HTTP/1.1 200 OK"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // as shown: pretty-printed JSON, watch lines, or plain text

  /** The header's value ("" when absent); names compare case-insensitively. */
  std::string header(const std::string& name) const;
};

struct TranscriptExchange {
  TranscriptMessage request;
  TranscriptMessage response;
  std::string method() const;
  std::string target() const;
  int status() const;
};

/** The transcripts directory: $ROTOR_KUBE_TRANSCRIPTS, else tests/data/kube-transcripts. */
std::filesystem::path transcriptsDir();

/** Every exchange of one file ("13-cr-update-put-stale.http"), in order. Throws on a file that
 *  does not follow the format. */
std::vector<TranscriptExchange> loadTranscript(const std::string& fileName);

}  // namespace rotor::testing
