// WindowStorage: the SQL that builds a state's closed windows in the engine (window_storage.h,
// "Building a state from the stored rows of its last hours"). DuckDB computes them with the
// aggregates the engine answers queries with, in one parallel scan per window, where the
// window store would fold every row in time order.
#include <arrow/type.h>

#include <optional>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "window/event_time.h"
#include "window/window_spec.h"
#include "window/window_storage.h"

namespace hyprstream::window {
namespace {

// DuckDB's aggregate of `x` (the value as DOUBLE) for `kind`; empty for first and last.
std::string AggregateSql(AggregateKind kind, const std::string& x) {
  switch (kind) {
    case AggregateKind::kRowCount:
      return "count(*)";
    case AggregateKind::kCount:
      return "count(" + x + ")";
    case AggregateKind::kSum:
      return "sum(" + x + ")";
    case AggregateKind::kAvg:
      return "avg(" + x + ")";
    case AggregateKind::kMin:
      return "min(" + x + ")";
    case AggregateKind::kMax:
      return "max(" + x + ")";
    case AggregateKind::kVarPop:
      return "var_pop(" + x + ")";
    case AggregateKind::kVarSamp:
      return "var_samp(" + x + ")";
    case AggregateKind::kStddevPop:
      return "stddev_pop(" + x + ")";
    case AggregateKind::kStddevSamp:
      return "stddev_samp(" + x + ")";
    case AggregateKind::kFirst:
    case AggregateKind::kLast:
      return "";
  }
  return "";
}

}  // namespace

std::optional<bool> WindowStorage::TimeRangesOf(const WindowSpec& spec,
                                                const arrow::Schema& input) {
  if (spec.integer_time_unit) return std::nullopt;
  auto time = input.GetFieldByName(spec.time_column);
  if (time == nullptr || time->type()->id() != arrow::Type::TIMESTAMP) return std::nullopt;
  const auto& type = static_cast<const arrow::TimestampType&>(*time->type());
  if (type.unit() == arrow::TimeUnit::NANO) return std::nullopt;
  return !type.timezone().empty();
}

std::string WindowStorage::RowsInTimeRangeQuery(const TableName& table, const std::string& columns,
                                                const std::string& time_column, bool zoned,
                                                std::optional<int64_t> from_us,
                                                std::optional<int64_t> to_us,
                                                bool in_time_order) const {
  const std::string time = engine::QuoteIdentifier(time_column);
  // A bound as a constant of the column's kind, whatever the session's time zone: DuckDB folds
  // it and compares the column to it in the scan (its row groups' ranges skip the others).
  auto at = [&](int64_t us) {
    const std::string local = "make_timestamp(CAST(" + std::to_string(us) + " AS BIGINT))";
    return zoned ? "timezone('UTC', " + local + ")" : local;
  };
  std::string where = time + " IS NOT NULL";
  if (from_us) where += " AND " + time + " >= " + at(*from_us);
  if (to_us) where += " AND " + time + " < " + at(*to_us);
  return "SELECT " + columns + " FROM " + Sql(table) + " WHERE " + where +
         (in_time_order ? " ORDER BY " + time : "");
}

std::string WindowStorage::RowsWithoutTimeQuery(const TableName& table, const std::string& columns,
                                                const std::string& time_column) const {
  return "SELECT " + columns + " FROM " + Sql(table) + " WHERE " +
         engine::QuoteIdentifier(time_column) + " IS NULL";
}

bool WindowStorage::SupportsClosedWindowsQuery(const WindowSpec& spec,
                                               const arrow::Schema& input) const {
  if (!TimeRangesOf(spec, input)) return false;
  for (const auto& column : spec.AggregateColumns()) {
    if (AggregateSql(column.kind, "x").empty()) return false;
  }
  return true;
}

std::string WindowStorage::RowsFrom(const std::string& time_column, int64_t from_us) const {
  const std::string time = engine::QuoteIdentifier(time_column);
  return "(epoch_us(" + time + ") >= " + std::to_string(from_us) + " OR " + time + " IS NULL)";
}

std::string WindowStorage::ClosedWindowsQuery(const TableName& table, const WindowSpec& spec,
                                              size_t window, int64_t before_us) const {
  const WindowDef& def = spec.windows[window];
  const std::string width = std::to_string(def.width_us);
  const std::string slide = std::to_string(def.slide_us);
  const std::string time = engine::QuoteIdentifier(spec.time_column);
  // Per row: its time in microseconds, the start of the newest window holding it, and (hopping)
  // each older start whose window still holds it. Names of our own cannot meet the table's.
  std::string keys, inner;
  for (const auto& key : spec.key_columns) {
    keys += engine::QuoteIdentifier(key) + ", ";
  }
  inner = "SELECT " + keys;
  for (size_t v = 0; v < spec.value_columns.size(); ++v) {
    inner += "CAST(" + engine::QuoteIdentifier(spec.value_columns[v]) +
             " AS DOUBLE) AS hyprstream_v" + std::to_string(v) + ", ";
  }
  inner += "epoch_us(" + time + ") AS hyprstream_t FROM " + Sql(table) + " WHERE " + time +
           " IS NOT NULL AND epoch_us(" + time + ") < " + std::to_string(before_us + def.width_us);
  const int64_t per_row = (def.width_us + def.slide_us - 1) / def.slide_us;
  std::string starts =
      "SELECT *, hyprstream_t - (((hyprstream_t % " + slide + ") + " + slide + ") % " + slide +
      ")" + (per_row > 1 ? " - hyprstream_k * " + slide : std::string()) +
      " AS hyprstream_s FROM (" + inner + ")" +
      (per_row > 1 ? ", range(" + std::to_string(per_row) + ") AS hyprstream_r(hyprstream_k)"
                   : std::string());
  std::string sql = "SELECT " + keys + "make_timestamp(hyprstream_s) AS window_start, " +
                    "make_timestamp(hyprstream_s + " + width + ") AS window_end";
  for (const auto& column : spec.AggregateColumns()) {
    const std::string x =
        column.value_index < 0 ? "" : "hyprstream_v" + std::to_string(column.value_index);
    sql += ", " + AggregateSql(column.kind, x) + " AS " + engine::QuoteIdentifier(column.name);
  }
  sql += ", true AS closed FROM (" + starts + ") WHERE hyprstream_s < " +
         std::to_string(before_us) + " AND hyprstream_s + " + width + " > hyprstream_t GROUP BY " +
         keys + "hyprstream_s";
  return sql;
}

}  // namespace hyprstream::window
