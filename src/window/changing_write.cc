#include "window/changing_write.h"

#include <spdlog/spdlog.h>

#include "engine/engine_sql.h"
#include "window/window_catalog.h"
#include "window/windowed_connection.h"

namespace hyprstream::window {

ChangingWrite::ChangingWrite(std::unique_ptr<engine::EngineStatement> prepared,
                             std::shared_ptr<WindowedConnection> connection,
                             std::optional<std::vector<TableName>> tables, bool deletes)
    : ForwardingStatement(std::move(prepared)),
      connection_(std::move(connection)),
      tables_(std::move(tables)),
      deletes_(deletes) {}

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
  std::optional<WindowCatalog::DeleteWatch> watch;
  Result result = [&]() -> Result {
    if (deletes_ && tables.size() == 1 && catalog.MayFollowDelete(tables.front())) {
      return RunWatched<Result>(run, tables.front(), &watch);
    }
    auto hold = catalog.write_gate().Enter(tables);
    if (tables_) {
      for (const TableName& table : tables) catalog.Diverged(table);
    } else if (!tables.empty()) {
      catalog.DivergedAll();
    }
    return run(target());
  }();
  if (watch) catalog.FollowDelete(*watch);  // writes go on meanwhile
  if (tables_) {
    for (const TableName& table : tables) catalog.ChangeEnded(table);
  } else {
    catalog.ChangeEndedAll();
  }
  return result;
}

template <typename Result, typename Run>
Result ChangingWrite::RunWatched(Run run, const TableName& table,
                                 std::optional<WindowCatalog::DeleteWatch>* watch) {
  WindowCatalog& catalog = connection_->catalog();
  engine::EngineConnection& stored = connection_->stored();
  {
    // No write half done while the snapshots are taken: the watch's and the DELETE's
    // transaction see the same rows (writes go on once they are taken).
    auto exclusion = catalog.write_gate().Exclude(table);
    *watch = catalog.WatchDelete(table, stored);  // (marks those that cannot follow)
  }
  auto hold = catalog.write_gate().Enter({table});
  if (!*watch) return run(target());
  Result ran = run(target());
  if (!ran.ok()) {
    (void)stored.Rollback();
    catalog.AbandonDelete(**watch);
    watch->reset();
    // It lost to another write of the same rows (a PostgreSQL REPEATABLE READ transaction
    // fails where one statement of its own waits and goes on) and changed nothing: run it as
    // it would have run unwatched. The windows are rebuilt.
    if (engine::IsWriteConflict(ran.status())) {
      spdlog::info("a DELETE of {} lost to another write of its rows ({}); running it again",
                   table.key(), ran.status().message());
      return run(target());
    }
    return ran;
  }
  catalog.CheckDelete(**watch, stored);  // (marks those that cannot follow, before the commit)
  // A check that failed may have aborted the transaction (PostgreSQL and DuckDB then answer
  // COMMIT with success while rolling it back): the DELETE changed nothing, and runs again.
  arrow::Status committed =
      engine::TransactionCanCommit(stored)
          ? stored.Commit()
          : engine::WriteConflict("checking its rows aborted its transaction");
  if (!committed.ok()) {
    catalog.AbandonDelete(**watch);
    watch->reset();
    if (engine::IsWriteConflict(committed)) {
      (void)stored.Rollback();
      spdlog::info("a DELETE of {} changed nothing ({}); running it again", table.key(),
                   committed.message());
      return run(target());
    }
    return committed;
  }
  return ran;
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
