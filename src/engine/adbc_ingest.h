// AdbcIngest: columnar bulk ingest through ADBC (adbc.ingest.* options + BindStream) on one
// leased connection; never row-by-row INSERTs. With own_transaction the write is wrapped in a
// transaction (autocommit off, commit or roll back, autocommit on) so it is all-or-nothing.
// One thread at a time.
#pragma once

#include <arrow/record_batch.h>

#include <memory>

#include "engine/adbc_connection_pool.h"
#include "engine/adbc_statement_handle.h"
#include "engine/engine.h"

namespace hyprstream::engine {

class AdbcIngest {
 public:
  AdbcIngest(std::shared_ptr<AdbcConnectionLease> lease,
             std::shared_ptr<AdbcInterruptList> interrupts)
      : lease_(std::move(lease)), interrupts_(std::move(interrupts)) {}

  // Writes every batch of `batches`; returns the rows written.
  arrow::Result<int64_t> Write(const IngestRequest& request, arrow::RecordBatchReader* batches,
                               bool own_transaction);
  // Whether the target table exists (through AdbcConnectionGetTableSchema).
  arrow::Result<bool> TableExists(const IngestRequest& request);

 private:
  arrow::Result<int64_t> WriteOnce(const IngestRequest& request, const char* mode,
                                   arrow::RecordBatchReader* batches);

  std::shared_ptr<AdbcConnectionLease> lease_;
  std::shared_ptr<AdbcInterruptList> interrupts_;
};

// The table's Arrow schema, or KeyError when the table does not exist.
arrow::Result<std::shared_ptr<arrow::Schema>> ReadTableSchema(
    AdbcConnectionLease& lease, const std::optional<std::string>& catalog,
    const std::optional<std::string>& schema, const std::string& table);

}  // namespace hyprstream::engine
