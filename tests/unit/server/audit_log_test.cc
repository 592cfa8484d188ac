#include "server/audit_log.h"

#include <arrow/flight/types.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <thread>
#include <vector>

namespace hyprstream::server {
namespace {

TEST(AuditLogTest, FormatsOneJsonObjectPerLine) {
  AuditEntry entry;
  entry.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  entry.user = "bob";
  entry.role = "read_only";
  entry.peer = "ipv4:127.0.0.1:5000";
  entry.rpc = "DoPut";
  entry.command = "CommandStatementUpdate";
  entry.sql = std::string(5000, 'x') + "\xff";
  entry.outcome = arrow::flight::MakeFlightError(arrow::flight::FlightStatusCode::Unauthorized,
                                                 "permission denied");
  entry.rows = 3;
  entry.duration = std::chrono::milliseconds(12);
  std::string line = AuditLog::Format(entry);
  ASSERT_EQ(line.back(), '\n');
  auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["time"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(json["user"], "bob");
  EXPECT_EQ(json["outcome"], "PERMISSION_DENIED");
  EXPECT_EQ(json["message"], "permission denied");
  EXPECT_EQ(json["rows"], 3);
  EXPECT_DOUBLE_EQ(json["duration_ms"].get<double>(), 12.0);
  EXPECT_LE(json["sql"].get<std::string>().size(), AuditLog::kMaxSqlChars + 3);
  entry.outcome = arrow::Status::OK();
  entry.rows = -1;
  auto ok = nlohmann::json::parse(AuditLog::Format(entry));
  EXPECT_EQ(ok["outcome"], "ok");
  EXPECT_TRUE(ok["rows"].is_null());
  EXPECT_TRUE(ok["refused"].is_null());
  entry.refused = "prepared statement handle of user 'alice'";
  EXPECT_EQ(nlohmann::json::parse(AuditLog::Format(entry))["refused"], entry.refused);
}

TEST(AuditLogTest, ConcurrentWritersLoseNoLine) {
  const std::string path = testing::TempDir() + "/hyprstream_audit_test.log";
  std::remove(path.c_str());
  {
    auto log = AuditLog::Open(path);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 500; ++i) {
          AuditEntry entry;
          entry.user = "u";
          entry.user += std::to_string(t);
          entry.rows = i;
          (*log)->Write(entry);
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }  // the destructor flushes
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    auto json = nlohmann::json::parse(line);
    EXPECT_EQ(json["user"].get<std::string>().front(), 'u');
    ++lines;
  }
  EXPECT_EQ(lines, 2000);
}

TEST(AuditLogTest, UnwritablePathIsAnError) {
  EXPECT_FALSE(AuditLog::Open("/nonexistent-dir/audit.log").ok());
}

}  // namespace
}  // namespace hyprstream::server
