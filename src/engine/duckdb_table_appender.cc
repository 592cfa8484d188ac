#include "engine/duckdb_table_appender.h"

#include "engine/arrow_to_duckdb_type.h"
#include "engine/duckdb_handle.h"
#include "engine/duckdb_ingest.h"
#include "engine/duckdb_status.h"

#include <arrow/type.h>

namespace hyprstream::engine {

namespace {

// Names the columns where `actual` differs from `expected`.
std::string DescribeMismatch(const arrow::Schema& expected, const arrow::Schema& actual) {
  std::string out;
  auto add = [&out](const std::string& text) { out += (out.empty() ? "" : "; ") + text; };
  for (const auto& field : actual.fields()) {
    auto want = expected.GetFieldByName(field->name());
    if (want == nullptr) {
      add("unexpected column " + QuoteIdentifier(field->name()));
    } else if (!want->type()->Equals(*field->type())) {
      add("column " + QuoteIdentifier(field->name()) + " is " + field->type()->ToString() +
          ", expected " + want->type()->ToString());
    }
  }
  for (const auto& field : expected.fields()) {
    if (actual.GetFieldByName(field->name()) == nullptr) {
      add("missing column " + QuoteIdentifier(field->name()));
    }
  }
  return out.empty() ? "columns are in a different order" : out;
}

}  // namespace

arrow::Result<std::unique_ptr<DuckDbTableAppender>> DuckDbTableAppender::Open(
    std::shared_ptr<DuckDbDatabase> database, const std::vector<std::string>& path,
    const std::shared_ptr<arrow::Schema>& schema) {
  if (path.empty() || path.size() > 3) {
    return arrow::Status::Invalid("appender: table path must be [catalog.][schema.]table, got ",
                                  path.size(), " parts");
  }
  if (schema == nullptr || schema->num_fields() == 0) {
    return arrow::Status::Invalid("appender: the schema has no columns");
  }
  ARROW_ASSIGN_OR_RAISE(duckdb_connection connection, database->Connect());
  std::unique_ptr<DuckDbTableAppender> out(
      new DuckDbTableAppender(std::move(database), connection, schema));
  out->table_ = path.back();
  if (path.size() >= 2) out->db_schema_ = path[path.size() - 2];
  if (path.size() == 3) out->catalog_ = path[0];

  if (!TableExists(connection, out->catalog_, out->db_schema_, out->table_)) {
    ARROW_ASSIGN_OR_RAISE(std::string columns, ColumnDefinitions(*schema));
    ARROW_RETURN_NOT_OK(out->Execute("CREATE TABLE IF NOT EXISTS " +
                                     QualifiedName(out->catalog_, out->db_schema_, out->table_) +
                                     " " + columns));
  }
  ARROW_ASSIGN_OR_RAISE(out->appender_,
                        DuckDbBatchAppender::Open(connection, out->catalog_, out->db_schema_,
                                                  out->table_, *schema));
  return out;
}

DuckDbTableAppender::~DuckDbTableAppender() {
  appender_.reset();
  duckdb_disconnect(&connection_);
}

arrow::Status DuckDbTableAppender::Execute(const std::string& sql) {
  ResultHandle result;
  if (duckdb_query(connection_, sql.c_str(), result.out()) != DuckDBSuccess) {
    return StatusFromResult(result.get(), "appender");
  }
  return arrow::Status::OK();
}

arrow::Status DuckDbTableAppender::AppendInTransaction(const arrow::RecordBatch& batch) {
  if (appender_ == nullptr) {
    ARROW_ASSIGN_OR_RAISE(appender_, DuckDbBatchAppender::Open(connection_, catalog_, db_schema_,
                                                               table_, *schema_));
  }
  ARROW_RETURN_NOT_OK(appender_->Append(batch));
  return appender_->Flush();
}

arrow::Result<int64_t> DuckDbTableAppender::Append(const arrow::RecordBatch& batch) {
  if (!batch.schema()->Equals(*schema_, /*check_metadata=*/false)) {
    return arrow::Status::Invalid("appender for ",
                                  QualifiedName(catalog_, db_schema_, table_),
                                  ": batch schema does not match: ",
                                  DescribeMismatch(*schema_, *batch.schema()));
  }
  if (batch.num_rows() == 0) return 0;
  ARROW_RETURN_NOT_OK(Execute("BEGIN TRANSACTION"));
  arrow::Status status = AppendInTransaction(batch);
  if (!status.ok()) {
    appender_.reset();  // its buffered rows go into the transaction rolled back next
    (void)Execute("ROLLBACK");
    return status;
  }
  ARROW_RETURN_NOT_OK(Execute("COMMIT"));
  return batch.num_rows();
}

}  // namespace hyprstream::engine
