#include "engine/adbc_statement_handle.h"

#include <arrow/c/bridge.h>

#include "engine/adbc_status.h"
#include "engine/aligned_batches.h"

namespace hyprstream::engine {
namespace {

ArrowArrayStream* Inner(ArrowArrayStream* outer) {
  return static_cast<ArrowArrayStream*>(outer->private_data);
}

int WrappedGetSchema(ArrowArrayStream* s, ArrowSchema* out) {
  return Inner(s)->get_schema(Inner(s), out);
}
int WrappedGetNext(ArrowArrayStream* s, ArrowArray* out) {
  return Inner(s)->get_next(Inner(s), out);
}
const char* WrappedGetLastError(ArrowArrayStream* s) { return Inner(s)->get_last_error(Inner(s)); }
void WrappedRelease(ArrowArrayStream* s) {
  auto* inner = Inner(s);
  if (inner->release != nullptr) inner->release(inner);
  delete inner;
  s->release = nullptr;
  s->private_data = nullptr;
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ImportDriverStream(
    ArrowArrayStream* stream) {
  auto* inner = new ArrowArrayStream(*stream);
  stream->release = nullptr;  // moved into `inner`
  ArrowArrayStream wrapper{};
  wrapper.get_schema = WrappedGetSchema;
  wrapper.get_next = WrappedGetNext;
  wrapper.get_last_error = WrappedGetLastError;
  wrapper.release = WrappedRelease;
  wrapper.private_data = inner;
  auto reader = arrow::ImportRecordBatchReader(&wrapper);
  if (!reader.ok()) {
    if (wrapper.release != nullptr) wrapper.release(&wrapper);
    return reader.status();
  }
  return AlignedBatches(*std::move(reader));
}

void AdbcInterruptList::Add(AdbcStatementHandle* handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  running_.insert(handle);
}

void AdbcInterruptList::Remove(AdbcStatementHandle* handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  running_.erase(handle);
}

void AdbcInterruptList::CancelAll() {
  // Cancel under the list mutex: a handle removes itself (under the same mutex) before it
  // releases its statement, so every pointer here is alive.
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto* handle : running_) handle->Cancel();
}

arrow::Result<std::unique_ptr<AdbcStatementHandle>> AdbcStatementHandle::New(
    std::shared_ptr<AdbcConnectionLease> lease, std::shared_ptr<AdbcInterruptList> interrupts) {
  std::unique_ptr<AdbcStatementHandle> handle(
      new AdbcStatementHandle(std::move(lease), std::move(interrupts)));
  AdbcErrorHolder error;
  handle->statement_.private_driver = handle->lease_->driver();
  ARROW_RETURN_NOT_OK(handle->Check(handle->lease_->driver()->StatementNew(
                                        handle->lease_->get(), &handle->statement_, error.get()),
                                    error.get(), "creating a backend statement"));
  handle->open_ = true;
  if (handle->interrupts_) handle->interrupts_->Add(handle.get());
  return handle;
}

AdbcStatementHandle::~AdbcStatementHandle() {
  if (interrupts_) interrupts_->Remove(this);
  if (open_) {
    AdbcErrorHolder error;
    lease_->driver()->StatementRelease(&statement_, error.get());
  }
}

arrow::Status AdbcStatementHandle::Check(AdbcStatusCode code, AdbcError* error, const char* what) {
  return lease_->Check(AdbcStatusToArrow(code, error, what));
}

arrow::Status AdbcStatementHandle::SetSqlQuery(const std::string& sql) {
  AdbcErrorHolder error;
  return Check(lease_->driver()->StatementSetSqlQuery(&statement_, sql.c_str(), error.get()),
               error.get(), "setting the statement's SQL");
}

arrow::Status AdbcStatementHandle::SetOption(const std::string& key, const std::string& value) {
  AdbcErrorHolder error;
  return Check(
      lease_->driver()->StatementSetOption(&statement_, key.c_str(), value.c_str(), error.get()),
      error.get(), ("setting statement option " + key).c_str());
}

arrow::Status AdbcStatementHandle::Prepare() {
  AdbcErrorHolder error;
  return Check(lease_->driver()->StatementPrepare(&statement_, error.get()), error.get(),
               "preparing the statement");
}

arrow::Result<std::shared_ptr<arrow::Schema>> AdbcStatementHandle::ParameterSchema() {
  AdbcErrorHolder error;
  ArrowSchema schema{};
  ARROW_RETURN_NOT_OK(
      Check(lease_->driver()->StatementGetParameterSchema(&statement_, &schema, error.get()),
            error.get(), "reading the parameter schema"));
  return arrow::ImportSchema(&schema);
}

arrow::Result<std::shared_ptr<arrow::Schema>> AdbcStatementHandle::ExecuteSchema() {
  auto* d = lease_->driver();
  if (d->StatementExecuteSchema == nullptr) {
    return arrow::Status::NotImplemented("driver has no ExecuteSchema");
  }
  AdbcErrorHolder error;
  ArrowSchema schema{};
  ARROW_RETURN_NOT_OK(Check(d->StatementExecuteSchema(&statement_, &schema, error.get()),
                            error.get(), "reading the result schema"));
  return arrow::ImportSchema(&schema);
}

arrow::Status AdbcStatementHandle::Bind(const std::shared_ptr<arrow::RecordBatch>& batch) {
  ArrowArray array{};
  ArrowSchema schema{};
  ARROW_RETURN_NOT_OK(arrow::ExportRecordBatch(*batch, &array, &schema));
  AdbcErrorHolder error;
  auto code = lease_->driver()->StatementBind(&statement_, &array, &schema, error.get());
  // The driver owns what it accepted; release what it left behind.
  if (array.release != nullptr) array.release(&array);
  if (schema.release != nullptr) schema.release(&schema);
  return Check(code, error.get(), "binding parameters");
}

arrow::Status AdbcStatementHandle::BindStream(std::shared_ptr<arrow::RecordBatchReader> reader) {
  ArrowArrayStream stream{};
  ARROW_RETURN_NOT_OK(arrow::ExportRecordBatchReader(std::move(reader), &stream));
  AdbcErrorHolder error;
  auto code = lease_->driver()->StatementBindStream(&statement_, &stream, error.get());
  if (stream.release != nullptr) stream.release(&stream);
  return Check(code, error.get(), "binding the data stream");
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> AdbcStatementHandle::ExecuteQuery() {
  ArrowArrayStream stream{};
  int64_t rows = -1;
  AdbcErrorHolder error;
  ARROW_RETURN_NOT_OK(
      Check(lease_->driver()->StatementExecuteQuery(&statement_, &stream, &rows, error.get()),
            error.get(), "running the query"));
  return ImportDriverStream(&stream);
}

arrow::Result<int64_t> AdbcStatementHandle::ExecuteUpdate() {
  int64_t rows = -1;
  AdbcErrorHolder error;
  ARROW_RETURN_NOT_OK(
      Check(lease_->driver()->StatementExecuteQuery(&statement_, nullptr, &rows, error.get()),
            error.get(), "running the statement"));
  return rows;
}

void AdbcStatementHandle::Cancel() {
  auto* d = lease_->driver();
  AdbcErrorHolder error;
  AdbcStatusCode code = ADBC_STATUS_NOT_IMPLEMENTED;
  if (d->StatementCancel != nullptr) code = d->StatementCancel(&statement_, error.get());
  if (code == ADBC_STATUS_NOT_IMPLEMENTED && d->ConnectionCancel != nullptr) {
    error.Reset();
    d->ConnectionCancel(lease_->get(), error.get());
  }
}

}  // namespace hyprstream::engine
