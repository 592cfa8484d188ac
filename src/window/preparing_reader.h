// PreparingReader: the rows to store for an ingest's incoming batches, in order (metrics: the
// incoming rows with their running-window columns), prepared one batch ahead. While the
// consumer appends batch N, batch N+1 is read (on the consumer's thread) and prepared on
// Arrow's CPU thread pool, so the running columns and the engine's append overlap. Batches of
// fewer than kAheadRows rows are prepared on the consumer's thread (a task costs more).
//
// Errors: a read or prepare failure of batch N+1 is returned by the ReadNext after batch N, as
// if read then, and by every ReadNext after it. Every prepared batch is kept (TakeRows) for the
// fold after the commit. Not thread-safe (one consumer); the destructor and Settle wait for the
// batch in flight, so the inner reader and `prepare` must outlive the reader or its Settle.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/util/future.h>

#include <functional>
#include <memory>
#include <optional>

namespace hyprstream::window {

class PreparingReader : public arrow::RecordBatchReader {
 public:
  using Prepare = std::function<arrow::Result<std::shared_ptr<arrow::RecordBatch>>(
      const std::shared_ptr<arrow::RecordBatch>&)>;
  static constexpr int64_t kAheadRows = 8192;

  // `inner` is borrowed; `schema` is the schema of prepared batches.
  PreparingReader(arrow::RecordBatchReader* inner, std::shared_ptr<arrow::Schema> schema,
                  Prepare prepare);
  ~PreparingReader() override;

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override;

  // Waits for the batch in flight, if any: after it, prepared_any() counts it and prepare is
  // no longer called.
  void Settle();
  // Whether any batch went through `prepare` (successfully or not).
  bool prepared_any() const { return prepared_batches_ > 0; }
  // Whether a batch went through `prepare` but was not handed out (after Settle).
  bool holds_unread() const { return prepared_batches_ > handed_out_; }
  // The prepared batches handed out so far, in order.
  arrow::RecordBatchVector TakeRows() { return std::move(rows_); }

 private:
  using Prepared = std::shared_ptr<arrow::RecordBatch>;  // nullptr: the end
  // Reads the next incoming batch and starts preparing it.
  void ReadAhead();

  arrow::RecordBatchReader* inner_;
  std::shared_ptr<arrow::Schema> schema_;
  Prepare prepare_;
  std::optional<arrow::Future<Prepared>> ahead_;  // the next batch, maybe still preparing
  arrow::Status failed_;                          // returned again by every later ReadNext
  bool started_ = false;
  int64_t prepared_batches_ = 0;  // given to `prepare`
  int64_t handed_out_ = 0;
  arrow::RecordBatchVector rows_;
};

}  // namespace hyprstream::window
