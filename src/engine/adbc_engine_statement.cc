#include "engine/adbc_engine_statement.h"

#include <arrow/array/util.h>

#include "engine/transaction_control_statement.h"

namespace hyprstream::engine {
arrow::Result<std::unique_ptr<EngineStatement>> AdbcEngineStatement::Make(
    std::shared_ptr<AdbcEngineConnection> connection, const std::string& sql) {
  const auto script = sql::Analyze(sql);
  // The session's transaction, which the pool must know about (it pins a connection).
  if (auto control = TransactionControlStatement::ControlOf(*script);
      control != sql::StatementKind::kOther) {
    return std::make_unique<TransactionControlStatement>(std::move(connection), control);
  }
  if (const sql::StatementInfo* single = script->Single();
      single &&
      (single->kind == sql::StatementKind::kBegin || single->kind == sql::StatementKind::kCommit ||
       single->kind == sql::StatementKind::kRollback)) {
    return arrow::Status::Invalid(
        "'", single->text(),
        "' is not run over ADBC: hyprstream keeps one backend connection "
        "for a transaction opened by a plain BEGIN and ended by COMMIT or ROLLBACK; write BEGIN, "
        "then SET TRANSACTION ... (isolation level, read only) as its first statement");
  }
  std::unique_ptr<AdbcEngineStatement> statement(
      new AdbcEngineStatement(std::move(connection), sql));
  statement->kind_ = StatementKindOf(*script);
  ARROW_RETURN_NOT_OK(statement->Describe());
  return statement;
}

arrow::Status AdbcEngineStatement::Describe() {
  return connection_->Run([&](const std::shared_ptr<AdbcConnectionLease>& lease) {
    ARROW_ASSIGN_OR_RAISE(auto handle, AdbcStatementHandle::New(lease, nullptr));
    ARROW_RETURN_NOT_OK(handle->SetSqlQuery(sql_));
    auto prepared = handle->Prepare();
    if (!prepared.ok() && !prepared.IsNotImplemented()) return prepared;
    auto parameters = handle->ParameterSchema();
    if (parameters.ok()) {
      arrow::FieldVector fields;
      for (int i = 0; i < (*parameters)->num_fields(); ++i) {
        fields.push_back((*parameters)->field(i)->WithName("parameter_" + std::to_string(i + 1)));
      }
      parameter_schema_ = arrow::schema(std::move(fields));
    } else if (IsBackendUnavailable(parameters.status())) {
      return parameters.status();
    }
    if (kind_ != StatementKind::kUpdate) {
      auto dataset = handle->ExecuteSchema();
      if (dataset.ok()) {
        dataset_schema_ = *dataset;
      } else if (IsBackendUnavailable(dataset.status())) {
        return dataset.status();
      }
    }
    return arrow::Status::OK();
  });
}

arrow::Status AdbcEngineStatement::Bind(std::shared_ptr<arrow::RecordBatch> parameters) {
  if (parameters && parameters->num_rows() == 0) parameters.reset();
  parameters_ = std::move(parameters);
  return arrow::Status::OK();
}

arrow::Result<std::unique_ptr<AdbcStatementHandle>> AdbcEngineStatement::Start(
    const std::shared_ptr<AdbcConnectionLease>& lease, int64_t row) {
  ARROW_ASSIGN_OR_RAISE(auto handle, AdbcStatementHandle::New(lease, connection_->interrupts()));
  ARROW_RETURN_NOT_OK(handle->SetSqlQuery(sql_));
  if (parameters_) {
    auto prepared = handle->Prepare();
    if (!prepared.ok() && !prepared.IsNotImplemented()) return prepared;
    ARROW_RETURN_NOT_OK(handle->Bind(row < 0 ? parameters_ : parameters_->Slice(row, 1)));
  }
  return handle;
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> AdbcEngineStatement::ExecuteQuery() {
  int64_t executions = parameters_ ? parameters_->num_rows() : 1;
  std::shared_ptr<AdbcResultReader> result;
  // A statement that writes (INSERT ... RETURNING, a script) is not run twice.
  const auto retry = kind_ == StatementKind::kQuery ? AdbcEngineConnection::Retry::kIfStale
                                                    : AdbcEngineConnection::Retry::kNever;
  ARROW_RETURN_NOT_OK(connection_->Run(
      [&](const std::shared_ptr<AdbcConnectionLease>& lease) {
        AdbcResultPart first;
        ARROW_ASSIGN_OR_RAISE(first.statement, Start(lease, parameters_ ? 0 : -1));
        ARROW_ASSIGN_OR_RAISE(first.reader, first.statement->ExecuteQuery());
        auto parameters = parameters_;
        auto sql = sql_;
        auto interrupts = connection_->interrupts();
        // Later executions reuse this lease (kept alive by the reader until it is drained).
        auto start = [lease, parameters, sql,
                      interrupts](int64_t row) -> arrow::Result<AdbcResultPart> {
          AdbcResultPart part;
          ARROW_ASSIGN_OR_RAISE(part.statement, AdbcStatementHandle::New(lease, interrupts));
          ARROW_RETURN_NOT_OK(part.statement->SetSqlQuery(sql));
          auto prepared = part.statement->Prepare();
          if (!prepared.ok() && !prepared.IsNotImplemented()) return prepared;
          ARROW_RETURN_NOT_OK(part.statement->Bind(parameters->Slice(row, 1)));
          ARROW_ASSIGN_OR_RAISE(part.reader, part.statement->ExecuteQuery());
          return part;
        };
        result = std::make_shared<AdbcResultReader>(std::move(first), executions, std::move(start));
        connection_->TrackResult(result);
        return arrow::Status::OK();
      },
      retry));
  return result;
}

arrow::Result<int64_t> AdbcEngineStatement::ExecuteUpdate() {
  int64_t rows = -1;
  ARROW_RETURN_NOT_OK(connection_->Run(
      [&](const std::shared_ptr<AdbcConnectionLease>& lease) {
        // The driver runs the statement once per bound row and sums the affected rows.
        ARROW_ASSIGN_OR_RAISE(auto handle, Start(lease, -1));
        ARROW_ASSIGN_OR_RAISE(rows, handle->ExecuteUpdate());
        return arrow::Status::OK();
      },
      AdbcEngineConnection::Retry::kNever));
  return rows;
}

}  // namespace hyprstream::engine
