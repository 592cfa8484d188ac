#include "flightsql/window_feeding_insert.h"

#include "cache/statement_footprint.h"

#include <arrow/builder.h>

#include <algorithm>
#include <cctype>

namespace hyprstream::flightsql {
namespace {

std::shared_ptr<arrow::Schema> CountSchema() {
  return arrow::schema({arrow::field("Count", arrow::int64())});
}

}  // namespace

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
  arrow::Int64Builder builder;
  ARROW_RETURN_NOT_OK(builder.Append(count));
  ARROW_ASSIGN_OR_RAISE(auto column, builder.Finish());
  auto batch = arrow::RecordBatch::Make(CountSchema(), 1, {column});
  return arrow::RecordBatchReader::Make({batch}, CountSchema());
}

bool IsInsert(const std::string& sql) { return cache::LeadingKeyword(sql) == "INSERT"; }

std::optional<std::string> WithReturningAll(const std::string& sql) {
  std::string lower(sql.size(), ' ');
  std::transform(sql.begin(), sql.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.find("returning") != std::string::npos) return std::nullopt;
  size_t end = sql.find_last_not_of(" \t\r\n;");
  if (end == std::string::npos) return std::nullopt;
  return sql.substr(0, end + 1) + " RETURNING *";
}

}  // namespace hyprstream::flightsql
