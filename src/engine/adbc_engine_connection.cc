#include "engine/adbc_engine_connection.h"

#include <arrow/c/bridge.h>

#include "engine/adbc_engine_statement.h"
#include "engine/adbc_ingest.h"
#include "engine/adbc_status.h"

namespace hyprstream::engine {

arrow::Status SetAutocommit(AdbcConnectionLease& lease, bool on) {
  AdbcErrorHolder error;
  return lease.Check(AdbcStatusToArrow(
      lease.driver()->ConnectionSetOption(
          lease.get(), ADBC_CONNECTION_OPTION_AUTOCOMMIT,
          on ? ADBC_OPTION_VALUE_ENABLED : ADBC_OPTION_VALUE_DISABLED, error.get()),
      error.get(), on ? "turning autocommit on" : "turning autocommit off"));
}

AdbcEngineConnection::~AdbcEngineConnection() {
  // An abandoned transaction is rolled back before the connection goes back to the pool.
  if (in_transaction_ && pinned_) {
    AdbcErrorHolder error;
    if (pinned_->driver()->ConnectionRollback(pinned_->get(), error.get()) != ADBC_STATUS_OK ||
        !SetAutocommit(*pinned_, true).ok()) {
      pinned_->MarkBroken();
    }
  }
  // Session settings live on the pinned connection: do not hand them to another session.
  if (session_pinned_ && pinned_) pinned_->MarkBroken();
}

arrow::Result<std::shared_ptr<AdbcConnectionLease>> AdbcEngineConnection::BorrowLocked() {
  if (pinned_) {
    if (auto open = open_result_.lock()) ARROW_RETURN_NOT_OK(open->Materialize());
    open_result_.reset();
    return pinned_;
  }
  ARROW_ASSIGN_OR_RAISE(auto lease, pool_->Acquire());
  return std::shared_ptr<AdbcConnectionLease>(std::move(lease));
}

arrow::Status AdbcEngineConnection::Reserve(std::chrono::milliseconds wait) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pinned_) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto lease, pool_->Acquire(wait));
  pinned_ = std::move(lease);
  return arrow::Status::OK();
}

void AdbcEngineConnection::Unreserve() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!in_transaction_ && !session_pinned_) pinned_.reset();
}

arrow::Status AdbcEngineConnection::Run(const Operation& operation, Retry retry) {
  std::lock_guard<std::mutex> lock(mutex_);
  ARROW_ASSIGN_OR_RAISE(auto lease, BorrowLocked());
  auto status = operation(lease);
  if (retry == Retry::kIfStale && IsBackendUnavailable(status) && lease != pinned_ &&
      lease->reused()) {
    // The idle connection died with the backend (restart); the pool dropped the idle ones.
    lease.reset();
    ARROW_ASSIGN_OR_RAISE(lease, BorrowLocked());
    status = operation(lease);
  }
  if (IsBackendUnavailable(status) && lease == pinned_) {
    // The transaction (or session state) died with its connection.
    pinned_.reset();
    in_transaction_ = false;
    session_pinned_ = false;
  }
  return status;
}

void AdbcEngineConnection::TrackResult(const std::shared_ptr<AdbcResultReader>& reader) {
  // Called from inside Run (session mutex held).
  open_result_ = reader;
}

arrow::Result<std::unique_ptr<EngineStatement>> AdbcEngineConnection::Prepare(
    const std::string& sql) {
  return AdbcEngineStatement::Make(shared_from_this(), sql);
}

arrow::Result<int64_t> AdbcEngineConnection::Ingest(const IngestRequest& request,
                                                    arrow::RecordBatchReader* batches) {
  int64_t rows = 0;
  ARROW_RETURN_NOT_OK(Run(
      [&](const std::shared_ptr<AdbcConnectionLease>& lease) {
        AdbcIngest ingest(lease, interrupts_);
        ARROW_ASSIGN_OR_RAISE(rows,
                              ingest.Write(request, batches, /*own_transaction=*/!in_transaction_));
        return arrow::Status::OK();
      },
      Retry::kNever));
  return rows;
}

arrow::Status AdbcEngineConnection::BeginTransaction() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (in_transaction_) return arrow::Status::Invalid("a transaction is already open");
  if (!pinned_) {
    auto lease = pool_->Acquire();
    if (!lease.ok()) return lease.status();
    pinned_ = std::move(*lease);
  }
  auto status = SetAutocommit(*pinned_, false);
  if (!status.ok()) {
    if (!session_pinned_) pinned_.reset();
    return status;
  }
  in_transaction_ = true;
  return arrow::Status::OK();
}

arrow::Status AdbcEngineConnection::EndTransaction(bool commit) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!in_transaction_ || !pinned_) {
    return arrow::Status::Invalid("no transaction is open");
  }
  if (auto open = open_result_.lock()) (void)open->Materialize();
  open_result_.reset();
  auto* d = pinned_->driver();
  AdbcErrorHolder error;
  auto status = pinned_->Check(AdbcStatusToArrow(
      commit ? d->ConnectionCommit(pinned_->get(), error.get())
             : d->ConnectionRollback(pinned_->get(), error.get()),
      error.get(), commit ? "committing the transaction" : "rolling back the transaction"));
  if (!status.ok() && commit && !IsBackendUnavailable(status)) {
    // A failed commit leaves the backend transaction aborted; end it.
    AdbcErrorHolder ignored;
    d->ConnectionRollback(pinned_->get(), ignored.get());
  }
  // Back to autocommit (this also ends the transaction on drivers that keep one open).
  auto reset = SetAutocommit(*pinned_, true);
  if (!reset.ok()) pinned_->MarkBroken();
  in_transaction_ = false;
  if (!session_pinned_ || !reset.ok()) {
    pinned_.reset();
    session_pinned_ = false;
  }
  return status;
}

arrow::Status AdbcEngineConnection::Commit() { return EndTransaction(true); }
arrow::Status AdbcEngineConnection::Rollback() { return EndTransaction(false); }

bool AdbcEngineConnection::InTransaction() const { return in_transaction_; }

arrow::Status AdbcEngineConnection::SetSessionOption(const char* key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::shared_ptr<AdbcConnectionLease> lease = pinned_;
  if (!lease) {
    ARROW_ASSIGN_OR_RAISE(auto acquired, pool_->Acquire());
    lease = std::move(acquired);
  }
  AdbcErrorHolder error;
  ARROW_RETURN_NOT_OK(lease->Check(AdbcStatusToArrow(
      lease->driver()->ConnectionSetOption(lease->get(), key, value.c_str(), error.get()),
      error.get(), std::string("setting ") + key + " to '" + value + "'")));
  pinned_ = lease;
  session_pinned_ = true;
  return arrow::Status::OK();
}

arrow::Status AdbcEngineConnection::SetCurrentCatalog(const std::string& catalog) {
  return SetSessionOption(ADBC_CONNECTION_OPTION_CURRENT_CATALOG, catalog);
}

arrow::Status AdbcEngineConnection::SetCurrentSchema(const std::string& schema) {
  return SetSessionOption(ADBC_CONNECTION_OPTION_CURRENT_DB_SCHEMA, schema);
}

}  // namespace hyprstream::engine
