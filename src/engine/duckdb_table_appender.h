// TableAppender on its own duckdb_connection: each Append runs BEGIN, appends the batch
// columnar (DuckDbBatchAppender), flushes and COMMITs, so a batch is visible to every
// connection when Append returns, and a failing batch leaves nothing behind. Used from one
// thread at a time (engine.h).
#pragma once

#include "engine/duckdb_batch_appender.h"
#include "engine/duckdb_database.h"
#include "engine/engine.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hyprstream::engine {

class DuckDbTableAppender : public TableAppender {
 public:
  // `path` is [catalog.][schema.]table; the table is created from `schema` when missing.
  static arrow::Result<std::unique_ptr<DuckDbTableAppender>> Open(
      std::shared_ptr<DuckDbDatabase> database, const std::vector<std::string>& path,
      const std::shared_ptr<arrow::Schema>& schema);
  ~DuckDbTableAppender() override;

  const std::shared_ptr<arrow::Schema>& schema() const override { return schema_; }
  arrow::Result<int64_t> Append(const arrow::RecordBatch& batch) override;

 private:
  DuckDbTableAppender(std::shared_ptr<DuckDbDatabase> database, duckdb_connection connection,
                      std::shared_ptr<arrow::Schema> schema)
      : database_(std::move(database)), connection_(connection), schema_(std::move(schema)) {}

  arrow::Status Execute(const std::string& sql);
  arrow::Status AppendInTransaction(const arrow::RecordBatch& batch);

  std::shared_ptr<DuckDbDatabase> database_;
  duckdb_connection connection_;
  std::shared_ptr<arrow::Schema> schema_;
  std::optional<std::string> catalog_;
  std::optional<std::string> db_schema_;
  std::string table_;
  std::unique_ptr<DuckDbBatchAppender> appender_;  // reopened after a failed batch
};

}  // namespace hyprstream::engine
