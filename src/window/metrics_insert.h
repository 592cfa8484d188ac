// MetricsInsert: a SQL INSERT into the built-in `metrics` table, on any engine. Its source
// (VALUES or a query) runs as a query on the same connection with the same parameters; its
// rows get their running columns (WindowCatalog::PrepareAppend) and are ingested into metrics,
// so the stored rows are complete before they are written (a backend such as PostgreSQL holds
// complete rows) and are handed to `on_rows`, which folds them into the windows once they
// commit. Columns are matched by the INSERT's column list (or BY NAME, or the table's order);
// the running columns are hyprstream's to fill. Not thread-safe, like every EngineStatement.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "sql/statement_info.h"
#include "window/window_catalog.h"

namespace hyprstream::window {

class MetricsInsert : public engine::EngineStatement {
 public:
  using RowsCallback = std::function<void(arrow::RecordBatchVector)>;

  // `connection`: where the source query and the ingest run (the caller's session, below the
  // windows layer). Invalid for INSERT forms it cannot take (ON CONFLICT, RETURNING, DEFAULT
  // VALUES, running columns given).
  static arrow::Result<std::unique_ptr<MetricsInsert>> Make(
      std::shared_ptr<engine::EngineConnection> connection, std::shared_ptr<WindowCatalog> catalog,
      const sql::StatementInfo& insert, RowsCallback on_rows);

  engine::StatementKind kind() const override { return engine::StatementKind::kUpdate; }
  std::shared_ptr<arrow::Schema> dataset_schema() const override;
  std::shared_ptr<arrow::Schema> parameter_schema() const override {
    return source_->parameter_schema();
  }
  arrow::Status Bind(std::shared_ptr<arrow::RecordBatch> parameters) override {
    return source_->Bind(std::move(parameters));
  }
  // A one-row "Count" result, like DuckDB's own INSERT.
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override;
  arrow::Result<int64_t> ExecuteUpdate() override;

 private:
  MetricsInsert(std::shared_ptr<engine::EngineConnection> connection,
                std::shared_ptr<WindowCatalog> catalog, std::vector<std::string> columns,
                bool by_name, std::unique_ptr<engine::EngineStatement> source, RowsCallback on_rows)
      : connection_(std::move(connection)),
        catalog_(std::move(catalog)),
        columns_(std::move(columns)),
        by_name_(by_name),
        source_(std::move(source)),
        on_rows_(std::move(on_rows)) {}

  // A batch of the source with the metrics column names.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Named(const arrow::RecordBatch& batch) const;

  std::shared_ptr<engine::EngineConnection> connection_;
  std::shared_ptr<WindowCatalog> catalog_;
  std::vector<std::string> columns_;  // the target column of each source column
  bool by_name_ = false;
  std::unique_ptr<engine::EngineStatement> source_;
  RowsCallback on_rows_;
};

}  // namespace hyprstream::window
