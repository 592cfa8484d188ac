#include "engine/duckdb_session.h"

#include "engine/duckdb_handle.h"
#include "engine/duckdb_result_reader.h"
#include "engine/duckdb_status.h"
#include "sql/sql_script.h"

namespace hyprstream::engine {

arrow::Result<std::shared_ptr<DuckDbSession>> DuckDbSession::Open(
    std::shared_ptr<DuckDbDatabase> database) {
  ARROW_ASSIGN_OR_RAISE(duckdb_connection connection, database->Connect());
  return std::shared_ptr<DuckDbSession>(new DuckDbSession(std::move(database), connection));
}

DuckDbSession::~DuckDbSession() { duckdb_disconnect(&connection_); }

void DuckDbSession::QuiesceLocked() {
  // Keep the reader alive past this call even if its last owner lets go meanwhile.
  std::shared_ptr<DuckDbResultReader> reader = open_reader_.lock();
  open_reader_.reset();
  if (reader) reader->DrainLocked();
}

void DuckDbSession::SetOpenReaderLocked(std::weak_ptr<DuckDbResultReader> reader) {
  open_reader_ = std::move(reader);
}

void DuckDbSession::NoteTransactionStatement(std::string_view sql, bool succeeded) {
  // Each statement in order (BEGIN; ...; ROLLBACK ends closed).
  for (const auto& statement : sql::Analyze(sql)->statements) {
    if (statement.kind == sql::StatementKind::kBegin) {
      if (succeeded) set_in_transaction(true);
    } else if (statement.kind == sql::StatementKind::kCommit ||
               statement.kind == sql::StatementKind::kRollback) {
      // A failed COMMIT rolls back in DuckDB; either way no transaction is left open.
      set_in_transaction(false);
    }
  }
}

arrow::Status DuckDbSession::ExecuteLocked(const std::string& sql, std::string_view context) {
  ResultHandle result;
  if (duckdb_query(connection_, sql.c_str(), result.out()) != DuckDBSuccess) {
    return StatusFromResult(result.get(), context);
  }
  return arrow::Status::OK();
}

void DuckDbSession::Interrupt() { duckdb_interrupt(connection_); }

}  // namespace hyprstream::engine
