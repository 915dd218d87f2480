#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace rotor {

/**
 * Error codes with absl's meanings. The code decides how a caller reacts:
 *  - kConflict: a stale version; re-read and redo the read-modify-write.
 *  - kUnavailable: a transient fault; retry with backoff.
 *  - kFailedPrecondition: the world is not in a state where this can proceed; wait for a fix.
 *  - kInvalidArgument: the input is wrong; retrying the same input never helps.
 */
enum class Code {
  kOk,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kConflict,
  kFailedPrecondition,
  kPermissionDenied,
  kUnauthenticated,
  kUnavailable,
  kDeadlineExceeded,
  kGone,
  kResourceExhausted,
  kInternal,
};

/** Lower-case name of a code, as used in logs and metric labels ("invalid_argument"). */
std::string_view codeName(Code code);

/** The outcome of an operation: ok, or a code with a message for humans. */
class [[nodiscard]] Status {
public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  /** Returns a copy whose message is "context: message". */
  Status withContext(std::string_view context) const;
  /** "code: message", or "ok". */
  std::string toString() const;

  friend bool operator==(const Status& a, const Status& b) { return a.code_ == b.code_ && a.message_ == b.message_; }

private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status okStatus() { return {}; }
inline Status invalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status notFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status alreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
inline Status failedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
inline Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status resourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
inline Status internalError(std::string m) { return {Code::kInternal, std::move(m)}; }
inline Status permissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }

std::ostream& operator<<(std::ostream& os, const Status& s);

/** Ends the process, naming `status`: what StatusOr::value() does when there is no value. */
[[noreturn]] void dieOnMissingValue(const Status& status);

/** A value or the Status explaining why there is none. Never holds an ok Status. */
template <typename T>
class [[nodiscard]] StatusOr {
public:
  StatusOr(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design, like absl
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) {
      status_ = internalError("StatusOr constructed from an ok Status without a value");
    }
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  /** The value; on an error the process ends with the status (a bug, never a silent read). */
  T& value() & {
    checked();
    return *value_;
  }
  const T& value() const& {
    checked();
    return *value_;
  }
  T&& value() && {
    checked();
    return std::move(*value_);
  }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }

private:
  void checked() const {
    if (!value_) dieOnMissingValue(status_);
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace rotor

#define ROTOR_CONCAT_INNER(a, b) a##b
#define ROTOR_CONCAT(a, b) ROTOR_CONCAT_INNER(a, b)

/** Returns from the enclosing function when `expr` (a Status) is not ok. */
#define RETURN_IF_ERROR(expr)               \
  do {                                      \
    ::rotor::Status rotor_status_ = (expr); \
    if (!rotor_status_.ok()) {              \
      return rotor_status_;                 \
    }                                       \
  } while (false)

/** `ASSIGN_OR_RETURN(auto x, f())`: binds the value of a StatusOr or returns its Status. */
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(ROTOR_CONCAT(rotor_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) {                            \
    return tmp.status();                      \
  }                                           \
  lhs = std::move(tmp).value()
