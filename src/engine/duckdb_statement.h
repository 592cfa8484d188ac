// EngineStatement over a duckdb_prepared_statement. kind() follows DuckDB's statement type:
// SELECT -> kQuery; INSERT/UPDATE/DELETE/CREATE/DROP/ALTER/COPY/... -> kUpdate; EXPLAIN,
// PRAGMA, SET, CALL, transaction control, ... -> kOther. dataset_schema() is what DuckDB knows
// after preparing (DML describes its "Count" BIGINT column), null while it depends on
// parameter types. Executions take the session mutex; the statement itself is used by one
// thread at a time (engine.h). A statement that is exactly a call of a direct-read table
// function (direct_table_call.h) is answered from the function's rows when they have the
// columns DuckDB described (and the transaction, if any, is not aborted); otherwise DuckDB
// runs it. A query comparing TIMESTAMP columns with the clock runs with the clock side cast to
// TIMESTAMP while the session is in UTC (sql/clock_bounds.h: the same rows, without casting
// every row); checked again at each execution.
#pragma once

#include "engine/direct_table_call.h"
#include "engine/duckdb_result_reader.h"
#include "engine/duckdb_session.h"
#include "engine/engine.h"

#include <memory>
#include <string>

namespace hyprstream::engine {

class DuckDbStatement : public EngineStatement {
 public:
  // Session mutex held and quiesced.
  static arrow::Result<std::unique_ptr<DuckDbStatement>> PrepareLocked(
      std::shared_ptr<DuckDbSession> session, const std::string& sql);
  ~DuckDbStatement() override;

  StatementKind kind() const override { return kind_; }
  std::shared_ptr<arrow::Schema> dataset_schema() const override { return dataset_schema_; }
  std::shared_ptr<arrow::Schema> parameter_schema() const override { return parameter_schema_; }

  arrow::Status Bind(std::shared_ptr<arrow::RecordBatch> parameters) override;
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override;
  arrow::Result<int64_t> ExecuteUpdate() override;

 private:
  DuckDbStatement(std::shared_ptr<DuckDbSession> session, SharedPrepared prepared, std::string sql);
  arrow::Status DescribeLocked();
  // The direct answer, or null to run the statement in DuckDB.
  std::shared_ptr<arrow::RecordBatchReader> ExecuteDirect();

  std::shared_ptr<DuckDbSession> session_;
  SharedPrepared prepared_;
  std::string sql_;
  duckdb_statement_type statement_type_ = DUCKDB_STATEMENT_TYPE_INVALID;
  StatementKind kind_ = StatementKind::kOther;
  // The table each result column comes from, where the query shows it (see
  // sql/select_item_origins.h); empty when none does.
  std::vector<ColumnOrigin> ColumnOriginsLocked(size_t columns);
  // After an execution: what it changed in the session (transaction flag, namespace).
  void NoteExecutedLocked(bool succeeded);
  std::vector<ColumnOrigin> origins_;
  std::shared_ptr<arrow::Schema> dataset_schema_;
  std::shared_ptr<arrow::Schema> parameter_schema_;
  std::shared_ptr<arrow::RecordBatch> parameters_;
  // Set when the SQL is a call of a direct-read table function.
  std::shared_ptr<const TableFunctionSpec> direct_function_;
  TableFunctionArgs direct_args_;
  std::vector<std::string> direct_columns_;  // empty: every column
  SharedPrepared probe_;  // SELECT 1: whether the transaction still runs statements
  // prepared_ is sql/clock_bounds.h's rewrite of sql_, exact while the session is in UTC.
  bool clock_cast_ = false;
  // Before an execution: prepares sql_ as written if the rewrite is no longer exact.
  arrow::Status KeepExactLocked();
};

}  // namespace hyprstream::engine
