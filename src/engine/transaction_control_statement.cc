#include "engine/transaction_control_statement.h"

#include "sql/sql_lexer.h"

namespace hyprstream::engine {

sql::StatementKind TransactionControlStatement::ControlOf(const sql::Script& script) {
  const sql::StatementInfo* statement = script.Single();
  if (statement == nullptr) return sql::StatementKind::kOther;
  switch (statement->kind) {
    case sql::StatementKind::kBegin:
    case sql::StatementKind::kCommit:
    case sql::StatementKind::kRollback:
      break;
    default:
      return sql::StatementKind::kOther;
  }
  const auto tokens = sql::Lex(statement->text());
  const bool plain = tokens.size() == 1 ||
                     (tokens.size() == 2 &&
                      (sql::IsWord(tokens[1], "TRANSACTION") || sql::IsWord(tokens[1], "WORK")));
  return plain ? statement->kind : sql::StatementKind::kOther;
}

TransactionControlStatement::TransactionControlStatement(
    std::shared_ptr<EngineConnection> connection, sql::StatementKind control)
    : connection_(std::move(connection)), control_(control) {}

std::shared_ptr<arrow::Schema> TransactionControlStatement::dataset_schema() const {
  return arrow::schema({});
}

std::shared_ptr<arrow::Schema> TransactionControlStatement::parameter_schema() const {
  return arrow::schema({});
}

arrow::Status TransactionControlStatement::Bind(std::shared_ptr<arrow::RecordBatch> parameters) {
  if (parameters && parameters->num_rows() > 0 && parameters->num_columns() > 0) {
    return arrow::Status::Invalid("BEGIN, COMMIT and ROLLBACK take no parameters");
  }
  return arrow::Status::OK();
}

arrow::Status TransactionControlStatement::Run() {
  switch (control_) {
    case sql::StatementKind::kBegin:
      return connection_->BeginTransaction();
    case sql::StatementKind::kCommit:
      return connection_->Commit();
    case sql::StatementKind::kRollback:
      return connection_->Rollback();
    default:
      return arrow::Status::Invalid("not a transaction control statement");
  }
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>>
TransactionControlStatement::ExecuteQuery() {
  ARROW_RETURN_NOT_OK(Run());
  return arrow::RecordBatchReader::Make({}, arrow::schema({}));
}

arrow::Result<int64_t> TransactionControlStatement::ExecuteUpdate() {
  ARROW_RETURN_NOT_OK(Run());
  return 0;
}

}  // namespace hyprstream::engine
