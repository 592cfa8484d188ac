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
    statement_.reset();
    (void)connection_->Rollback();
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
  std::shared_ptr<EngineConnection> connection_;
  std::unique_ptr<EngineStatement> statement_;
  std::shared_ptr<arrow::RecordBatchReader> rows_;  // once read
};

}  // namespace

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ReadInSnapshot(
    std::shared_ptr<EngineConnection> connection, const std::string& pin,
    const std::string& query) {
  ARROW_RETURN_NOT_OK(connection->BeginTransaction());
  auto rows = [&]() -> arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> {
    ARROW_RETURN_NOT_OK(QueryValue(*connection, pin).status());
    ARROW_ASSIGN_OR_RAISE(auto statement, connection->Prepare(query));
    return std::make_shared<SnapshotReader>(connection, std::move(statement));
  }();
  if (!rows.ok()) (void)connection->Rollback();
  return rows;
}

}  // namespace hyprstream::engine
