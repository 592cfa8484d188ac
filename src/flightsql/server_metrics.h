// ServerMetrics: counters and latency histograms of the Flight SQL server, rendered in the
// Prometheus text format (docs/operations.md lists every series). CallObserver is the Arrow
// ServerMiddlewareFactory that feeds it from every RPC in one place and, while the server
// drains, refuses new calls with UNAVAILABLE.
// Thread-safe: counters are atomics or guarded by one mutex held only to add a sample.
#pragma once

#include <arrow/flight/server_middleware.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace hyprstream::flightsql {

class ServerMetrics {
 public:
  // Upper bounds (seconds) of the latency histogram buckets; +Inf is implied.
  static const std::vector<double>& LatencyBuckets();

  void RecordCall(const std::string& rpc, const std::string& outcome, double seconds);
  void AddRowsIngested(int64_t rows) { rows_ingested_ += rows; }
  void AddRowsStreamed(int64_t rows) { rows_streamed_ += rows; }

  // The counters and histograms as Prometheus text (HELP/TYPE lines included).
  std::string Render() const;

  int64_t rows_ingested() const { return rows_ingested_; }
  int64_t rows_streamed() const { return rows_streamed_; }

 private:
  struct CallSeries {
    std::map<std::string, int64_t> by_outcome;
    std::vector<int64_t> buckets;  // cumulative counts are computed when rendering
    int64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;  // guards calls_
  std::map<std::string, CallSeries> calls_;
  std::atomic<int64_t> rows_ingested_{0};
  std::atomic<int64_t> rows_streamed_{0};
};

// The outcome label of a finished call: "ok" or the lower-case gRPC-style code name
// ("unavailable", "deadline_exceeded", "invalid_argument", ...).
std::string CallOutcome(const arrow::Status& status);

class CallObserver : public arrow::flight::ServerMiddlewareFactory {
 public:
  explicit CallObserver(ServerMetrics* metrics) : metrics_(metrics) {}

  // From now on refuse calls that would start new work (everything except DoGet of an
  // announced result and DoAction, which closes, cancels and ends what is open).
  void StartDraining() { draining_ = true; }
  bool draining() const { return draining_; }

  arrow::Status StartCall(const arrow::flight::CallInfo& info,
                          const arrow::flight::ServerCallContext& context,
                          std::shared_ptr<arrow::flight::ServerMiddleware>* middleware) override;

 private:
  ServerMetrics* metrics_;
  std::atomic<bool> draining_{false};
};

}  // namespace hyprstream::flightsql
