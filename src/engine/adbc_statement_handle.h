// AdbcStatementHandle: one AdbcStatement on a leased connection, with Arrow-typed calls
// (bind a batch or a stream, execute to a RecordBatchReader or a row count). Released with
// the handle. Used by one thread at a time; Cancel() may be called from any thread while the
// handle is registered in an AdbcInterruptList.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "engine/adbc_connection_pool.h"

namespace hyprstream::engine {

class AdbcStatementHandle;

// Imports a driver's result stream as a RecordBatchReader. The stream is wrapped first so its
// release always leaves it marked released (some drivers, e.g. the Go-based Flight SQL one,
// do not clear the callback, which Arrow's importer treats as fatal); its batches come out
// with every buffer aligned to its values' size (PostgreSQL's driver gives odd addresses).
arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ImportDriverStream(
    ArrowArrayStream* stream);

// The statements running (or streaming) for one session; Interrupt() cancels them all.
class AdbcInterruptList {
 public:
  void Add(AdbcStatementHandle* handle);
  void Remove(AdbcStatementHandle* handle);
  void CancelAll();

 private:
  std::mutex mutex_;
  std::set<AdbcStatementHandle*> running_;
};

class AdbcStatementHandle {
 public:
  // A new statement on `lease`'s connection, registered in `interrupts` (may be null).
  static arrow::Result<std::unique_ptr<AdbcStatementHandle>> New(
      std::shared_ptr<AdbcConnectionLease> lease, std::shared_ptr<AdbcInterruptList> interrupts);
  ~AdbcStatementHandle();

  arrow::Status SetSqlQuery(const std::string& sql);
  arrow::Status SetOption(const std::string& key, const std::string& value);
  arrow::Status Prepare();
  // Parameter schema after Prepare; NotImplemented when the driver cannot tell.
  arrow::Result<std::shared_ptr<arrow::Schema>> ParameterSchema();
  // Result schema without executing; NotImplemented when the driver cannot tell.
  arrow::Result<std::shared_ptr<arrow::Schema>> ExecuteSchema();
  arrow::Status Bind(const std::shared_ptr<arrow::RecordBatch>& batch);
  arrow::Status BindStream(std::shared_ptr<arrow::RecordBatchReader> reader);
  // Executes and streams the result (the reader must be released before this handle).
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery();
  // Executes without a result; the affected rows or -1.
  arrow::Result<int64_t> ExecuteUpdate();
  void Cancel();

  AdbcConnectionLease& lease() { return *lease_; }
  const std::shared_ptr<AdbcConnectionLease>& shared_lease() const { return lease_; }

 private:
  AdbcStatementHandle(std::shared_ptr<AdbcConnectionLease> lease,
                      std::shared_ptr<AdbcInterruptList> interrupts)
      : lease_(std::move(lease)), interrupts_(std::move(interrupts)) {}
  arrow::Status Check(AdbcStatusCode code, AdbcError* error, const char* what);

  std::shared_ptr<AdbcConnectionLease> lease_;
  std::shared_ptr<AdbcInterruptList> interrupts_;
  AdbcStatement statement_{};
  bool open_ = false;
};

}  // namespace hyprstream::engine
