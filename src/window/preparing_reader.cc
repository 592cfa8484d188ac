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

void PreparingReader::ReadAhead() {
  std::shared_ptr<arrow::RecordBatch> incoming;
  arrow::Status read = inner_->ReadNext(&incoming);
  if (!read.ok()) {
    ahead_ = arrow::Future<Prepared>::MakeFinished(read);
    return;
  }
  if (incoming == nullptr) {
    ahead_ = arrow::Future<Prepared>::MakeFinished(Prepared());
    return;
  }
  ++prepared_batches_;
  arrow::internal::ThreadPool* pool = arrow::internal::GetCpuThreadPool();
  // (Not from a pool thread itself: waiting there for a queued task could wait forever.)
  if (incoming->num_rows() < kAheadRows || pool->OwnsThisThread()) {
    ahead_ = arrow::Future<Prepared>::MakeFinished(prepare_(incoming));
    return;
  }
  auto submitted =
      pool->Submit([this, incoming]() -> arrow::Result<Prepared> { return prepare_(incoming); });
  if (!submitted.ok()) {  // the pool is shutting down: prepare here
    ahead_ = arrow::Future<Prepared>::MakeFinished(prepare_(incoming));
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
  if (prepared == nullptr) return arrow::Status::OK();
  ++handed_out_;
  rows_.push_back(prepared);
  ReadAhead();  // batch N+1 is prepared while the consumer appends batch N
  *batch = std::move(prepared);
  return arrow::Status::OK();
}

}  // namespace hyprstream::window
