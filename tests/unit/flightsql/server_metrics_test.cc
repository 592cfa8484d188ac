// ServerMetrics: Prometheus text of calls (counters by outcome, cumulative histogram), rows,
// and the outcome labels of Flight statuses.
#include "flightsql/server_metrics.h"

#include <arrow/flight/types.h>
#include <gtest/gtest.h>

namespace hyprstream::flightsql {
namespace {

namespace fl = arrow::flight;

bool HasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(ServerMetricsTest, RendersCallsByOutcomeAndCumulativeHistogram) {
  ServerMetrics metrics;
  metrics.RecordCall("DoGet", "ok", 0.002);
  metrics.RecordCall("DoGet", "ok", 0.3);
  metrics.RecordCall("DoGet", "deadline_exceeded", 100);
  metrics.RecordCall("GetFlightInfo", "unavailable", 0);
  metrics.AddRowsIngested(5);
  metrics.AddRowsIngested(7);
  metrics.AddRowsStreamed(3);
  const std::string text = metrics.Render();
  EXPECT_TRUE(HasLine(text, "hyprstream_rpc_requests_total{rpc=\"DoGet\",outcome=\"ok\"} 2"))
      << text;
  EXPECT_TRUE(HasLine(
      text, "hyprstream_rpc_requests_total{rpc=\"DoGet\",outcome=\"deadline_exceeded\"} 1"));
  EXPECT_TRUE(HasLine(text, "hyprstream_rpc_errors_total{rpc=\"DoGet\"} 1"));
  EXPECT_TRUE(HasLine(text, "hyprstream_rpc_errors_total{rpc=\"GetFlightInfo\"} 1"));
  EXPECT_TRUE(
      HasLine(text, "hyprstream_rpc_duration_seconds_bucket{rpc=\"DoGet\",le=\"0.001\"} 0"));
  EXPECT_TRUE(
      HasLine(text, "hyprstream_rpc_duration_seconds_bucket{rpc=\"DoGet\",le=\"0.005\"} 1"));
  EXPECT_TRUE(HasLine(text, "hyprstream_rpc_duration_seconds_bucket{rpc=\"DoGet\",le=\"0.5\"} 2"));
  EXPECT_TRUE(HasLine(text, "hyprstream_rpc_duration_seconds_bucket{rpc=\"DoGet\",le=\"60\"} 2"));
  EXPECT_TRUE(HasLine(text, "hyprstream_rpc_duration_seconds_bucket{rpc=\"DoGet\",le=\"+Inf\"} 3"));
  EXPECT_TRUE(HasLine(text, "hyprstream_rpc_duration_seconds_count{rpc=\"DoGet\"} 3"));
  EXPECT_TRUE(HasLine(text, "hyprstream_rows_ingested_total 12"));
  EXPECT_TRUE(HasLine(text, "hyprstream_rows_streamed_total 3"));
  EXPECT_TRUE(HasLine(text, "# TYPE hyprstream_rpc_duration_seconds histogram"));
}

TEST(ServerMetricsTest, OutcomeLabels) {
  EXPECT_EQ(CallOutcome(arrow::Status::OK()), "ok");
  EXPECT_EQ(CallOutcome(fl::MakeFlightError(fl::FlightStatusCode::TimedOut, "x")),
            "deadline_exceeded");
  EXPECT_EQ(CallOutcome(fl::MakeFlightError(fl::FlightStatusCode::Unavailable, "x")),
            "unavailable");
  EXPECT_EQ(CallOutcome(arrow::Status::Invalid("x")), "invalid_argument");
  EXPECT_EQ(CallOutcome(arrow::Status::KeyError("x")), "not_found");
  EXPECT_EQ(CallOutcome(arrow::Status::Cancelled("x")), "cancelled");
  EXPECT_EQ(CallOutcome(arrow::Status::IOError("x")), "internal");
}

}  // namespace
}  // namespace hyprstream::flightsql
