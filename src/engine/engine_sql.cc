#include "engine/engine_sql.h"

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

}  // namespace hyprstream::engine
