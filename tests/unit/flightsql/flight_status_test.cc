#include "flightsql/flight_status.h"

#include <arrow/flight/types.h>
#include <gtest/gtest.h>

#include "engine/engine.h"

namespace hyprstream::flightsql {
namespace {

arrow::flight::FlightStatusCode FlightCode(const arrow::Status& status) {
  auto detail = arrow::flight::FlightStatusDetail::UnwrapStatus(status);
  EXPECT_NE(detail, nullptr) << status.ToString();
  return detail ? detail->code() : arrow::flight::FlightStatusCode::Failed;
}

TEST(FlightStatus, AWriteConflictIsUnavailableAndSaysToRunItAgain) {
  arrow::Status status = ToFlightStatus(
      engine::WriteConflict(
          "running the statement: could not serialize access due to concurrent update "
          "(SQLSTATE 40001)"),
      "DoPut");
  EXPECT_EQ(FlightCode(status), arrow::flight::FlightStatusCode::Unavailable);
  EXPECT_NE(status.message().find("could not serialize access"), std::string::npos);
  EXPECT_NE(status.message().find("write conflict"), std::string::npos);
  EXPECT_NE(status.message().find("run it again"), std::string::npos);
}

TEST(FlightStatus, TheEngineCodesMapAsTheHeaderSays) {
  EXPECT_TRUE(ToFlightStatus(arrow::Status::Invalid("bad"), "x").IsInvalid());
  EXPECT_TRUE(ToFlightStatus(arrow::Status::KeyError("gone"), "x").IsKeyError());
  EXPECT_TRUE(ToFlightStatus(arrow::Status::Cancelled("stop"), "x").IsCancelled());
  EXPECT_EQ(FlightCode(ToFlightStatus(engine::BackendUnavailable("down"), "x")),
            arrow::flight::FlightStatusCode::Unavailable);
  arrow::Status other = ToFlightStatus(arrow::Status::IOError("disk"), "x");
  EXPECT_EQ(FlightCode(other), arrow::flight::FlightStatusCode::Internal);
  EXPECT_EQ(other.message().find("run it again"), std::string::npos);
  EXPECT_TRUE(ToFlightStatus(arrow::Status::OK(), "x").ok());
}

}  // namespace
}  // namespace hyprstream::flightsql
