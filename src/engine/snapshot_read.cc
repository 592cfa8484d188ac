#include "engine/snapshot_read.h"

#include "engine/engine_sql.h"

namespace hyprstream::engine {
namespace {

// The query's rows; ends the connection's read transaction once they are no longer read.
class SnapshotReader : public arrow::RecordBatchReader {
 public:
  SnapshotReader(std::shared_ptr<EngineConnection> connection,
                 std::unique_ptr<EngineStatement> statement,
                 std::shared_ptr<arrow::RecordBatchReader> rows)
      : connection_(std::move(connection)),
        statement_(std::move(statement)),
        rows_(std::move(rows)) {}
  ~SnapshotReader() override {
    rows_.reset();
    statement_.reset();
    (void)connection_->Rollback();
  }
  std::shared_ptr<arrow::Schema> schema() const override { return rows_->schema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
    return rows_->ReadNext(batch);
  }

 private:
  std::shared_ptr<EngineConnection> connection_;
  std::unique_ptr<EngineStatement> statement_;
  std::shared_ptr<arrow::RecordBatchReader> rows_;
};

}  // namespace

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ReadInSnapshot(
    std::shared_ptr<EngineConnection> connection, const std::string& pin,
    const std::string& query) {
  ARROW_RETURN_NOT_OK(connection->BeginTransaction());
  auto rows = [&]() -> arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> {
    ARROW_RETURN_NOT_OK(QueryValue(*connection, pin).status());
    ARROW_ASSIGN_OR_RAISE(auto statement, connection->Prepare(query));
    ARROW_ASSIGN_OR_RAISE(auto reader, statement->ExecuteQuery());
    return std::make_shared<SnapshotReader>(connection, std::move(statement), std::move(reader));
  }();
  if (!rows.ok()) (void)connection->Rollback();
  return rows;
}

}  // namespace hyprstream::engine
