#include "window/window_feeding_insert.h"

#include <arrow/builder.h>

namespace hyprstream::window {
std::shared_ptr<arrow::Schema> CountSchema() {
  return arrow::schema({arrow::field("Count", arrow::int64())});
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> CountResult(int64_t count) {
  arrow::Int64Builder builder;
  ARROW_RETURN_NOT_OK(builder.Append(count));
  ARROW_ASSIGN_OR_RAISE(auto column, builder.Finish());
  auto batch = arrow::RecordBatch::Make(CountSchema(), 1, {column});
  return arrow::RecordBatchReader::Make({batch}, CountSchema());
}

WindowFeedingInsert::WindowFeedingInsert(std::unique_ptr<engine::EngineStatement> returning,
                                         RowsCallback on_rows)
    : returning_(std::move(returning)), on_rows_(std::move(on_rows)) {}

std::shared_ptr<arrow::Schema> WindowFeedingInsert::dataset_schema() const { return CountSchema(); }

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
  return CountResult(count);
}

std::optional<std::string> WithReturningAll(const std::string& sql,
                                            const sql::InsertFacts& insert) {
  if (insert.returning || insert.returning_offset > sql.size()) return std::nullopt;
  // What follows the statement (';', comments) is dropped: the statement now returns rows, and
  // a driver may wrap it (PostgreSQL's: COPY (...) TO STDOUT), where a ';' is a syntax error.
  return sql.substr(0, insert.returning_offset) + " RETURNING *";
}

}  // namespace hyprstream::window
