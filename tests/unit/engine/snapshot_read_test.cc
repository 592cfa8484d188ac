// PinSnapshot and ReadPinned over real DuckDB: the rows are those committed when the call
// returned, however late they are read and whatever other connections commit meanwhile.
#include "engine/snapshot_read.h"

#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace hyprstream::engine {
namespace {

using testing::Query;
using testing::Update;

TEST(ReadPinned, RowsCommittedAfterThePinAreNotRead) {
  auto engine = testing::OpenMemoryEngine();
  auto writer = *engine->Connect();
  ASSERT_TRUE(Update(*writer, "CREATE TABLE t AS SELECT range AS v FROM range(1000)").ok());
  auto pinned = PinSnapshot(*engine->Connect(), "SELECT count(*) FROM t");
  ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
  // The reader alone holds the snapshot from here.
  auto snapshot = ReadPinned(*std::move(pinned), "SELECT count(*) AS n, sum(v) AS s FROM t");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  ASSERT_TRUE(Update(*writer, "INSERT INTO t SELECT range FROM range(1000, 1500)").ok());
  ASSERT_TRUE(Update(*writer, "DELETE FROM t WHERE v < 10").ok());
  auto rows = testing::ReadAll(**snapshot);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ((*(*rows)->column(0)->GetScalar(0))->ToString(), "1000");
  EXPECT_EQ((*(*rows)->column(1)->GetScalar(0))->ToString(), "499500");
  snapshot->reset();  // ends the read transaction
  auto now = Query(*writer, "SELECT count(*) FROM t");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ((*(*now)->column(0)->GetScalar(0))->ToString(), "1490");
}

TEST(ReadPinned, AFailingQueryEndsTheTransaction) {
  auto engine = testing::OpenMemoryEngine();
  auto connection = *engine->Connect();
  ASSERT_TRUE(Update(*connection, "CREATE TABLE t (v INTEGER)").ok());
  auto pinned = PinSnapshot(connection, "SELECT count(*) FROM t");
  ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
  EXPECT_TRUE(connection->InTransaction());
  auto snapshot = ReadPinned(*std::move(pinned), "SELECT nope FROM t");
  EXPECT_FALSE(snapshot.ok());
  EXPECT_FALSE(connection->InTransaction());
  EXPECT_TRUE(Update(*connection, "INSERT INTO t VALUES (1)").ok());
}

TEST(PinSnapshot, EveryQueryReadsTheRowsAsOfThePinUntilItIsReleased) {
  auto engine = testing::OpenMemoryEngine();
  auto writer = *engine->Connect();
  ASSERT_TRUE(Update(*writer, "CREATE TABLE t AS SELECT range AS v FROM range(1000)").ok());
  auto connection = *engine->Connect();
  auto pinned = PinSnapshot(connection, "SELECT count(*) FROM t");
  ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
  EXPECT_TRUE(connection->InTransaction());
  ASSERT_TRUE(Update(*writer, "DELETE FROM t WHERE v < 100").ok());
  const std::pair<const char*, const char*> asked[] = {
      {"SELECT count(*) FROM t", "1000"}, {"SELECT count(*) FROM t WHERE v >= 100", "900"}};
  for (const auto& [sql, count] : asked) {
    auto before = Query(**pinned, sql);
    ASSERT_TRUE(before.ok()) << before.status().ToString();
    EXPECT_EQ((*(*before)->column(0)->GetScalar(0))->ToString(), count) << sql;
  }
  // Also through the engine, for a table by name.
  auto by_name = engine->SnapshotConnection("", "t");
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  ASSERT_TRUE(Update(*writer, "DELETE FROM t WHERE v < 200").ok());
  auto counted = Query(**by_name, "SELECT count(*) FROM t");
  ASSERT_TRUE(counted.ok());
  EXPECT_EQ((*(*counted)->column(0)->GetScalar(0))->ToString(), "900");
  pinned->reset();  // ends the read transaction
  EXPECT_FALSE(connection->InTransaction());
  auto now = Query(*connection, "SELECT count(*) FROM t");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ((*(*now)->column(0)->GetScalar(0))->ToString(), "800");
}

}  // namespace
}  // namespace hyprstream::engine
