// UnwatchedWrite: a statement that writes tables which had no windows when it was prepared.
// A client may keep a prepared INSERT for the life of its session and a window be defined on
// its table meanwhile; the windows must then get its rows. Each execution enters the tables'
// write gate and checks whether any of them has windows now:
//   - none: it runs as prepared, inside the hold, so a definition being created waits for it
//     and reads its rows (inside a transaction, the connection is told, for the commit);
//   - one does: it runs as the windows layer prepares it now (its rows folded, or refused
//     like any write those windows cannot follow), prepared again once.
//
// Ownership: owns the prepared statement; shares the connection. Threading: one caller at a
// time, like every statement.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/forwarding_engine.h"
#include "window/window_definition.h"

namespace hyprstream::window {

class WindowedConnection;

class UnwatchedWrite : public engine::ForwardingStatement {
 public:
  // `tables`: what the statement writes.
  UnwatchedWrite(std::unique_ptr<engine::EngineStatement> prepared,
                 std::shared_ptr<WindowedConnection> connection, std::string sql,
                 std::vector<TableName> tables);

  arrow::Status Bind(std::shared_ptr<arrow::RecordBatch> parameters) override;
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override;
  arrow::Result<int64_t> ExecuteUpdate() override;
  void SetMaxStaleness(std::optional<std::chrono::milliseconds> max_staleness) override;

 private:
  // Runs `run` on the statement as prepared inside the tables' hold when none of them has
  // windows; else on the statement prepared again.
  template <typename Result, typename Run>
  Result Execute(Run run);
  arrow::Result<engine::EngineStatement*> Watched();

  std::shared_ptr<WindowedConnection> connection_;
  const std::string sql_;
  const std::vector<TableName> tables_;
  std::shared_ptr<arrow::RecordBatch> parameters_;  // the last bound
  std::optional<std::chrono::milliseconds> max_staleness_;
  std::unique_ptr<engine::EngineStatement> watched_;  // prepared again once a table has windows
};

}  // namespace hyprstream::window
