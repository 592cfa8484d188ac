#include "engine/duckdb_connection.h"

#include <algorithm>

#include "engine/duckdb_ingest.h"
#include "engine/duckdb_statement.h"
#include "engine/duckdb_status.h"

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

namespace {

std::string StatementTypeName(duckdb_statement_type type) {
  switch (type) {
    case DUCKDB_STATEMENT_TYPE_SELECT:
      return "SELECT";
    case DUCKDB_STATEMENT_TYPE_INSERT:
      return "INSERT";
    case DUCKDB_STATEMENT_TYPE_UPDATE:
      return "UPDATE";
    case DUCKDB_STATEMENT_TYPE_EXPLAIN:
      return "EXPLAIN";
    case DUCKDB_STATEMENT_TYPE_DELETE:
      return "DELETE";
    case DUCKDB_STATEMENT_TYPE_PREPARE:
      return "PREPARE";
    case DUCKDB_STATEMENT_TYPE_CREATE:
      return "CREATE";
    case DUCKDB_STATEMENT_TYPE_EXECUTE:
      return "EXECUTE";
    case DUCKDB_STATEMENT_TYPE_ALTER:
      return "ALTER";
    case DUCKDB_STATEMENT_TYPE_TRANSACTION:
      return "TRANSACTION";
    case DUCKDB_STATEMENT_TYPE_COPY:
      return "COPY";
    case DUCKDB_STATEMENT_TYPE_ANALYZE:
      return "ANALYZE";
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET:
      return "VARIABLE_SET";
    case DUCKDB_STATEMENT_TYPE_CREATE_FUNC:
      return "CREATE_FUNC";
    case DUCKDB_STATEMENT_TYPE_DROP:
      return "DROP";
    case DUCKDB_STATEMENT_TYPE_EXPORT:
      return "EXPORT";
    case DUCKDB_STATEMENT_TYPE_PRAGMA:
      return "PRAGMA";
    case DUCKDB_STATEMENT_TYPE_VACUUM:
      return "VACUUM";
    case DUCKDB_STATEMENT_TYPE_CALL:
      return "CALL";
    case DUCKDB_STATEMENT_TYPE_SET:
      return "SET";
    case DUCKDB_STATEMENT_TYPE_LOAD:
      return "LOAD";
    case DUCKDB_STATEMENT_TYPE_RELATION:
      return "RELATION";
    case DUCKDB_STATEMENT_TYPE_EXTENSION:
      return "EXTENSION";
    case DUCKDB_STATEMENT_TYPE_LOGICAL_PLAN:
      return "LOGICAL_PLAN";
    case DUCKDB_STATEMENT_TYPE_ATTACH:
      return "ATTACH";
    case DUCKDB_STATEMENT_TYPE_DETACH:
      return "DETACH";
    case DUCKDB_STATEMENT_TYPE_MULTI:
      return "MULTI";
    default:
      return "INVALID";
  }
}

}  // namespace

arrow::Result<std::vector<std::string>> DuckDbConnection::StatementTypes(const std::string& sql) {
  std::lock_guard<std::recursive_mutex> lock(session_->mutex());
  session_->QuiesceLocked();
  duckdb_extracted_statements extracted = nullptr;
  idx_t count = duckdb_extract_statements(session_->connection(), sql.c_str(), &extracted);
  std::unique_ptr<_duckdb_extracted_statements, void (*)(_duckdb_extracted_statements*)> owned(
      extracted, [](_duckdb_extracted_statements* e) { duckdb_destroy_extracted(&e); });
  if (count == 0) {
    const char* error = extracted != nullptr ? duckdb_extract_statements_error(extracted) : nullptr;
    return StatusFromDuckDbMessage(error != nullptr ? error : "no SQL statement", "");
  }
  std::vector<std::string> types;
  for (idx_t i = 0; i < count; ++i) {
    duckdb_prepared_statement prepared = nullptr;
    duckdb_state state =
        duckdb_prepare_extracted_statement(session_->connection(), extracted, i, &prepared);
    std::unique_ptr<_duckdb_prepared_statement, void (*)(_duckdb_prepared_statement*)> held(
        prepared, [](_duckdb_prepared_statement* p) { duckdb_destroy_prepare(&p); });
    if (state != DuckDBSuccess) {
      const char* error = prepared != nullptr ? duckdb_prepare_error(prepared) : nullptr;
      return StatusFromDuckDbMessage(error != nullptr ? error : "prepare failed", "");
    }
    types.push_back(StatementTypeName(duckdb_prepared_statement_type(prepared)));
  }
  return types;
}

}  // namespace hyprstream::engine
