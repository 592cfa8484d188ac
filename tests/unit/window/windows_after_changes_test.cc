// Changes the windows cannot follow on embedded DuckDB (Windowed(DuckDB), the built-in metrics
// table): a retention DELETE, an UPDATE, an EXECUTE of a prepared change, in and out of
// transactions. No answer from window state may miss a committed change, and the windows are
// rebuilt from a snapshot of the stored rows in the background and answer again, equal to
// DuckDB's GROUP BY over the rows. Real DuckDB throughout.
#include <gtest/gtest.h>

#include <arrow/api.h>
#include <arrow/util/key_value_metadata.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../engine/engine_test_util.h"
#include "../server/windows_test_util.h"
#include "window/windowed_engine.h"

namespace hyprstream {
namespace {

using engine::testing::Query;
using engine::testing::Update;
using namespace std::chrono_literals;
using testing::Ask;
using testing::NowMicros;

// Answered from the metrics definition (tumbling 5m) and from metrics_trailing (trailing 1h).
constexpr char kTumbling[] =
    "SELECT metric_id, time_bucket(INTERVAL '5 minutes', timestamp) AS bucket, count(value) AS n, "
    "sum(value) AS s, min(value) AS lo, max(value) AS hi FROM metrics GROUP BY metric_id, bucket "
    "ORDER BY metric_id, bucket";
constexpr char kTrailingMetrics[] =
    "SELECT metric_id, count(value) AS n, sum(value) AS s, min(value) AS lo, max(value) AS hi "
    "FROM metrics WHERE timestamp > now() - INTERVAL '1 hour' GROUP BY metric_id "
    "ORDER BY metric_id";
const char* const kQueries[] = {kTumbling, kTrailingMetrics};

std::shared_ptr<arrow::Schema> MetricsSchema() {
  return arrow::schema({arrow::field("metric_id", arrow::utf8()),
                        arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO)),
                        arrow::field("value", arrow::float64())});
}

// `count` rows of random ids among `ids`, at most 50 seconds old (in any order, none later
// than the windows accept), integer values (their sums are exact in any order of addition).
std::shared_ptr<arrow::RecordBatch> Rows(std::mt19937& random, int ids, int count,
                                         int spread_s = 50) {
  arrow::StringBuilder id;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                             arrow::default_memory_pool());
  arrow::DoubleBuilder value;
  const int64_t now = NowMicros();
  for (int i = 0; i < count; ++i) {
    EXPECT_TRUE(id.Append("m" + std::to_string(random() % ids)).ok());
    EXPECT_TRUE(ts.Append(now - static_cast<int64_t>(random() % (spread_s * 1000)) * 1000).ok());
    EXPECT_TRUE(value.Append(static_cast<double>(random() % 1000)).ok());
  }
  return arrow::RecordBatch::Make(MetricsSchema(), count,
                                  {*id.Finish(), *ts.Finish(), *value.Finish()});
}

class WindowsAfterChangesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stored_ = engine::testing::OpenMemoryEngine();
    direct_ = *stored_->Connect();
    auto windowed = window::WindowedEngine::Open(stored_, window::WindowCatalogOptions{});
    ASSERT_TRUE(windowed.ok()) << windowed.status().ToString();
    engine_ = *windowed;
    client_ = *engine_->Connect();
  }
  void TearDown() override {
    client_.reset();
    engine_.reset();
  }

  static arrow::Status Ingest(engine::EngineConnection& connection,
                              std::shared_ptr<arrow::RecordBatch> rows) {
    engine::IngestRequest request;
    request.table = "metrics";
    request.if_exists = engine::IngestRequest::IfExists::kAppend;
    auto reader = engine::testing::ReaderOf(MetricsSchema(), {std::move(rows)});
    return connection.Ingest(request, reader.get()).status();
  }

  // With no write under way: whatever answers `sql` equals DuckDB over the stored rows.
  // Returns the answer's source.
  std::string ExpectTheStoredRowsAnswer(const std::string& sql, const std::string& when) {
    auto answer = Ask(*client_, sql);
    EXPECT_TRUE(answer.ok()) << answer.status().ToString();
    auto want = Query(*direct_, sql);
    EXPECT_TRUE(want.ok()) << want.status().ToString();
    if (!answer.ok() || !want.ok()) return "";
    EXPECT_TRUE(answer->rows->Equals(**want))
        << when << ": answered from " << answer->source << ":\n"
        << answer->rows->ToString() << "\nstored rows:\n"
        << (*want)->ToString();
    return answer->source;
  }

  // Window state answers again (rebuilt) and equals DuckDB over the stored rows.
  void ExpectTheWindowsAnswerAgain(const std::string& when) {
    for (const char* sql : kQueries) {
      std::string source;
      for (int attempt = 0; attempt < 500 && source != "windows"; ++attempt) {
        source = ExpectTheStoredRowsAnswer(sql, when);
        if (source != "windows") std::this_thread::sleep_for(20ms);
      }
      ASSERT_EQ(source, "windows") << when << ": window state never answered again: " << sql;
    }
    auto states = Query(*client_, "SELECT name, state FROM hyprstream_windows() ORDER BY name");
    ASSERT_TRUE(states.ok()) << states.status().ToString();
    for (int64_t i = 0; i < (*states)->num_rows(); ++i) {
      EXPECT_EQ((*(*states)->column(1)->GetScalar(i))->ToString(), "answering")
          << when << ": " << (*(*states)->column(0)->GetScalar(i))->ToString();
    }
  }

  // Right after a change committed, before any rebuild: every answer equals the stored rows.
  void ExpectNoStaleAnswer(const std::string& when) {
    for (const char* sql : kQueries) ExpectTheStoredRowsAnswer(sql, when);
  }

  std::mt19937 random_{20261206};
  std::shared_ptr<engine::Engine> stored_, engine_;
  std::shared_ptr<engine::EngineConnection> direct_, client_;
};

TEST_F(WindowsAfterChangesTest, ARetentionDeleteAnUpdateAndAnExecuteAreFollowedByARebuild) {
  // Rows of the last 50 minutes in any order: closed windows in the history, late rows.
  ASSERT_TRUE(Ingest(*client_, Rows(random_, 5, 30000, 3000)).ok());
  ASSERT_TRUE(Update(*client_, "DELETE FROM metrics WHERE metric_id = 'm1'").ok());
  // A direct read of the window's state waits for its rebuild.
  auto direct = Query(
      *client_,
      "SELECT metric_id, CAST(sum(value_count) AS BIGINT) AS n FROM hyprstream_window('metrics', "
      "width := '5m') GROUP BY metric_id ORDER BY metric_id");
  auto stored = Query(
      *direct_,
      "SELECT metric_id, count(value) AS n FROM metrics GROUP BY metric_id ORDER BY metric_id");
  ASSERT_TRUE(direct.ok() && stored.ok()) << direct.status().ToString();
  EXPECT_TRUE((*direct)->Equals(**stored)) << "direct read right after the DELETE:\n"
                                           << (*direct)->ToString() << "\nstored rows:\n"
                                           << (*stored)->ToString();
  ExpectNoStaleAnswer("right after the DELETE");
  ExpectTheWindowsAnswerAgain("after the DELETE");
  auto left = Query(*client_, "SELECT count(*) FROM metrics WHERE metric_id = 'm1'");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ((*(*left)->column(0)->GetScalar(0))->ToString(), "0");

  ASSERT_TRUE(Update(*client_, "UPDATE metrics SET value = value + 7 WHERE metric_id = 'm2'").ok());
  ExpectNoStaleAnswer("right after the UPDATE");
  ExpectTheWindowsAnswerAgain("after the UPDATE");

  // A statement whose writes cannot be told: every window is rebuilt.
  ASSERT_TRUE(
      Update(*client_, "PREPARE retention AS DELETE FROM metrics WHERE metric_id = 'm3'").ok());
  ASSERT_TRUE(Update(*client_, "EXECUTE retention").ok());
  ExpectNoStaleAnswer("right after the EXECUTE");
  ExpectTheWindowsAnswerAgain("after the EXECUTE");

  // Rows still arrive and fold into the rebuilt state.
  ASSERT_TRUE(Ingest(*client_, Rows(random_, 5, 500)).ok());
  ExpectTheWindowsAnswerAgain("after a later ingest");
}

TEST_F(WindowsAfterChangesTest, APreparedDeleteRunAgainStopsTheRebuiltWindowsAgain) {
  ASSERT_TRUE(Ingest(*client_, Rows(random_, 4, 50000)).ok());
  auto remove = client_->Prepare("DELETE FROM metrics WHERE value >= 900");
  ASSERT_TRUE(remove.ok()) << remove.status().ToString();
  for (int round = 0; round < 3; ++round) {
    ExpectTheWindowsAnswerAgain("before execution " + std::to_string(round));
    ASSERT_TRUE(Ingest(*client_, Rows(random_, 4, 300)).ok());
    ASSERT_TRUE((*remove)->ExecuteUpdate().ok());
    ExpectNoStaleAnswer("right after execution " + std::to_string(round));
  }
  ExpectTheWindowsAnswerAgain("after the last execution");
}

TEST_F(WindowsAfterChangesTest, AChangeInATransactionIsRebuiltOnceItCommitsOrRollsBack) {
  ASSERT_TRUE(Ingest(*client_, Rows(random_, 4, 50000)).ok());
  ExpectTheWindowsAnswerAgain("after the ingest");
  auto writer = *engine_->Connect();

  ASSERT_TRUE(writer->BeginTransaction().ok());
  ASSERT_TRUE(Update(*writer, "DELETE FROM metrics WHERE metric_id = 'm0'").ok());
  ASSERT_TRUE(Ingest(*writer, Rows(random_, 4, 100)).ok());
  // Others still see the rows the transaction deleted. Another session's change meanwhile:
  // the windows are rebuilt without the open transaction's change, and answer.
  ExpectNoStaleAnswer("while the transaction is open");
  ASSERT_TRUE(Update(*client_, "DELETE FROM metrics WHERE metric_id = 'm3'").ok());
  ExpectTheWindowsAnswerAgain("while the transaction is open, after another change");
  // Its commit stops them again at once (not only once the rebuild it asks for is done).
  ASSERT_TRUE(writer->Commit().ok());
  ExpectNoStaleAnswer("right after the commit");
  ExpectTheWindowsAnswerAgain("after the commit");

  ASSERT_TRUE(Update(*writer, "BEGIN TRANSACTION").ok());
  ASSERT_TRUE(Update(*writer, "DELETE FROM metrics WHERE metric_id = 'm1'").ok());
  ASSERT_TRUE(Update(*writer, "ROLLBACK").ok());
  ExpectNoStaleAnswer("right after the rollback");
  ExpectTheWindowsAnswerAgain("after the rollback");
  auto kept = Query(*client_, "SELECT count(*) FROM metrics WHERE metric_id = 'm1'");
  ASSERT_TRUE(kept.ok());
  EXPECT_NE((*(*kept)->column(0)->GetScalar(0))->ToString(), "0");

  // A transaction left open when its session ends: rolled back; the windows answer on.
  auto leaving = *engine_->Connect();
  ASSERT_TRUE(leaving->BeginTransaction().ok());
  ASSERT_TRUE(Update(*leaving, "DELETE FROM metrics WHERE metric_id = 'm2'").ok());
  leaving.reset();
  ExpectNoStaleAnswer("after a session left a change uncommitted");
  ExpectTheWindowsAnswerAgain("after a session left a change uncommitted");
}

// Randomised: a writer ingests and a changer deletes and updates (a prepared statement run
// again, plain statements, transactions that commit or roll back) while a reader asks.
// After each round: right away every answer equals the stored rows, and the windows answer
// again, equal to them.
TEST_F(WindowsAfterChangesTest, RandomisedChangesBesideWritesAgreeWithTheStoredRows) {
  ASSERT_TRUE(Ingest(*client_, Rows(random_, 6, 2000, 3000)).ok());
  auto changer = *engine_->Connect();
  auto prepared = changer->Prepare("DELETE FROM metrics WHERE value < 25");
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  for (int round = 0; round < 6; ++round) {
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0};
    std::thread writer([&, seed = random_()] {
      std::mt19937 random(seed);
      auto connection = *engine_->Connect();
      while (!stop) {
        if (!Ingest(*connection, Rows(random, 6, 1 + random() % 200)).ok()) ++failures;
        std::this_thread::sleep_for(std::chrono::milliseconds(random() % 5));
      }
    });
    std::thread reader([&] {
      auto connection = *engine_->Connect();
      while (!stop) {
        for (const char* sql : kQueries) {
          if (!Ask(*connection, sql).ok()) ++failures;
        }
      }
    });
    std::mt19937 random(random_());
    for (int change = 0; change < 8; ++change) {
      const std::string id = "m" + std::to_string(random() % 6);
      const bool in_transaction = random() % 3 == 0;
      const bool commit = random() % 4 != 0;
      if (in_transaction) {
        ASSERT_TRUE(changer->BeginTransaction().ok());
      }
      arrow::Status status;
      switch (random() % 3) {
        case 0:
          status = (*prepared)->ExecuteUpdate().status();
          break;
        case 1:
          status = Update(*changer, "DELETE FROM metrics WHERE metric_id = '" + id +
                                        "' AND value > " + std::to_string(random() % 1000))
                       .status();
          break;
        default:
          status = Update(*changer,
                          "UPDATE metrics SET value = value + 1 WHERE metric_id = '" + id + "'")
                       .status();
      }
      ASSERT_TRUE(status.ok()) << status.ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 30));
      if (in_transaction) {
        ASSERT_TRUE((commit ? changer->Commit() : changer->Rollback()).ok());
      }
    }
    stop = true;
    writer.join();
    reader.join();
    ASSERT_EQ(failures.load(), 0);
    ExpectNoStaleAnswer("round " + std::to_string(round) + ", right after the writes");
    ExpectTheWindowsAnswerAgain("round " + std::to_string(round));
  }
}

}  // namespace
}  // namespace hyprstream
