// Windows over the cache, Windowed(Cached(DuckDB backend)): the windows are built from the
// cache's copy of their table, follow it (rows others write to the backend arrive with the
// copy's refreshes) and are rebuilt from it whenever it is loaded whole. An answer from window
// state must equal the query run over the backend's rows once the copy has caught up with
// them. Real DuckDB backend and cache; "others" write straight into the backend.
// (Under tests/unit/server: the stack needs both the window and the cache module.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <arrow/builder.h>

#include "../cache/gated_loads.h"
#include "../engine/engine_test_util.h"
#include "cache/cached_engine.h"
#include "engine/forwarding_engine.h"
#include "engine/result_provenance.h"
#include "window/windowed_engine.h"
#include "windows_test_util.h"

namespace hyprstream {
namespace {

using engine::testing::Query;
using engine::testing::ReadAll;
using engine::testing::Update;
using namespace std::chrono_literals;

using testing::Answer;
using testing::Ask;
using testing::kTrailing;
using testing::NowMicros;

// What window `w10` (tumbling 10m over t, late rows up to 2h accepted) answers.
constexpr char kTumbling[] =
    "SELECT sym, time_bucket(INTERVAL '10 minutes', ts) AS b, count(v) AS n, sum(v) AS s, "
    "min(v) AS lo, max(v) AS hi FROM t GROUP BY sym, b ORDER BY sym, b";

std::string Row(const std::string& sym, int64_t ts_us, int value) {
  return "('" + sym + "', TIMESTAMP '" + engine::FormatTimestamp(ts_us) + "', " +
         std::to_string(value) + ")";
}

// Between the cache and the windows: every write returns only after a pause, so the rows of
// a write are stored (in the backend and the cache's copy) well before the windows fold them.
// A rebuild of the windows that read the copy in that gap without waiting for the write would
// count its rows twice (the randomised tests would see it).
class SlowAcknowledgement : public engine::ForwardingEngine {
 public:
  using ForwardingEngine::ForwardingEngine;

  arrow::Result<std::shared_ptr<engine::EngineConnection>> Connect() override {
    ARROW_ASSIGN_OR_RAISE(auto inner, target().Connect());
    return std::make_shared<Connection>(std::move(inner));
  }
  // A rebuild's reads of the copy are slow too, so writes commit while it builds the new state.
  arrow::Result<std::optional<int64_t>> ReadCopy(const std::string& schema,
                                                 const std::string& table,
                                                 const engine::CopyReader& read) override {
    return target().ReadCopy(
        schema, table, [&](int64_t generation, std::shared_ptr<engine::EngineConnection> pinned) {
          return read(generation, std::make_shared<Connection>(std::move(pinned)));
        });
  }

 private:
  // Up to longer than a rebuild takes (reading the copy, folding it, replacing the history).
  static void Pause() {
    thread_local std::mt19937 r(std::hash<std::thread::id>()(std::this_thread::get_id()));
    std::this_thread::sleep_for(std::chrono::milliseconds(r() % 120));
  }

  class Statement : public engine::ForwardingStatement {
   public:
    using ForwardingStatement::ForwardingStatement;
    arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override {
      ARROW_ASSIGN_OR_RAISE(auto reader, target().ExecuteQuery());
      ARROW_ASSIGN_OR_RAISE(auto rows, reader->ToRecordBatches());
      Pause();
      return arrow::RecordBatchReader::Make(std::move(rows), reader->schema());
    }
    arrow::Result<int64_t> ExecuteUpdate() override {
      auto count = target().ExecuteUpdate();
      Pause();
      return count;
    }
  };
  class Connection : public engine::ForwardingConnection {
   public:
    using ForwardingConnection::ForwardingConnection;
    arrow::Result<std::unique_ptr<engine::EngineStatement>> Prepare(
        const std::string& sql) override {
      ARROW_ASSIGN_OR_RAISE(auto statement, target().Prepare(sql));
      return std::make_unique<Statement>(std::move(statement));
    }
    arrow::Result<int64_t> Ingest(const engine::IngestRequest& request,
                                  arrow::RecordBatchReader* batches) override {
      auto rows = target().Ingest(request, batches);
      Pause();
      return rows;
    }
    arrow::Status Commit() override {
      arrow::Status status = target().Commit();
      Pause();
      return status;
    }
  };
};

class WindowsOverCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = engine::testing::OpenMemoryEngine();
    others_ = *backend_->Connect();
    ASSERT_TRUE(Update(*others_, "CREATE TABLE t (sym VARCHAR, ts TIMESTAMP, v DOUBLE)").ok());
  }
  void TearDown() override { Close(); }

  // The stack over the same backend; a new (empty) cache each time, as after a restart.
  void Open(cache::RefreshMode refresh = cache::RefreshMode::kAppend, bool slow = false,
            std::shared_ptr<engine::Engine> backend = nullptr) {
    cache::CacheOptions options;
    options.refresh_interval = 50ms;
    options.result_ttl = 0ms;
    if (refresh != cache::RefreshMode::kAppend) {
      options.tables.push_back({"t", "ts", refresh, 50ms});
    }
    auto cached = cache::OpenCachedEngine(backend ? backend : backend_,
                                          engine::testing::OpenMemoryEngine(), options);
    ASSERT_TRUE(cached.ok()) << cached.status().ToString();
    window::WindowCatalogOptions windows;
    windows.metrics_table = false;
    std::shared_ptr<engine::Engine> below = *cached;
    if (slow) below = std::make_shared<SlowAcknowledgement>(below);
    auto windowed = window::WindowedEngine::Open(below, windows);
    ASSERT_TRUE(windowed.ok()) << windowed.status().ToString();
    engine_ = *windowed;
    auto connection = engine_->Connect();
    ASSERT_TRUE(connection.ok());
    client_ = *connection;
  }
  void Close() {
    client_.reset();
    engine_.reset();
  }

  void Others(const std::vector<std::string>& rows) {
    std::string sql = "INSERT INTO t VALUES ";
    for (size_t i = 0; i < rows.size(); ++i) sql += (i ? ", " : "") + rows[i];
    ASSERT_TRUE(Update(*others_, sql).ok());
  }

  // Waits until window state answers the trailing query as of `since` or later (the copy has
  // caught up with what was written before it), then checks it against the backend's rows.
  void ExpectWindowsAnswerAsTheBackend(std::chrono::system_clock::time_point since,
                                       const std::string& query = kTrailing) {
    const std::string after = engine::IsoTime(since);
    Answer last;
    for (int attempt = 0; attempt < 600; ++attempt) {
      auto answer = Ask(*client_, query);
      ASSERT_TRUE(answer.ok()) << answer.status().ToString();
      last = *answer;
      if (last.source == "windows" && last.as_of >= after) break;
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(last.source, "windows") << "window state never answered again: " << query;
    ASSERT_GE(last.as_of, after);
    auto want = Query(*others_, query);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    EXPECT_TRUE(last.rows->Equals(**want)) << query << "\nwindows:\n"
                                           << last.rows->ToString() << "\nbackend:\n"
                                           << (*want)->ToString();
  }

  arrow::Status CreateWindow() {
    return Query(*client_,
                 "SELECT * FROM hyprstream_create_window('w', 't', keys := 'sym', "
                 "time_column := 'ts', value_columns := 'v', windows := 'trailing 1h')")
        .status();
  }
  // Two definitions on t, rebuilt together from one read of the copy: both must answer.
  arrow::Status CreateTwoWindows() {
    ARROW_RETURN_NOT_OK(CreateWindow());
    return Query(*client_,
                 "SELECT * FROM hyprstream_create_window('w10', 't', keys := 'sym', "
                 "time_column := 'ts', value_columns := 'v', windows := 'tumbling 10m', "
                 "lateness := '2h')")
        .status();
  }
  void ExpectBothAnswerAsTheBackend(std::chrono::system_clock::time_point since) {
    ExpectWindowsAnswerAsTheBackend(since);
    if (HasFailure()) return;
    ExpectWindowsAnswerAsTheBackend(since, kTumbling);
  }

  std::shared_ptr<engine::Engine> backend_;
  std::shared_ptr<engine::EngineConnection> others_;
  std::shared_ptr<engine::Engine> engine_;
  std::shared_ptr<engine::EngineConnection> client_;
};

TEST_F(WindowsOverCacheTest, ATableOnlyOthersWroteIsFollowedFromItsDefinitionAndAfterARestart) {
  const int64_t now = NowMicros();
  Others({Row("a", now - 40 * 60000000LL, 1), Row("b", now - 30 * 60000000LL, 2)});
  Open();
  ASSERT_TRUE(CreateWindow().ok());
  // Built from the copy loaded for it: answers at once.
  auto first = Ask(*client_, kTrailing);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->source, "windows");
  EXPECT_EQ(first->rows->num_rows(), 2);
  // Nothing was ingested through hyprstream, yet the table is followed.
  Others({Row("a", now - 10 * 60000000LL, 5), Row("c", now - 5 * 60000000LL, 7)});
  auto since = std::chrono::system_clock::now();  // after the rows are committed
  ExpectWindowsAnswerAsTheBackend(since);

  // A restart with an empty cache: the definition's table is followed again at once.
  Close();
  Others({Row("c", now - 4 * 60000000LL, 9)});
  since = std::chrono::system_clock::now();
  Open();
  ExpectWindowsAnswerAsTheBackend(since);
  Others({Row("d", now - 3 * 60000000LL, 11)});
  ExpectWindowsAnswerAsTheBackend(std::chrono::system_clock::now());
}

TEST_F(WindowsOverCacheTest, AWriteTheCacheCannotFollowRebuildsTheWindowsInsteadOfStoppingThem) {
  Open();
  ASSERT_TRUE(CreateWindow().ok());
  const int64_t now = NowMicros();
  ASSERT_TRUE(Update(*client_, "INSERT INTO t VALUES " + Row("a", now - 60000000LL, 3)).ok());
  // Its writes cannot be told: every mirror is reloaded, every window stops answering...
  ASSERT_TRUE(Query(*client_, "CALL pragma_version()").ok());
  Others({Row("b", now - 30000000LL, 4)});
  // ...until it is rebuilt from the reloaded copy.
  ExpectWindowsAnswerAsTheBackend(std::chrono::system_clock::now());
}

TEST_F(WindowsOverCacheTest, ABoundOnStalenessAlsoBoundsAnswersFromWindowState) {
  Open();
  ASSERT_TRUE(CreateWindow().ok());
  const int64_t now = NowMicros();
  Others({Row("a", now - 60000000LL, 1)});
  ExpectWindowsAnswerAsTheBackend(std::chrono::system_clock::now());
  // 0: always the backend. Window state is as of the cache's last refresh, so it does not
  // answer; the backend sees others' newest row at once.
  ASSERT_TRUE(client_->SetMaxStaleness(0ms).ok());
  Others({Row("b", now - 30000000LL, 2)});
  auto fresh = Ask(*client_, kTrailing);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(fresh->source, "backend");
  EXPECT_TRUE(fresh->rows->Equals(**Query(*others_, kTrailing)));
  // A bound the refreshes keep within: window state answers again.
  ASSERT_TRUE(client_->SetMaxStaleness(std::chrono::hours(1)).ok());
  ExpectWindowsAnswerAsTheBackend(std::chrono::system_clock::now());
  // A statement's own bound (a call header) overrides the session's.
  auto statement = client_->Prepare(kTrailing);
  ASSERT_TRUE(statement.ok());
  (*statement)->SetMaxStaleness(0ms);
  auto reader = (*statement)->ExecuteQuery();
  ASSERT_TRUE(reader.ok());
  auto metadata = (*reader)->schema()->metadata();
  ASSERT_NE(metadata, nullptr);
  EXPECT_EQ(*metadata->Get("hyprstream.source"), "backend");
}

// A restart does not wait for the cache to load a table with windows from the backend: the
// windows are built from the copy in the background. Until then the backend answers queries
// over the table, writes go on (and reach the windows), and a direct read of a window waits
// for its state instead of reading a state without the table's rows.
TEST_F(WindowsOverCacheTest, AStartBuildsTheWindowsInTheBackgroundAndReadsWaitForThem) {
  const int64_t now = NowMicros();
  Others({Row("a", now - 40 * 60000000LL, 1), Row("b", now - 30 * 60000000LL, 2),
          Row("a", now - 20 * 60000000LL, 4)});
  Open();
  ASSERT_TRUE(CreateWindow().ok());
  Close();
  Others({Row("c", now - 10 * 60000000LL, 8)});

  auto gate = std::make_shared<testing::GatedLoads>(backend_, "SELECT * FROM \"t\"");
  gate->Close();  // the cache's load of t is held after its first batch (up to 20 s)
  struct Reopen {
    std::shared_ptr<testing::GatedLoads> gate;
    ~Reopen() { gate->Open(); }
  } reopen{gate};
  Open(cache::RefreshMode::kAppend, false, gate);
  ASSERT_TRUE(gate->WaitUntilHeld()) << "the cache never loaded t";
  EXPECT_FALSE(gate->gave_up()) << "the start waited for the cache's load of t";

  // The backend answers meanwhile, with every row.
  auto meanwhile = Ask(*client_, kTrailing);
  ASSERT_TRUE(meanwhile.ok()) << meanwhile.status().ToString();
  EXPECT_EQ(meanwhile->source, "backend");
  EXPECT_TRUE(meanwhile->rows->Equals(**Query(*others_, kTrailing)));
  // A write through hyprstream goes on while the load is held.
  ASSERT_TRUE(Update(*client_, "INSERT INTO t VALUES " + Row("d", now - 60000000LL, 16)).ok());
  // A statement prepared now (a dashboard's, kept for the session) is answered by the backend
  // now and from window state once it is built.
  auto kept = client_->Prepare(kTrailing);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  auto source_of = [&]() -> std::string {
    auto reader = (*kept)->ExecuteQuery();
    if (!reader.ok()) return reader.status().ToString();
    auto rows = engine::testing::ReadAll(**reader);
    if (!rows.ok()) return rows.status().ToString();
    auto metadata = (*reader)->schema()->metadata();
    return metadata ? metadata->Get("hyprstream.source").ValueOr("") : "";
  };
  EXPECT_EQ(source_of(), "backend");
  auto state_of_w = [&]() -> std::string {
    auto listed = Query(*client_, "SELECT state FROM hyprstream_windows() WHERE name = 'w'");
    if (!listed.ok()) return listed.status().ToString();
    if ((*listed)->num_rows() != 1) return "not listed";
    return (*(*listed)->column(0)->GetScalar(0))->ToString();
  };
  EXPECT_EQ(state_of_w(), "building");

  // A direct read of the window waits for its state (started while the load is held).
  const char* direct =
      "SELECT sym, v_count AS n, v_sum AS s FROM hyprstream_window('w', width := 'trailing 1h') "
      "ORDER BY sym";
  arrow::Result<std::shared_ptr<arrow::Table>> read = arrow::Status::UnknownError("not run");
  std::thread reader([&] {
    auto connection = engine_->Connect();
    read = connection.ok() ? Query(**connection, direct) : connection.status();
  });
  std::this_thread::sleep_for(200ms);  // (the read is under way before the release)
  gate->Open();
  reader.join();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  auto want = Query(*others_,
                    "SELECT sym, count(v) AS n, sum(v) AS s FROM t WHERE ts > now() - INTERVAL "
                    "'1 hour' GROUP BY sym ORDER BY sym");
  ASSERT_TRUE(want.ok());
  ASSERT_EQ((*read)->num_rows(), 4) << (*read)->ToString();
  for (int column = 0; column < 3; ++column) {
    EXPECT_TRUE((*read)->column(column)->Equals(*(*want)->column(column)))
        << (*read)->ToString() << "\nbackend:\n"
        << (*want)->ToString();
  }
  // Built from the loaded copy: window state answers again, with the write made meanwhile.
  ExpectWindowsAnswerAsTheBackend(std::chrono::system_clock::now());
  EXPECT_EQ(source_of(), "windows") << "a statement prepared while the windows were built";
  EXPECT_EQ(state_of_w(), "answering");
  // Its only window is read without naming it too.
  auto unnamed = Query(*client_,
                       "SELECT sym, v_count AS n, v_sum AS s FROM hyprstream_window('w') "
                       "ORDER BY sym");
  ASSERT_TRUE(unnamed.ok()) << unnamed.status().ToString();
  EXPECT_TRUE((*unnamed)->Equals(**read)) << (*unnamed)->ToString();
}

// Randomised differential test: hyprstream writers (ingest, INSERT, transactions committed
// or rolled back), others writing straight into the backend, statements that make the cache
// reload every mirror, and readers, all at once; after each round the writers stop and the
// window state's answer must equal the backend's. Others' rows are newer than any row
// hyprstream writes (the cache's append refresh copies rows newer than its newest).
void RunRounds(WindowsOverCacheTest* test, engine::Engine& engine, engine::EngineConnection& others,
               int rounds, uint32_t seed,
               const std::function<void(std::chrono::system_clock::time_point)>& check) {
  std::mt19937 rng(seed);
  const int64_t start = NowMicros();
  int64_t others_clock = start - 20 * 60000000LL;
  const char* syms[] = {"a", "b", "c", "d", "e"};
  for (int round = 0; round < rounds; ++round) {
    std::mutex failures_mutex;
    std::vector<std::string> failures;
    auto fail = [&](const arrow::Status& status, const char* what) {
      if (status.ok()) return;
      std::lock_guard<std::mutex> lock(failures_mutex);
      failures.push_back(std::string(what) + ": " + status.ToString());
    };
    std::vector<std::thread> threads;
    // The writers go on for a while after the last reload, so the last rebuild of the round
    // overlaps their writes (the state compared at the end is the one it built).
    std::atomic<bool> reloading{true};
    std::atomic<int64_t> writers_stop{std::numeric_limits<int64_t>::max()};
    for (int writer = 0; writer < 2; ++writer) {
      const uint32_t writer_seed = rng();
      threads.emplace_back([&, writer_seed] {
        std::mt19937 r(writer_seed);
        auto connection = engine.Connect();
        if (!connection.ok()) return fail(connection.status(), "connect");
        auto row = [&] {
          return Row(syms[r() % 5], start - 50 * 60000000LL + int64_t(r() % 1200) * 1000000,
                     int(r() % 100));
        };
        while (NowMicros() < writers_stop.load()) {
          switch (r() % 4) {
            case 0: {  // bulk ingest
              arrow::StringBuilder sym;
              arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                                         arrow::default_memory_pool());
              arrow::DoubleBuilder v;
              for (int i = 0; i < 3; ++i) {
                (void)sym.Append(syms[r() % 5]);
                (void)ts.Append(start - 50 * 60000000LL + int64_t(r() % 1200) * 1000000);
                (void)v.Append(double(r() % 100));
              }
              auto schema =
                  arrow::schema({arrow::field("sym", arrow::utf8()), arrow::field("ts", ts.type()),
                                 arrow::field("v", arrow::float64())});
              auto batch =
                  arrow::RecordBatch::Make(schema, 3, {*sym.Finish(), *ts.Finish(), *v.Finish()});
              auto reader = arrow::RecordBatchReader::Make({batch}, schema);
              engine::IngestRequest request;
              request.table = "t";
              request.if_exists = engine::IngestRequest::IfExists::kAppend;
              fail((*connection)->Ingest(request, reader->get()).status(), "ingest");
              break;
            }
            case 1:
              fail(Update(**connection, "INSERT INTO t VALUES " + row() + ", " + row()).status(),
                   "insert");
              break;
            default: {  // a transaction, committed or rolled back
              fail((*connection)->BeginTransaction(), "begin");
              fail(Update(**connection, "INSERT INTO t VALUES " + row()).status(), "insert");
              fail(r() % 3 ? (*connection)->Commit() : (*connection)->Rollback(), "end");
              break;
            }
          }
        }
      });
    }
    // Statements whose writes cannot be told (every mirror reloads) while the writers run.
    const uint32_t reload_seed = rng();
    threads.emplace_back([&, reload_seed] {
      std::mt19937 r(reload_seed);
      auto connection = engine.Connect();
      if (!connection.ok()) return fail(connection.status(), "connect");
      for (int i = 0, calls = 3 + int(r() % 5); i < calls; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5 + r() % 40));
        fail(Query(**connection, "CALL pragma_version()").status(), "call");
      }
      writers_stop = NowMicros() + 400000;
      reloading = false;
    });
    threads.emplace_back([&] {
      auto connection = engine.Connect();
      if (!connection.ok()) return fail(connection.status(), "connect");
      for (int i = 0; i < 10; ++i) fail(Query(**connection, kTrailing).status(), "read");
    });
    for (int i = 0; i < 6 || reloading.load(); ++i) {
      others_clock += 1000;
      std::string sql =
          "INSERT INTO t VALUES " + Row(syms[rng() % 5], others_clock, int(rng() % 100));
      fail(Update(others, sql).status(), "others");
      std::this_thread::sleep_for(10ms);
    }
    for (auto& thread : threads) thread.join();
    ASSERT_TRUE(failures.empty()) << failures.front();
    check(std::chrono::system_clock::now());
    if (test->HasFatalFailure() || test->HasFailure()) {
      ADD_FAILURE() << "round " << round << " of seed " << seed;
      return;
    }
  }
}

TEST_F(WindowsOverCacheTest, RandomisedWritersOthersAndReloadsAgreeWithTheBackend) {
  Open(cache::RefreshMode::kAppend, /*slow=*/true);
  ASSERT_TRUE(CreateTwoWindows().ok());
  for (uint32_t seed : {11u, 12u}) {
    RunRounds(this, *engine_, *others_, 3, seed,
              [&](auto since) { ExpectBothAnswerAsTheBackend(since); });
  }
}

TEST_F(WindowsOverCacheTest, RandomisedUnderAReloadEveryFiftyMilliseconds) {
  Open(cache::RefreshMode::kReload);
  ASSERT_TRUE(CreateTwoWindows().ok());
  RunRounds(this, *engine_, *others_, 3, 21u,
            [&](auto since) { ExpectBothAnswerAsTheBackend(since); });
}

}  // namespace
}  // namespace hyprstream
