// Durations for window specs, in microseconds (the module's one time unit). ParseDuration
// reads "90s", "5m", "1h30m", "1d", "250ms", "10us" or a plain number of seconds (the form
// src/server/config.h accepts, plus sub-second units and compound forms); FormatDuration
// writes the shortest exact form back ("5m", "90s", "1d"). Plain functions, thread-safe.
#pragma once

#include <arrow/result.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace hyprstream::window {

inline constexpr int64_t kMicrosPerMilli = 1000;
inline constexpr int64_t kMicrosPerSecond = 1000 * kMicrosPerMilli;
inline constexpr int64_t kMicrosPerMinute = 60 * kMicrosPerSecond;
inline constexpr int64_t kMicrosPerHour = 60 * kMicrosPerMinute;
inline constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;

// Longest duration a spec may use (~35 years): keeps every window-boundary computation on
// event times within int64 without overflow checks on the hot path.
inline constexpr int64_t kMaxDurationMicros = int64_t{1} << 50;

// Status::Invalid for anything that is not a non-negative duration up to kMaxDurationMicros.
arrow::Result<int64_t> ParseDuration(std::string_view text);

// Largest unit that divides exactly: 300000000 -> "5m", 90000000 -> "90s", 0 -> "0s".
std::string FormatDuration(int64_t micros);

}  // namespace hyprstream::window
