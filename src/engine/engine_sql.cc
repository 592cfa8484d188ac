#include "engine/engine_sql.h"

#include <arrow/builder.h>
#include <arrow/scalar.h>

namespace hyprstream::engine {

arrow::Result<std::shared_ptr<arrow::Table>> QueryTable(EngineConnection& connection,
                                                        const std::string& sql) {
  ARROW_ASSIGN_OR_RAISE(auto statement, connection.Prepare(sql));
  ARROW_ASSIGN_OR_RAISE(auto reader, statement->ExecuteQuery());
  return reader->ToTable();
}

arrow::Result<std::string> QueryValue(EngineConnection& connection, const std::string& sql) {
  ARROW_ASSIGN_OR_RAISE(auto table, QueryTable(connection, sql));
  if (table->num_rows() != 1 || table->num_columns() < 1) {
    return arrow::Status::Invalid("expected one row from: ", sql);
  }
  ARROW_ASSIGN_OR_RAISE(auto scalar, table->column(0)->GetScalar(0));
  return scalar->ToString();
}

bool TransactionCanCommit(EngineConnection& connection) {
  return QueryTable(connection, "SELECT 1").ok();
}

arrow::Status ExecuteStatement(EngineConnection& connection, const std::string& sql) {
  ARROW_ASSIGN_OR_RAISE(auto statement, connection.Prepare(sql));
  return statement->ExecuteUpdate().status();
}

std::shared_ptr<arrow::Schema> CountSchema() {
  return arrow::schema({arrow::field("Count", arrow::int64())});
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> CountResult(int64_t count) {
  arrow::Int64Builder builder;
  ARROW_RETURN_NOT_OK(builder.Append(count));
  ARROW_ASSIGN_OR_RAISE(auto column, builder.Finish());
  auto batch = arrow::RecordBatch::Make(CountSchema(), 1, {column});
  return arrow::RecordBatchReader::Make({batch}, CountSchema());
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteToCompletion(
    EngineStatement& statement) {
  ARROW_ASSIGN_OR_RAISE(auto reader, statement.ExecuteQuery());
  ARROW_ASSIGN_OR_RAISE(auto batches, reader->ToRecordBatches());
  return arrow::RecordBatchReader::Make(std::move(batches), reader->schema());
}

}  // namespace hyprstream::engine
