// AdbcResultReader: streams the result of one or more executions of a backend statement (one
// per bound parameter row) as one RecordBatchReader. It holds the statement and its leased
// connection until drained, closed or destroyed, then gives the connection back. Thread-safe:
// Materialize() (called by the session before it reuses a pinned connection) moves the rest of
// the result into memory so the reader stays valid without the connection.
#pragma once

#include <arrow/record_batch.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "engine/adbc_statement_handle.h"

namespace hyprstream::engine {

struct AdbcResultPart {
  std::unique_ptr<AdbcStatementHandle> statement;  // released after `reader`
  std::shared_ptr<arrow::RecordBatchReader> reader;
};

class AdbcResultReader : public arrow::RecordBatchReader {
 public:
  // `first` is execution 0; `start(i)` starts execution i (1 <= i < executions).
  using PartStarter = std::function<arrow::Result<AdbcResultPart>(int64_t index)>;
  AdbcResultReader(AdbcResultPart first, int64_t executions, PartStarter start);
  ~AdbcResultReader() override;

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override;
  arrow::Status Close() override;
  // Reads everything not yet delivered into memory and releases the backend statement.
  arrow::Status Materialize();

 private:
  arrow::Status ReadLocked(std::shared_ptr<arrow::RecordBatch>* batch);
  void ClosePart();

  std::mutex mutex_;
  std::shared_ptr<arrow::Schema> schema_;
  AdbcResultPart part_;
  int64_t next_index_ = 1;
  int64_t executions_;
  PartStarter start_;
  bool materialized_ = false;
  std::deque<std::shared_ptr<arrow::RecordBatch>> buffered_;
  arrow::Status deferred_error_;
};

}  // namespace hyprstream::engine
