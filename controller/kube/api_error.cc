#include "controller/kube/api_error.h"

#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

namespace rotor::kube {
namespace {

using nlohmann::json;

std::string stringAt(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Code codeForHttpStatus(int status) {
  switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 409:
      return Code::kConflict;
    case 410:
      return Code::kGone;
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return Code::kUnavailable;
    default:
      return status >= 500 ? Code::kUnavailable : Code::kInternal;
  }
}

}  // namespace

Code ApiError::code() const {
  static const std::map<std::string, Code, std::less<>> kByReason = {
      {"NotFound", Code::kNotFound},
      {"AlreadyExists", Code::kAlreadyExists},
      {"Conflict", Code::kConflict},
      {"Invalid", Code::kInvalidArgument},
      {"BadRequest", Code::kInvalidArgument},
      {"UnsupportedMediaType", Code::kInvalidArgument},
      {"RequestEntityTooLarge", Code::kInvalidArgument},
      {"NotAcceptable", Code::kInvalidArgument},
      {"MethodNotAllowed", Code::kInvalidArgument},
      {"Forbidden", Code::kPermissionDenied},
      {"Unauthorized", Code::kUnauthenticated},
      {"Expired", Code::kGone},
      {"Gone", Code::kGone},
      {"TooManyRequests", Code::kUnavailable},
      {"ServiceUnavailable", Code::kUnavailable},
      {"Timeout", Code::kUnavailable},
      {"ServerTimeout", Code::kUnavailable},
      {"InternalError", Code::kUnavailable},
  };
  if (auto it = kByReason.find(reason); it != kByReason.end()) return it->second;
  return codeForHttpStatus(httpStatus);
}

Status ApiError::toStatus() const {
  std::string text = message.empty() ? "the Kubernetes API answered HTTP " + std::to_string(httpStatus) : message;
  // A 422's message already lists its causes in brackets; add them only when it does not.
  if (!causes.empty() && text.find('[') == std::string::npos) {
    for (const StatusCause& c : causes) text += "; " + (c.field.empty() ? c.message : c.field + ": " + c.message);
  }
  return Status(code(), text);
}

ApiError decodeStatusObject(const json& status, int httpStatus) {
  ApiError e;
  e.httpStatus = httpStatus;
  if (const auto code = status.find("code"); code != status.end() && code->is_number_integer()) {
    e.httpStatus = code->get<int>();
  }
  e.reason = stringAt(status, "reason");
  e.message = stringAt(status, "message");
  if (const auto details = status.find("details"); details != status.end() && details->is_object()) {
    if (const auto causes = details->find("causes"); causes != details->end() && causes->is_array()) {
      for (const json& c : *causes) {
        if (c.is_object()) e.causes.push_back({stringAt(c, "reason"), stringAt(c, "message"), stringAt(c, "field")});
      }
    }
    if (const auto retry = details->find("retryAfterSeconds"); retry != details->end() && retry->is_number_integer()) {
      e.retryAfterSeconds = retry->get<int>();
    }
  }
  return e;
}

ApiError decodeApiError(int httpStatus, std::string_view body, std::string_view retryAfterHeader) {
  const json parsed = json::parse(body, nullptr, false);
  ApiError e;
  if (parsed.is_object() && stringAt(parsed, "kind") == "Status") {
    e = decodeStatusObject(parsed, httpStatus);
    e.httpStatus = httpStatus;  // the wire status wins over the body's code
  } else {
    e.httpStatus = httpStatus;
  }
  if (!e.retryAfterSeconds && !retryAfterHeader.empty()) {
    int seconds = 0;
    if (auto [end, ec] =
            std::from_chars(retryAfterHeader.data(), retryAfterHeader.data() + retryAfterHeader.size(), seconds);
        ec == std::errc() && seconds >= 0) {
      e.retryAfterSeconds = seconds;
    }
  }
  return e;
}

}  // namespace rotor::kube
