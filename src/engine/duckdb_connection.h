// EngineConnection over one duckdb_connection (held by a DuckDbSession). Every method takes the
// session mutex and first drains the streaming result still open on the connection (if any),
// so earlier readers stay valid. InTransaction() follows BeginTransaction/Commit/Rollback and
// transaction statements issued as SQL. Interrupt() is lock-free.
#pragma once

#include "engine/duckdb_session.h"
#include "engine/engine.h"

#include <memory>

namespace hyprstream::engine {

class DuckDbConnection : public EngineConnection {
 public:
  explicit DuckDbConnection(std::shared_ptr<DuckDbSession> session)
      : session_(std::move(session)) {}

  arrow::Result<std::unique_ptr<EngineStatement>> Prepare(const std::string& sql) override;
  arrow::Result<int64_t> Ingest(const IngestRequest& request,
                                arrow::RecordBatchReader* batches) override;
  arrow::Status BeginTransaction() override;
  arrow::Status Commit() override;
  arrow::Status Rollback() override;
  bool InTransaction() const override { return session_->in_transaction(); }
  void Interrupt() override { session_->Interrupt(); }
  std::optional<double> QueryProgress() const override;
  arrow::Result<std::vector<std::string>> StatementTypes(const std::string& sql) override;

 private:
  arrow::Status RunTransactionStatement(const std::string& sql);

  std::shared_ptr<DuckDbSession> session_;
};

}  // namespace hyprstream::engine
