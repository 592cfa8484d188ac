// ReadInSnapshot over real DuckDB: the rows are those committed when the call returned, however
// late they are read and whatever other connections commit meanwhile.
#include "engine/snapshot_read.h"

#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace hyprstream::engine {
namespace {

using testing::Query;
using testing::Update;

TEST(ReadInSnapshot, RowsCommittedAfterTheCallAreNotRead) {
  auto engine = testing::OpenMemoryEngine();
  auto writer = *engine->Connect();
  ASSERT_TRUE(Update(*writer, "CREATE TABLE t AS SELECT range AS v FROM range(1000)").ok());
  auto snapshot = ReadInSnapshot(*engine->Connect(), "SELECT count(*) FROM t",
                                 "SELECT count(*) AS n, sum(v) AS s FROM t");
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

TEST(ReadInSnapshot, AFailingQueryEndsTheTransaction) {
  auto engine = testing::OpenMemoryEngine();
  auto connection = *engine->Connect();
  ASSERT_TRUE(Update(*connection, "CREATE TABLE t (v INTEGER)").ok());
  auto snapshot = ReadInSnapshot(connection, "SELECT count(*) FROM t", "SELECT nope FROM t");
  EXPECT_FALSE(snapshot.ok());
  EXPECT_FALSE(connection->InTransaction());
  EXPECT_TRUE(Update(*connection, "INSERT INTO t VALUES (1)").ok());
}

}  // namespace
}  // namespace hyprstream::engine
