// Appends Arrow record batches to one DuckDB table through DuckDB's own Arrow scan: the
// batches are offered to DuckDB as an Arrow C stream behind a view (duckdb_arrow_scan) and
// written with INSERT INTO table (columns) SELECT columns FROM view, which DuckDB runs on its
// worker threads in parallel, keeping batch order. Small batches are combined into arrays of at
// least kArrayRows (DuckDB's row group: smaller ones it copies a second time to merge them),
// and arrays are inserted in groups of kGroupArrays (or kGroupBytes); while the INSERT of one
// group runs on DuckDB's threads, the caller reads and validates the next, so the upload
// overlaps with the append. The view exists only in
// the caller's (open) transaction and is dropped by Finish.
// Uses the caller's connection from the caller's thread only; not thread-safe on its own.
#pragma once

#include "engine/duckdb_handle.h"

#include <arrow/c/abi.h>
#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace hyprstream::engine {

class DuckDbArrowInsert {
 public:
  static constexpr int64_t kArrayRows = 1;  // 128k: DuckDB compresses full row groups, slower
  static constexpr int64_t kGroupArrays = 1 << 20;
  static constexpr int64_t kGroupBytes = 8 * 1024 * 1024;

  // Inside a transaction. Checks that every column of `arrow_schema` exists in the table
  // (Invalid naming the first that does not). Returns null when DuckDB's Arrow scan cannot
  // take this data (no columns, a type the scan refuses, no view possible): the caller then
  // appends another way.
  static arrow::Result<std::unique_ptr<DuckDbArrowInsert>> Open(
      duckdb_connection connection, const std::optional<std::string>& catalog,
      const std::optional<std::string>& schema, const std::string& table,
      const arrow::Schema& arrow_schema);
  // Waits for a running INSERT (its outcome is dropped) and drops the view if Finish did not.
  ~DuckDbArrowInsert();
  DuckDbArrowInsert(const DuckDbArrowInsert&) = delete;
  DuckDbArrowInsert& operator=(const DuckDbArrowInsert&) = delete;

  // Validates `batch` (schema equal to Open's, buffers, UTF-8) and queues it; a full group
  // starts its INSERT once the previous one succeeded. Fails with the first INSERT error.
  arrow::Status Append(std::shared_ptr<arrow::RecordBatch> batch);
  // Inserts what is queued, waits for every INSERT and drops the view. Returns rows written.
  arrow::Result<int64_t> Finish();

 private:
  DuckDbArrowInsert(duckdb_connection connection, std::string table_name,
                    std::shared_ptr<arrow::Schema> arrow_schema);

  // The C stream DuckDB's scan pulls from: the batches of the running group, in order.
  static int GetSchema(struct ArrowArrayStream* stream, struct ArrowSchema* out);
  static int GetNext(struct ArrowArrayStream* stream, struct ArrowArray* out);
  static const char* GetLastError(struct ArrowArrayStream* stream);
  static void ReleaseStream(struct ArrowArrayStream* stream);

  arrow::Status CreateView();
  void DropView();
  // Starts the INSERT of the collected group (after waiting for the previous one).
  arrow::Status StartGroup();
  // Waits for the running INSERT, if any, and adds its row count.
  arrow::Status WaitGroup();

  duckdb_connection connection_;
  std::string table_name_;
  std::shared_ptr<arrow::Schema> arrow_schema_;
  std::string view_name_;
  bool view_exists_ = false;
  struct ArrowSchema c_schema_ {};
  struct ArrowArrayStream stream_ {};
  PreparedHandle insert_;

  // Combines the batches in small_ into one array of the next group.
  arrow::Status CombineSmall();

  arrow::RecordBatchVector small_;  // batches not yet kArrayRows together
  int64_t small_rows_ = 0;
  std::deque<std::shared_ptr<arrow::RecordBatch>> collecting_;  // the next group
  int64_t collecting_bytes_ = 0;
  std::mutex running_mutex_;  // DuckDB's scan threads pull from running_
  std::deque<std::shared_ptr<arrow::RecordBatch>> running_;
  std::string last_error_;
  PendingHandle pending_;
  int64_t rows_ = 0;
};

}  // namespace hyprstream::engine
