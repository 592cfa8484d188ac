#include "window/window_feeding_insert.h"

#include "engine/engine_sql.h"

namespace hyprstream::window {

WindowFeedingInsert::WindowFeedingInsert(std::unique_ptr<engine::EngineStatement> returning,
                                         RowsCallback on_rows)
    : returning_(std::move(returning)), on_rows_(std::move(on_rows)) {}

std::shared_ptr<arrow::Schema> WindowFeedingInsert::dataset_schema() const {
  return engine::CountSchema();
}

arrow::Result<int64_t> WindowFeedingInsert::ExecuteUpdate() {
  ARROW_ASSIGN_OR_RAISE(auto reader, returning_->ExecuteQuery());
  ARROW_ASSIGN_OR_RAISE(auto rows, reader->ToRecordBatches());
  int64_t count = 0;
  for (const auto& batch : rows) count += batch->num_rows();
  on_rows_(std::move(rows));
  return count;
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> WindowFeedingInsert::ExecuteQuery() {
  ARROW_ASSIGN_OR_RAISE(int64_t count, ExecuteUpdate());
  return engine::CountResult(count);
}

}  // namespace hyprstream::window
