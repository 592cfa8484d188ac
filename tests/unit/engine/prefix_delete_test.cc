// ReadRowsLeft and RemovedOnlyRowsBefore over real DuckDB, with the DELETE's transaction and
// its shared snapshot from BeginSharingSnapshot: a DELETE of exactly the oldest rows is told
// apart from every other DELETE, whatever others commit meanwhile.
#include "engine/prefix_delete.h"

#include <gtest/gtest.h>

#include <string>

#include "engine_test_util.h"

namespace hyprstream::engine {
namespace {

using testing::Update;

// t: 1000 rows a minute apart from 2026-01-01 (k = minute % 3), and one without a time.
class PrefixDeleteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = testing::OpenMemoryEngine();
    setup_ = *engine_->Connect();
    ASSERT_TRUE(Update(*setup_,
                       "CREATE TABLE t AS SELECT TIMESTAMP '2026-01-01' + to_minutes(range) AS ts, "
                       "range % 3 AS k FROM range(1000)")
                    .ok());
    ASSERT_TRUE(Update(*setup_, "INSERT INTO t VALUES (NULL, 7)").ok());
    writer_ = *engine_->Connect();
    auto before = engine_->BeginSharingSnapshot(*writer_, "", "t");
    ASSERT_TRUE(before.ok()) << before.status().ToString();
    before_ = *before;
  }

  // After `sql` in the DELETE's transaction: the rows left, and whether only older ones went.
  std::pair<RowsLeft, bool> Deleting(const std::string& sql) {
    EXPECT_TRUE(Update(*writer_, sql).ok()) << sql;
    auto left = ReadRowsLeft(*writer_, "t", "ts");
    EXPECT_TRUE(left.ok()) << left.status().ToString();
    auto only = RemovedOnlyRowsBefore(*before_, "t", "ts", *left);
    EXPECT_TRUE(only.ok()) << only.status().ToString();
    return {*left, only.ok() && *only};
  }

  std::shared_ptr<Engine> engine_;
  std::shared_ptr<EngineConnection> setup_, writer_, before_;
};

constexpr int64_t k20260101 = 1767225600LL * 1000000;  // 2026-01-01 00:00 UTC, in µs
constexpr int64_t kMinute = 60LL * 1000000;

TEST_F(PrefixDeleteTest, TheOldestRowsRemovedAreTold) {
  auto [left, only] = Deleting("DELETE FROM t WHERE ts < TIMESTAMP '2026-01-01 01:40:30'");
  ASSERT_TRUE(left.oldest_us.has_value());
  EXPECT_EQ(*left.oldest_us, k20260101 + 101 * kMinute);
  EXPECT_EQ(left.count, 1000 - 101 + 1);  // the row without a time is left
  EXPECT_TRUE(only);
}

TEST_F(PrefixDeleteTest, RowsOthersCommitMeanwhileCountInNeither) {
  ASSERT_TRUE(Update(*setup_,
                     "INSERT INTO t VALUES (TIMESTAMP '2025-12-01', 1), "
                     "(TIMESTAMP '2027-01-01', 2)")
                  .ok());
  auto [left, only] = Deleting("DELETE FROM t WHERE ts < TIMESTAMP '2026-01-01 00:10:00'");
  EXPECT_EQ(*left.oldest_us, k20260101 + 10 * kMinute);
  EXPECT_EQ(left.count, 991);
  EXPECT_TRUE(only);
}

TEST_F(PrefixDeleteTest, ADeleteOfNothingKeepsEveryRow) {
  auto [left, only] = Deleting("DELETE FROM t WHERE ts < TIMESTAMP '2025-01-01'");
  EXPECT_EQ(*left.oldest_us, k20260101);
  EXPECT_EQ(left.count, 1001);
  EXPECT_TRUE(only);
}

TEST_F(PrefixDeleteTest, OtherRowsRemovedAreTold) {
  EXPECT_FALSE(Deleting("DELETE FROM t WHERE k = 1").second);
}

TEST_F(PrefixDeleteTest, ANewerRowRemovedBesideTheOldestIsTold) {
  EXPECT_FALSE(Deleting("DELETE FROM t WHERE ts < TIMESTAMP '2026-01-01 00:10:00' OR "
                        "ts = TIMESTAMP '2026-01-01 05:00:00'")
                   .second);
}

TEST_F(PrefixDeleteTest, ARowWithoutATimeRemovedIsTold) {
  EXPECT_FALSE(
      Deleting("DELETE FROM t WHERE ts < TIMESTAMP '2026-01-01 00:10:00' OR ts IS NULL").second);
}

TEST_F(PrefixDeleteTest, NoTimeLeftIsNotTold) {
  auto [left, only] = Deleting("DELETE FROM t WHERE ts IS NOT NULL");
  EXPECT_FALSE(left.oldest_us.has_value());
  EXPECT_EQ(left.count, 1);
  EXPECT_FALSE(only);
}

TEST(ReadRowsLeft, ATimeWithAZoneIsRefused) {
  auto engine = testing::OpenMemoryEngine();
  auto connection = *engine->Connect();
  ASSERT_TRUE(Update(*connection, "CREATE TABLE z AS SELECT now() AS ts").ok());
  auto left = ReadRowsLeft(*connection, "z", "ts");
  ASSERT_FALSE(left.ok());
  EXPECT_TRUE(left.status().IsNotImplemented()) << left.status().ToString();
}

}  // namespace
}  // namespace hyprstream::engine
