// TransactionControlStatement: a lone BEGIN, COMMIT or ROLLBACK given as SQL, run as the
// connection's own BeginTransaction(), Commit() or Rollback(). An engine or a layer whose
// transaction is state of its own (the ADBC pool's pinned connection, the cache's held
// mirrors) returns one from Prepare, so SQL transaction control and the API's do the same.
// Owns a reference to the connection; not thread-safe on its own (like any statement).
#pragma once

#include <memory>

#include "engine/engine.h"
#include "sql/sql_script.h"

namespace hyprstream::engine {

class TransactionControlStatement : public EngineStatement {
 public:
  // kBegin, kCommit or kRollback when `script` is one such statement written alone or followed
  // by TRANSACTION or WORK (not BEGIN ISOLATION LEVEL ..., not a script); kOther else.
  static sql::StatementKind ControlOf(const sql::Script& script);

  // `control` is what ControlOf returned (not kOther).
  TransactionControlStatement(std::shared_ptr<EngineConnection> connection,
                              sql::StatementKind control);

  StatementKind kind() const override { return StatementKind::kOther; }
  std::shared_ptr<arrow::Schema> dataset_schema() const override;
  std::shared_ptr<arrow::Schema> parameter_schema() const override;
  arrow::Status Bind(std::shared_ptr<arrow::RecordBatch> parameters) override;
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override;
  arrow::Result<int64_t> ExecuteUpdate() override;

 private:
  arrow::Status Run();

  std::shared_ptr<EngineConnection> connection_;
  sql::StatementKind control_;
};

}  // namespace hyprstream::engine
