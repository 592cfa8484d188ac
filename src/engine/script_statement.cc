#include "engine/script_statement.h"

#include <arrow/record_batch.h>

#include <algorithm>

namespace hyprstream::engine {

namespace {

bool IsTransactionControl(sql::StatementKind kind) {
  return kind == sql::StatementKind::kBegin || kind == sql::StatementKind::kCommit ||
         kind == sql::StatementKind::kRollback || kind == sql::StatementKind::kSavepoint;
}

}  // namespace

arrow::Result<std::unique_ptr<ScriptStatement>> ScriptStatement::Make(
    std::shared_ptr<EngineConnection> connection, std::shared_ptr<const sql::Script> script,
    PrepareOne prepare) {
  for (const auto& statement : script->statements) {
    if (statement.parameters.any()) {
      return arrow::Status::Invalid(
          "parameters are not supported in a script of several statements (",
          script->statements.size(),
          " here); send the statement with parameters on its own, or bind values inline");
    }
  }
  return std::unique_ptr<ScriptStatement>(
      new ScriptStatement(std::move(connection), std::move(script), std::move(prepare)));
}

std::shared_ptr<arrow::Schema> ScriptStatement::parameter_schema() const {
  return arrow::schema({});
}

arrow::Status ScriptStatement::Bind(std::shared_ptr<arrow::RecordBatch> parameters) {
  if (parameters && parameters->num_columns() > 0 && parameters->num_rows() > 0) {
    return arrow::Status::Invalid(
        "a script of several statements takes no parameters; send the statement with "
        "parameters on its own");
  }
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ScriptStatement::ExecuteQuery() {
  ARROW_ASSIGN_OR_RAISE(Outcome outcome, Run(/*as_query=*/true));
  return outcome.rows;
}

arrow::Result<int64_t> ScriptStatement::ExecuteUpdate() {
  ARROW_ASSIGN_OR_RAISE(Outcome outcome, Run(/*as_query=*/false));
  return outcome.count;
}

arrow::Result<ScriptStatement::Outcome> ScriptStatement::Run(bool as_query) {
  const bool controls_transactions =
      std::any_of(script_->statements.begin(), script_->statements.end(),
                  [](const sql::StatementInfo& s) { return IsTransactionControl(s.kind); });
  if (controls_transactions || connection_->InTransaction()) return RunStatements(as_query);
  // All or nothing, like one statement.
  ARROW_RETURN_NOT_OK(connection_->BeginTransaction());
  auto outcome = RunStatements(as_query);
  if (!outcome.ok()) {
    (void)connection_->Rollback();
    return outcome;
  }
  arrow::Status committed = connection_->Commit();
  if (!committed.ok()) {
    return committed.WithMessage("committing the script: ", committed.message());
  }
  return outcome;
}

arrow::Result<ScriptStatement::Outcome> ScriptStatement::RunStatements(bool as_query) {
  Outcome outcome;
  const size_t count = script_->statements.size();
  for (size_t i = 0; i < count; ++i) {
    const std::string text(script_->statements[i].text());
    auto ran = [&]() -> arrow::Status {
      ARROW_ASSIGN_OR_RAISE(auto statement, prepare_(*connection_, text));
      statement->SetMaxStaleness(max_staleness_);
      const bool last = i + 1 == count;
      if (!last || !as_query) {
        ARROW_ASSIGN_OR_RAISE(outcome.count, statement->ExecuteUpdate());
        return arrow::Status::OK();
      }
      // Held in memory: the script's own transaction ends before the caller reads it.
      ARROW_ASSIGN_OR_RAISE(auto reader, statement->ExecuteQuery());
      ARROW_ASSIGN_OR_RAISE(auto batches, reader->ToRecordBatches());
      ARROW_ASSIGN_OR_RAISE(outcome.rows,
                            arrow::RecordBatchReader::Make(std::move(batches), reader->schema()));
      return arrow::Status::OK();
    }();
    if (!ran.ok()) {
      return ran.WithMessage("statement ", i + 1, " of ", count, " failed: ", ran.message());
    }
  }
  return outcome;
}

}  // namespace hyprstream::engine
