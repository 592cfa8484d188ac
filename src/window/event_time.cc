#include "window/event_time.h"

#include <arrow/type.h>
#include <arrow/util/bit_util.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace hyprstream::window {
namespace {

constexpr const char* kUnitNames[] = {"s", "ms", "us", "ns"};

template <typename T>
arrow::Status Convert(const T* values, const uint8_t* validity, int64_t offset, int64_t length,
                      arrow::TimeUnit::type unit, const std::string& column, int64_t* out) {
  // Multiply by `scale` (s, ms) or divide by 1000 (ns, truncating toward zero as DuckDB does
  // when it stores the value, so a row lands in the window its stored time says); range
  // checks cover both.
  const int64_t scale = unit == arrow::TimeUnit::SECOND  ? 1000000
                        : unit == arrow::TimeUnit::MILLI ? 1000
                                                         : 1;
  const int64_t limit = kMaxEventTime / scale;
  bool out_of_range = false;
  for (int64_t i = 0; i < length; ++i) {
    int64_t v = static_cast<int64_t>(values[i]);
    if (unit == arrow::TimeUnit::NANO) v /= 1000;
    bool bad = v > limit || v < -limit;
    out[i] = v * (bad ? 0 : scale);
    if (validity != nullptr && !arrow::bit_util::GetBit(validity, offset + i)) {
      out[i] = kNoTime;
    } else {
      out_of_range |= bad;
    }
  }
  if (!out_of_range) return arrow::Status::OK();
  for (int64_t i = 0; i < length; ++i) {
    if (validity != nullptr && !arrow::bit_util::GetBit(validity, offset + i)) continue;
    int64_t v = static_cast<int64_t>(values[i]);
    int64_t micros = unit == arrow::TimeUnit::NANO ? v / 1000 : v;
    if (micros > limit || micros < -limit) {
      return arrow::Status::Invalid("time column '", column, "' row ", i, ": ", v, " ",
                                    kUnitNames[unit],
                                    " is outside the supported range of +-2^62 microseconds "
                                    "(about 146,000 years around 1970); check the column's unit");
    }
  }
  return arrow::Status::OK();
}

}  // namespace

arrow::Status CheckEventTimeType(const arrow::DataType& type,
                                 std::optional<arrow::TimeUnit::type> integer_unit,
                                 const std::string& column) {
  switch (type.id()) {
    case arrow::Type::TIMESTAMP:
      return arrow::Status::OK();
    case arrow::Type::INT32:
    case arrow::Type::INT64:
      if (integer_unit) return arrow::Status::OK();
      return arrow::Status::Invalid(
          "time column '", column, "' is ", type.ToString(),
          " without a declared unit; send an Arrow timestamp, or set "
          "WindowSpec::integer_time_unit to the epoch unit (s, ms, us or ns)");
    default:
      return arrow::Status::Invalid("time column '", column, "' is ", type.ToString(),
                                    "; it must be an Arrow timestamp (any unit), or int32/int64 "
                                    "epoch values with WindowSpec::integer_time_unit set");
  }
}

arrow::Status ReadEventTime(const arrow::Array& array,
                            std::optional<arrow::TimeUnit::type> integer_unit,
                            const std::string& column, int64_t* out) {
  ARROW_RETURN_NOT_OK(CheckEventTimeType(*array.type(), integer_unit, column));
  const arrow::ArrayData& data = *array.data();
  const uint8_t* validity = array.null_count() > 0 ? data.GetValues<uint8_t>(0, 0) : nullptr;
  if (array.type_id() == arrow::Type::INT32) {
    return Convert(data.GetValues<int32_t>(1), validity, data.offset, data.length, *integer_unit,
                   column, out);
  }
  arrow::TimeUnit::type unit = array.type_id() == arrow::Type::TIMESTAMP
                                   ? static_cast<const arrow::TimestampType&>(*array.type()).unit()
                                   : *integer_unit;
  return Convert(data.GetValues<int64_t>(1), validity, data.offset, data.length, unit, column, out);
}

int64_t WallClockMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatEventTime(int64_t micros) {
  const int64_t seconds = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  const time_t t = static_cast<time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
  char fraction[16];
  std::snprintf(fraction, sizeof(fraction), ".%06lld UTC",
                static_cast<long long>(micros - seconds * 1000000));
  return std::string(text) + fraction;
}

}  // namespace hyprstream::window
