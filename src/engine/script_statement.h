// ScriptStatement: a script of several SQL statements ("CREATE TABLE a (x INT); INSERT INTO a
// VALUES (1)") as one EngineStatement. Executing it runs the statements in order, each exactly
// once, each prepared only when its turn comes (so it may use what the earlier ones created),
// and returns the last statement's result (ExecuteQuery, held in memory) or row count
// (ExecuteUpdate). Outside a transaction a script without transaction control runs in one
// transaction of its own, all or nothing, as PostgreSQL runs a multi-statement query; inside
// the caller's transaction it runs in that transaction. Scripts take no parameters.
//
// Ownership: shares the connection; not thread-safe, like every EngineStatement.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "sql/sql_script.h"

namespace hyprstream::engine {

class ScriptStatement : public EngineStatement {
 public:
  // Prepares one statement of the script (the caller's own path, e.g. through every layer).
  using PrepareOne = std::function<arrow::Result<std::unique_ptr<EngineStatement>>(
      EngineConnection&, const std::string&)>;

  // Invalid when the script has parameters (they could not be told apart between statements).
  static arrow::Result<std::unique_ptr<ScriptStatement>> Make(
      std::shared_ptr<EngineConnection> connection, std::shared_ptr<const sql::Script> script,
      PrepareOne prepare);

  // Its result is only known once it ran: the caller runs it exactly once.
  StatementKind kind() const override { return StatementKind::kOther; }
  std::shared_ptr<arrow::Schema> dataset_schema() const override { return nullptr; }
  std::shared_ptr<arrow::Schema> parameter_schema() const override;
  arrow::Status Bind(std::shared_ptr<arrow::RecordBatch> parameters) override;
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override;
  arrow::Result<int64_t> ExecuteUpdate() override;
  void SetMaxStaleness(std::optional<std::chrono::milliseconds> max_staleness) override {
    max_staleness_ = max_staleness;
  }

 private:
  ScriptStatement(std::shared_ptr<EngineConnection> connection,
                  std::shared_ptr<const sql::Script> script, PrepareOne prepare)
      : connection_(std::move(connection)),
        script_(std::move(script)),
        prepare_(std::move(prepare)) {}

  // Runs every statement; the last one's result (as_query) or row count.
  struct Outcome {
    std::shared_ptr<arrow::RecordBatchReader> rows;
    int64_t count = -1;
  };
  arrow::Result<Outcome> Run(bool as_query);
  arrow::Result<Outcome> RunStatements(bool as_query);

  std::shared_ptr<EngineConnection> connection_;
  std::shared_ptr<const sql::Script> script_;
  PrepareOne prepare_;
  std::optional<std::chrono::milliseconds> max_staleness_;
};

}  // namespace hyprstream::engine
