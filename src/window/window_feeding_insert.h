// WindowFeedingInsert: a SQL INSERT into a table that feeds windows (other than `metrics`,
// whose running columns are computed before the write: metrics_insert.h). It runs as
// `INSERT ... RETURNING *`, so the rows it stored (defaults filled, values cast) are handed to
// `on_rows`, which folds them into the windows once they commit, and the client still gets a
// row count. Not thread-safe, like every EngineStatement.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/engine.h"
#include "sql/statement_info.h"

namespace hyprstream::window {

class WindowFeedingInsert : public engine::EngineStatement {
 public:
  using RowsCallback = std::function<void(arrow::RecordBatchVector)>;
  // `returning`: the INSERT prepared with RETURNING *.
  WindowFeedingInsert(std::unique_ptr<engine::EngineStatement> returning, RowsCallback on_rows);

  engine::StatementKind kind() const override { return engine::StatementKind::kUpdate; }
  std::shared_ptr<arrow::Schema> dataset_schema() const override;
  std::shared_ptr<arrow::Schema> parameter_schema() const override {
    return returning_->parameter_schema();
  }
  arrow::Status Bind(std::shared_ptr<arrow::RecordBatch> parameters) override {
    return returning_->Bind(std::move(parameters));
  }
  // A one-row "Count" result, like DuckDB's own INSERT.
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override;
  arrow::Result<int64_t> ExecuteUpdate() override;

 private:
  std::unique_ptr<engine::EngineStatement> returning_;
  RowsCallback on_rows_;
};

}  // namespace hyprstream::window
