#include "engine/duckdb_arrow_insert.h"

#include "engine/arrow_to_duckdb_type.h"
#include "engine/arrow_validation.h"
#include "engine/duckdb_status.h"

#include <arrow/c/bridge.h>
#include <arrow/type.h>
#include <arrow/util/byte_size.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

namespace hyprstream::engine {

namespace {

void NoRelease(struct ArrowSchema* schema) { schema->release = nullptr; }
void NoStreamRelease(struct ArrowArrayStream* stream) { stream->release = nullptr; }

// Every column of the data must name a table column (others take their defaults); the same
// check and message as DuckDbBatchAppender.
arrow::Status CheckColumnsExist(duckdb_connection connection,
                                const std::optional<std::string>& catalog,
                                const std::optional<std::string>& schema,
                                const std::string& table, const std::string& table_name,
                                const arrow::Schema& arrow_schema) {
  duckdb_appender raw = nullptr;
  duckdb_state state =
      duckdb_appender_create_ext(connection, catalog ? catalog->c_str() : nullptr,
                                 schema ? schema->c_str() : nullptr, table.c_str(), &raw);
  AppenderHandle appender(raw);
  if (state != DuckDBSuccess) {
    if (raw == nullptr) return arrow::Status::IOError("cannot append to ", table_name);
    return StatusFromAppender(raw, "appending to " + table_name);
  }
  for (const auto& field : arrow_schema.fields()) {
    if (duckdb_appender_add_column(raw, field->name().c_str()) != DuckDBSuccess) {
      arrow::Status cause = StatusFromAppender(raw, "");
      return arrow::Status::Invalid("column ", QuoteIdentifier(field->name()),
                                    " of the data does not exist in table ", table_name, " (",
                                    cause.message(), ")");
    }
  }
  return arrow::Status::OK();
}

std::string NextViewName() {
  static std::atomic<uint64_t> counter{0};
  return "__hyprstream_ingest_" + std::to_string(++counter);
}

}  // namespace

DuckDbArrowInsert::DuckDbArrowInsert(duckdb_connection connection, std::string table_name,
                                     std::shared_ptr<arrow::Schema> arrow_schema)
    : connection_(connection),
      table_name_(std::move(table_name)),
      arrow_schema_(std::move(arrow_schema)),
      view_name_(NextViewName()) {}

arrow::Result<std::unique_ptr<DuckDbArrowInsert>> DuckDbArrowInsert::Open(
    duckdb_connection connection, const std::optional<std::string>& catalog,
    const std::optional<std::string>& schema, const std::string& table,
    const arrow::Schema& arrow_schema) {
  std::string table_name = QualifiedName(catalog, schema, table);
  ARROW_RETURN_NOT_OK(
      CheckColumnsExist(connection, catalog, schema, table, table_name, arrow_schema));
  // DuckDB's Arrow scan cannot bind a stream without columns.
  if (arrow_schema.num_fields() == 0) return nullptr;
  std::unique_ptr<DuckDbArrowInsert> out(new DuckDbArrowInsert(
      connection, table_name, std::make_shared<arrow::Schema>(arrow_schema.fields())));
  if (!out->CreateView().ok()) return nullptr;

  std::string columns;
  for (const auto& field : arrow_schema.fields()) {
    if (!columns.empty()) columns += ", ";
    columns += QuoteIdentifier(field->name());
  }
  std::string sql = "INSERT INTO " + table_name + " (" + columns + ") SELECT " + columns +
                    " FROM " + QuoteIdentifier(out->view_name_);
  duckdb_prepared_statement raw = nullptr;
  duckdb_state state = duckdb_prepare(connection, sql.c_str(), &raw);
  out->insert_.reset(raw);
  if (state != DuckDBSuccess) {
    // The view binds but the INSERT does not (e.g. a column type DuckDB cannot cast to the
    // table's): the caller's appender reports it as it always has.
    return nullptr;
  }
  return out;
}

DuckDbArrowInsert::~DuckDbArrowInsert() {
  (void)WaitGroup();
  insert_.reset();
  DropView();
  if (c_schema_.release != nullptr) c_schema_.release(&c_schema_);
}

arrow::Status DuckDbArrowInsert::CreateView() {
  ARROW_RETURN_NOT_OK(arrow::ExportSchema(*arrow_schema_, &c_schema_));
  stream_.get_schema = GetSchema;
  stream_.get_next = GetNext;
  stream_.get_last_error = GetLastError;
  stream_.release = ReleaseStream;
  stream_.private_data = this;
  if (duckdb_arrow_scan(connection_, view_name_.c_str(),
                        reinterpret_cast<duckdb_arrow_stream>(&stream_)) != DuckDBSuccess) {
    return arrow::Status::IOError("DuckDB cannot scan this Arrow data");
  }
  view_exists_ = true;
  return arrow::Status::OK();
}

void DuckDbArrowInsert::DropView() {
  if (!view_exists_) return;
  view_exists_ = false;
  // In an aborted transaction this fails; the rollback that follows removes the view.
  std::string sql = "DROP VIEW IF EXISTS " + QuoteIdentifier(view_name_);
  ResultHandle result;
  (void)duckdb_query(connection_, sql.c_str(), result.out());
}

int DuckDbArrowInsert::GetSchema(struct ArrowArrayStream* stream, struct ArrowSchema* out) {
  auto* self = static_cast<DuckDbArrowInsert*>(stream->private_data);
  // A view of our schema: DuckDB neither keeps nor releases it past the scan's binding.
  *out = self->c_schema_;
  out->release = NoRelease;
  return 0;
}

int DuckDbArrowInsert::GetNext(struct ArrowArrayStream* stream, struct ArrowArray* out) {
  auto* self = static_cast<DuckDbArrowInsert*>(stream->private_data);
  std::shared_ptr<arrow::RecordBatch> batch;
  {
    std::lock_guard<std::mutex> lock(self->running_mutex_);
    if (!self->running_.empty()) {
      batch = std::move(self->running_.front());
      self->running_.pop_front();
    }
  }
  if (batch == nullptr) {
    out->release = nullptr;  // end of this group
    return 0;
  }
  arrow::Status status = arrow::ExportRecordBatch(*batch, out);
  if (!status.ok()) {
    std::lock_guard<std::mutex> lock(self->running_mutex_);
    self->last_error_ = status.ToString();
    return EIO;
  }
  return 0;
}

const char* DuckDbArrowInsert::GetLastError(struct ArrowArrayStream* stream) {
  auto* self = static_cast<DuckDbArrowInsert*>(stream->private_data);
  return self->last_error_.empty() ? nullptr : self->last_error_.c_str();
}

void DuckDbArrowInsert::ReleaseStream(struct ArrowArrayStream* stream) {
  NoStreamRelease(stream);  // the stream lives as long as this object
}

arrow::Status DuckDbArrowInsert::Append(std::shared_ptr<arrow::RecordBatch> batch) {
  if (!batch->schema()->Equals(*arrow_schema_, /*check_metadata=*/false)) {
    return arrow::Status::Invalid("batch schema ", batch->schema()->ToString(),
                                  " differs from the ingest schema ", arrow_schema_->ToString());
  }
  // DuckDB trusts Arrow buffers as they are: check offsets, lengths and UTF-8 first.
  ARROW_RETURN_NOT_OK(ValidateArrowBatch(*batch));
  small_rows_ += batch->num_rows();
  small_.push_back(std::move(batch));
  if (small_rows_ >= kArrayRows) ARROW_RETURN_NOT_OK(CombineSmall());
  if (pending_ != nullptr &&
      duckdb_pending_execute_check_state(pending_.get()) == DUCKDB_PENDING_ERROR) {
    return WaitGroup();  // stop reading at the first failure
  }
  if (static_cast<int64_t>(collecting_.size()) >= kGroupArrays ||
      collecting_bytes_ >= kGroupBytes) {
    return StartGroup();
  }
  return arrow::Status::OK();
}

arrow::Status DuckDbArrowInsert::CombineSmall() {
  if (small_.empty()) return arrow::Status::OK();
  std::shared_ptr<arrow::RecordBatch> array = small_.front();
  if (small_.size() > 1) {
    ARROW_ASSIGN_OR_RAISE(array, arrow::ConcatenateRecordBatches(small_));
  }
  small_.clear();
  small_rows_ = 0;
  collecting_bytes_ += arrow::util::TotalBufferSize(*array);
  collecting_.push_back(std::move(array));
  return arrow::Status::OK();
}

arrow::Status DuckDbArrowInsert::StartGroup() {
  ARROW_RETURN_NOT_OK(WaitGroup());
  if (collecting_.empty()) return arrow::Status::OK();
  {
    std::lock_guard<std::mutex> lock(running_mutex_);
    running_ = std::move(collecting_);
  }
  collecting_.clear();
  collecting_bytes_ = 0;
  duckdb_pending_result raw = nullptr;
  duckdb_state state = duckdb_pending_prepared(insert_.get(), &raw);
  pending_.reset(raw);
  if (state != DuckDBSuccess) {
    const char* error = raw != nullptr ? duckdb_pending_error(raw) : nullptr;
    pending_.reset();
    return StatusFromDuckDbMessage(error != nullptr ? error : "INSERT failed to start",
                                   "appending to " + table_name_);
  }
  // DuckDB's worker threads run it from here on; WaitGroup joins in.
  return arrow::Status::OK();
}

arrow::Status DuckDbArrowInsert::WaitGroup() {
  if (pending_ == nullptr) return arrow::Status::OK();
  // Help with the INSERT's tasks; when the rest are running on DuckDB's workers, wait for
  // them briefly instead of spinning (duckdb_execute_pending polls in a busy loop then, taking
  // a core from the client and the network threads on a small machine).
  while (true) {
    duckdb_pending_state pending_state = duckdb_pending_execute_task(pending_.get());
    if (pending_state == DUCKDB_PENDING_RESULT_READY || pending_state == DUCKDB_PENDING_ERROR) {
      break;
    }
    if (pending_state == DUCKDB_PENDING_NO_TASKS_AVAILABLE) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  ResultHandle result;
  duckdb_state state = duckdb_execute_pending(pending_.get(), result.out());
  arrow::Status status;
  if (state != DuckDBSuccess) {
    status = StatusFromResult(result.get(), "appending to " + table_name_);
    if (status.ok()) status = arrow::Status::IOError("appending to ", table_name_, " failed");
  } else {
    rows_ += static_cast<int64_t>(duckdb_rows_changed(result.get()));
  }
  pending_.reset();
  std::lock_guard<std::mutex> lock(running_mutex_);
  running_.clear();
  return status;
}

arrow::Result<int64_t> DuckDbArrowInsert::Finish() {
  ARROW_RETURN_NOT_OK(CombineSmall());
  ARROW_RETURN_NOT_OK(StartGroup());
  ARROW_RETURN_NOT_OK(WaitGroup());
  insert_.reset();
  DropView();
  return rows_;
}

}  // namespace hyprstream::engine
