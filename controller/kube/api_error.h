#pragma once

// Errors from the Kubernetes API, decoded from the Status object the server sends (never by
// matching its message text): the reason ("NotFound", "Conflict", "Invalid", "Expired", ...)
// decides what rotor does, the message is for people.

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/status.h"

namespace rotor::kube {

/** One field-level problem of a 422 Invalid answer. */
struct StatusCause {
  std::string reason;  // "FieldValueRequired", "FieldValueInvalid", ...
  std::string message;
  std::string field;  // "spec.adoption.threshold"
};

struct ApiError {
  int httpStatus = 0;
  /** The Status reason; empty when the server sent no Status object. */
  std::string reason;
  std::string message;
  std::vector<StatusCause> causes;
  /** From details.retryAfterSeconds or a Retry-After header (429, 503). */
  std::optional<int> retryAfterSeconds;

  /**
   * rotor's code for it: NotFound -> kNotFound, AlreadyExists -> kAlreadyExists, Conflict ->
   * kConflict (a stale resourceVersion, a failed precondition), Invalid/BadRequest/
   * UnsupportedMediaType/RequestEntityTooLarge -> kInvalidArgument, Forbidden ->
   * kPermissionDenied, Unauthorized -> kUnauthenticated, Expired/Gone -> kGone (relist),
   * TooManyRequests/ServiceUnavailable/Timeout/ServerTimeout/InternalError -> kUnavailable.
   * Without a reason, the HTTP status decides the same way.
   */
  Code code() const;
  /** The code with "message" plus each cause as "field: message". */
  Status toStatus() const;
};

/** Decodes an error answer: its Status object when the body holds one, else the status alone. */
ApiError decodeApiError(int httpStatus, std::string_view body, std::string_view retryAfterHeader = {});
/** Decodes a Status object (an error answer's body, or a watch ERROR event's object). */
ApiError decodeStatusObject(const nlohmann::json& status, int httpStatus = 0);

}  // namespace rotor::kube
