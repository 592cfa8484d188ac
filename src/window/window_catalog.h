// WindowCatalog: the windows the server maintains, tied to tables and to the ingest paths.
//
//  - The built-in `metrics` table (metric_id VARCHAR, timestamp TIMESTAMP, value DOUBLE) gets
//    value_running_window_{sum,avg,count} computed at ingest over a trailing window per
//    metric_id, and the default tumbling windows 5m/30m/1h/1d (count, sum, avg, min, max).
//  - Any table can get window definitions at run time through SQL (table functions
//    hyprstream_create_window / hyprstream_drop_window / hyprstream_windows) or the config;
//    definitions persist in _hyprstream.window_definitions and are rebuilt from the stored
//    rows at startup, so window state survives a restart of a file-backed server.
//  - Results: hyprstream_window('name') = open windows from memory + closed windows from the
//    definition's history table _hyprstream."<name>_history" (appended as windows close).
//
// Ingest protocol (called by the Flight SQL layer): AppendSchema/PrepareAppend turn an
// incoming batch into the rows to store (metrics: adds the running columns); Committed folds
// rows into the table's windows once they are committed. SQL writes to metrics are completed
// by CompleteMetricsRows on the writing connection.
//
// Thread-safe: a shared mutex guards the set of definitions; each definition's store has one
// writer at a time (its own mutex), readers take snapshots.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "window/window_spec.h"
#include "window/window_store.h"

namespace hyprstream::window {

// A table as the catalog keys it: schema (default "main") and name, lower case.
struct TableName {
  std::string schema = "main";
  std::string table;

  static TableName Of(const std::optional<std::string>& schema, const std::string& table);
  // [catalog, schema, table], [schema, table] or [table].
  static TableName OfPath(const std::vector<std::string>& path);
  // "schema.table" or "table".
  static TableName Parse(const std::string& text);
  std::string key() const { return schema + "." + table; }
  bool operator==(const TableName&) const = default;
};

struct WindowCatalogOptions {
  bool metrics_table = true;
  int64_t metrics_running_width_us = 5LL * 60 * 1000000;  // the trailing window
  std::vector<WindowDef> metrics_windows = DefaultMetricsWindows();
  int64_t allowed_lateness_us = 60LL * 1000000;
  // Unit of integer epoch values in metrics.timestamp; unset: integers are rejected.
  std::optional<arrow::TimeUnit::type> metrics_integer_time_unit;
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

class WindowCatalog {
 public:
  static arrow::Result<std::shared_ptr<WindowCatalog>> Open(std::shared_ptr<engine::Engine> engine,
                                                            WindowCatalogOptions options);
  ~WindowCatalog();

  // Whether writes to `table` must go through PrepareAppend/Committed.
  bool Watches(const TableName& table) const;

  // The schema of the rows stored for incoming rows of `incoming` schema.
  arrow::Result<std::shared_ptr<arrow::Schema>> AppendSchema(
      const TableName& table, const std::shared_ptr<arrow::Schema>& incoming) const;
  // The rows to store for `batch` (metrics: with the running-window columns).
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> PrepareAppend(
      const TableName& table, const std::shared_ptr<arrow::RecordBatch>& batch);
  // Rows of `table` are committed: fold them into its windows.
  arrow::Status Committed(const TableName& table, const arrow::RecordBatchVector& batches);
  // Rows of `table` that went through PrepareAppend (or CompleteMetricsRows) will never be
  // stored (rolled back, failed). For metrics, the running-column state is rebuilt from the
  // committed rows of the last running width + lateness, so later rows do not count them.
  // (Rows of other transactions still open at that moment are then missing from that state.)
  void Abandoned(const TableName& table);
  // Rows of `table` were updated or deleted (allowed on metrics): its definitions stop
  // answering queries for the rewriter (AnswersExactly/TrailingCovering) until a restart
  // rebuilds them from the stored rows.
  void Diverged(const TableName& table);

  // After a SQL write on `connection` (in its transaction, if any): fills the running columns
  // of metrics rows written without them and returns those rows, to pass to Committed once
  // the write commits.
  arrow::Result<arrow::RecordBatchVector> CompleteMetricsRows(engine::EngineConnection& connection);

  // Defines window `name` over `table`, back-filled from the rows already stored. Returns the
  // number of rows folded in.
  arrow::Result<int64_t> Create(const std::string& name, const TableName& table,
                                const WindowArguments& arguments);
  arrow::Status Drop(const std::string& name);

  // One row per definition: name, table, spec, keys, rows, late_rows, open_bytes.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> List() const;
  // Whether definition `name` has a tumbling window of `width_us` whose results equal a
  // GROUP BY over the table: no late rows were left out and no row lacked a time.
  // (A hopping window when slide_us differs from width_us.)
  bool AnswersExactly(const std::string& name, int64_t width_us,
                      std::optional<int64_t> slide_us = std::nullopt) const;

  // The result schema of Results(name).
  arrow::Result<std::shared_ptr<arrow::Schema>> ResultSchema(const std::string& name) const;
  // window_spec (e.g. "tumbling 5m"), keys..., window_start, window_end, aggregates..., closed.
  // `window` filters by width ("5m") or spec text (SQL: width := ...); current_only: the newest
  // window per definition, from memory; `keys` (SQL: key := 'a,b'): only these values of a
  // single-column key, looked up directly instead of building every key's rows.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Results(
      const std::string& name, const std::string& window, bool current_only,
      const std::vector<std::string>& keys = {}) const;
  // "The last N as of now" from a trailing window of `name` (`window` picks one, e.g.
  // "trailing 1h" or "1h"; empty: the first): per key, the aggregates of its rows with time
  // > since (>= when inclusive; default since: now - width), window_start = since,
  // window_end = now. SQL: hyprstream_window(name, width := 'trailing 1h'[, since := t]).
  // Invalid when rows after `since` have already left the buffer.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> TrailingResults(
      const std::string& name, const std::string& window, std::optional<int64_t> since_us,
      bool inclusive, const std::vector<std::string>& keys = {}) const;
  // The narrowest trailing window of definition `name` whose buffer holds every row with
  // time > since_us (>= when inclusive): its width; nullopt if none does.
  std::optional<int64_t> TrailingCovering(const std::string& name, int64_t since_us,
                                          bool inclusive) const;
  // The definitions over `table` (for the query rewriter).
  struct Definition {
    std::string name;
    WindowSpec spec;
    std::shared_ptr<arrow::DataType> time_type;  // of the table's time column
  };
  std::vector<Definition> DefinitionsOf(const TableName& table) const;
  // A cheap textual filter: whether `sql` names a table that has window definitions.
  bool MayAnswer(const std::string& sql) const;

 private:
  struct Entry;

  WindowCatalog(std::shared_ptr<engine::Engine> engine, WindowCatalogOptions options);
  arrow::Status Start();
  arrow::Status RegisterFunctions();
  arrow::Status CreateMetricsTable();
  arrow::Result<std::unique_ptr<WindowStore>> MakeMetricsRunningStore() const;
  // Feeds the stored, completed metrics rows (`since_sql`: an extra " AND ..." condition) to
  // `store` in time order.
  arrow::Status ReplayMetricsRunning(engine::EngineConnection& connection,
                                     const std::string& since_sql, WindowStore& store) const;
  arrow::Result<std::shared_ptr<Entry>> MakeEntry(const std::string& name, const TableName& table,
                                                  const WindowArguments& arguments,
                                                  bool persist_history) const;
  arrow::Result<int64_t> Backfill(Entry& entry);
  arrow::Status Fold(Entry& entry, const arrow::RecordBatch& batch);
  arrow::Status WriteClosed(Entry& entry, const std::vector<ClosedWindow>& closed);
  arrow::Status RunSql(const std::string& sql) const;
  std::shared_ptr<Entry> Find(const std::string& name) const;
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> KeyFilter(
      const Entry& entry, const std::vector<std::string>& keys) const;

  std::shared_ptr<engine::Engine> engine_;
  WindowCatalogOptions options_;

  mutable std::shared_mutex mutex_;                        // guards entries_
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // by lower-case name

  std::mutex running_mutex_;  // one writer for the metrics running-window store
  std::unique_ptr<WindowStore> metrics_running_;

  std::mutex staged_mutex_;  // rows handed to SQL through hyprstream_staged(id)
  std::map<std::string, std::shared_ptr<arrow::RecordBatch>> staged_;
};

}  // namespace hyprstream::window
