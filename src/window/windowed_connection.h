// WindowedConnection: one session of the windows layer (windowed_engine.h). Prepare sends
// each statement its way: writes to tables with windows through a statement that captures the
// rows stored (or refused), queries the windows answer to window state, window functions to
// the host, everything else to the engine below unchanged. The rows written in an open
// transaction (API BeginTransaction or SQL BEGIN) are kept here and folded into the windows
// only once it commits; before a commit the transaction is probed, because DuckDB and
// PostgreSQL both answer COMMIT of a transaction a failed statement aborted with success
// while rolling it back.
//
// Threading: like every EngineConnection, calls may come from several threads; this layer's
// own state is guarded by mutex_.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/forwarding_engine.h"
#include "sql/statement_info.h"
#include "window/windowed_engine.h"

namespace hyprstream::window {

class WindowedConnection : public engine::ForwardingConnection,
                           public std::enable_shared_from_this<WindowedConnection> {
 public:
  WindowedConnection(std::shared_ptr<WindowedShared> shared,
                     std::shared_ptr<engine::EngineConnection> inner)
      : ForwardingConnection(std::move(inner)), shared_(std::move(shared)) {}

  arrow::Result<std::unique_ptr<engine::EngineStatement>> Prepare(const std::string& sql) override;
  arrow::Result<int64_t> Ingest(const engine::IngestRequest& request,
                                arrow::RecordBatchReader* batches) override;
  arrow::Status BeginTransaction() override;
  arrow::Status Commit() override;
  arrow::Status Rollback() override;
  bool InTransaction() const override;
  // The backend's objects without the layer's own (window definitions and history).
  arrow::Result<engine::CatalogObjects> GetCatalogObjects(
      const engine::CatalogObjectsRequest& request) override;

  // For this connection's statements. Rows of `table` were stored by a statement that
  // succeeded: folded now, or when the open transaction commits.
  void Written(const TableName& table, arrow::RecordBatchVector rows);
  // Before a SQL COMMIT runs: whether the transaction can still commit (see above).
  bool TransactionAlive();
  // Around a commit: its rows reach the engine's copy (a cache) as it commits and the windows
  // just after, so the tables they were written to are held (TableWriteGate) until then. The
  // tables it changed (Changed) are held too, and marked diverged again inside the hold, so a
  // state built from a snapshot taken before the commit is not published as answering.
  TableWriteGate::Hold HoldForCommit();
  // Inside the open transaction, a ChangingWrite changed `tables` (nullopt: tables that
  // cannot be told): their windows are rebuilt once it ends (WindowCatalog::ChangeEnded).
  void Changed(const std::optional<std::vector<TableName>>& tables);
  // After a transaction-control statement ran as SQL.
  void TransactionStatementRan(sql::StatementKind kind, bool succeeded, bool alive);
  // Where window functions and queries answered from window state run.
  arrow::Result<std::shared_ptr<engine::EngineConnection>> Host();
  WindowCatalog& catalog() const { return *shared_->catalog; }
  // The engine's connection below the windows layer, for a statement that runs its own
  // transaction there (ChangingWrite, for a DELETE the windows follow).
  engine::EngineConnection& stored() const { return target(); }
  // Inside the open transaction, a write to `tables` ran while they had no windows: should
  // one get windows before the commit, they miss its rows (WindowCatalog::MissedRows).
  void WroteUnwatched(const std::vector<TableName>& tables);

 private:
  arrow::Result<std::unique_ptr<engine::EngineStatement>> PrepareOne(
      const sql::StatementInfo& statement, const std::string& sql);
  // The statement for a write to `table` (which has windows).
  arrow::Result<std::unique_ptr<engine::EngineStatement>> PrepareWrite(
      const sql::StatementInfo& statement, const std::string& sql, const TableName& table,
      sql::WriteMode mode);
  // The open transaction ended: its rows fold into the windows (committed) or are dropped.
  void EndTransaction(bool committed);

  std::shared_ptr<WindowedShared> shared_;

  mutable std::mutex mutex_;
  std::shared_ptr<engine::EngineConnection> host_;  // guarded by mutex_; lazily
  bool sql_transaction_ = false;                    // guarded by mutex_: a SQL BEGIN is open
  // Rows written in the open transaction, by table; guarded by mutex_.
  std::vector<std::pair<TableName, arrow::RecordBatchVector>> pending_;
  // Tables the open transaction wrote while they had no windows; guarded by mutex_.
  std::vector<TableName> unwatched_written_;
  // Tables the open transaction changed (ChangingWrite), and whether it ran writes that
  // cannot be told; guarded by mutex_.
  std::vector<TableName> changed_;
  bool changed_unknown_ = false;
};

}  // namespace hyprstream::window
