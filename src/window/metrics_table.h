// MetricsTable: the built-in `metrics` table (metric_id, timestamp, value) and its running
// columns value_running_window_{sum,avg,count}: per metric_id, the aggregates of its values over
// the trailing window ending at each row (late rows and rows without time get nulls and a
// count of 0), computed before the rows are written, so the engine's table — DuckDB's or a
// backend's — holds complete rows. The table is created where it is missing; an existing one
// of another shape stops the start with a clear error. The running state is rebuilt from the
// stored rows of the last width + lateness at startup, and again when rows that went through
// Prepare will never be stored (Abandoned).
//
// Thread-safe: one mutex guards the running state (one writer at a time).
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <memory>
#include <mutex>
#include <optional>

#include "window/window_spec.h"
#include "window/window_storage.h"
#include "window/window_store.h"

namespace hyprstream::window {

struct MetricsTableOptions {
  int64_t running_width_us = 5LL * 60 * 1000000;
  int64_t allowed_lateness_us = 60LL * 1000000;
  // Unit of integer epoch values in metrics.timestamp; unset: integers are rejected.
  std::optional<arrow::TimeUnit::type> integer_time_unit;
};

class MetricsTable {
 public:
  static arrow::Result<std::unique_ptr<MetricsTable>> Open(const WindowStorage& storage,
                                                           MetricsTableOptions options);

  // metric_id utf8, timestamp timestamp[us], value double: what a client supplies.
  static const std::shared_ptr<arrow::Schema>& ClientSchema();
  // The client's columns normalised to ClientSchema() (by name; extra columns dropped).
  // Integer epochs only with `integer_unit`.
  static arrow::Result<std::shared_ptr<arrow::RecordBatch>> Normalise(
      const arrow::RecordBatch& batch, std::optional<arrow::TimeUnit::type> integer_unit);

  // The stored rows' schema for incoming rows of `incoming` (InvalidArgument naming a missing
  // column).
  arrow::Result<std::shared_ptr<arrow::Schema>> StoredSchema(const arrow::Schema& incoming) const;
  // The rows to store for `batch`: normalised, with the running columns.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Prepare(const arrow::RecordBatch& batch);
  // Rows that went through Prepare will never be stored: rebuild the running state.
  void Abandoned();

 private:
  MetricsTable(const WindowStorage& storage, MetricsTableOptions options)
      : storage_(storage), options_(options) {}

  arrow::Result<std::unique_ptr<WindowStore>> MakeRunningStore() const;
  // Feeds `store`, in time order, the stored rows that later rows' running columns can
  // depend on (those of the last running width + lateness before the newest that joined a
  // window), and raises its watermark to where it was. At a start and after Abandoned:
  // neither reads more rows as the table grows.
  arrow::Status ReplayRecent(WindowStore& store) const;

  const WindowStorage& storage_;
  const MetricsTableOptions options_;
  std::mutex mutex_;                      // one writer: guards running_
  std::unique_ptr<WindowStore> running_;  // guarded by mutex_
};

}  // namespace hyprstream::window
