#include "engine/adbc_ingest.h"

#include <arrow/c/bridge.h>

#include <atomic>

#include "engine/adbc_engine_connection.h"
#include "engine/adbc_status.h"

namespace hyprstream::engine {
namespace {

// The most rows the driver gets in one batch. PostgreSQL's driver encodes each batch whole
// before sending any of it: 2M rows took 2.5 s as one batch and 1.2-1.4 s as 16k- or 64k-row
// slices (bench/results/2026-12-07-windows-from-the-copy-read-recent-rows.md).
constexpr int64_t kDriverBatchRows = 16384;

// Passes the caller's batches through to the driver (larger ones as zero-copy slices of at most
// kDriverBatchRows rows), counting rows on the way and keeping the caller's own error: a driver
// reports a stream that failed as its own IO error.
class CountingReader : public arrow::RecordBatchReader {
 public:
  CountingReader(arrow::RecordBatchReader* source, std::atomic<int64_t>* rows,
                 arrow::Status* source_error)
      : source_(source), rows_(rows), source_error_(source_error) {}
  std::shared_ptr<arrow::Schema> schema() const override { return source_->schema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
    if (!pending_ || sliced_ >= pending_->num_rows()) {
      pending_.reset();
      sliced_ = 0;
      arrow::Status status = source_->ReadNext(&pending_);
      if (!status.ok()) {
        *source_error_ = status;
        return status;
      }
      if (!pending_ || pending_->num_rows() <= kDriverBatchRows) {
        *batch = std::move(pending_);
        if (*batch) *rows_ += (*batch)->num_rows();
        return arrow::Status::OK();
      }
    }
    *batch = pending_->Slice(sliced_, kDriverBatchRows);
    sliced_ += (*batch)->num_rows();
    *rows_ += (*batch)->num_rows();
    return arrow::Status::OK();
  }

 private:
  arrow::RecordBatchReader* source_;
  std::atomic<int64_t>* rows_;
  arrow::Status* source_error_;
  std::shared_ptr<arrow::RecordBatch> pending_;  // a large batch, sliced up to `sliced_` rows
  int64_t sliced_ = 0;
};

std::string Describe(const IngestRequest& request) {
  std::string name;
  if (request.catalog) name += *request.catalog + ".";
  if (request.schema) name += *request.schema + ".";
  return name + request.table;
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::Schema>> ReadTableSchema(
    AdbcConnectionLease& lease, const std::optional<std::string>& catalog,
    const std::optional<std::string>& schema, const std::string& table) {
  ArrowSchema c_schema{};
  AdbcErrorHolder error;
  auto code = lease.driver()->ConnectionGetTableSchema(
      lease.get(), catalog ? catalog->c_str() : nullptr, schema ? schema->c_str() : nullptr,
      table.c_str(), &c_schema, error.get());
  ARROW_RETURN_NOT_OK(
      lease.Check(AdbcStatusToArrow(code, error.get(), "reading the schema of table " + table)));
  return arrow::ImportSchema(&c_schema);
}

arrow::Result<bool> AdbcIngest::TableExists(const IngestRequest& request) {
  auto schema = ReadTableSchema(*lease_, request.catalog, request.schema, request.table);
  if (schema.ok()) return true;
  if (schema.status().IsKeyError()) return false;
  // Drivers differ in how they say "no such table" (e.g. an empty schema or INVALID_STATE).
  if (schema.status().message().find("not found") != std::string::npos ||
      schema.status().message().find("does not exist") != std::string::npos) {
    return false;
  }
  return schema.status();
}

arrow::Result<int64_t> AdbcIngest::WriteOnce(const IngestRequest& request, const char* mode,
                                             arrow::RecordBatchReader* batches) {
  ARROW_ASSIGN_OR_RAISE(auto handle, AdbcStatementHandle::New(lease_, interrupts_));
  ARROW_RETURN_NOT_OK(handle->SetOption(ADBC_INGEST_OPTION_TARGET_TABLE, request.table));
  ARROW_RETURN_NOT_OK(handle->SetOption(ADBC_INGEST_OPTION_MODE, mode));
  if (request.schema) {
    ARROW_RETURN_NOT_OK(handle->SetOption(ADBC_INGEST_OPTION_TARGET_DB_SCHEMA, *request.schema));
  }
  if (request.catalog) {
    ARROW_RETURN_NOT_OK(handle->SetOption(ADBC_INGEST_OPTION_TARGET_CATALOG, *request.catalog));
  }
  if (request.temporary) {
    ARROW_RETURN_NOT_OK(handle->SetOption(ADBC_INGEST_OPTION_TEMPORARY, ADBC_OPTION_VALUE_ENABLED));
  }
  std::atomic<int64_t> counted{0};
  arrow::Status source_error;
  // The exported stream only borrows `batches`: it is consumed before this call returns.
  ARROW_RETURN_NOT_OK(
      handle->BindStream(std::make_shared<CountingReader>(batches, &counted, &source_error)));
  auto rows = handle->ExecuteUpdate();
  // The caller's data was refused (or could not be read): that, not the driver's IO error,
  // which would read as a dead backend.
  ARROW_RETURN_NOT_OK(source_error);
  ARROW_RETURN_NOT_OK(rows.status());
  return *rows >= 0 ? *rows : counted.load();
}

arrow::Result<int64_t> AdbcIngest::Write(const IngestRequest& request,
                                         arrow::RecordBatchReader* batches, bool own_transaction) {
  using IfExists = IngestRequest::IfExists;
  using IfNotExists = IngestRequest::IfNotExists;
  const char* mode = nullptr;
  if (request.if_not_exists == IfNotExists::kCreate) {
    mode = request.if_exists == IfExists::kFail     ? ADBC_INGEST_OPTION_MODE_CREATE
           : request.if_exists == IfExists::kAppend ? ADBC_INGEST_OPTION_MODE_CREATE_APPEND
                                                    : ADBC_INGEST_OPTION_MODE_REPLACE;
  } else {
    // The table must exist.
    if (!request.temporary) {
      ARROW_ASSIGN_OR_RAISE(bool exists, TableExists(request));
      if (!exists) {
        return arrow::Status::KeyError("ingest into ", Describe(request), ": table does not exist");
      }
    }
    mode = request.if_exists == IfExists::kReplace ? ADBC_INGEST_OPTION_MODE_REPLACE
                                                   : ADBC_INGEST_OPTION_MODE_APPEND;
    if (request.if_exists == IfExists::kFail) {
      return arrow::Status::AlreadyExists("ingest into ", Describe(request),
                                          ": table already exists");
    }
  }
  if (!own_transaction) return WriteOnce(request, mode, batches);

  ARROW_RETURN_NOT_OK(SetAutocommit(*lease_, false));
  auto rows = WriteOnce(request, mode, batches);
  AdbcErrorHolder error;
  auto* d = lease_->driver();
  arrow::Status end;
  if (rows.ok()) {
    end = lease_->Check(AdbcStatusToArrow(d->ConnectionCommit(lease_->get(), error.get()),
                                          error.get(), "committing the ingest"));
  } else {
    d->ConnectionRollback(lease_->get(), error.get());
    error.Reset();
  }
  if (!SetAutocommit(*lease_, true).ok()) lease_->MarkBroken();
  ARROW_RETURN_NOT_OK(end);
  if (!rows.ok()) {
    return rows.status().WithMessage("ingest into ", Describe(request), ": ",
                                     rows.status().message());
  }
  return rows;
}

}  // namespace hyprstream::engine
