// Read freshness: how a client bounds the age of cached data its reads may see (with
// --enable-cache). Per session with the session option `hyprstream.max_staleness`, per call
// with the gRPC header `x-hyprstream-max-staleness`. Values: "250ms", "5s", "2m", "1h", or a
// number of milliseconds; 0 means "always ask the backend".
#pragma once

#include <arrow/flight/server.h>
#include <arrow/flight/types.h>

#include <chrono>
#include <optional>
#include <string>

namespace hyprstream::flightsql {

inline constexpr char kMaxStalenessOption[] = "hyprstream.max_staleness";
inline constexpr char kMaxStalenessHeader[] = "x-hyprstream-max-staleness";

arrow::Result<std::chrono::milliseconds> ParseStaleness(const std::string& text);
arrow::Result<std::chrono::milliseconds> ParseStaleness(
    const arrow::flight::SessionOptionValue& value);
// The call's header value, nullopt when absent; Invalid when malformed.
arrow::Result<std::optional<std::chrono::milliseconds>> StalenessOfCall(
    const arrow::flight::ServerCallContext& context);

}  // namespace hyprstream::flightsql
