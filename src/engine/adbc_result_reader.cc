#include "engine/adbc_result_reader.h"

#include <algorithm>
#include <string>

#include "engine/adbc_status.h"
#include "engine/engine.h"

namespace hyprstream::engine {
namespace {

// Errors surfacing while a result streams come through the Arrow C stream, without SQLSTATE:
// recognise a dropped connection by its wording.
arrow::Status StreamError(const arrow::Status& status, AdbcStatementHandle* statement) {
  std::string lower = status.message();
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* sign :
       {"server closed the connection", "terminating connection", "no connection to the server",
        "connection refused", "broken pipe", "connection reset"}) {
    if (lower.find(sign) != std::string::npos) {
      if (statement != nullptr) statement->lease().MarkBroken();
      return BackendUnavailable("backend unreachable while reading a result: " + status.message());
    }
  }
  std::string message =
      "reading the backend result: " + CleanDriverMessage(status.message().c_str());
  if (lower.find("cancel") != std::string::npos) return arrow::Status::Cancelled(message);
  // A statement error raised while rows stream (e.g. division by zero in a later row).
  if (lower.find("error:") != std::string::npos) return arrow::Status::Invalid(message);
  return arrow::Status::IOError(message);
}

}  // namespace

AdbcResultReader::AdbcResultReader(AdbcResultPart first, int64_t executions, PartStarter start)
    : schema_(first.reader->schema()),
      part_(std::move(first)),
      executions_(executions),
      start_(std::move(start)) {}

AdbcResultReader::~AdbcResultReader() { ClosePart(); }

void AdbcResultReader::ClosePart() {
  part_.reader.reset();  // the stream goes before its statement
  part_.statement.reset();
}

arrow::Status AdbcResultReader::ReadLocked(std::shared_ptr<arrow::RecordBatch>* batch) {
  while (part_.reader) {
    auto status = part_.reader->ReadNext(batch);
    if (!status.ok()) {
      auto error = StreamError(status, part_.statement.get());
      ClosePart();
      start_ = nullptr;
      return error;
    }
    if (*batch) return arrow::Status::OK();
    ClosePart();
    if (next_index_ >= executions_) {
      start_ = nullptr;  // drops the connection the later executions would have used
      break;
    }
    ARROW_ASSIGN_OR_RAISE(part_, start_(next_index_++));
  }
  batch->reset();
  return arrow::Status::OK();
}

arrow::Status AdbcResultReader::ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!materialized_) return ReadLocked(batch);
  if (!buffered_.empty()) {
    *batch = std::move(buffered_.front());
    buffered_.pop_front();
    return arrow::Status::OK();
  }
  batch->reset();
  return deferred_error_;
}

arrow::Status AdbcResultReader::Materialize() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (materialized_) return arrow::Status::OK();
  materialized_ = true;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    auto status = ReadLocked(&batch);
    if (!status.ok()) {
      deferred_error_ = status;  // the reader's owner sees it when it gets there
      break;
    }
    if (!batch) break;
    buffered_.push_back(std::move(batch));
  }
  ClosePart();
  start_ = nullptr;
  return arrow::Status::OK();
}

arrow::Status AdbcResultReader::Close() {
  std::lock_guard<std::mutex> lock(mutex_);
  ClosePart();
  start_ = nullptr;
  next_index_ = executions_;
  materialized_ = true;
  buffered_.clear();
  return arrow::Status::OK();
}

}  // namespace hyprstream::engine
