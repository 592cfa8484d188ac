#include "engine/adbc_status.h"

#include <algorithm>
#include <cstring>

#include "engine/engine.h"

namespace hyprstream::engine {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

// Driver prefixes ("[libpq] ", "[SQLite] ") and libpq's severity and context lines go.
std::string CleanDriverMessage(const char* raw) {
  if (raw == nullptr || *raw == '\0') return "";
  std::string message(raw);
  while (!message.empty() && message.front() == '[') {
    auto close = message.find("] ");
    if (close == std::string::npos) break;
    message = message.substr(close + 2);
  }
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  // libpq: "ERROR:  relation \"x\" does not exist\nLINE 1: ..." -> keep the first line.
  if (auto nl = message.find('\n'); nl != std::string::npos) {
    std::string first = message.substr(0, nl);
    if (first.find("ERROR:") != std::string::npos) message = first;
  }
  // libpq via the C stream: "Execution error [PGRES_FATAL_ERROR]: ERROR:  division by zero".
  if (auto at = message.find("ERROR:  "); at != std::string::npos) message = message.substr(at);
  for (const char* prefix : {"ERROR:  ", "FATAL:  "}) {
    auto at = message.find(prefix);
    if (at != std::string::npos) message.erase(at, std::strlen(prefix));
  }
  return message;
}

namespace {

std::string SqlState(const AdbcError* error) {
  if (error == nullptr) return "";
  std::string state(error->sqlstate, strnlen(error->sqlstate, 5));
  if (state == "00000") return "";
  return state;
}

}  // namespace

void AdbcErrorHolder::Reset() {
  if (error_.release != nullptr) error_.release(&error_);
  error_ = ADBC_ERROR_INIT;
}

arrow::Status AdbcStatusToArrow(AdbcStatusCode code, AdbcError* error, std::string_view what) {
  if (code == ADBC_STATUS_OK) return arrow::Status::OK();
  std::string state = SqlState(error);
  std::string driver_message = CleanDriverMessage(error ? error->message : nullptr);
  std::string lower = Lower(driver_message);
  if (error != nullptr && error->release != nullptr) {
    error->release(error);
    *error = ADBC_ERROR_INIT;
  }
  std::string message = std::string(what) + ": " +
                        (driver_message.empty() ? "driver reported no message" : driver_message);
  if (!state.empty()) message += " (SQLSTATE " + state + ")";

  // SQLite: another connection's write transaction held the database past busy_timeout (the
  // driver says IO without a SQLSTATE). The backend is there; the write lost to another.
  if (state.empty() && (lower.find("database is locked") != std::string::npos ||
                        lower.find("database table is locked") != std::string::npos)) {
    return WriteConflict(message);
  }
  // A lost or refused connection, whatever status the driver chose for it.
  bool connection_lost = state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" ||
                         state == "57P03" || (code == ADBC_STATUS_IO && state.empty()) ||
                         ((code == ADBC_STATUS_IO || code == ADBC_STATUS_UNKNOWN ||
                           code == ADBC_STATUS_INTERNAL || code == ADBC_STATUS_INVALID_STATE) &&
                          (lower.find("connection refused") != std::string::npos ||
                           lower.find("server closed the connection") != std::string::npos ||
                           lower.find("no connection to the server") != std::string::npos ||
                           lower.find("terminating connection") != std::string::npos ||
                           lower.find("connection to server") != std::string::npos ||
                           lower.find("could not connect") != std::string::npos));
  if (connection_lost) {
    return BackendUnavailable("backend unreachable: " + message);
  }
  if (state == "57014" || code == ADBC_STATUS_CANCELLED) return arrow::Status::Cancelled(message);
  if (state == "40001" || state == "40P01") return WriteConflict(message);
  if (state == "42P01" || state == "3F000" || state == "3D000") {
    return arrow::Status::KeyError(message);
  }
  if (state.rfind("42", 0) == 0 || state.rfind("23", 0) == 0 || state.rfind("22", 0) == 0) {
    return arrow::Status::Invalid(message);
  }
  // Without a SQLSTATE (SQLite) the message says what kind of error it is.
  if (state.empty() && (lower.find("no such table") != std::string::npos ||
                        lower.find("does not exist") != std::string::npos)) {
    return arrow::Status::KeyError(message);
  }
  if (state.empty() && (lower.find("syntax error") != std::string::npos ||
                        lower.find("constraint failed") != std::string::npos ||
                        lower.find("no such column") != std::string::npos)) {
    return arrow::Status::Invalid(message);
  }
  switch (code) {
    case ADBC_STATUS_NOT_FOUND:
      return arrow::Status::KeyError(message);
    case ADBC_STATUS_INVALID_ARGUMENT:
    case ADBC_STATUS_INVALID_DATA:
    case ADBC_STATUS_INTEGRITY:
      return arrow::Status::Invalid(message);
    case ADBC_STATUS_ALREADY_EXISTS:
      return arrow::Status::AlreadyExists(message);
    case ADBC_STATUS_NOT_IMPLEMENTED:
      return arrow::Status::NotImplemented(message);
    case ADBC_STATUS_UNAUTHENTICATED:
    case ADBC_STATUS_UNAUTHORIZED:
      return arrow::Status::IOError("backend refused the credentials: ", message);
    case ADBC_STATUS_TIMEOUT:
      return BackendUnavailable("backend timed out: " + message);
    default:
      break;
  }
  return arrow::Status::IOError(message);
}

}  // namespace hyprstream::engine
