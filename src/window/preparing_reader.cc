#include "window/preparing_reader.h"

#include <arrow/util/thread_pool.h>

namespace hyprstream::window {

PreparingReader::PreparingReader(arrow::RecordBatchReader* inner,
                                 std::shared_ptr<arrow::Schema> schema, Prepare prepare)
    : inner_(inner), schema_(std::move(schema)), prepare_(std::move(prepare)) {}

PreparingReader::~PreparingReader() { Settle(); }

void PreparingReader::Settle() {
  if (ahead_) ahead_->Wait();
}

arrow::Result<PreparingReader::Prepared> PreparingReader::ReadAndPrepare() {
  std::shared_ptr<arrow::RecordBatch> incoming;
  ARROW_RETURN_NOT_OK(inner_->ReadNext(&incoming));
  if (incoming == nullptr) return Prepared();  // the end
  ++prepared_batches_;
  return prepare_(incoming);
}

void PreparingReader::ReadAhead() {
  arrow::internal::ThreadPool* pool = arrow::internal::GetCpuThreadPool();
  // Small batches (going by the last one) are read and prepared here: a task costs more. So is
  // everything on a pool thread: waiting there for a queued task could wait forever.
  if (last_rows_ < kAheadRows || pool->OwnsThisThread()) {
    ahead_ = arrow::Future<Prepared>::MakeFinished(ReadAndPrepare());
    return;
  }
  auto submitted = pool->Submit([this]() { return ReadAndPrepare(); });
  if (!submitted.ok()) {  // the pool is shutting down: here, then
    ahead_ = arrow::Future<Prepared>::MakeFinished(ReadAndPrepare());
    return;
  }
  ahead_ = std::move(*submitted);
}

arrow::Status PreparingReader::ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) {
  if (!started_) {
    started_ = true;
    ReadAhead();
  }
  *batch = nullptr;
  ARROW_RETURN_NOT_OK(failed_);
  if (!ahead_) return arrow::Status::OK();  // ended
  arrow::Result<Prepared> next = ahead_->result();
  ahead_.reset();
  if (!next.ok()) {
    failed_ = next.status();
    return failed_;
  }
  Prepared prepared = std::move(next).ValueUnsafe();
  if (prepared.rows == nullptr) return arrow::Status::OK();
  ++handed_out_;
  last_rows_ = prepared.rows->num_rows();
  rows_.push_back(prepared.rows);
  keys_.push_back(std::move(prepared.keys));
  ReadAhead();  // batch N+1 is prepared while the consumer appends batch N
  *batch = std::move(prepared.rows);
  return arrow::Status::OK();
}

}  // namespace hyprstream::window
