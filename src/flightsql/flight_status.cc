#include "flightsql/flight_status.h"

#include <arrow/flight/types.h>
#include <spdlog/spdlog.h>

#include "engine/engine.h"

namespace hyprstream::flightsql {

arrow::Status ToFlightStatus(const arrow::Status& status, std::string_view rpc) {
  if (status.ok()) return status;
  // Statuses that already carry a Flight code (e.g. from the transport) pass through.
  if (arrow::flight::FlightStatusDetail::UnwrapStatus(status)) return status;
  spdlog::debug("{} failed: {}", rpc, status.ToString());
  if (engine::IsBackendUnavailable(status)) {
    // The backend database is down, restarting or saturated: the client may retry.
    std::string message = status.message();
    if (message.find("retry") == std::string::npos) message += "; retry later";
    return arrow::flight::MakeFlightError(arrow::flight::FlightStatusCode::Unavailable, message);
  }
  if (engine::IsWriteConflict(status)) {
    // Another transaction wrote the same rows first (or, on SQLite, holds the database). Like
    // the backend being down, it is worth another try; inside a transaction, of the whole of it
    // (DuckDB and PostgreSQL have aborted it).
    return arrow::flight::MakeFlightError(
        arrow::flight::FlightStatusCode::Unavailable,
        status.message() +
            " (write conflict: another transaction wrote the same data first or holds it, and "
            "the write that failed was not applied; run it again, and inside a transaction roll "
            "it back and run the transaction again)");
  }
  switch (status.code()) {
    case arrow::StatusCode::Invalid:
    case arrow::StatusCode::TypeError:
    case arrow::StatusCode::IndexError:
    case arrow::StatusCode::CapacityError:
    case arrow::StatusCode::SerializationError:
      return arrow::Status::Invalid(status.message());
    case arrow::StatusCode::KeyError:
      return arrow::Status::KeyError(status.message());
    case arrow::StatusCode::AlreadyExists:
      return arrow::Status::AlreadyExists(status.message());
    case arrow::StatusCode::NotImplemented:
      return arrow::Status::NotImplemented(status.message());
    case arrow::StatusCode::Cancelled:
      return arrow::Status::Cancelled(status.message());
    case arrow::StatusCode::OutOfMemory:
      return arrow::flight::MakeFlightError(arrow::flight::FlightStatusCode::Unavailable,
                                            "out of memory: " + status.message());
    default:
      return arrow::flight::MakeFlightError(arrow::flight::FlightStatusCode::Internal,
                                            status.message());
  }
}

}  // namespace hyprstream::flightsql
