#include "engine/snapshot_read.h"

#include "engine/engine_sql.h"

namespace hyprstream::engine {
namespace {

// The query's rows, run when they are first read (a sort runs then, not while the caller
// holds writes back); ends the connection's read transaction once they are no longer read.
class SnapshotReader : public arrow::RecordBatchReader {
 public:
  SnapshotReader(std::shared_ptr<EngineConnection> connection,
                 std::unique_ptr<EngineStatement> statement)
      : connection_(std::move(connection)), statement_(std::move(statement)) {}
  ~SnapshotReader() override {
    rows_.reset();
    statement_.reset();  // before the pinned connection ends its transaction
  }
  std::shared_ptr<arrow::Schema> schema() const override {
    return rows_ ? rows_->schema() : statement_->dataset_schema();
  }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
    if (!rows_) {
      ARROW_ASSIGN_OR_RAISE(rows_, statement_->ExecuteQuery());
    }
    return rows_->ReadNext(batch);
  }

 private:
  std::shared_ptr<EngineConnection> connection_;  // pinned (PinSnapshot)
  std::unique_ptr<EngineStatement> statement_;
  std::shared_ptr<arrow::RecordBatchReader> rows_;  // once read
};

}  // namespace

arrow::Result<std::shared_ptr<EngineConnection>> PinSnapshot(
    std::shared_ptr<EngineConnection> connection, const std::string& pin) {
  ARROW_RETURN_NOT_OK(connection->BeginTransaction());
  if (auto pinned = QueryValue(*connection, pin); !pinned.ok()) {
    (void)connection->Rollback();
    return pinned.status();
  }
  // The same connection, ending its transaction when the last holder lets go.
  EngineConnection* raw = connection.get();
  return std::shared_ptr<EngineConnection>(
      raw, [held = std::move(connection)](EngineConnection*) { (void)held->Rollback(); });
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ReadPinned(
    std::shared_ptr<EngineConnection> pinned, const std::string& query) {
  ARROW_ASSIGN_OR_RAISE(auto statement, pinned->Prepare(query));
  return std::make_shared<SnapshotReader>(std::move(pinned), std::move(statement));
}

}  // namespace hyprstream::engine
