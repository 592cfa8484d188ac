#include "flightsql/poll_job.h"

namespace hyprstream::flightsql {

PollJob::PollJob(std::shared_ptr<engine::EngineConnection> connection, Run run,
                 std::function<arrow::Status(arrow::Status)> on_finished)
    : connection_(std::move(connection)) {
  thread_ = std::thread([this, run = std::move(run), on_finished = std::move(on_finished)] {
    std::shared_ptr<arrow::Schema> schema;
    arrow::RecordBatchVector batches;
    arrow::Status status = [&]() -> arrow::Status {
      ARROW_ASSIGN_OR_RAISE(auto reader, run());
      schema = reader->schema();
      ARROW_ASSIGN_OR_RAISE(batches, reader->ToRecordBatches());
      return arrow::Status::OK();
    }();
    if (on_finished) status = on_finished(std::move(status));
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = std::move(status);
    schema_ = std::move(schema);
    batches_ = std::move(batches);
    done_ = true;
    finished_.notify_all();
  });
}

PollJob::~PollJob() {
  Cancel();
  if (thread_.joinable()) thread_.join();
}

bool PollJob::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return finished_.wait_for(lock, timeout, [this] { return done_; });
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> PollJob::result() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!done_) return arrow::Status::Invalid("the query is still running");
  ARROW_RETURN_NOT_OK(status_);
  return arrow::RecordBatchReader::Make(batches_, schema_);
}

std::optional<double> PollJob::progress() const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) return 1.0;
  }
  return connection_->QueryProgress();
}

bool PollJob::Cancel() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (done_) return false;
  connection_->Interrupt();
  return true;
}

}  // namespace hyprstream::flightsql
