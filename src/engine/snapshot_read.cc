#include "engine/snapshot_read.h"

#include <arrow/table.h>

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

bool SameColumns(const arrow::Schema& a, const arrow::Schema& b) {
  if (a.num_fields() != b.num_fields()) return false;
  for (int i = 0; i < a.num_fields(); ++i) {
    if (a.field(i)->name() != b.field(i)->name() || !a.field(i)->type()->Equals(b.field(i)->type()))
      return false;
  }
  return true;
}

// The rows of one query after another (ReadPinnedInTurn); each runs when it is reached.
class InTurnReader : public arrow::RecordBatchReader {
 public:
  InTurnReader(std::shared_ptr<EngineConnection> connection, NextQuery next, Arrange arrange,
               std::unique_ptr<EngineStatement> first)
      : connection_(std::move(connection)),
        next_(std::move(next)),
        arrange_(std::move(arrange)),
        schema_(first->dataset_schema()),
        statement_(std::move(first)) {}
  ~InTurnReader() override {
    rows_.reset();
    statement_.reset();  // before the pinned connection ends its transaction
  }
  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
    while (statement_ != nullptr) {
      if (!rows_) {
        ARROW_RETURN_NOT_OK(Run());
        read_ = 0;
      }
      ARROW_RETURN_NOT_OK(rows_->ReadNext(batch));
      if (*batch != nullptr) {
        read_ += (*batch)->num_rows();
        return arrow::Status::OK();
      }
      rows_.reset();
      statement_.reset();
      if (auto query = next_(read_)) {
        ARROW_ASSIGN_OR_RAISE(statement_, connection_->Prepare(*query));
      }
    }
    batch->reset();
    return arrow::Status::OK();
  }

 private:
  // Runs the current statement: rows_ streams its rows, or (arrange_) gives them out arranged.
  arrow::Status Run() {
    ARROW_ASSIGN_OR_RAISE(auto rows, statement_->ExecuteQuery());
    if (!SameColumns(*rows->schema(), *schema_)) {
      return arrow::Status::Invalid("a query read in turn gave the columns ",
                                    rows->schema()->ToString(), " instead of ",
                                    schema_->ToString());
    }
    if (!arrange_) {
      rows_ = std::move(rows);
      return arrow::Status::OK();
    }
    ARROW_ASSIGN_OR_RAISE(auto whole, rows->ToTable());
    rows.reset();
    ARROW_ASSIGN_OR_RAISE(auto arranged, arrange_(std::move(whole)));
    rows_ = std::make_shared<arrow::TableBatchReader>(std::move(arranged));
    return arrow::Status::OK();
  }

  std::shared_ptr<EngineConnection> connection_;  // pinned (PinSnapshot)
  NextQuery next_;
  Arrange arrange_;
  std::shared_ptr<arrow::Schema> schema_;           // the first query's
  std::unique_ptr<EngineStatement> statement_;      // the query being read; null at the end
  std::shared_ptr<arrow::RecordBatchReader> rows_;  // its rows, once it runs
  int64_t read_ = 0;                                // rows it gave so far
};

}  // namespace

arrow::Result<std::shared_ptr<EngineConnection>> PinSnapshot(
    std::shared_ptr<EngineConnection> connection, const std::string& pin,
    const std::vector<std::string>& setup) {
  ARROW_RETURN_NOT_OK(connection->BeginTransaction());
  arrow::Status pinned;
  for (const std::string& statement : setup) {
    if (pinned.ok()) pinned = ExecuteStatement(*connection, statement);
  }
  if (pinned.ok()) pinned = QueryValue(*connection, pin).status();
  if (!pinned.ok()) {
    (void)connection->Rollback();
    return pinned;
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

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ReadPinnedInTurn(
    std::shared_ptr<EngineConnection> pinned, NextQuery next, Arrange arrange) {
  const std::optional<std::string> first = next(-1);
  if (!first) return arrow::Status::Invalid("ReadPinnedInTurn needs a first query");
  ARROW_ASSIGN_OR_RAISE(auto statement, pinned->Prepare(*first));
  return std::make_shared<InTurnReader>(std::move(pinned), std::move(next), std::move(arrange),
                                        std::move(statement));
}

}  // namespace hyprstream::engine
