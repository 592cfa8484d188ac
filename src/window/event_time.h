// Event time as int64 microseconds since the Unix epoch: reading an Arrow time column into
// that unit with overflow checks, and the floor arithmetic window boundaries need. Event
// times are limited to +-2^62 us (+-146,000 years) so boundary arithmetic with durations up
// to kMaxDurationMicros never overflows. Plain functions, thread-safe.
#pragma once

#include <arrow/array.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <optional>
#include <string>

namespace hyprstream::window {

inline constexpr int64_t kMaxEventTime = int64_t{1} << 62;
inline constexpr int64_t kMinEventTime = -kMaxEventTime;
// Watermark that closes every window (AdvanceWatermark(kEndOfTime) flushes a store).
inline constexpr int64_t kEndOfTime = kMaxEventTime + (int64_t{1} << 61);
// "No watermark yet": below every event time and window boundary.
inline constexpr int64_t kNoTime = INT64_MIN;

inline int64_t FloorDiv(int64_t a, int64_t b) {  // b > 0
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
inline int64_t FloorTo(int64_t a, int64_t step) { return FloorDiv(a, step) * step; }

// "2026-11-25 19:00:00.000000 UTC": an event time in messages.
std::string FormatEventTime(int64_t micros);
// The wall clock as an event time.
int64_t WallClockMicros();

// OK if `type` can be an event-time column: a timestamp, or int32/int64 when integer_unit is
// set. Otherwise Invalid naming `column` and saying what to send instead.
arrow::Status CheckEventTimeType(const arrow::DataType& type,
                                 std::optional<arrow::TimeUnit::type> integer_unit,
                                 const std::string& column);

// Writes each row's time in microseconds to out[0, array.length()) (floor for nanoseconds).
// Null rows get kNoTime. Invalid (naming the row and value) if a time is outside the
// supported range.
arrow::Status ReadEventTime(const arrow::Array& array,
                            std::optional<arrow::TimeUnit::type> integer_unit,
                            const std::string& column, int64_t* out);

}  // namespace hyprstream::window
