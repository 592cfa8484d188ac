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
  const auto script = sql::Analyze(sql);  // owns the statements (a temporary would not)
  for (const auto& statement : script->statements) {
    if (statement.kind == sql::StatementKind::kBegin) {
      if (succeeded) set_in_transaction(true);
    } else if (statement.kind == sql::StatementKind::kCommit ||
               statement.kind == sql::StatementKind::kRollback) {
      // A failed COMMIT rolls back in DuckDB; either way no transaction is left open.
      set_in_transaction(false);
    }
  }
}

arrow::Result<std::pair<std::string, std::string>> DuckDbSession::CurrentNamespaceLocked() {
  if (namespace_) return *namespace_;
  ResultHandle result;
  if (duckdb_query(connection_, "SELECT current_database(), current_schema()", result.out()) !=
      DuckDBSuccess) {
    return StatusFromResult(result.get(), "reading the current schema");
  }
  auto text = [&](idx_t column) {
    char* value = duckdb_value_varchar(result.get(), column, 0);
    std::string out = value ? value : "";
    duckdb_free(value);
    return out;
  };
  namespace_ = std::make_pair(text(0), text(1));
  return *namespace_;
}

std::optional<ColumnOrigin> DuckDbSession::ResolveTableLocked(const sql::TableRef& table) {
  std::vector<ColumnOrigin> candidates;
  if (table.catalog && table.schema) {
    candidates.push_back({*table.catalog, *table.schema, table.table});
  } else {
    auto current = CurrentNamespaceLocked();
    if (!current.ok()) return std::nullopt;
    const std::string schema = table.schema.value_or(current->second);
    // Temp tables live in temp.main and come first in DuckDB's search path.
    if (!table.schema || *table.schema == "main") {
      candidates.push_back({"temp", "main", table.table});
    }
    candidates.push_back({current->first, schema, table.table});
    // A two-part name may also be catalog.table (its main schema).
    if (table.schema) candidates.push_back({*table.schema, "main", table.table});
  }
  for (const auto& candidate : candidates) {
    duckdb_table_description raw = nullptr;
    duckdb_state state = duckdb_table_description_create_ext(connection_, candidate.catalog.c_str(),
                                                             candidate.schema.c_str(),
                                                             candidate.table.c_str(), &raw);
    TableDescriptionHandle description(raw);
    if (state == DuckDBSuccess) return candidate;
  }
  return std::nullopt;
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
