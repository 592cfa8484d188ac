// PollJob: a statement submitted through PollFlightInfo, running on its own thread so the
// client can come back for it later. The thread runs the statement to completion and keeps
// the whole result in memory (a long query's result is usually small: aggregates); the
// client then reads it with DoGet from the ticket in the final FlightInfo.
//
// Thread-safe. Destroying a job that is still running interrupts it and joins its thread.
// `on_finished` runs on the job's thread once the statement has ended, with its outcome, and
// returns the outcome to report (the caller gives back the statement slot there and names a
// query timeout).
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/engine.h"

namespace hyprstream::flightsql {

class PollJob {
 public:
  // Starts `run` on a new thread; it executes the statement on `connection` and returns the
  // result's batches (with their schema).
  using Run = std::function<arrow::Result<std::shared_ptr<arrow::RecordBatchReader>>()>;
  PollJob(std::shared_ptr<engine::EngineConnection> connection, Run run,
          std::function<arrow::Status(arrow::Status)> on_finished = nullptr);
  ~PollJob();
  PollJob(const PollJob&) = delete;
  PollJob& operator=(const PollJob&) = delete;

  // Waits up to `timeout` for the job to finish; true when it has.
  bool WaitFor(std::chrono::milliseconds timeout);
  // After WaitFor returned true: the materialised result, or the statement's error.
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> result();
  // The engine's estimate in [0, 1] while running, if it has one.
  std::optional<double> progress() const;
  // Interrupts the statement if it is still running; true if it was.
  bool Cancel();

 private:
  std::shared_ptr<engine::EngineConnection> connection_;
  mutable std::mutex mutex_;
  std::condition_variable finished_;
  bool done_ = false;
  arrow::Status status_;
  std::shared_ptr<arrow::Schema> schema_;
  arrow::RecordBatchVector batches_;
  std::thread thread_;
};

}  // namespace hyprstream::flightsql
