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
  if (PinnedForSettingsLocked()) pinned_->MarkBroken();
}

arrow::Result<std::shared_ptr<AdbcConnectionLease>> AdbcEngineConnection::BorrowLocked() {
  if (transaction_lost_) {
    return BackendUnavailable(
        "the transaction was aborted: its backend connection was lost (" +
        transaction_lost_->message() +
        "); nothing more runs in it, and nothing it ran is kept: roll it back and run the "
        "transaction again");
  }
  CheckPinnedLocked();
  if (pinned_) {
    if (auto open = open_result_.lock()) ARROW_RETURN_NOT_OK(open->Materialize());
    open_result_.reset();
    return pinned_;
  }
  if (!session_options_.empty()) return PinLocked();  // its connection died: a new one, set up
  ARROW_ASSIGN_OR_RAISE(auto lease, pool_->Acquire());
  return std::shared_ptr<AdbcConnectionLease>(std::move(lease));
}

arrow::Result<std::shared_ptr<AdbcConnectionLease>> AdbcEngineConnection::PinLocked(
    std::optional<std::chrono::milliseconds> wait) {
  if (pinned_) return pinned_;
  ARROW_ASSIGN_OR_RAISE(auto acquired, pool_->Acquire(wait));
  std::shared_ptr<AdbcConnectionLease> lease = std::move(acquired);
  for (const auto& [key, value] : session_options_) {
    AdbcErrorHolder error;
    ARROW_RETURN_NOT_OK(lease->Check(AdbcStatusToArrow(
        lease->driver()->ConnectionSetOption(lease->get(), key.c_str(), value.c_str(), error.get()),
        error.get(), "setting " + key + " to '" + value + "' again on a new backend connection")));
  }
  pinned_ = lease;
  return pinned_;
}

void AdbcEngineConnection::CheckPinnedLocked() {
  if (!PinnedForSettingsLocked() || in_transaction_ || open_result_.lock()) return;
  if (std::chrono::steady_clock::now() - pinned_used_ < pool_->options().check_idle_after) return;
  auto status = pool_->Check(pinned_->get());
  if (IsBackendUnavailable(status)) {
    pinned_->MarkBroken();
    LosePinnedLocked(status);
  }
}

void AdbcEngineConnection::LosePinnedLocked(const arrow::Status& why) {
  if (in_transaction_) transaction_lost_ = why;
  pinned_.reset();  // (session_options_ stay: set again on the next connection)
}

arrow::Status AdbcEngineConnection::Reserve(std::chrono::milliseconds wait) {
  std::lock_guard<std::mutex> lock(mutex_);
  return PinLocked(wait).status();
}

void AdbcEngineConnection::Unreserve() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!in_transaction_ && !PinnedForSettingsLocked()) pinned_.reset();
}

arrow::Status AdbcEngineConnection::Run(const Operation& operation, Retry retry) {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool was_pinned = pinned_ != nullptr;
  ARROW_ASSIGN_OR_RAISE(auto lease, BorrowLocked());
  auto status = operation(lease);
  if (retry == Retry::kIfStale && IsBackendUnavailable(status) && !in_transaction_ &&
      (lease == pinned_ ? was_pinned : lease->reused())) {
    // The connection died while it sat idle (in the pool, or pinned by the session's
    // settings: those are set again on the new one); the pool dropped the idle ones.
    if (lease == pinned_) LosePinnedLocked(status);
    lease.reset();
    ARROW_ASSIGN_OR_RAISE(lease, BorrowLocked());
    status = operation(lease);
  }
  // The transaction (or the session's settings) died with its connection.
  if (IsBackendUnavailable(status) && lease == pinned_) LosePinnedLocked(status);
  pinned_used_ = std::chrono::steady_clock::now();
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
  CheckPinnedLocked();
  const bool was_pinned = pinned_ != nullptr;
  ARROW_ASSIGN_OR_RAISE(auto pinned, PinLocked());
  auto status = SetAutocommit(*pinned, false);
  if (IsBackendUnavailable(status) && was_pinned) {
    // The session's connection died while it sat idle: begin on a new one.
    LosePinnedLocked(status);
    ARROW_ASSIGN_OR_RAISE(pinned, PinLocked());
    status = SetAutocommit(*pinned, false);
  }
  if (!status.ok()) {
    if (IsBackendUnavailable(status)) {
      LosePinnedLocked(status);  // (no transaction yet: nothing is lost)
    } else if (!PinnedForSettingsLocked()) {
      pinned_.reset();
    }
    return status;
  }
  in_transaction_ = true;
  pinned_used_ = std::chrono::steady_clock::now();
  return arrow::Status::OK();
}

arrow::Status AdbcEngineConnection::EndTransaction(bool commit) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (in_transaction_ && transaction_lost_) {
    // It died with its connection: the backend rolled it back. A rollback ends it as asked.
    const std::string why = transaction_lost_->message();
    transaction_lost_.reset();
    options_set_in_transaction_ = false;  // (the next connection is set up with them)
    in_transaction_ = false;
    if (!commit) return arrow::Status::OK();
    return BackendUnavailable(
        "the transaction was rolled back, not committed: its backend connection was lost (" + why +
        "); run the transaction again");
  }
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
  if (reset.ok() && options_set_in_transaction_ && (!commit || !status.ok())) {
    // The backend undid the session's options set inside it (a client with autocommit off
    // sets them there); they stay the session's. A connection that refuses them is let go:
    // the next one is set up with them.
    for (const auto& [key, value] : session_options_) {
      AdbcErrorHolder option_error;
      if (d->ConnectionSetOption(pinned_->get(), key.c_str(), value.c_str(), option_error.get()) !=
          ADBC_STATUS_OK) {
        pinned_->MarkBroken();
        reset = arrow::Status::IOError("setting ", key, " again after the transaction failed");
        break;
      }
    }
  }
  options_set_in_transaction_ = false;
  in_transaction_ = false;
  // (session_options_ stay: set again on the next connection)
  if (!PinnedForSettingsLocked() || !reset.ok()) pinned_.reset();
  pinned_used_ = std::chrono::steady_clock::now();
  return status;
}

arrow::Status AdbcEngineConnection::Commit() { return EndTransaction(true); }
arrow::Status AdbcEngineConnection::Rollback() { return EndTransaction(false); }

bool AdbcEngineConnection::InTransaction() const { return in_transaction_; }

arrow::Status AdbcEngineConnection::SetSessionOption(const char* key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (transaction_lost_) return BorrowLocked().status();  // (the lost transaction's error)
  CheckPinnedLocked();
  auto set = [&]() -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto lease, PinLocked());
    AdbcErrorHolder error;
    return lease->Check(AdbcStatusToArrow(
        lease->driver()->ConnectionSetOption(lease->get(), key, value.c_str(), error.get()),
        error.get(), std::string("setting ") + key + " to '" + value + "'"));
  };
  auto status = set();
  if (IsBackendUnavailable(status) && !in_transaction_) {
    // The connection died while idle; setting an option writes nothing: on a new one.
    LosePinnedLocked(status);
    status = set();
  }
  if (!status.ok()) {
    if (IsBackendUnavailable(status)) {
      LosePinnedLocked(status);
    } else if (!in_transaction_ && session_options_.empty()) {
      pinned_.reset();
    }
    return status;
  }
  // Kept to be set again on a new connection; a later value of the same key replaces it.
  std::erase_if(session_options_, [&](const auto& option) { return option.first == key; });
  session_options_.emplace_back(key, value);
  if (in_transaction_) options_set_in_transaction_ = true;
  pinned_used_ = std::chrono::steady_clock::now();
  return arrow::Status::OK();
}

arrow::Status AdbcEngineConnection::SetCurrentCatalog(const std::string& catalog) {
  return SetSessionOption(ADBC_CONNECTION_OPTION_CURRENT_CATALOG, catalog);
}

arrow::Status AdbcEngineConnection::SetCurrentSchema(const std::string& schema) {
  return SetSessionOption(ADBC_CONNECTION_OPTION_CURRENT_DB_SCHEMA, schema);
}

}  // namespace hyprstream::engine
