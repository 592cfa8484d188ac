// Changes to the stored rows on embedded DuckDB (Windowed(DuckDB), the built-in metrics
// table): DELETEs, an UPDATE, an EXECUTE of a prepared change, in and out of transactions. No
// answer from window state may miss a committed change. The windows follow a DELETE of the
// oldest rows (retention) at once where their state holds none of them; after any other
// change they are rebuilt from a snapshot of the stored rows in the background; either way
// they answer again, equal to DuckDB's GROUP BY over the rows. Real DuckDB throughout.
#include <gtest/gtest.h>

#include <arrow/api.h>
#include <arrow/util/key_value_metadata.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../engine/engine_test_util.h"
#include "../server/windows_test_util.h"
#include "engine/forwarding_engine.h"
#include "engine/result_provenance.h"
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
// Older than today (the open 1d window): the state in memory holds none of these rows.
constexpr char kRetention[] = "DELETE FROM metrics WHERE timestamp < now() - INTERVAL '2 days'";

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

// `count` rows of random ids among `ids` spread over the `span_s` seconds before `end`, in
// time order (none late), integer values.
std::shared_ptr<arrow::RecordBatch> OrderedRows(std::mt19937& random, int ids, int count,
                                                int64_t end, int64_t span_s) {
  std::vector<int64_t> times;
  for (int i = 0; i < count; ++i) {
    times.push_back(end - 1 - static_cast<int64_t>(random() % (span_s * 1000)) * 1000);
  }
  std::sort(times.begin(), times.end());
  arrow::StringBuilder id;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                             arrow::default_memory_pool());
  arrow::DoubleBuilder value;
  for (int64_t time : times) {
    EXPECT_TRUE(id.Append("m" + std::to_string(random() % ids)).ok());
    EXPECT_TRUE(ts.Append(time).ok());
    EXPECT_TRUE(value.Append(static_cast<double>(random() % 1000)).ok());
  }
  return arrow::RecordBatch::Make(MetricsSchema(), count,
                                  {*id.Finish(), *ts.Finish(), *value.Finish()});
}

// Between the windows and DuckDB, three gates a test can hold: one before a build takes its
// snapshot of the stored rows, one before the windows write a history (a state built from a
// snapshot is published before its history is replaced), and one before a followed DELETE
// trims a history (its first statement, which asks whether the history exists).
class BuildGates : public engine::ForwardingEngine {
 public:
  using ForwardingEngine::ForwardingEngine;
  struct Gate {
    bool held = false;
    int waiting = 0;
  };

  arrow::Result<std::shared_ptr<engine::EngineConnection>> Connect() override {
    ARROW_ASSIGN_OR_RAISE(auto inner, target().Connect());
    return std::make_shared<Connection>(std::move(inner), this);
  }
  arrow::Result<std::shared_ptr<engine::EngineConnection>> SnapshotConnection(
      const std::string& schema, const std::string& table) override {
    Pass(snapshots_);
    return target().SnapshotConnection(schema, table);
  }
  Gate& history() { return history_; }
  Gate& snapshots() { return snapshots_; }
  Gate& trims() { return trims_; }
  // The first query of a DELETE's check (its oldest time left) fails and aborts the DELETE's
  // transaction.
  std::atomic<bool> fail_checks{false};
  void Hold(Gate& gate) {
    std::lock_guard<std::mutex> lock(mutex_);
    gate.held = true;
  }
  void Release(Gate& gate) {
    std::lock_guard<std::mutex> lock(mutex_);
    gate.held = false;
    changed_.notify_all();
  }
  // Whether a call waits at `gate` within `timeout`.
  bool WaitForACall(Gate& gate, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&gate] { return gate.waiting > 0; });
  }

 private:
  void Pass(Gate& gate) {
    std::unique_lock<std::mutex> lock(mutex_);
    ++gate.waiting;
    changed_.notify_all();
    changed_.wait(lock, [&gate] { return !gate.held; });
    --gate.waiting;
  }
  class Connection : public engine::ForwardingConnection {
   public:
    Connection(std::shared_ptr<engine::EngineConnection> inner, BuildGates* gates)
        : ForwardingConnection(std::move(inner)), gates_(gates) {}
    arrow::Result<int64_t> Ingest(const engine::IngestRequest& request,
                                  arrow::RecordBatchReader* batches) override {
      if (request.table.ends_with("_history")) gates_->Pass(gates_->history_);
      return target().Ingest(request, batches);
    }
    arrow::Result<std::unique_ptr<engine::EngineStatement>> Prepare(
        const std::string& sql) override {
      if (sql.find("_history\" WHERE false") != std::string::npos) gates_->Pass(gates_->trims_);
      if (gates_->fail_checks && sql.starts_with("SELECT min(") && target().InTransaction()) {
        // As a check that fails in the DELETE's transaction would: the transaction is aborted.
        (void)engine::testing::Update(target(), "SELECT CAST('not a number' AS INTEGER)");
        return arrow::Status::IOError("the check failed (a test's gate)");
      }
      return target().Prepare(sql);
    }

   private:
    BuildGates* gates_;
  };

  std::mutex mutex_;
  std::condition_variable changed_;
  Gate history_, snapshots_, trims_;  // GUARDED_BY(mutex_)
};

class WindowsAfterChangesTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(window::WindowCatalogOptions{}); }
  void TearDown() override {
    gates_->Release(gates_->snapshots());
    gates_->Release(gates_->history());
    gates_->Release(gates_->trims());
    client_.reset();
    engine_.reset();
    windowed_.reset();
  }
  // A new database, with windows of `options`.
  void Open(const window::WindowCatalogOptions& options) {
    client_.reset();
    engine_.reset();
    windowed_.reset();
    stored_ = engine::testing::OpenMemoryEngine();
    direct_ = *stored_->Connect();
    gates_ = std::make_shared<BuildGates>(stored_);
    auto windowed = window::WindowedEngine::Open(gates_, options);
    ASSERT_TRUE(windowed.ok()) << windowed.status().ToString();
    windowed_ = *windowed;
    engine_ = windowed_;
    client_ = *engine_->Connect();
  }
  // hyprstream_windows().state of definition `name`.
  std::string StateOf(const std::string& name) {
    auto states =
        Query(*client_, "SELECT state FROM hyprstream_windows() WHERE name = '" + name + "'");
    if (!states.ok() || (*states)->num_rows() != 1) return "";
    return (*(*states)->column(0)->GetScalar(0))->ToString();
  }

  // A writer ingesting recent rows and a reader asking kQueries, until the call returned
  // stops them; it returns how many of their calls failed.
  std::function<int()> WriteAndReadMeanwhile(uint32_t seed) {
    struct Running {
      std::atomic<bool> stop{false};
      std::atomic<int> failures{0};
      std::thread writer, reader;
    };
    auto running = std::make_shared<Running>();
    running->writer = std::thread([this, running, seed] {
      std::mt19937 random(seed);
      auto connection = *engine_->Connect();
      while (!running->stop) {
        if (!Ingest(*connection, Rows(random, 6, 1 + random() % 200)).ok()) ++running->failures;
        std::this_thread::sleep_for(std::chrono::milliseconds(random() % 5));
      }
    });
    running->reader = std::thread([this, running] {
      auto connection = *engine_->Connect();
      while (!running->stop) {
        for (const char* sql : kQueries) {
          if (!Ask(*connection, sql).ok()) ++running->failures;
        }
      }
    });
    return [running] {
      running->stop = true;
      running->writer.join();
      running->reader.join();
      return running->failures.load();
    };
  }

  // States built in the background since start, over every definition.
  uint64_t Rebuilds() const {
    uint64_t rebuilds = 0;
    for (const auto& definition : windowed_->catalog().GetStats().definitions) {
      rebuilds += definition.rebuilds;
    }
    return rebuilds;
  }
  // DELETEs followed without a rebuild since start, over every definition.
  uint64_t FollowedDeletes() const {
    uint64_t followed = 0;
    for (const auto& definition : windowed_->catalog().GetStats().definitions) {
      followed += definition.followed_deletes;
    }
    return followed;
  }

  // Every width of the metrics definition read directly (open windows and history) equals
  // DuckDB's GROUP BY of the stored rows into those windows.
  void ExpectEveryWidthEqualsTheStoredRows(const std::string& when) {
    for (const char* width : {"5 minutes", "30 minutes", "1 hour", "1 day"}) {
      const std::string name = width == std::string("5 minutes")    ? "5m"
                               : width == std::string("30 minutes") ? "30m"
                               : width == std::string("1 hour")     ? "1h"
                                                                    : "1d";
      auto direct = Query(*client_,
                          "SELECT metric_id, window_start, CAST(value_count AS BIGINT) AS n, "
                          "value_sum AS s, value_min AS lo, value_max AS hi FROM "
                          "hyprstream_window('metrics', width := '" +
                              name + "') ORDER BY metric_id, window_start");
      auto stored =
          Query(*direct_, std::string("SELECT metric_id, time_bucket(INTERVAL '") + width +
                              "', timestamp) AS window_start, count(value) AS n, "
                              "sum(value) AS s, min(value) AS lo, max(value) AS hi "
                              "FROM metrics GROUP BY ALL ORDER BY metric_id, "
                              "window_start");
      ASSERT_TRUE(direct.ok()) << direct.status().ToString();
      ASSERT_TRUE(stored.ok()) << stored.status().ToString();
      EXPECT_TRUE((*direct)->Equals(**stored))
          << when << ", " << name << " windows read directly:\n"
          << (*direct)->ToString() << "\nstored rows:\n"
          << (*stored)->ToString();
    }
  }

  // Three days of metrics up to now in time order (no late rows: the windows answer).
  void IngestThreeDays() {
    const int64_t now = NowMicros();
    constexpr int64_t kDay = 86400;
    for (int day = 3; day >= 1; --day) {
      ASSERT_TRUE(
          Ingest(*client_, OrderedRows(random_, 6, 3000, now - (day - 1) * kDay * 1000000, kDay))
              .ok());
    }
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

  // Runs `sql` (a DELETE the windows follow) on a connection of its own, held at the trims gate
  // once it committed (WaitForACall tells when); the caller releases the gate and joins.
  std::thread DeleteHeldBeforeItsTrim(const std::string& sql) {
    gates_->Hold(gates_->trims());
    return std::thread([this, sql] {
      auto connection = *engine_->Connect();
      EXPECT_TRUE(Update(*connection, sql).ok()) << sql;
    });
  }

  // Right after a change committed, before any rebuild: every answer equals the stored rows.
  void ExpectNoStaleAnswer(const std::string& when) {
    for (const char* sql : kQueries) ExpectTheStoredRowsAnswer(sql, when);
  }

  std::mt19937 random_{20261206};
  std::shared_ptr<BuildGates> gates_;
  std::shared_ptr<window::WindowedEngine> windowed_;
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

TEST_F(WindowsAfterChangesTest, WhileARebuiltStatesHistoryIsWrittenReadsOfTheStateAloneAnswer) {
  // metrics with a trailing hour of its own (no metrics_trailing): one state, with history.
  window::WindowCatalogOptions options;
  options.metrics_windows.push_back(window::WindowDef::Trailing(3600LL * 1000000));
  options.metrics_trailing_windows.clear();
  Open(options);
  IngestThreeDays();
  ASSERT_TRUE(Ingest(*client_, Rows(random_, 6, 300)).ok());
  ExpectTheWindowsAnswerAgain("after the ingest");

  // A read of the newest windows asked while the state is rebuilt is answered once it is
  // published, before its history is written.
  gates_->Hold(gates_->snapshots());
  gates_->Hold(gates_->history());
  ASSERT_TRUE(Update(*client_, "UPDATE metrics SET value = value + 7 WHERE metric_id = 'm2'").ok());
  ASSERT_TRUE(gates_->WaitForACall(gates_->snapshots(), 30s)) << "no rebuild began";
  EXPECT_EQ(StateOf("metrics"), "rebuilding");
  auto reader = *engine_->Connect();
  auto current = std::async(std::launch::async, [&] {
    return Query(*reader,
                 "SELECT metric_id, CAST(value_count AS BIGINT) AS n, value_sum AS s, "
                 "value_min AS lo, value_max AS hi FROM hyprstream_window('metrics', "
                 "width := '5m', current := 'true') ORDER BY metric_id");
  });
  EXPECT_EQ(current.wait_for(200ms), std::future_status::timeout)
      << "a read of the newest windows did not wait for the rebuild";
  gates_->Release(gates_->snapshots());
  ASSERT_TRUE(gates_->WaitForACall(gates_->history(), 30s))
      << "the rebuild never wrote its history";
  // The state alone answers, with the UPDATE's values: the newest windows read directly, and
  // the trailing query.
  ASSERT_EQ(current.wait_for(20s), std::future_status::ready)
      << "a read of the newest windows waited for the history";
  auto newest = current.get();
  auto stored = Query(*direct_,
                      "SELECT metric_id, count(value) AS n, sum(value) AS s, min(value) AS lo, "
                      "max(value) AS hi FROM metrics WHERE time_bucket(INTERVAL '5 minutes', "
                      "timestamp) = (SELECT time_bucket(INTERVAL '5 minutes', max(timestamp)) "
                      "FROM metrics) GROUP BY metric_id ORDER BY metric_id");
  ASSERT_TRUE(newest.ok() && stored.ok()) << newest.status().ToString();
  ASSERT_GT((*stored)->num_rows(), 0);
  EXPECT_TRUE((*newest)->Equals(**stored)) << "the newest windows:\n"
                                           << (*newest)->ToString() << "\nstored rows:\n"
                                           << (*stored)->ToString();
  EXPECT_EQ(StateOf("metrics"), "writing history");
  EXPECT_EQ(ExpectTheStoredRowsAnswer(kTrailingMetrics, "while the history is written"), "windows");
  // What needs the closed windows waits for the history: the engine answers the query, and a
  // direct read of every window returns once the history is written.
  EXPECT_NE(ExpectTheStoredRowsAnswer(kTumbling, "while the history is written"), "windows");
  auto every = std::async(std::launch::async, [&] {
    return Query(*reader, "SELECT count(*) FROM hyprstream_window('metrics', width := '5m')");
  });
  EXPECT_EQ(every.wait_for(300ms), std::future_status::timeout)
      << "a read of the closed windows did not wait for the history";
  gates_->Release(gates_->history());
  ASSERT_TRUE(every.get().ok());
  ExpectTheWindowsAnswerAgain("once the history is written");
  ExpectEveryWidthEqualsTheStoredRows("once the history is written");
}

TEST_F(WindowsAfterChangesTest, ARetentionDeleteOfTheOldestRowsIsFollowedWithoutARebuild) {
  IngestThreeDays();
  ExpectTheWindowsAnswerAgain("after the ingest");
  const uint64_t rebuilds = Rebuilds();
  // Older than today (the open 1d window): the state in memory holds none of these rows.
  ASSERT_TRUE(
      Update(*client_, "DELETE FROM metrics WHERE timestamp < now() - INTERVAL '2 days'").ok());
  for (const char* sql : kQueries) {
    EXPECT_EQ(ExpectTheStoredRowsAnswer(sql, "right after the retention DELETE"), "windows") << sql;
  }
  ExpectEveryWidthEqualsTheStoredRows("right after the retention DELETE");
  // A bound inside the windows of every width (not on any window's edge), by a prepared
  // statement, run twice.
  auto remove = client_->Prepare(
      "DELETE FROM metrics WHERE timestamp < (SELECT min(timestamp) FROM metrics) + "
      "INTERVAL '7 hours 13 minutes 7 seconds'");
  ASSERT_TRUE(remove.ok()) << remove.status().ToString();
  for (int run = 0; run < 2; ++run) {
    ASSERT_TRUE((*remove)->ExecuteUpdate().ok());
    for (const char* sql : kQueries) {
      EXPECT_EQ(ExpectTheStoredRowsAnswer(sql, "right after the prepared DELETE"), "windows")
          << sql;
    }
    ExpectEveryWidthEqualsTheStoredRows("after run " + std::to_string(run));
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(Rebuilds(), rebuilds) << "the windows were rebuilt instead of following the DELETEs";
  EXPECT_EQ(FollowedDeletes(), 3u * 2) << "three DELETEs, each followed by both definitions";
  // Rows still fold in.
  ASSERT_TRUE(Ingest(*client_, Rows(random_, 6, 500)).ok());
  ExpectTheWindowsAnswerAgain("after a later ingest");
  ExpectEveryWidthEqualsTheStoredRows("after a later ingest");
}

TEST_F(WindowsAfterChangesTest, DeletesOfOtherRowsOrOfRowsTheStateHoldsAreRebuilt) {
  IngestThreeDays();
  ExpectTheWindowsAnswerAgain("after the ingest");
  uint64_t rebuilds = Rebuilds();
  // Old rows, but not all of them: not the oldest rows.
  ASSERT_TRUE(Update(*client_,
                     "DELETE FROM metrics WHERE timestamp < now() - INTERVAL '2 days' AND "
                     "metric_id <> 'm1'")
                  .ok());
  ExpectNoStaleAnswer("right after a DELETE of some old rows");
  ExpectTheWindowsAnswerAgain("after a DELETE of some old rows");
  ExpectEveryWidthEqualsTheStoredRows("after a DELETE of some old rows");
  EXPECT_GT(Rebuilds(), rebuilds);
  EXPECT_EQ(FollowedDeletes(), 0u);
  rebuilds = Rebuilds();
  // The oldest rows, but into what both definitions still hold: those older than 10 minutes
  // (metrics_trailing keeps its last hour), and at least up to the first row of metrics' oldest
  // window still open (just after midnight UTC today's 1d window holds only minutes of rows).
  const std::string ten_minutes_ago = engine::FormatTimestamp(NowMicros() - 600000000LL);
  auto bound_row =
      Query(*client_, "SELECT CAST(greatest(TIMESTAMP '" + ten_minutes_ago +
                          "', (SELECT min(timestamp) FROM metrics WHERE timestamp >= (SELECT "
                          "min(window_start) FROM hyprstream_window('metrics') WHERE NOT "
                          "closed)) + INTERVAL '1 microsecond') AS VARCHAR)");
  ASSERT_TRUE(bound_row.ok()) << bound_row.status().ToString();
  const std::string bound = (*(*bound_row)->column(0)->GetScalar(0))->ToString();
  ASSERT_TRUE(
      Update(*client_, "DELETE FROM metrics WHERE timestamp < TIMESTAMP '" + bound + "'").ok())
      << bound;
  ExpectNoStaleAnswer("right after a DELETE into the open windows");
  ExpectTheWindowsAnswerAgain("after a DELETE into the open windows");
  ExpectEveryWidthEqualsTheStoredRows("after a DELETE into the open windows");
  EXPECT_GT(Rebuilds(), rebuilds);
  EXPECT_EQ(FollowedDeletes(), 0u);
}

// The steps ChangingWrite takes for a DELETE it may follow, through the catalog: the windows
// answer until the check, their state throughout; another change that lands meanwhile keeps
// them from answering (they are rebuilt for it).
TEST_F(WindowsAfterChangesTest, AChangeWhileADeleteIsFollowedIsNotHidden) {
  IngestThreeDays();
  ExpectTheWindowsAnswerAgain("after the ingest");
  window::WindowCatalog& catalog = windowed_->catalog();
  const window::TableName metrics = window::WindowCatalog::MetricsTableName();
  for (const bool another_change : {false, true}) {
    const std::string when = another_change ? "with another change" : "alone";
    auto deleting = *stored_->Connect();
    std::optional<window::WindowCatalog::DeleteWatch> watch;
    {
      auto exclusion = catalog.write_gate().Exclude(metrics);
      watch = catalog.WatchDelete(metrics, *deleting);
    }
    ASSERT_TRUE(watch.has_value()) << when;
    using Needs = window::WindowCatalog::Needs;
    // Until the DELETE commits, others see the rows as they were: the windows answer.
    for (const char* name : {"metrics", "metrics_trailing"}) {
      EXPECT_TRUE(catalog.Answers(name, Needs::kHistory)) << when << ": " << name;
    }
    ASSERT_TRUE(Update(*deleting, "DELETE FROM metrics WHERE timestamp < now() - INTERVAL '" +
                                      std::string(another_change ? "1 day" : "2 days") + "'")
                    .ok());
    if (another_change) catalog.Diverged(metrics);  // e.g. another session's UPDATE
    catalog.CheckDelete(*watch, *deleting);
    // The state holds none of the rows removed and answers on; the history waits for its trim.
    EXPECT_EQ(catalog.Answers("metrics", Needs::kState), !another_change) << when;
    EXPECT_EQ(catalog.Answers("metrics_trailing", Needs::kState), !another_change) << when;
    EXPECT_FALSE(catalog.Answers("metrics", Needs::kHistory)) << when;
    ASSERT_TRUE(deleting->Commit().ok());
    catalog.FollowDelete(*watch);
    EXPECT_EQ(catalog.Answers("metrics", Needs::kHistory), !another_change) << when;
    EXPECT_EQ(FollowedDeletes(), 2u) << when << ": only the DELETE alone is followed";
    catalog.ChangeEnded(metrics);
    ExpectTheWindowsAnswerAgain(when);
    ExpectEveryWidthEqualsTheStoredRows(when);
  }
}

// A followed DELETE trims the history after its commit, while writes and other changes go on.
// Here another change lands meanwhile and its rebuild replaces the history while the trim waits
// (the trims gate): the trim must not land on the rebuilt history (it would add the windows
// holding the oldest row left a second time). Every width then equals the stored rows.
TEST_F(WindowsAfterChangesTest, AFollowedDeletesTrimNeverLandsOnAHistoryRebuiltMeanwhile) {
  IngestThreeDays();
  ExpectTheWindowsAnswerAgain("after the ingest");
  std::thread deleting = DeleteHeldBeforeItsTrim(kRetention);
  ASSERT_TRUE(gates_->WaitForACall(gates_->trims(), 30s)) << "the DELETE trimmed no history";
  // Another change: the windows are rebuilt from the rows the DELETE left.
  ASSERT_TRUE(Update(*client_, "UPDATE metrics SET value = value + 1 WHERE metric_id = 'm1'").ok());
  // Its history is replaced while the trim waits, or (as it must be) only after the trim.
  window::WindowCatalog& catalog = windowed_->catalog();
  for (int i = 0; i < 150 && !catalog.Answers("metrics", window::WindowCatalog::Needs::kHistory);
       ++i) {
    std::this_thread::sleep_for(20ms);
  }
  gates_->Release(gates_->trims());
  deleting.join();
  ExpectTheWindowsAnswerAgain("after the trim and the rebuild");
  ExpectEveryWidthEqualsTheStoredRows("after the trim and the rebuild");
}

// While a followed DELETE trims the history (held at the trims gate, after its commit), the
// state answers the queries that need it alone, equal to the rows the DELETE left; a query
// that needs the history goes to DuckDB, and a direct read of the history waits for the trim.
// A reader asking from before the DELETE until after it is answered by the state every time.
TEST_F(WindowsAfterChangesTest, AFollowedDeletesStateAnswersThroughoutAndItsHistoryAfterTheTrim) {
  IngestThreeDays();
  ExpectTheWindowsAnswerAgain("after the ingest");
  std::atomic<bool> stop{false};
  std::atomic<int> asked{0}, elsewhere{0};
  std::thread reader([&] {
    auto connection = *engine_->Connect();
    while (!stop) {
      auto answer = Ask(*connection, kTrailingMetrics);
      ++asked;
      if (!answer.ok() || answer->source != "windows") ++elsewhere;
    }
  });
  std::thread deleting = DeleteHeldBeforeItsTrim(kRetention);
  ASSERT_TRUE(gates_->WaitForACall(gates_->trims(), 30s)) << "the DELETE trimmed no history";
  EXPECT_EQ(
      *engine::testing::QueryInt(*direct_,
                                 "SELECT count(*) FROM metrics WHERE timestamp < now() - INTERVAL "
                                 "'2 days'"),
      0)
      << "not committed before the trim";
  EXPECT_EQ(ExpectTheStoredRowsAnswer(kTrailingMetrics, "while the history is trimmed"), "windows");
  EXPECT_NE(ExpectTheStoredRowsAnswer(kTumbling, "while the history is trimmed"), "windows");
  EXPECT_EQ(StateOf("metrics"), "writing history");
  auto every = std::async(std::launch::async, [this] {
    return Query(*client_, "SELECT count(*) FROM hyprstream_window('metrics')");
  });
  EXPECT_EQ(every.wait_for(300ms), std::future_status::timeout)
      << "a read of the history did not wait for its trim";
  gates_->Release(gates_->trims());
  ASSERT_TRUE(every.get().ok());
  deleting.join();
  stop = true;
  reader.join();
  EXPECT_GT(asked.load(), 0);
  EXPECT_EQ(elsewhere.load(), 0) << "of " << asked.load() << " answers";
  EXPECT_EQ(FollowedDeletes(), 2u);
  ExpectTheWindowsAnswerAgain("after the trim");
  ExpectEveryWidthEqualsTheStoredRows("after the trim");
}

// A check that fails in the DELETE's transaction aborts it, and DuckDB (like PostgreSQL)
// answers COMMIT of an aborted transaction with success while rolling it back: the DELETE must
// run again, not be lost while the client is told it succeeded. The windows are rebuilt.
TEST_F(WindowsAfterChangesTest, ADeleteWhoseCheckAbortsItsTransactionRunsAgain) {
  IngestThreeDays();
  ExpectTheWindowsAnswerAgain("after the ingest");
  const std::string old_rows =
      "SELECT count(*) FROM metrics WHERE timestamp < now() - INTERVAL '2 days'";
  ASSERT_GT(*engine::testing::QueryInt(*direct_, old_rows), 0);
  gates_->fail_checks = true;
  ASSERT_TRUE(
      Update(*client_, "DELETE FROM metrics WHERE timestamp < now() - INTERVAL '2 days'").ok());
  gates_->fail_checks = false;
  EXPECT_EQ(*engine::testing::QueryInt(*direct_, old_rows), 0) << "the DELETE was lost";
  EXPECT_EQ(FollowedDeletes(), 0u);
  ExpectTheWindowsAnswerAgain("after the DELETE ran again");
  ExpectEveryWidthEqualsTheStoredRows("after the DELETE ran again");
}

// On a table of its own with a trailing 1h window (panes) and a tumbling 1h window.
TEST_F(WindowsAfterChangesTest, ADeleteOfRowsTheOpenWindowsOrTrailingPanesHoldIsRebuilt) {
  ASSERT_TRUE(Update(*client_, "CREATE TABLE t (sym VARCHAR, ts TIMESTAMP, v DOUBLE)").ok());
  for (const char* window : {"w", "h"}) {
    ASSERT_TRUE(Query(*client_, std::string("SELECT * FROM hyprstream_create_window('") + window +
                                    "', 't', keys := 'sym', time_column := 'ts', value_columns "
                                    ":= 'v', windows := '" +
                                    (window == std::string("w") ? "trailing 1h" : "1h") + "')")
                    .ok());
  }
  constexpr char kHourly[] =
      "SELECT sym, time_bucket(INTERVAL '1 hour', ts) AS b, count(v) AS n, sum(v) AS s, "
      "min(v) AS lo, max(v) AS hi FROM t GROUP BY sym, b ORDER BY sym, b";
  // A row a second over the last 3 hours: the panes hold the last hour (and a minute of
  // slack), the tumbling window the hour under way (and the one before for a minute).
  ASSERT_TRUE(Update(*client_,
                     "INSERT INTO t SELECT 'k' || (i % 4), CAST(now() AS TIMESTAMP) - "
                     "to_seconds(10799 - i), i % 100 FROM range(10800) r(i)")
                  .ok());
  auto answered_from_windows = [&](const std::string& when) {
    for (const char* sql : {testing::kTrailing, kHourly}) {
      std::string source;
      for (int attempt = 0; attempt < 500 && source != "windows"; ++attempt) {
        source = ExpectTheStoredRowsAnswer(sql, when);
        if (source != "windows") std::this_thread::sleep_for(20ms);
      }
      EXPECT_EQ(source, "windows") << when << ": " << sql;
    }
  };
  answered_from_windows("after the insert");
  // Rows older than either holds: followed by both.
  ASSERT_TRUE(Update(*client_, "DELETE FROM t WHERE ts < now() - INTERVAL '2 hours'").ok());
  for (const char* sql : {testing::kTrailing, kHourly}) {
    EXPECT_EQ(ExpectTheStoredRowsAnswer(sql, "right after a DELETE of old rows"), "windows");
  }
  EXPECT_EQ(FollowedDeletes(), 2u);
  // Up to a second into the hour under way: rows both hold; rebuilt.
  const uint64_t rebuilds = Rebuilds();
  ASSERT_TRUE(Update(*client_,
                     "DELETE FROM t WHERE ts < date_trunc('hour', CAST(now() AS TIMESTAMP)) + "
                     "INTERVAL '1 second'")
                  .ok());
  for (const char* sql : {testing::kTrailing, kHourly}) {
    ExpectTheStoredRowsAnswer(sql, "right after a DELETE of rows the state holds");
  }
  answered_from_windows("after a DELETE of rows the state holds");
  EXPECT_EQ(FollowedDeletes(), 2u);
  EXPECT_GE(Rebuilds(), rebuilds + 2);
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
    auto stop = WriteAndReadMeanwhile(random_());
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
    ASSERT_EQ(stop(), 0);
    ExpectNoStaleAnswer("round " + std::to_string(round) + ", right after the writes");
    ExpectTheWindowsAnswerAgain("round " + std::to_string(round));
  }
}

// Randomised, against linearizability: while DELETEs of random kinds run (the oldest rows at a
// random bound before today: followed; rows into the open windows, or one metric's old rows:
// not), a reader asks the time-bucket GROUP BY (answered from the windows' history) without
// pause. No write runs beside them, so every answer must equal DuckDB's answer from just
// before the DELETE or from just after it; and once the DELETE has committed (a followed one
// held before its history's trim), only the answer after it.
TEST_F(WindowsAfterChangesTest, RandomisedAnswersDuringDeletesAreTheRowsBeforeOrAfterThem) {
  IngestThreeDays();
  ExpectTheWindowsAnswerAgain("after the ingest");
  std::mt19937 random(random_());
  int followed_rounds = 0;
  for (int round = 0; round < 8; ++round) {
    const std::string when = "round " + std::to_string(round);
    // 0, 1: the oldest rows; 2: the newest (the open windows hold them); 3: one metric's old.
    const int kind = random() % 4;
    const int64_t back_s = kind == 2 ? 120 + random() % 1080 : 90000 + random() % 100000;
    std::string sql = "DELETE FROM metrics WHERE timestamp " + std::string(kind == 2 ? ">" : "<") +
                      " now() - INTERVAL '" + std::to_string(back_s) + " seconds'";
    if (kind == 3) sql += " AND metric_id = 'm" + std::to_string(random() % 6) + "'";
    auto before = Query(*direct_, kTumbling);
    ASSERT_TRUE(before.ok()) << before.status().ToString();
    std::atomic<bool> stop{false};
    std::atomic<size_t> asked{0};
    std::vector<testing::Answer> answers;
    std::thread reader([&] {
      auto connection = *engine_->Connect();
      while (!stop) {
        auto answer = Ask(*connection, kTumbling);
        ASSERT_TRUE(answer.ok()) << answer.status().ToString();
        answers.push_back(*std::move(answer));
        ++asked;
      }
    });
    // (At least one answer before the DELETE and one after it.)
    auto asked_once_more = [&asked] {
      const size_t now = asked;
      for (int i = 0; i < 30000 && asked == now; ++i) std::this_thread::sleep_for(1ms);
    };
    asked_once_more();
    const uint64_t followed = FollowedDeletes();
    std::thread deleting = DeleteHeldBeforeItsTrim(sql);
    // A followed DELETE waits before its trim, committed: what is asked now sees it.
    const bool held = kind <= 1 && gates_->WaitForACall(gates_->trims(), 10s);
    EXPECT_EQ(held, kind <= 1) << when << ": " << sql << " was not followed";
    if (held) {
      ++followed_rounds;
      auto after = Query(*direct_, kTumbling);
      ASSERT_TRUE(after.ok());
      for (int i = 0; i < 3; ++i) {
        auto answer = Ask(*client_, kTumbling);
        ASSERT_TRUE(answer.ok()) << answer.status().ToString();
        EXPECT_TRUE(answer->rows->Equals(**after))
            << when << ": answered from " << answer->source << " after the commit of " << sql;
      }
    }
    gates_->Release(gates_->trims());
    deleting.join();
    asked_once_more();
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 50));
    stop = true;
    reader.join();
    auto after = Query(*direct_, kTumbling);
    ASSERT_TRUE(after.ok());
    for (const testing::Answer& answer : answers) {
      EXPECT_TRUE(answer.rows->Equals(**before) || answer.rows->Equals(**after))
          << when << ": an answer from " << answer.source << " during " << sql
          << " is neither the rows before it nor after it:\n"
          << answer.rows->ToString();
    }
    if (kind <= 1) {
      EXPECT_GT(FollowedDeletes(), followed) << when;
    }
    ExpectTheWindowsAnswerAgain(when);
    ExpectEveryWidthEqualsTheStoredRows(when);
  }
  EXPECT_GT(followed_rounds, 0);
}

// Randomised: while a writer ingests, a reader asks and another session UPDATEs, DELETEs of
// the oldest rows at random bounds before today (followed), DELETEs of some rows of one
// metric, old or in the open windows (rebuilt), in and out of transactions. After each round every
// answer and every width read directly equals the stored rows; at the end, one of the oldest rows
// into the open windows (rebuilt).
TEST_F(WindowsAfterChangesTest, RandomisedRetentionDeletesAgreeWithTheStoredRows) {
  IngestThreeDays();
  auto changer = *engine_->Connect();
  for (int round = 0; round < 5; ++round) {
    auto stop = WriteAndReadMeanwhile(random_());
    std::atomic<int> failures{0};
    auto updating = *engine_->Connect();
    std::mt19937 random(random_());
    for (int change = 0; change < 6; ++change) {
      // Another session's UPDATE at the same time (always with the last DELETE of a round): a
      // followed DELETE must not hide it.
      std::optional<std::thread> updater;
      if (change == 5 || random() % 2 == 0) {
        updater.emplace([&, id = random() % 6, delay = random() % 8] {
          std::this_thread::sleep_for(std::chrono::milliseconds(delay));
          if (!Update(*updating, "UPDATE metrics SET value = value + 1 WHERE metric_id = 'm" +
                                     std::to_string(id) + "'")
                   .ok()) {
            ++failures;
          }
        });
      }
      // Seconds back from now: 25 h to 72 h (before today), or 2 to 20 minutes.
      const int kind = random() % 6;
      const int64_t back_s = kind == 0 ? 120 + random() % 1080 : 90000 + random() % 169200;
      std::string sql = "DELETE FROM metrics WHERE timestamp < now() - INTERVAL '" +
                        std::to_string(back_s) + " seconds'";
      if (kind <= 1) sql += " AND metric_id = 'm" + std::to_string(random() % 6) + "'";
      const bool in_transaction = random() % 5 == 0;
      if (in_transaction) {
        ASSERT_TRUE(changer->BeginTransaction().ok());
      }
      auto deleted = Update(*changer, sql);
      ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
      if (in_transaction) {
        ASSERT_TRUE((random() % 2 ? changer->Commit() : changer->Rollback()).ok());
      }
      if (updater) updater->join();
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 30));
    }
    ASSERT_EQ(stop(), 0);
    ASSERT_EQ(failures.load(), 0);
    ExpectNoStaleAnswer("round " + std::to_string(round) + ", right after the writes");
    ExpectTheWindowsAnswerAgain("round " + std::to_string(round));
    ExpectEveryWidthEqualsTheStoredRows("round " + std::to_string(round));
  }
  EXPECT_GT(FollowedDeletes(), 0u);
  ASSERT_TRUE(
      Update(*changer, "DELETE FROM metrics WHERE timestamp < now() - INTERVAL '10 minutes'").ok());
  ExpectNoStaleAnswer("right after a DELETE into the open windows");
  ExpectTheWindowsAnswerAgain("after a DELETE into the open windows");
  ExpectEveryWidthEqualsTheStoredRows("after a DELETE into the open windows");
}

}  // namespace
}  // namespace hyprstream
