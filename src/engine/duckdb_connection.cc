#include "engine/duckdb_connection.h"

#include <algorithm>

#include "engine/duckdb_ingest.h"
#include "engine/duckdb_statement.h"

namespace hyprstream::engine {

arrow::Result<std::unique_ptr<EngineStatement>> DuckDbConnection::Prepare(
    const std::string& sql) {
  std::lock_guard<std::recursive_mutex> lock(session_->mutex());
  session_->QuiesceLocked();
  ARROW_ASSIGN_OR_RAISE(auto statement, DuckDbStatement::PrepareLocked(session_, sql));
  return std::unique_ptr<EngineStatement>(std::move(statement));
}

arrow::Result<int64_t> DuckDbConnection::Ingest(const IngestRequest& request,
                                                arrow::RecordBatchReader* batches) {
  std::lock_guard<std::recursive_mutex> lock(session_->mutex());
  session_->QuiesceLocked();
  return IngestLocked(*session_, request, batches);
}

arrow::Status DuckDbConnection::RunTransactionStatement(const std::string& sql) {
  std::lock_guard<std::recursive_mutex> lock(session_->mutex());
  session_->QuiesceLocked();
  arrow::Status status = session_->ExecuteLocked(sql, "");
  session_->NoteTransactionStatement(sql, status.ok());
  return status;
}

arrow::Status DuckDbConnection::BeginTransaction() {
  return RunTransactionStatement("BEGIN TRANSACTION");
}

arrow::Status DuckDbConnection::Commit() { return RunTransactionStatement("COMMIT"); }

arrow::Status DuckDbConnection::Rollback() { return RunTransactionStatement("ROLLBACK"); }

std::optional<double> DuckDbConnection::QueryProgress() const {
  duckdb_query_progress_type progress = duckdb_query_progress(session_->connection());
  if (progress.percentage < 0) return std::nullopt;
  return std::min(1.0, progress.percentage / 100.0);
}

}  // namespace hyprstream::engine
