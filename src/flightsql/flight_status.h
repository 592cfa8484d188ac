// The edge between engine errors (arrow::Status, see engine/engine.h) and Flight status
// codes: Invalid -> INVALID_ARGUMENT, KeyError -> NOT_FOUND, AlreadyExists -> ALREADY_EXISTS,
// NotImplemented -> UNIMPLEMENTED, Cancelled -> CANCELLED, a backend unavailable or a write
// conflict (engine.h) -> UNAVAILABLE (saying to retry), anything else -> INTERNAL.
// Messages are kept; errors are logged at debug level with the RPC that failed.
#pragma once

#include <arrow/status.h>

#include <string_view>

namespace hyprstream::flightsql {

arrow::Status ToFlightStatus(const arrow::Status& status, std::string_view rpc);

}  // namespace hyprstream::flightsql
