// Streams the rows of a prepared statement's executions (one per bound parameter row, chained)
// as Arrow record batches. DuckDB hands out chunks of <= 2048 rows; consecutive chunks are
// combined into batches of about result_batch_rows rows or kTargetBytes bytes, whichever comes
// first, so memory stays bounded by one batch for results of any size. Plain column types are
// copied from the chunks straight into the batch (ChunkBatchBuilder); other results convert
// each chunk with DuckDB's Arrow converter and concatenate. schema() is built from the
// result's column types with the same Arrow options as the batches, so it is exact. A value the
// Arrow type cannot carry (a 39-digit HUGEINT in decimal128(38, 0)) fails the read with Invalid
// naming the column, after the batches before it.
//
// Thread-safety: every call takes the session mutex. When the session starts another operation
// it calls DrainLocked(), after which the remaining rows are served from memory.
#pragma once

#include "engine/chunk_batch_builder.h"
#include "engine/duckdb_handle.h"
#include "engine/duckdb_session.h"

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <type_traits>

namespace hyprstream::engine {

using SharedPrepared = std::shared_ptr<std::remove_pointer_t<duckdb_prepared_statement>>;

class DuckDbResultReader : public arrow::RecordBatchReader {
 public:
  static constexpr int64_t kTargetBytes = 4 * 1024 * 1024;

  // Session mutex held and quiesced. Runs the first execution (errors surface here) and
  // returns the reader; the caller registers it with SetOpenReaderLocked.
  // `parameters` may be null (one execution without parameters); `origins` as for
  // ArrowSchemaFromDuckDb (the statement's, so the streamed schema equals the announced one).
  static arrow::Result<std::shared_ptr<DuckDbResultReader>> StartLocked(
      std::shared_ptr<DuckDbSession> session, SharedPrepared prepared,
      std::shared_ptr<arrow::RecordBatch> parameters, std::vector<ColumnOrigin> origins = {});

  ~DuckDbResultReader() override;

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override;
  arrow::Status Close() override;

  // Session mutex held. Moves everything not yet read into memory; an error met on the way
  // is reported by ReadNext after the rows before it.
  void DrainLocked();

 private:
  DuckDbResultReader(std::shared_ptr<DuckDbSession> session, SharedPrepared prepared,
                     std::shared_ptr<arrow::RecordBatch> parameters);

  arrow::Status ExecuteLocked(int64_t row);
  // The next non-empty DuckDB chunk, moving on to the next execution as needed; null at the end.
  arrow::Result<DataChunkHandle> NextDuckDbChunkLocked();
  // One chunk converted by DuckDB; null at the end.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> NextChunkLocked();
  // Combined chunks up to the targets; null at the end.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> NextBatchLocked();
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> NextBuiltBatchLocked();
  void FinishLocked();

  std::shared_ptr<DuckDbSession> session_;
  SharedPrepared prepared_;
  std::shared_ptr<arrow::RecordBatch> parameters_;
  int64_t executions_ = 1;
  int64_t next_execution_ = 0;
  ArrowOptionsHandle options_;
  std::vector<ColumnOrigin> origins_;
  std::shared_ptr<arrow::Schema> schema_;
  ResultHandle result_;
  std::unique_ptr<ChunkBatchBuilder> builder_;  // null: DuckDB converts the chunks
  DataChunkHandle pending_chunk_;               // refused by a full batch; starts the next
  bool done_ = false;
  std::deque<std::shared_ptr<arrow::RecordBatch>> buffered_;
  arrow::Status deferred_error_;
};

}  // namespace hyprstream::engine
