// ADBC status + SQLSTATE -> engine.h error contract, with the messages real drivers produce.
#include "engine/adbc_status.h"

#include <gtest/gtest.h>

#include <cstring>

#include "engine/engine.h"

namespace hyprstream::engine {
namespace {

arrow::Status Map(AdbcStatusCode code, const char* sqlstate, const char* message) {
  AdbcError error = ADBC_ERROR_INIT;
  error.vendor_code = 0;
  error.message = const_cast<char*>(message);
  if (sqlstate) std::memcpy(error.sqlstate, sqlstate, 5);
  return AdbcStatusToArrow(code, &error, "running the query");
}

TEST(AdbcStatusTest, SqlStateDecides) {
  auto missing = Map(ADBC_STATUS_IO, "42P01",
                     "[libpq] Failed to prepare query: ERROR:  relation \"nope\" does not exist\n"
                     "LINE 1: select * from nope\n");
  EXPECT_TRUE(missing.IsKeyError()) << missing.ToString();
  EXPECT_EQ(missing.message(),
            "running the query: relation \"nope\" does not exist (SQLSTATE 42P01)");
  EXPECT_TRUE(Map(ADBC_STATUS_IO, "42601", "syntax error").IsInvalid());
  EXPECT_TRUE(Map(ADBC_STATUS_IO, "23505", "duplicate key").IsInvalid());
  EXPECT_TRUE(Map(ADBC_STATUS_IO, "22012", "division by zero").IsInvalid());
  EXPECT_TRUE(Map(ADBC_STATUS_IO, "57014", "canceling statement").IsCancelled());
  // A statement that lost to a concurrent write (REPEATABLE READ) may run again.
  auto conflict = Map(ADBC_STATUS_IO, "40001",
                      "[libpq] ERROR:  could not serialize access due to concurrent update\n");
  EXPECT_TRUE(conflict.IsIOError());
  EXPECT_TRUE(IsWriteConflict(conflict));
  EXPECT_FALSE(IsBackendUnavailable(conflict));
  EXPECT_TRUE(IsWriteConflict(Map(ADBC_STATUS_UNKNOWN, "40P01", "deadlock detected")));
  EXPECT_FALSE(IsWriteConflict(Map(ADBC_STATUS_IO, "42601", "syntax error")));
  // SQLite's busy database (another connection's write past busy_timeout) is no lost backend.
  auto busy = Map(ADBC_STATUS_IO, nullptr, "failed to execute query: database is locked");
  EXPECT_TRUE(IsWriteConflict(busy)) << busy.ToString();
  EXPECT_FALSE(IsBackendUnavailable(busy));
  EXPECT_EQ(busy.message().find("unreachable"), std::string::npos);
  auto lost = Map(ADBC_STATUS_IO, "08006", "server closed the connection unexpectedly");
  EXPECT_TRUE(lost.IsIOError());
  EXPECT_TRUE(IsBackendUnavailable(lost));
  EXPECT_NE(lost.message().find("backend unreachable"), std::string::npos);
  EXPECT_TRUE(IsBackendUnavailable(Map(ADBC_STATUS_IO, "57P01", "terminating connection")));
}

TEST(AdbcStatusTest, WithoutSqlState) {
  EXPECT_TRUE(Map(ADBC_STATUS_INVALID_ARGUMENT, nullptr, "no such table: t").IsKeyError());
  EXPECT_TRUE(Map(ADBC_STATUS_NOT_FOUND, nullptr, "x").IsKeyError());
  EXPECT_TRUE(Map(ADBC_STATUS_INVALID_ARGUMENT, nullptr, "bad").IsInvalid());
  EXPECT_TRUE(Map(ADBC_STATUS_ALREADY_EXISTS, nullptr, "exists").IsAlreadyExists());
  EXPECT_TRUE(Map(ADBC_STATUS_NOT_IMPLEMENTED, nullptr, "no").IsNotImplemented());
  EXPECT_TRUE(Map(ADBC_STATUS_CANCELLED, nullptr, "stop").IsCancelled());
  EXPECT_TRUE(IsBackendUnavailable(Map(ADBC_STATUS_IO, nullptr, "connection refused")));
  EXPECT_TRUE(IsBackendUnavailable(
      Map(ADBC_STATUS_UNKNOWN, nullptr, "could not connect to server: Connection refused")));
  auto other = Map(ADBC_STATUS_INTERNAL, nullptr, "driver bug");
  EXPECT_TRUE(other.IsIOError());
  EXPECT_FALSE(IsBackendUnavailable(other));
  EXPECT_EQ(Map(ADBC_STATUS_INTERNAL, nullptr, "").message(),
            "running the query: driver reported no message");
}

TEST(AdbcStatusTest, CleanDriverMessage) {
  EXPECT_EQ(CleanDriverMessage("[libpq] Execution error [PGRES_FATAL_ERROR]: ERROR:  division by "
                               "zero\n"),
            "division by zero");
  EXPECT_EQ(CleanDriverMessage("[SQLite] no such table: t"), "no such table: t");
  EXPECT_EQ(CleanDriverMessage(nullptr), "");
}

}  // namespace
}  // namespace hyprstream::engine
