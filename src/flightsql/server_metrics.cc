#include "flightsql/server_metrics.h"

#include <arrow/flight/types.h>

#include <algorithm>
#include <sstream>

#include "flightsql/call_record.h"

namespace hyprstream::flightsql {
namespace fl = arrow::flight;

const std::vector<double>& ServerMetrics::LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1,     2.5,  5,     10,   30,  60};
  return kBuckets;
}

void ServerMetrics::RecordCall(const std::string& rpc, const std::string& outcome, double seconds) {
  const auto& bounds = LatencyBuckets();
  const size_t bucket =
      std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();  // size: +Inf
  std::lock_guard<std::mutex> lock(mutex_);
  CallSeries& series = calls_[rpc];
  if (series.buckets.empty()) series.buckets.assign(bounds.size() + 1, 0);
  ++series.by_outcome[outcome];
  ++series.buckets[bucket];
  ++series.count;
  series.sum += seconds;
}

std::string ServerMetrics::Render() const {
  std::ostringstream out;
  std::map<std::string, CallSeries> calls;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    calls = calls_;
  }
  out << "# HELP hyprstream_rpc_requests_total Flight RPCs finished, by method and outcome.\n"
      << "# TYPE hyprstream_rpc_requests_total counter\n";
  for (const auto& [rpc, series] : calls) {
    for (const auto& [outcome, count] : series.by_outcome) {
      out << "hyprstream_rpc_requests_total{rpc=\"" << rpc << "\",outcome=\"" << outcome << "\"} "
          << count << "\n";
    }
  }
  out << "# HELP hyprstream_rpc_errors_total Flight RPCs that ended with an error, by method.\n"
      << "# TYPE hyprstream_rpc_errors_total counter\n";
  for (const auto& [rpc, series] : calls) {
    int64_t errors = 0;
    for (const auto& [outcome, count] : series.by_outcome) {
      if (outcome != "ok") errors += count;
    }
    out << "hyprstream_rpc_errors_total{rpc=\"" << rpc << "\"} " << errors << "\n";
  }
  out << "# HELP hyprstream_rpc_duration_seconds Flight RPC latency (DoGet: until the last "
         "batch is sent).\n"
      << "# TYPE hyprstream_rpc_duration_seconds histogram\n";
  const auto& bounds = LatencyBuckets();
  for (const auto& [rpc, series] : calls) {
    int64_t cumulative = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
      cumulative += series.buckets[i];
      out << "hyprstream_rpc_duration_seconds_bucket{rpc=\"" << rpc << "\",le=\"" << bounds[i]
          << "\"} " << cumulative << "\n";
    }
    out << "hyprstream_rpc_duration_seconds_bucket{rpc=\"" << rpc << "\",le=\"+Inf\"} "
        << series.count << "\n"
        << "hyprstream_rpc_duration_seconds_sum{rpc=\"" << rpc << "\"} " << series.sum << "\n"
        << "hyprstream_rpc_duration_seconds_count{rpc=\"" << rpc << "\"} " << series.count << "\n";
  }
  auto counter = [&](const char* name, const char* help, int64_t value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
        << name << " " << value << "\n";
  };
  counter("hyprstream_rows_ingested_total", "Rows written by bulk ingest and streaming DoPut.",
          rows_ingested_);
  counter("hyprstream_rows_streamed_total", "Result rows sent to clients by DoGet.",
          rows_streamed_);
  return out.str();
}

std::string CallOutcome(const arrow::Status& status) {
  if (status.ok()) return "ok";
  if (auto detail = fl::FlightStatusDetail::UnwrapStatus(status)) {
    switch (detail->code()) {
      case fl::FlightStatusCode::TimedOut:
        return "deadline_exceeded";
      case fl::FlightStatusCode::Cancelled:
        return "cancelled";
      case fl::FlightStatusCode::Unauthenticated:
        return "unauthenticated";
      case fl::FlightStatusCode::Unauthorized:
        return "permission_denied";
      case fl::FlightStatusCode::Unavailable:
        return "unavailable";
      case fl::FlightStatusCode::Failed:
        return "unknown";
      case fl::FlightStatusCode::Internal:
        return "internal";
    }
  }
  switch (status.code()) {
    case arrow::StatusCode::Cancelled:
      return "cancelled";
    case arrow::StatusCode::Invalid:
    case arrow::StatusCode::TypeError:
    case arrow::StatusCode::IndexError:
      return "invalid_argument";
    case arrow::StatusCode::KeyError:
      return "not_found";
    case arrow::StatusCode::AlreadyExists:
      return "already_exists";
    case arrow::StatusCode::NotImplemented:
      return "unimplemented";
    default:
      return "internal";
  }
}

namespace {

class CallRecorder : public fl::ServerMiddleware {
 public:
  CallRecorder(ServerMetrics* metrics, std::string rpc)
      : metrics_(metrics), rpc_(std::move(rpc)), start_(std::chrono::steady_clock::now()) {}
  std::string name() const override { return "hyprstream.metrics"; }
  void SendingHeaders(fl::AddCallHeaders*) override {}
  void CallCompleted(const arrow::Status& status) override {
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    metrics_->RecordCall(rpc_, CallOutcome(status), elapsed.count());
  }

 private:
  ServerMetrics* metrics_;
  std::string rpc_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

arrow::Status CallObserver::StartCall(const fl::CallInfo& info, const fl::ServerCallContext&,
                                      std::shared_ptr<fl::ServerMiddleware>* middleware) {
  const std::string rpc = RpcName(info.method);
  if (draining_ && info.method != fl::FlightMethod::DoGet &&
      info.method != fl::FlightMethod::DoAction) {
    metrics_->RecordCall(rpc, "unavailable", 0);
    return fl::MakeFlightError(fl::FlightStatusCode::Unavailable,
                               "server is draining (shutting down); retry in a moment, against "
                               "another server or once it has restarted");
  }
  *middleware = std::make_shared<CallRecorder>(metrics_, rpc);
  return arrow::Status::OK();
}

}  // namespace hyprstream::flightsql
