#include "window/changing_write.h"

#include "engine/engine_sql.h"
#include "window/window_catalog.h"
#include "window/windowed_connection.h"

namespace hyprstream::window {

ChangingWrite::ChangingWrite(std::unique_ptr<engine::EngineStatement> prepared,
                             std::shared_ptr<WindowedConnection> connection,
                             std::optional<std::vector<TableName>> tables)
    : ForwardingStatement(std::move(prepared)),
      connection_(std::move(connection)),
      tables_(std::move(tables)) {}

template <typename Result, typename Run>
Result ChangingWrite::Execute(Run run) {
  WindowCatalog& catalog = connection_->catalog();
  if (connection_->InTransaction()) {
    // Others do not see the change before the commit, so the windows still answer them; the
    // commit marks them (see WindowedConnection::HoldForCommit) and its end rebuilds them.
    connection_->Changed(tables_);
    return run(target());
  }
  const std::vector<TableName> tables = tables_ ? *tables_ : catalog.WatchedTables();
  Result result = [&]() -> Result {
    auto hold = catalog.write_gate().Enter(tables);
    if (tables_) {
      for (const TableName& table : tables) catalog.Diverged(table);
    } else if (!tables.empty()) {
      catalog.DivergedAll();
    }
    return run(target());
  }();
  if (tables_) {
    for (const TableName& table : tables) catalog.ChangeEnded(table);
  } else {
    catalog.ChangeEndedAll();
  }
  return result;
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ChangingWrite::ExecuteQuery() {
  using Rows = arrow::Result<std::shared_ptr<arrow::RecordBatchReader>>;
  const bool known = tables_.has_value();
  return Execute<Rows>([known](engine::EngineStatement& statement) -> Rows {
    if (!known) return statement.ExecuteQuery();  // (its rows as they come: it may be a query)
    // Run to completion inside the hold (DELETE ... RETURNING: its rows are read here).
    return engine::ExecuteToCompletion(statement);
  });
}

arrow::Result<int64_t> ChangingWrite::ExecuteUpdate() {
  return Execute<arrow::Result<int64_t>>(
      [](engine::EngineStatement& statement) { return statement.ExecuteUpdate(); });
}

}  // namespace hyprstream::window
