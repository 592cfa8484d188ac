#include "engine/duckdb_result_reader.h"

#include "engine/arrow_to_duckdb_value.h"
#include "engine/arrow_validation.h"
#include "engine/duckdb_arrow_schema.h"
#include "engine/duckdb_status.h"

#include <arrow/c/bridge.h>
#include <arrow/type.h>
#include <arrow/util/byte_size.h>

namespace hyprstream::engine {

DuckDbResultReader::DuckDbResultReader(std::shared_ptr<DuckDbSession> session,
                                       SharedPrepared prepared,
                                       std::shared_ptr<arrow::RecordBatch> parameters)
    : session_(std::move(session)),
      prepared_(std::move(prepared)),
      parameters_(std::move(parameters)) {
  if (parameters_ != nullptr && parameters_->num_rows() > 0) {
    executions_ = parameters_->num_rows();
  } else {
    parameters_.reset();
  }
}

arrow::Result<std::shared_ptr<DuckDbResultReader>> DuckDbResultReader::StartLocked(
    std::shared_ptr<DuckDbSession> session, SharedPrepared prepared,
    std::shared_ptr<arrow::RecordBatch> parameters, std::vector<ColumnOrigin> origins) {
  std::shared_ptr<DuckDbResultReader> reader(
      new DuckDbResultReader(std::move(session), std::move(prepared), std::move(parameters)));
  reader->options_ = ArrowOptionsOf(reader->session_->connection());
  reader->origins_ = std::move(origins);
  ARROW_RETURN_NOT_OK(reader->ExecuteLocked(0));
  return reader;
}

DuckDbResultReader::~DuckDbResultReader() {
  std::lock_guard<std::recursive_mutex> lock(session_->mutex());
  pending_chunk_.reset();
  result_.Reset();
  prepared_.reset();
}

arrow::Status DuckDbResultReader::ExecuteLocked(int64_t row) {
  next_execution_ = row + 1;
  if (parameters_ != nullptr) {
    ARROW_RETURN_NOT_OK(BindParameterRow(prepared_.get(), *parameters_, row));
  } else {
    duckdb_clear_bindings(prepared_.get());  // nothing bound means no values
  }
  duckdb_pending_result pending_raw = nullptr;
  duckdb_state state = duckdb_pending_prepared_streaming(prepared_.get(), &pending_raw);
  PendingHandle pending(pending_raw);
  if (state != DuckDBSuccess) {
    const char* error = pending_raw != nullptr ? duckdb_pending_error(pending_raw)
                                               : duckdb_prepare_error(prepared_.get());
    return StatusFromDuckDbMessage(error != nullptr ? error : "execution failed", "");
  }
  if (duckdb_execute_pending(pending.get(), result_.out()) != DuckDBSuccess) {
    arrow::Status status = StatusFromResult(result_.get(), "");
    result_.Reset();
    return status.ok() ? arrow::Status::IOError("DuckDB execution failed") : status;
  }
  ARROW_ASSIGN_OR_RAISE(auto schema, ArrowSchemaOfResult(options_.get(), result_.get(), origins_));
  if (schema_ == nullptr) {
    schema_ = std::move(schema);
    std::vector<duckdb_type> types;
    for (idx_t i = 0; i < duckdb_column_count(result_.get()); ++i) {
      types.push_back(duckdb_column_type(result_.get(), i));
    }
    builder_ = ChunkBatchBuilder::Make(schema_, types, session_->database().result_batch_rows());
  } else if (!schema_->Equals(*schema)) {
    result_.Reset();
    return arrow::Status::Invalid("execution ", row + 1, " returned ", schema->ToString(),
                                  " but earlier executions returned ", schema_->ToString());
  }
  return arrow::Status::OK();
}

arrow::Result<DataChunkHandle> DuckDbResultReader::NextDuckDbChunkLocked() {
  while (true) {
    if (!result_.valid()) {
      if (next_execution_ >= executions_) return nullptr;
      ARROW_RETURN_NOT_OK(ExecuteLocked(next_execution_));
      continue;
    }
    DataChunkHandle chunk(duckdb_fetch_chunk(*result_.get()));
    if (chunk == nullptr) {
      arrow::Status status = StatusFromResult(result_.get(), "");
      result_.Reset();
      ARROW_RETURN_NOT_OK(status);
      continue;
    }
    if (duckdb_data_chunk_get_size(chunk.get()) == 0) continue;
    return chunk;
  }
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> DuckDbResultReader::NextChunkLocked() {
  ARROW_ASSIGN_OR_RAISE(auto chunk, NextDuckDbChunkLocked());
  if (chunk == nullptr) return nullptr;
  struct ArrowArray c_array {};
  ErrorDataHandle error(duckdb_data_chunk_to_arrow(options_.get(), chunk.get(), &c_array));
  ARROW_RETURN_NOT_OK(StatusFromErrorData(error.get(), "converting a DuckDB chunk to Arrow"));
  ARROW_ASSIGN_OR_RAISE(auto batch, arrow::ImportRecordBatch(&c_array, schema_));
  // DuckDB writes HUGEINT into decimal128(38, 0) as is, 39-digit values included.
  ARROW_RETURN_NOT_OK(CheckDecimalPrecision(*batch));
  return batch;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> DuckDbResultReader::NextBuiltBatchLocked() {
  const int64_t target_rows = session_->database().result_batch_rows();
  while (builder_->num_rows() < target_rows && builder_->num_bytes() < kTargetBytes) {
    if (pending_chunk_ == nullptr) {
      auto chunk = NextDuckDbChunkLocked();
      if (!chunk.ok()) {
        if (builder_->num_rows() == 0) return chunk.status();
        deferred_error_ = chunk.status();  // deliver the rows first, the error next
        break;
      }
      if (*chunk == nullptr) break;
      pending_chunk_ = std::move(*chunk);
    }
    ARROW_ASSIGN_OR_RAISE(bool appended, builder_->Append(pending_chunk_.get()));
    if (!appended) break;  // the batch is full; the chunk starts the next one
    pending_chunk_.reset();
  }
  return builder_->Finish();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> DuckDbResultReader::NextBatchLocked() {
  if (builder_ != nullptr) return NextBuiltBatchLocked();
  arrow::RecordBatchVector parts;
  int64_t rows = 0;
  int64_t bytes = 0;
  const int64_t target_rows = session_->database().result_batch_rows();
  while (rows < target_rows && bytes < kTargetBytes) {
    auto chunk = NextChunkLocked();
    if (!chunk.ok()) {
      if (parts.empty()) return chunk.status();
      deferred_error_ = chunk.status();  // deliver the rows first, the error next
      break;
    }
    if (*chunk == nullptr) break;
    rows += (*chunk)->num_rows();
    bytes += arrow::util::TotalBufferSize(**chunk);
    parts.push_back(std::move(*chunk));
  }
  if (parts.empty()) return nullptr;
  if (parts.size() == 1) return parts.front();
  return arrow::ConcatenateRecordBatches(parts);
}

void DuckDbResultReader::FinishLocked() {
  done_ = true;
  pending_chunk_.reset();
  result_.Reset();
}

void DuckDbResultReader::DrainLocked() {
  while (!done_ && deferred_error_.ok()) {
    auto batch = NextBatchLocked();
    if (!batch.ok()) {
      deferred_error_ = batch.status();
      break;
    }
    if (*batch == nullptr) break;
    buffered_.push_back(std::move(*batch));
  }
  FinishLocked();
}

arrow::Status DuckDbResultReader::ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) {
  std::lock_guard<std::recursive_mutex> lock(session_->mutex());
  *batch = nullptr;
  if (!buffered_.empty()) {
    *batch = std::move(buffered_.front());
    buffered_.pop_front();
    return arrow::Status::OK();
  }
  if (!deferred_error_.ok()) {
    FinishLocked();
    return deferred_error_;
  }
  if (done_) return arrow::Status::OK();
  auto next = NextBatchLocked();
  if (!next.ok()) {
    FinishLocked();
    deferred_error_ = next.status();
    return next.status();
  }
  if (*next == nullptr) {
    FinishLocked();
  } else {
    *batch = std::move(*next);
  }
  return arrow::Status::OK();
}

arrow::Status DuckDbResultReader::Close() {
  std::lock_guard<std::recursive_mutex> lock(session_->mutex());
  FinishLocked();
  buffered_.clear();
  deferred_error_ = arrow::Status::OK();
  return arrow::Status::OK();
}

}  // namespace hyprstream::engine
