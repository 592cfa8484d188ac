// AdbcEngineStatement: a prepared statement of an AdbcEngineConnection. It keeps the SQL and
// the schemas learnt at Prepare; every execution re-prepares the SQL on the backend
// connection borrowed for it (the session's pinned one inside a transaction), so a statement
// survives across operations and pool hand-offs. Parameters: one execution per bound row.
// A plain BEGIN/COMMIT/ROLLBACK given as SQL is the session's transaction (the pool must know
// about it): Make returns a TransactionControlStatement for it.
// Not thread-safe on its own (the server serialises use of one statement).
#pragma once

#include <memory>
#include <string>

#include "engine/adbc_engine_connection.h"
#include "engine/engine.h"
#include "engine/statement_kind.h"

namespace hyprstream::engine {

class AdbcEngineStatement : public EngineStatement {
 public:
  static arrow::Result<std::unique_ptr<EngineStatement>> Make(
      std::shared_ptr<AdbcEngineConnection> connection, const std::string& sql);

  StatementKind kind() const override { return kind_; }
  std::shared_ptr<arrow::Schema> dataset_schema() const override { return dataset_schema_; }
  std::shared_ptr<arrow::Schema> parameter_schema() const override { return parameter_schema_; }
  arrow::Status Bind(std::shared_ptr<arrow::RecordBatch> parameters) override;
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override;
  arrow::Result<int64_t> ExecuteUpdate() override;

 private:
  AdbcEngineStatement(std::shared_ptr<AdbcEngineConnection> connection, std::string sql)
      : connection_(std::move(connection)), sql_(std::move(sql)) {}
  arrow::Status Describe();
  // A statement on `lease` with the SQL set, prepared and bound to parameter row `row` (all
  // rows when row < 0) when there are parameters.
  arrow::Result<std::unique_ptr<AdbcStatementHandle>> Start(
      const std::shared_ptr<AdbcConnectionLease>& lease, int64_t row);

  std::shared_ptr<AdbcEngineConnection> connection_;
  std::string sql_;
  StatementKind kind_ = StatementKind::kOther;
  std::shared_ptr<arrow::Schema> dataset_schema_;
  std::shared_ptr<arrow::Schema> parameter_schema_ = arrow::schema({});
  std::shared_ptr<arrow::RecordBatch> parameters_;
};

}  // namespace hyprstream::engine
