// ChangingWrite: a statement that changes rows of tables with windows in ways the windows
// cannot follow: an UPDATE, DELETE or upsert on `metrics` (allowed, e.g. for retention), or a
// statement whose written tables cannot be told (EXECUTE, CALL, DROP ... CASCADE: every table
// with windows). Outside a transaction each execution holds the tables' write gate while it
// runs; inside it, the tables' windows stop answering queries (WindowCatalog::Diverged), so a
// state being built meanwhile is not published as answering, and once it returns they are
// rebuilt in the background (ChangeEnded). Inside a transaction others do not see the change
// until it commits: the connection is told, and marks the windows as the transaction commits
// and has them rebuilt when it ends.
//
// A statement whose tables are known runs to completion inside the hold (its result rows, if
// any, are read there); one whose tables cannot be told may be a query and keeps its rows as
// they come (DuckDB has run its writes when the first rows can be read).
//
// A DELETE of one table outside a transaction that removed only its oldest rows (retention)
// is followed without a rebuild where the windows allow (WindowCatalog::FollowDelete), their
// state answering throughout: it runs in a transaction of its own, checked before it commits
// (those that cannot follow stop answering then). Where that transaction loses
// to another write of the same rows (engine::IsWriteConflict: PostgreSQL's REPEATABLE READ),
// it is rolled back and the DELETE runs again as it would unwatched.
//
// Ownership: owns the prepared statement; shares the connection. Threading: one caller at a
// time, like every statement.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "engine/forwarding_engine.h"
#include "window/window_catalog.h"
#include "window/window_definition.h"

namespace hyprstream::window {

class WindowedConnection;

class ChangingWrite : public engine::ForwardingStatement {
 public:
  // `tables`: what the statement changes; nullopt: it cannot be told (every table with
  // windows, as they are when it runs). `deletes`: it is a DELETE (removes rows, changes none).
  ChangingWrite(std::unique_ptr<engine::EngineStatement> prepared,
                std::shared_ptr<WindowedConnection> connection,
                std::optional<std::vector<TableName>> tables, bool deletes = false);

  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override;
  arrow::Result<int64_t> ExecuteUpdate() override;

 private:
  template <typename Result, typename Run>
  Result Execute(Run run);
  // A DELETE of `table` that the windows may follow: run in a transaction of its own whose
  // snapshot matches the watch's (WindowCatalog::WatchDelete), checked before it commits.
  template <typename Result, typename Run>
  Result RunWatched(Run run, const TableName& table,
                    std::optional<WindowCatalog::DeleteWatch>* watch);

  std::shared_ptr<WindowedConnection> connection_;
  const std::optional<std::vector<TableName>> tables_;
  const bool deletes_;
};

}  // namespace hyprstream::window
