// AdbcEngineConnection: one Flight SQL session over an AdbcConnectionPool. Each operation
// borrows a pooled backend connection and gives it back afterwards; the session PINS one while
// a transaction is open (autocommit off) and a streaming result pins the connection it reads
// from until drained or destroyed. Operations are serialised by a per-session mutex (never a
// global one); Interrupt() is lock-free with respect to it and cancels the running statements.
// When the pinned connection dies (a backend restart, pg_terminate_backend), an open
// transaction is lost with it: every later operation fails (UNAVAILABLE: roll it back and run
// it again) until the client ends it, so nothing it sends before then runs outside the
// transaction it believes open; Rollback ends it, Commit says it was rolled back. The session's
// own catalog/schema are set again on the next connection it takes.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/adbc_connection_pool.h"
#include "engine/adbc_result_reader.h"
#include "engine/adbc_statement_handle.h"
#include "engine/engine.h"

namespace hyprstream::engine {

class AdbcEngineConnection : public EngineConnection,
                             public std::enable_shared_from_this<AdbcEngineConnection> {
 public:
  explicit AdbcEngineConnection(std::shared_ptr<AdbcConnectionPool> pool)
      : pool_(std::move(pool)), interrupts_(std::make_shared<AdbcInterruptList>()) {}
  ~AdbcEngineConnection() override;

  arrow::Result<std::unique_ptr<EngineStatement>> Prepare(const std::string& sql) override;
  arrow::Result<int64_t> Ingest(const IngestRequest& request,
                                arrow::RecordBatchReader* batches) override;
  arrow::Status BeginTransaction() override;
  arrow::Status Commit() override;
  arrow::Status Rollback() override;
  bool InTransaction() const override;
  void Interrupt() override { interrupts_->CancelAll(); }
  arrow::Result<CatalogObjects> GetCatalogObjects(const CatalogObjectsRequest& request) override;
  arrow::Result<std::vector<std::string>> GetTableTypes() override;
  arrow::Result<std::shared_ptr<arrow::Schema>> GetTableSchema(
      const std::optional<std::string>& catalog, const std::optional<std::string>& schema,
      const std::string& table) override;
  arrow::Result<BackendInfo> GetBackendInfo() override;
  arrow::Status SetCurrentCatalog(const std::string& catalog) override;
  arrow::Status SetCurrentSchema(const std::string& schema) override;

  // Runs `operation` on a backend connection (the pinned one in a transaction, else a pooled
  // one) under the session mutex. When a pooled connection turns out to be stale (the backend
  // restarted while it sat idle), an operation that writes nothing (`kIfStale`: a query, a
  // prepare, a catalog read) is retried once on a new one. A write is not: the backend may have
  // committed it before the connection died (or an administrator ended it), and running it
  // again could apply it twice; its caller gets the error (UNAVAILABLE, retry later).
  enum class Retry { kIfStale, kNever };
  using Operation = std::function<arrow::Status(const std::shared_ptr<AdbcConnectionLease>&)>;
  arrow::Status Run(const Operation& operation, Retry retry = Retry::kIfStale);
  // Remembers a streaming result read from the pinned connection, so the next operation can
  // move it into memory first.
  void TrackResult(const std::shared_ptr<AdbcResultReader>& reader);
  const std::shared_ptr<AdbcInterruptList>& interrupts() const { return interrupts_; }
  // Takes the backend connection this session's next operations and next transaction use,
  // waiting at most `wait` for the pool (for callers that hold a lock others wait for:
  // BackendUnavailable rather than a long wait). Kept until that transaction ends, or
  // Unreserve() when none began.
  arrow::Status Reserve(std::chrono::milliseconds wait);
  void Unreserve();
  std::unique_lock<std::mutex> LockSession() { return std::unique_lock(mutex_); }

 private:
  arrow::Result<std::shared_ptr<AdbcConnectionLease>> BorrowLocked();
  // The connection the session pins: the pinned one, else a pooled one (waiting at most
  // `wait`) with the session's settings applied, pinned. Caller holds mutex_.
  arrow::Result<std::shared_ptr<AdbcConnectionLease>> PinLocked(
      std::optional<std::chrono::milliseconds> wait = std::nullopt);
  // The pinned connection died: a transaction open on it is lost (see above).
  void LosePinnedLocked(const arrow::Status& why);
  // Outside a transaction, a connection pinned for the session's settings that sat idle for
  // the pool's check_idle_after is checked; a dead one is let go (PinLocked sets up a new one).
  void CheckPinnedLocked();
  // The pinned connection is held for the session's settings (caller holds mutex_).
  bool PinnedForSettingsLocked() const { return pinned_ && !session_options_.empty(); }
  arrow::Status EndTransaction(bool commit);
  arrow::Status SetSessionOption(const char* key, const std::string& value);

  std::shared_ptr<AdbcConnectionPool> pool_;
  std::shared_ptr<AdbcInterruptList> interrupts_;
  mutable std::mutex mutex_;
  // Set while a transaction is open, or for good once the session chose its own current
  // catalog/schema (those are per backend connection).
  std::shared_ptr<AdbcConnectionLease> pinned_;
  std::atomic<bool> in_transaction_{false};  // read without the session mutex
  // GUARDED_BY(mutex_): set when the open transaction's connection died (in_transaction_
  // stays true until the client ends it); the failure, for the messages.
  std::optional<arrow::Status> transaction_lost_;
  // GUARDED_BY(mutex_): the session's own settings (catalog, schema), in the order set.
  std::vector<std::pair<std::string, std::string>> session_options_;
  // GUARDED_BY(mutex_): an option was set inside the open transaction. PostgreSQL undoes a
  // SET of a transaction that does not commit, so they are set again after it.
  bool options_set_in_transaction_ = false;
  // GUARDED_BY(mutex_): when the pinned connection's last operation ended.
  std::chrono::steady_clock::time_point pinned_used_{};
  std::weak_ptr<AdbcResultReader> open_result_;
};

// Autocommit on/off on a leased connection.
arrow::Status SetAutocommit(AdbcConnectionLease& lease, bool on);

}  // namespace hyprstream::engine
