#include "engine/aligned_batches.h"

#include <arrow/memory_pool.h>
#include <arrow/util/align_util.h>

namespace hyprstream::engine {
namespace {

class AlignedReader : public arrow::RecordBatchReader {
 public:
  explicit AlignedReader(std::shared_ptr<arrow::RecordBatchReader> inner)
      : inner_(std::move(inner)) {}
  std::shared_ptr<arrow::Schema> schema() const override { return inner_->schema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
    std::shared_ptr<arrow::RecordBatch> read;
    ARROW_RETURN_NOT_OK(inner_->ReadNext(&read));
    ARROW_ASSIGN_OR_RAISE(*batch, AlignedBatch(std::move(read)));
    return arrow::Status::OK();
  }
  arrow::Status Close() override { return inner_->Close(); }

 private:
  std::shared_ptr<arrow::RecordBatchReader> inner_;
};

}  // namespace

arrow::Result<std::shared_ptr<arrow::RecordBatch>> AlignedBatch(
    std::shared_ptr<arrow::RecordBatch> batch) {
  if (batch == nullptr) return batch;
  return arrow::util::EnsureAlignment(std::move(batch), arrow::util::kValueAlignment,
                                      arrow::default_memory_pool());
}

std::shared_ptr<arrow::RecordBatchReader> AlignedBatches(
    std::shared_ptr<arrow::RecordBatchReader> reader) {
  return std::make_shared<AlignedReader>(std::move(reader));
}

}  // namespace hyprstream::engine
