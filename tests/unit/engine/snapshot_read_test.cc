// PinSnapshot and ReadPinned over real DuckDB: the rows are those committed when the call
// returned, however late they are read and whatever other connections commit meanwhile.
#include "engine/snapshot_read.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

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

// The setup statements (PostgreSQL's SET TRANSACTION) run first, in order, in the pin's transaction
// and ends with it; when it fails, nothing is pinned and the connection is left out of any
// transaction.
TEST(PinSnapshot, TheSetupStatementsRunFirstInTheTransaction) {
  auto engine = testing::OpenMemoryEngine();
  auto connection = *engine->Connect();
  auto pinned =
      PinSnapshot(connection, "SELECT count(*) FROM marker",
                  {"CREATE TEMP TABLE marker AS SELECT 1 AS x", "INSERT INTO marker VALUES (2)"});
  ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
  auto marked = Query(**pinned, "SELECT sum(x) FROM marker");
  ASSERT_TRUE(marked.ok());
  EXPECT_EQ((*(*marked)->column(0)->GetScalar(0))->ToString(), "3");
  pinned->reset();  // rolls the transaction back, the table with it
  EXPECT_FALSE(connection->InTransaction());
  EXPECT_FALSE(Query(*connection, "SELECT x FROM marker").ok());

  auto refused = PinSnapshot(connection, "SELECT 1", {"SELECT 1", "SET TRANSACTION NOT A THING"});
  EXPECT_FALSE(refused.ok());
  EXPECT_FALSE(connection->InTransaction());
  EXPECT_TRUE(Update(*connection, "CREATE TABLE t (v INTEGER)").ok());
}

// BeginSharingSnapshot (DuckDB): the writer's transaction and the reader see the same rows;
// the writer's own change is seen by it alone, and rows committed after are seen by neither.
TEST(BeginSharingSnapshot, TheWriterAndTheReaderStartFromTheSameRows) {
  auto engine = testing::OpenMemoryEngine();
  auto setup = *engine->Connect();
  ASSERT_TRUE(Update(*setup, "CREATE TABLE t AS SELECT range AS v FROM range(1000)").ok());
  auto writer = *engine->Connect();
  auto reader = engine->BeginSharingSnapshot(*writer, "", "t");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_TRUE(writer->InTransaction());
  ASSERT_TRUE(Update(*setup, "INSERT INTO t SELECT range FROM range(1000, 1500)").ok());
  ASSERT_TRUE(Update(*writer, "DELETE FROM t WHERE v < 100").ok());
  auto count = [](EngineConnection& connection, const std::string& sql) {
    auto table = Query(connection, sql);
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    return table.ok() ? (*(*table)->column(0)->GetScalar(0))->ToString() : std::string();
  };
  EXPECT_EQ(count(**reader, "SELECT count(*) FROM t"), "1000");
  EXPECT_EQ(count(*writer, "SELECT count(*) FROM t"), "900");
  EXPECT_EQ(count(**reader, "SELECT count(*) FROM t WHERE v >= 100"), "900");
  ASSERT_TRUE(writer->Commit().ok());
  EXPECT_EQ(count(*setup, "SELECT count(*) FROM t"), "1400");
  EXPECT_EQ(count(**reader, "SELECT count(*) FROM t"), "1000");  // still its snapshot
}

// A table that cannot be read leaves no transaction on the writer.
TEST(BeginSharingSnapshot, AFailureLeavesTheWriterOutOfATransaction) {
  auto engine = testing::OpenMemoryEngine();
  auto writer = *engine->Connect();
  EXPECT_FALSE(engine->BeginSharingSnapshot(*writer, "", "missing").ok());
  EXPECT_FALSE(writer->InTransaction());
  EXPECT_TRUE(Update(*writer, "CREATE TABLE t (v INTEGER)").ok());
}

// Queries of t's values v, 300 at a time in order, then none; `asked_after` gets what each
// call was given (the rows of the query before).
NextQuery ThreeHundredAtATime(std::vector<int64_t>* asked_after) {
  return [asked_after](int64_t rows_of_last) -> std::optional<std::string> {
    asked_after->push_back(rows_of_last);
    const int64_t from = 300 * static_cast<int64_t>(asked_after->size() - 1);
    if (from >= 1000) return std::nullopt;
    return "SELECT v FROM t WHERE v >= " + std::to_string(from) + " AND v < " +
           std::to_string(from + 300) + " ORDER BY v";
  };
}

// t holds the values 0-999, pinned_ a snapshot of it.
class ReadPinnedInTurnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Update(*writer_, "CREATE TABLE t AS SELECT range AS v FROM range(1000)").ok());
    auto pinned = PinSnapshot(*engine_->Connect(), "SELECT count(*) FROM t");
    ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
    pinned_ = *std::move(pinned);
  }
  std::shared_ptr<Engine> engine_ = testing::OpenMemoryEngine();
  std::shared_ptr<EngineConnection> writer_ = *engine_->Connect();
  std::shared_ptr<EngineConnection> pinned_;
  std::vector<int64_t> asked_after_;
};

// Queries read in turn: each is asked for with the rows the one before gave, runs on the same
// snapshot once the reader reaches it, and the reader ends with the last.
TEST_F(ReadPinnedInTurnTest, ReadsEachQueryOfTheSnapshotInTurn) {
  auto reader = ReadPinnedInTurn(std::move(pinned_), ThreeHundredAtATime(&asked_after_));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(asked_after_, std::vector<int64_t>{-1});
  // Rows committed after the pin are in no query, however late it runs.
  ASSERT_TRUE(Update(*writer_, "INSERT INTO t SELECT range FROM range(1000, 1500)").ok());
  ASSERT_TRUE(Update(*writer_, "DELETE FROM t WHERE v >= 900 AND v < 1000").ok());
  auto rows = testing::ReadAll(**reader);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ((*rows)->num_rows(), 1000);
  auto combined = *(*rows)->CombineChunksToBatch();
  const auto& values = static_cast<const arrow::Int64Array&>(*combined->column(0));
  for (int64_t i = 0; i < values.length(); ++i) ASSERT_EQ(values.Value(i), i);
  EXPECT_EQ(asked_after_, (std::vector<int64_t>{-1, 300, 300, 300, 100}));
}

// With `arrange`, each query's rows are given out as it returns them, and the next query is
// asked for with the rows given out.
TEST_F(ReadPinnedInTurnTest, EachQuerysRowsAreGivenOutAsArranged) {
  // Each query's rows but its first, newest first.
  auto arrange =
      [](std::shared_ptr<arrow::Table> rows) -> arrow::Result<std::shared_ptr<arrow::Table>> {
    ARROW_ASSIGN_OR_RAISE(auto batch, rows->Slice(1)->CombineChunksToBatch());
    const auto& values = static_cast<const arrow::Int64Array&>(*batch->column(0));
    arrow::Int64Builder reversed;
    for (int64_t i = values.length() - 1; i >= 0; --i)
      ARROW_RETURN_NOT_OK(reversed.Append(values.Value(i)));
    ARROW_ASSIGN_OR_RAISE(auto column, reversed.Finish());
    return arrow::Table::Make(rows->schema(), {column});
  };
  auto reader = ReadPinnedInTurn(std::move(pinned_), ThreeHundredAtATime(&asked_after_), arrange);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto rows = testing::ReadAll(**reader);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  auto combined = *(*rows)->CombineChunksToBatch();
  const auto& values = static_cast<const arrow::Int64Array&>(*combined->column(0));
  std::vector<int64_t> got(values.raw_values(), values.raw_values() + values.length());
  std::vector<int64_t> want;
  for (int64_t from : {0, 300, 600, 900}) {
    for (int64_t v = std::min<int64_t>(from + 299, 999); v > from; --v) want.push_back(v);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(asked_after_, (std::vector<int64_t>{-1, 299, 299, 299, 99}));
}

TEST(ReadPinnedInTurn, AQueryOfOtherColumnsFailsTheRead) {
  auto engine = testing::OpenMemoryEngine();
  auto connection = *engine->Connect();
  ASSERT_TRUE(Update(*connection, "CREATE TABLE t AS SELECT range AS v FROM range(10)").ok());
  auto pinned = PinSnapshot(connection, "SELECT count(*) FROM t");
  ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
  int asked = 0;
  auto reader = ReadPinnedInTurn(*std::move(pinned), [&](int64_t) -> std::optional<std::string> {
    ++asked;
    if (asked == 1) return "SELECT v FROM t";
    if (asked == 2) return "SELECT CAST(v AS VARCHAR) AS v FROM t";
    return std::nullopt;
  });
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto rows = testing::ReadAll(**reader);
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("columns"), std::string::npos) << rows.status().ToString();
  reader->reset();
  EXPECT_FALSE(connection->InTransaction());
}

}  // namespace
}  // namespace hyprstream::engine
