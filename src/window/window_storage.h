// WindowStorage: what the windows layer keeps in the engine's own database and how it talks to
// it — window definitions (_hyprstream.window_definitions), the history of closed windows
// (_hyprstream."<name>_history") and reads of the watched tables — in the SQL that database
// speaks: DuckDB, PostgreSQL (through ADBC, with or without the DuckDB cache) or SQLite, which
// has no schemas (its tables are named _hyprstream_window_definitions, ...). Names of the
// default schema ("main" in TableName) are written unqualified, so they mean the engine's
// default schema (public in PostgreSQL).
//
// Thread-safe: every call uses a connection of its own from the engine.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/table.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/internal_tables.h"
#include "window/window_definition.h"
#include "window/window_spec.h"

namespace hyprstream::window {

// The layer's own tables are hyprstream's internal ones (engine/internal_tables.h).
using engine::kInternalSchema;

// A definition as stored.
struct StoredDefinition {
  std::string name;
  TableName table;
  WindowArguments arguments;
};

// What ReadPartials reads: per key, partial aggregates of the rows with time in [from_us,
// to_us), in WindowStore::EdgeSchema() order.
struct PartialsRequest {
  std::vector<std::string> keys;
  std::string time;
  std::shared_ptr<arrow::DataType> time_type;         // the table's time column
  std::optional<arrow::TimeUnit::type> integer_unit;  // of an integer time column
  std::vector<std::string> values;
  bool sum = false, min = false, max = false, moments = false;
  int64_t from_us = 0;
  int64_t to_us = 0;
  int64_t row_limit = 0;  // ReadRows: at most this many rows (0: all)
};

class WindowStorage {
 public:
  enum class Flavor { kDuckDb, kPostgres, kSqlite, kOther };

  // Learns what the engine is (its backend's name) and its default schema.
  static arrow::Result<std::unique_ptr<WindowStorage>> Open(std::shared_ptr<engine::Engine> engine);

  Flavor flavor() const { return flavor_; }
  // The engine's default schema ("main", "public").
  const std::string& default_schema() const { return default_schema_; }
  // The table a (schema, table) reference means, with the default schema spelled "main".
  TableName Canonical(const std::optional<std::string>& schema, const std::string& table) const;
  // `table` as this engine's SQL names it.
  std::string Sql(const TableName& table) const;
  // A literal for `micros` since the epoch comparable with the engine's TIMESTAMP column.
  std::string TimestampLiteral(int64_t micros) const;
  // Whether a column of `type` compares with TimestampLiteral's exactly: a timestamp in
  // microseconds without a time zone (DuckDB's and PostgreSQL's TIMESTAMP).
  static bool ComparesWithTimestampLiteral(const arrow::DataType& type);

  // Creates the internal schema and the definitions table if absent.
  arrow::Status Start() const;
  arrow::Result<std::vector<StoredDefinition>> LoadDefinitions() const;
  arrow::Status SaveDefinition(const StoredDefinition& definition) const;
  arrow::Status DeleteDefinition(const std::string& name) const;

  // Appends closed windows to `name`'s history, creating it from the rows' schema at first.
  arrow::Status AppendHistory(const std::string& name, const arrow::RecordBatch& rows) const;
  // The history rows whose window_spec is one of `specs` (all when empty) and, when
  // `key_values` is given, whose `key_column` is one of them; nullptr when there is none.
  arrow::Result<std::shared_ptr<arrow::Table>> ReadHistory(
      const std::string& name, const std::vector<std::string>& specs, const std::string& key_column,
      const std::vector<std::string>& key_values) const;
  arrow::Status DropHistory(const std::string& name) const;
  // Replaces `name`'s history with `rows` (of `schema`) in one transaction: readers see the
  // old history or the new one.
  arrow::Status ReplaceHistory(const std::string& name,
                               const std::shared_ptr<arrow::Schema>& schema,
                               const arrow::RecordBatchVector& rows) const;

  // Deletes `name`'s history windows that start before `before_us` and appends `rows` in one
  // transaction: readers see the history before or after.
  arrow::Status TrimHistory(const std::string& name, int64_t before_us,
                            const arrow::RecordBatchVector& rows) const;

  // The columns of `table` as the engine returns them (NotFound if it does not exist).
  arrow::Result<std::shared_ptr<arrow::Schema>> TableSchema(const TableName& table) const;
  // Whether `table` exists.
  bool TableExists(const TableName& table) const;
  // Creates `table` with `schema` if it does not exist.
  arrow::Status CreateTable(const TableName& table, const arrow::Schema& schema) const;
  // `SELECT <columns> FROM table [WHERE where] ORDER BY time_column` (in time order on SQLite
  // too, whatever way its text times are written), streamed.
  std::string OrderedQuery(const TableName& table, const std::string& columns,
                           const std::string& where, const std::string& time_column) const;
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ReadOrdered(
      const TableName& table, const std::string& columns, const std::string& where,
      const std::string& time_column) const;
  // Whether ReadPartials can read a time column of `type` here: DuckDB or PostgreSQL, and a
  // timestamp of seconds, milliseconds or microseconds, or an integer epoch.
  bool CanReadPartials(const arrow::DataType& type) const;
  // SELECT keys, count(*), then per value count, [sum, min, max, avg, var_pop * count] FROM
  // table WHERE time in [from, to) GROUP BY keys — the time bounds written so the engine's
  // comparison selects exactly the rows whose time, in microseconds, is in the range.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> ReadPartials(
      const TableName& table, const PartialsRequest& request) const;
  // SELECT keys, time, values FROM table WHERE time in [from, to) (the same bounds).
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> ReadRows(const TableName& table,
                                                              const PartialsRequest& request) const;
  // Building a state from the stored rows of its last hours (window_storage_closed_windows.cc):
  // queries in DuckDB's SQL, whatever this engine's flavor, for a pinned snapshot of the stored
  // rows or of the cache's copy of them (both DuckDB's, the table named as Sql() names it), with
  // a time column that is a timestamp of at most microseconds (Supported):
  // RowsFrom is a condition selecting the rows whose time, in microseconds, is at least
  // `from_us`, and those without a time; ClosedWindowsQuery a SELECT of the windows of
  // `spec.windows[window]` (tumbling or hopping) that start before `before_us`, computed from
  // the stored rows with a time as WindowStore outputs them (keys, window_start, window_end,
  // the aggregates of AggregateColumns, closed = true), for aggregates but first and last.
  bool SupportsClosedWindowsQuery(const WindowSpec& spec, const arrow::Schema& input) const;
  // Whether the stored rows of `spec` can be read by time range (TimeRanges: its time column
  // is a timestamp of at most microseconds) and if so whether it is zoned; nullopt if not.
  static std::optional<bool> TimeRangesOf(const WindowSpec& spec, const arrow::Schema& input);
  // The rows whose time, in microseconds, is in [from_us, to_us) (an unset end is open): in
  // time order, or in no order (a scan's: DuckDB's keeps the order the rows were stored in).
  // The rows without a time, in no order.
  std::string RowsInTimeRangeQuery(const TableName& table, const std::string& columns,
                                   const std::string& time_column, bool zoned,
                                   std::optional<int64_t> from_us, std::optional<int64_t> to_us,
                                   bool in_time_order) const;
  std::string RowsWithoutTimeQuery(const TableName& table, const std::string& columns,
                                   const std::string& time_column) const;
  std::string RowsFrom(const std::string& time_column, int64_t from_us) const;
  std::string ClosedWindowsQuery(const TableName& table, const WindowSpec& spec, size_t window,
                                 int64_t before_us) const;

  // A one-value query of a time (e.g. SELECT max(ts) ...) as microseconds since the epoch;
  // nullopt for NULL. Works for SQLite's text timestamps too.
  arrow::Result<std::optional<int64_t>> QueryTime(const std::string& sql) const;
  // The same on `connection` (e.g. inside its transaction).
  static arrow::Result<std::optional<int64_t>> QueryTime(engine::EngineConnection& connection,
                                                         const std::string& sql);

 private:
  WindowStorage(std::shared_ptr<engine::Engine> engine, Flavor flavor, std::string default_schema)
      : engine_(std::move(engine)), flavor_(flavor), default_schema_(std::move(default_schema)) {}

  // An internal table's name (schema-qualified, or prefixed where there are no schemas).
  std::string Internal(const std::string& table) const;
  std::vector<std::string> InternalPath(const std::string& table) const;
  // An ingest into `name`'s history table, creating it if missing (if_exists left to set).
  engine::IngestRequest HistoryTarget(const std::string& name) const;
  arrow::Status Execute(const std::string& sql) const;
  // In one transaction: `change` (SQL on `name`'s history; none when empty), then `rows` (of
  // `schema`, or of the first row's when null) ingested into the history per `if_exists`.
  arrow::Status ChangeHistory(const std::string& name, const std::string& change,
                              engine::IngestRequest::IfExists if_exists,
                              const std::shared_ptr<arrow::Schema>& schema,
                              const arrow::RecordBatchVector& rows) const;
  // The parameter batch ($1, $2) of a request's time bounds.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> TimeBounds(
      const PartialsRequest& request) const;
  // `sql` with `parameters`, on a pooled prepared statement.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> RunPooled(
      const std::string& sql, const std::shared_ptr<arrow::RecordBatch>& parameters) const;

  std::shared_ptr<engine::Engine> engine_;
  Flavor flavor_;
  std::string default_schema_;

  // ReadPartials' prepared statements (bounds as parameters), pooled by SQL text.
  struct PreparedRead {
    std::shared_ptr<engine::EngineConnection> connection;
    std::unique_ptr<engine::EngineStatement> statement;
  };
  static constexpr size_t kPooledReads = 4;
  mutable std::mutex partials_mutex_;  // guards partials_pool_
  mutable std::map<std::string, std::vector<PreparedRead>> partials_pool_;
};

// The Arrow type the windows read a SQLite column of declared type `declared` as (SQLite's
// affinity rules; times are ISO 8601 text there, as its ADBC driver stores them).
std::shared_ptr<arrow::DataType> SqliteDeclaredType(const std::string& declared);

// `batch` with each column that `schema` names (ignoring case) cast to its type there where
// they differ (e.g. SQLite's timestamps, which come back as text); other columns unchanged.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> ConformTo(const arrow::RecordBatch& batch,
                                                             const arrow::Schema& schema);

}  // namespace hyprstream::window
