// The names a window definition is made of: the table it watches (TableName) and its
// arguments as SQL and the config give them (WindowArguments, all text), with the small
// parsers they share. Plain values; any thread.
#pragma once

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyprstream::window {

// A table as the windows key it: schema and name, lower case. "main" stands for the engine's
// default schema whatever it is called there (main in DuckDB, public in PostgreSQL).
struct TableName {
  std::string schema = "main";
  std::string table;

  static TableName Of(const std::optional<std::string>& schema, const std::string& table);
  // [catalog, schema, table], [schema, table] or [table].
  static TableName OfPath(const std::vector<std::string>& path);
  // "schema.table" or "table".
  static TableName Parse(const std::string& text);
  std::string key() const { return schema + "." + table; }
  // The schema as the engine below names it: empty for its default schema.
  std::string EngineSchema() const { return schema == "main" ? "" : schema; }
  bool operator==(const TableName&) const = default;
};

// The arguments of a window definition, as given in SQL or the config (all text).
struct WindowArguments {
  std::string keys;                                  // "a,b" (may be empty: one group)
  std::string time;                                  // time column
  std::string values;                                // "v1,v2"
  std::string windows = "5m";                        // "5m,hopping 1h/10m"
  std::string aggregates = "count,sum,avg,min,max";  // any of AggregateName()
  std::string lateness = "0s";
  std::string time_unit;  // "", "s", "ms", "us", "ns": unit of an integer time column

  // From named values as SQL and the config spell them: keys, time_column, value_columns,
  // windows, aggregates, lateness, time_unit. Absent names keep the defaults above.
  static WindowArguments FromMap(const std::map<std::string, std::string>& values);
};

// "", "s", "ms", "us" or "ns" (unset for ""); Invalid otherwise.
arrow::Result<std::optional<arrow::TimeUnit::type>> ParseTimeUnit(const std::string& text);

// "a, b,,c" -> {"a", "b", "c"}.
std::vector<std::string> SplitList(const std::string& text);
std::string Lower(std::string text);
std::string Trim(std::string_view text);

}  // namespace hyprstream::window
