#include "window/unwatched_write.h"

#include <algorithm>

#include "engine/engine_sql.h"
#include "window/window_catalog.h"
#include "window/windowed_connection.h"

namespace hyprstream::window {

UnwatchedWrite::UnwatchedWrite(std::unique_ptr<engine::EngineStatement> prepared,
                               std::shared_ptr<WindowedConnection> connection, std::string sql,
                               std::vector<TableName> tables)
    : ForwardingStatement(std::move(prepared)),
      connection_(std::move(connection)),
      sql_(std::move(sql)),
      tables_(std::move(tables)) {}

arrow::Status UnwatchedWrite::Bind(std::shared_ptr<arrow::RecordBatch> parameters) {
  parameters_ = parameters;
  if (watched_) ARROW_RETURN_NOT_OK(watched_->Bind(parameters));
  return target().Bind(std::move(parameters));
}

void UnwatchedWrite::SetMaxStaleness(std::optional<std::chrono::milliseconds> max_staleness) {
  max_staleness_ = max_staleness;
  if (watched_) watched_->SetMaxStaleness(max_staleness);
  target().SetMaxStaleness(max_staleness);
}

arrow::Result<engine::EngineStatement*> UnwatchedWrite::Watched() {
  if (!watched_) {
    ARROW_ASSIGN_OR_RAISE(auto prepared, connection_->Prepare(sql_));
    if (parameters_) ARROW_RETURN_NOT_OK(prepared->Bind(parameters_));
    if (max_staleness_) prepared->SetMaxStaleness(max_staleness_);
    watched_ = std::move(prepared);
  }
  return watched_.get();
}

template <typename Result, typename Run>
Result UnwatchedWrite::Execute(Run run) {
  WindowCatalog& catalog = connection_->catalog();
  auto hold = catalog.write_gate().Enter(tables_);
  const bool watched = std::any_of(tables_.begin(), tables_.end(),
                                   [&](const TableName& table) { return catalog.Watches(table); });
  if (!watched) {
    if (connection_->InTransaction()) connection_->WroteUnwatched(tables_);
    return run(target());
  }
  hold = TableWriteGate::Hold();  // the statement prepared again holds what it needs
  ARROW_ASSIGN_OR_RAISE(engine::EngineStatement * statement, Watched());
  return run(*statement);
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> UnwatchedWrite::ExecuteQuery() {
  using Rows = arrow::Result<std::shared_ptr<arrow::RecordBatchReader>>;
  // Run to completion inside the hold.
  return Execute<Rows>(
      [](engine::EngineStatement& statement) { return engine::ExecuteToCompletion(statement); });
}

arrow::Result<int64_t> UnwatchedWrite::ExecuteUpdate() {
  return Execute<arrow::Result<int64_t>>(
      [](engine::EngineStatement& statement) { return statement.ExecuteUpdate(); });
}

}  // namespace hyprstream::window
