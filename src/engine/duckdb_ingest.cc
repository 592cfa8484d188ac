#include "engine/duckdb_ingest.h"

#include "engine/arrow_to_duckdb_type.h"
#include "engine/duckdb_batch_appender.h"
#include "engine/duckdb_handle.h"
#include "engine/duckdb_status.h"

#include <arrow/record_batch.h>
#include <arrow/type.h>

namespace hyprstream::engine {

bool TableExists(duckdb_connection connection, const std::optional<std::string>& catalog,
                 const std::optional<std::string>& schema, const std::string& table) {
  duckdb_table_description raw = nullptr;
  duckdb_state state =
      duckdb_table_description_create_ext(connection, catalog ? catalog->c_str() : nullptr,
                                          schema ? schema->c_str() : nullptr, table.c_str(), &raw);
  TableDescriptionHandle description(raw);
  return state == DuckDBSuccess;
}

namespace {

// Everything between BEGIN and COMMIT. Sets *wrote once the database was changed.
arrow::Result<int64_t> CreateAndAppend(DuckDbSession& session, const IngestRequest& request,
                                       const std::optional<std::string>& catalog,
                                       const std::optional<std::string>& schema, bool exists,
                                       arrow::RecordBatchReader* batches, bool* wrote) {
  std::shared_ptr<arrow::Schema> arrow_schema = batches->schema();
  bool create = !exists;
  bool replace = exists && request.if_exists == IngestRequest::IfExists::kReplace;
  if (create || replace) {
    ARROW_ASSIGN_OR_RAISE(std::string columns, ColumnDefinitions(*arrow_schema));
    std::string sql = replace ? "CREATE OR REPLACE " : "CREATE ";
    sql += request.temporary ? "TEMP TABLE " + QuoteIdentifier(request.table)
                             : "TABLE " + QualifiedName(catalog, schema, request.table);
    sql += " " + columns;
    *wrote = true;
    ARROW_RETURN_NOT_OK(session.ExecuteLocked(sql, "creating the ingest table"));
  }
  ARROW_ASSIGN_OR_RAISE(
      auto appender, DuckDbBatchAppender::Open(session.connection(), catalog, schema, request.table,
                                               *arrow_schema));
  int64_t rows = 0;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    ARROW_RETURN_NOT_OK(batches->ReadNext(&batch));
    if (batch == nullptr) break;
    if (batch->num_rows() == 0) continue;
    *wrote = true;
    ARROW_RETURN_NOT_OK(appender->Append(*batch));
    rows += batch->num_rows();
  }
  ARROW_RETURN_NOT_OK(appender->Flush());
  return rows;
}

}  // namespace

arrow::Result<int64_t> IngestLocked(DuckDbSession& session, const IngestRequest& request,
                                    arrow::RecordBatchReader* batches) {
  if (request.table.empty()) return arrow::Status::Invalid("ingest: no target table");
  if (batches == nullptr) return arrow::Status::Invalid("ingest: no data");
  std::optional<std::string> catalog = request.catalog;
  std::optional<std::string> schema = request.schema;
  duckdb_connection connection = session.connection();
  if (request.temporary) {
    catalog = "temp";
    schema = "main";
  } else if (!catalog || !schema) {
    // ADBC: temporary=false means the regular table in the given (else the current) catalog
    // and schema, even when a temp table of that name would shadow it in unqualified SQL.
    ARROW_ASSIGN_OR_RAISE(auto current, session.CurrentNamespaceLocked());
    if (!catalog) catalog = current.first;
    if (!schema) schema = current.second;
  }
  std::string table_name = QualifiedName(catalog, schema, request.table);

  bool exists = TableExists(connection, catalog, schema, request.table);
  if (!exists && request.if_not_exists == IngestRequest::IfNotExists::kFail) {
    return arrow::Status::KeyError("ingest: table ", table_name, " does not exist");
  }
  if (exists && request.if_exists == IngestRequest::IfExists::kFail) {
    return arrow::Status::AlreadyExists("ingest: table ", table_name, " already exists");
  }

  const bool own_transaction = !session.in_transaction();
  if (own_transaction) {
    ARROW_RETURN_NOT_OK(session.ExecuteLocked("BEGIN TRANSACTION", "ingest"));
  }
  bool wrote = false;
  // The appender is gone (flushed or discarded) when this returns, before COMMIT/ROLLBACK.
  auto rows = CreateAndAppend(session, request, catalog, schema, exists, batches, &wrote);
  if (rows.ok()) {
    if (own_transaction) {
      ARROW_RETURN_NOT_OK(session.ExecuteLocked("COMMIT", "ingest"));
    }
    return rows;
  }
  if (own_transaction) {
    (void)session.ExecuteLocked("ROLLBACK", "ingest");
  } else if (wrote) {
    // No savepoints in DuckDB: make the caller's transaction unable to commit the partial
    // ingest (a runtime error aborts a DuckDB transaction).
    (void)session.ExecuteLocked("SELECT error('ingest failed; transaction aborted')", "ingest");
  }
  arrow::Status failed =
      rows.status().WithMessage("ingest into ", table_name, ": ", rows.status().message());
  if (exists && IsColumnMismatch(failed)) {
    // ADBC: data whose columns do not match an existing table is ALREADY_EXISTS.
    return arrow::Status::AlreadyExists(failed.message());
  }
  return failed;
}

}  // namespace hyprstream::engine
