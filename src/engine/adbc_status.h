// Conversion of ADBC results to the engine.h error contract: AdbcStatusCode plus the SQLSTATE
// the driver reports (42P01 -> KeyError, 42xxx/23xxx -> Invalid, 08xxx -> IOError "backend
// unreachable", 57014 -> Cancelled, 40001/40P01 -> IOError "write conflict"). Stateless.
#pragma once

#include <arrow/status.h>

#include <string>
#include <string_view>

#include "engine/adbc_driver.h"

namespace hyprstream::engine {

// Owns an AdbcError for one call; releases it.
class AdbcErrorHolder {
 public:
  AdbcErrorHolder() : error_(ADBC_ERROR_INIT) {}
  ~AdbcErrorHolder() { Reset(); }
  AdbcErrorHolder(const AdbcErrorHolder&) = delete;
  AdbcErrorHolder& operator=(const AdbcErrorHolder&) = delete;

  AdbcError* get() { return &error_; }
  void Reset();

 private:
  AdbcError error_;
};

// OK for ADBC_STATUS_OK; otherwise an arrow::Status saying `what` failed, with the driver's
// message. Releases the error. A connection-level failure is marked as BackendUnavailable.
arrow::Status AdbcStatusToArrow(AdbcStatusCode code, AdbcError* error, std::string_view what);

// A driver's message without its noise (driver prefixes, libpq's "ERROR:" and context lines).
std::string CleanDriverMessage(const char* raw);

}  // namespace hyprstream::engine
