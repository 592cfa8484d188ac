// WindowSpec: what one stream aggregates — key columns, event-time column, value columns, the
// aggregates, the windows (tumbling, hopping, per-row trailing), allowed lateness and how long
// closed windows stay in memory. A plain value type: copy it, Validate() it, print it.
// All durations are microseconds (see duration.h); windows align to the Unix epoch (UTC).
// Output column names are fixed here so every consumer agrees: AggregateColumnName().
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyprstream::window {

enum class AggregateKind : uint8_t {
  kRowCount,    // count(*): rows, whatever their values          -> "row_count" (int64)
  kCount,       // non-null values                               -> "<value>_count" (int64)
  kSum,         //                                               -> "<value>_sum" (double)
  kAvg,         //                                               -> "<value>_avg"
  kMin,         // NaN ignored unless every value is NaN         -> "<value>_min"
  kMax,         // NaN wins, as in DuckDB's ordering             -> "<value>_max"
  kFirst,       // value at the earliest event time; ties: first arrived -> "<value>_first"
  kLast,        // value at the latest event time; ties: last arrived    -> "<value>_last"
  kVarPop,      // population variance                          -> "<value>_var_pop"
  kVarSamp,     // sample variance (null below two values)      -> "<value>_var_samp"
  kStddevPop,   //                                               -> "<value>_stddev_pop"
  kStddevSamp,  //                                               -> "<value>_stddev_samp"
};
inline constexpr int kAggregateKindCount = 12;

// "row_count", "count", "sum", "avg", "min", "max", "first", "last", "var_pop", "var_samp",
// "stddev_pop", "stddev_samp".
std::string_view AggregateName(AggregateKind kind);
// The names above, plus the aliases count_star, count(*), mean, variance (= var_samp) and
// stddev (= stddev_samp); case-insensitive.
arrow::Result<AggregateKind> ParseAggregate(std::string_view name);

enum class WindowKind : uint8_t {
  kTumbling,  // [k*width, (k+1)*width)
  kHopping,   // [k*slide, k*slide + width); slide <= width, need not divide it
  kTrailing,  // per incoming row: that key's rows with time in (t - width, t], computed at ingest
};

struct WindowDef {
  WindowKind kind = WindowKind::kTumbling;
  int64_t width_us = 0;
  int64_t slide_us = 0;  // tumbling: equals width_us; trailing: unused (0)

  static WindowDef Tumbling(int64_t width_us) {
    return {WindowKind::kTumbling, width_us, width_us};
  }
  static WindowDef Hopping(int64_t width_us, int64_t slide_us) {
    return {WindowKind::kHopping, width_us, slide_us};
  }
  static WindowDef Trailing(int64_t width_us) { return {WindowKind::kTrailing, width_us, 0}; }

  // "5m" (tumbling), "tumbling 5m", "hopping 1h/10m" (width/slide), "trailing 5m".
  static arrow::Result<WindowDef> Parse(std::string_view text);
  // The Parse form: "tumbling 5m", "hopping 1h/10m", "trailing 5m".
  std::string ToString() const;

  bool is_paned() const { return kind != WindowKind::kTrailing; }
  bool operator==(const WindowDef&) const = default;
};

// 5m, 30m, 1h and 1d tumbling windows: the default for the metrics table.
std::vector<WindowDef> DefaultMetricsWindows();

struct WindowSpec {
  // Grouping columns: utf8/large_utf8/binary/large_binary, any integer type, or a dictionary
  // of strings. Empty: one group over the whole stream. A null key is a group of its own.
  std::vector<std::string> key_columns;
  // Event time: an Arrow timestamp of any unit (and any time zone; times are UTC epoch).
  std::string time_column = "ts";
  // Set only when the time column is a plain int32/int64 epoch in this unit; without it an
  // integer time column is rejected, because its unit would be a guess.
  std::optional<arrow::TimeUnit::type> integer_time_unit;
  // Numeric columns (any integer, floating point or decimal type; read as double). May be
  // empty only if the aggregates are just kRowCount.
  std::vector<std::string> value_columns = {"value"};
  std::vector<AggregateKind> aggregates;
  std::vector<WindowDef> windows;
  // Watermark = max event time seen - allowed_lateness. A window closes (final result,
  // emitted, no further changes) once the watermark reaches its end; a row arriving for a
  // closed window is counted late and does not change it. A trailing window treats a row
  // whose time is below the watermark as late (its running values are null).
  int64_t allowed_lateness_us = 0;
  // How long a closed window stays in memory for Snapshot after it closed (in event time:
  // until watermark >= window end + retention). 0: evicted as soon as it is emitted.
  int64_t retention_us = 0;

  // Invalid, saying which field is wrong and what is accepted.
  arrow::Status Validate() const;
  // One line, e.g. "keys=(host) time=ts values=(cpu) aggregates=(count,sum) windows=(tumbling
  // 5m, hopping 1h/10m) lateness=30s retention=0s".
  std::string ToString() const;

  // Where each aggregate lands in output batches, in output order: kRowCount first (once),
  // then for each value column the other aggregates in spec order.
  struct OutputColumn {
    std::string name;
    AggregateKind kind;
    int value_index;  // -1 for kRowCount
  };
  std::vector<OutputColumn> AggregateColumns() const;
  // Per-row trailing columns: "<value>_running_window_<agg>" ("running_window_row_count")
  // when the spec has one trailing window, "<value>_running_<width>_<agg>" (e.g.
  // value_running_5m_sum) when it has several.
  std::vector<OutputColumn> TrailingColumns(const WindowDef& trailing) const;
};

// "<value>_<aggregate>", or "row_count" for kRowCount.
std::string AggregateColumnName(std::string_view value_column, AggregateKind kind);

}  // namespace hyprstream::window
