#include "flightsql/read_freshness.h"

#include <charconv>
#include <cmath>

namespace hyprstream::flightsql {

arrow::Result<std::chrono::milliseconds> ParseStaleness(const std::string& text) {
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  std::string unit(end, text.data() + text.size());
  double scale = unit == "" || unit == "ms" ? 1
                 : unit == "s"              ? 1e3
                 : unit == "m"              ? 60e3
                 : unit == "h"              ? 3600e3
                                            : -1;
  if (ec != std::errc() || scale < 0 || number < 0 || !std::isfinite(number)) {
    return arrow::Status::Invalid("max staleness '", text,
                                  "' is not a duration like 250ms, 5s, 2m, 1h or a number of "
                                  "milliseconds (0: always read the backend)");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(number * scale)));
}

arrow::Result<std::chrono::milliseconds> ParseStaleness(
    const arrow::flight::SessionOptionValue& value) {
  if (auto* text = std::get_if<std::string>(&value)) return ParseStaleness(*text);
  if (auto* integer = std::get_if<int64_t>(&value)) {
    if (*integer >= 0) return std::chrono::milliseconds(*integer);
  }
  if (auto* real = std::get_if<double>(&value)) {
    if (*real >= 0 && std::isfinite(*real)) {
      return std::chrono::milliseconds(static_cast<int64_t>(std::llround(*real)));
    }
  }
  return arrow::Status::Invalid(
      "max staleness must be a duration string (250ms, 5s) or a non-negative number of "
      "milliseconds");
}

arrow::Result<std::optional<std::chrono::milliseconds>> StalenessOfCall(
    const arrow::flight::ServerCallContext& context) {
  const auto& headers = context.incoming_headers();
  auto it = headers.find(kMaxStalenessHeader);
  if (it == headers.end()) return std::nullopt;
  ARROW_ASSIGN_OR_RAISE(auto value, ParseStaleness(std::string(it->second)));
  return value;
}

}  // namespace hyprstream::flightsql
