// The cached engine over a real DuckDB backend and a real DuckDB cache: where reads are
// answered (provenance metadata), write-through, invalidation, eviction by time, refresh of
// rows written behind hyprstream's back, transactions and staleness bounds.
#include "cache/cached_engine.h"

#include <arrow/api.h>
#include <arrow/compute/cast.h>
#include <arrow/util/key_value_metadata.h>
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "../engine/engine_test_util.h"

namespace hyprstream::cache {
namespace {

using engine::testing::OpenMemoryEngine;
using namespace std::chrono_literals;

bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

class CachedEngineTest : public ::testing::Test {
 protected:
  void Open(CacheOptions options) {
    backend_ = OpenMemoryEngine();
    auto engine = OpenCachedEngine(backend_, OpenMemoryEngine(), std::move(options));
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = *engine;
    connection_ = *engine_->Connect();
    direct_ = *backend_->Connect();
  }

  // value of the one-row query and where it came from
  std::pair<int64_t, std::string> Ask(const std::string& sql,
                                      engine::EngineConnection* connection = nullptr) {
    auto table = engine::testing::Query(connection ? *connection : *connection_, sql);
    EXPECT_TRUE(table.ok()) << sql << ": " << table.status().ToString();
    if (!table.ok()) return {-1, ""};
    auto column = arrow::compute::Cast((*table)->column(0), arrow::int64());
    EXPECT_TRUE(column.ok()) << column.status().ToString();
    auto value = column->chunked_array()->GetScalar(0);
    auto metadata = (*table)->schema()->metadata();
    std::string source = metadata ? metadata->Get("hyprstream.source").ValueOr("") : "";
    return {std::static_pointer_cast<arrow::Int64Scalar>(*value)->value, source};
  }

  // A backend with table readings (one row, v = 5) mirrored by append every 200 ms; returns
  // once the mirror is loaded.
  void OpenWithReadingsMirror(std::chrono::milliseconds result_ttl) {
    CacheOptions options;
    options.refresh_interval = 200ms;
    options.result_ttl = result_ttl;
    MirrorOptions table;
    table.table = "readings";
    table.time_column = "ts";
    table.refresh = RefreshMode::kAppend;
    options.tables.push_back(table);
    backend_ = OpenMemoryEngine();
    direct_ = *backend_->Connect();
    ASSERT_TRUE(
        engine::testing::Update(
            *direct_, "CREATE TABLE readings AS SELECT TIMESTAMP '2026-01-01' AS ts, 5 AS v")
            .ok());
    engine_ = *OpenCachedEngine(backend_, OpenMemoryEngine(), options);
    connection_ = *engine_->Connect();
    ASSERT_TRUE(WaitFor([&] { return MirrorState("readings") == "ready"; }));
  }

  int64_t Stat(const std::string& name) {
    return Ask("SELECT value FROM hyprstream_cache_stats() WHERE name = '" + name + "'").first;
  }

  std::string MirrorState(const std::string& table) {
    auto t = engine::testing::Query(
        *connection_,
        "SELECT state FROM hyprstream_cache_tables() WHERE table_name = '" + table + "'");
    if (!t.ok() || (*t)->num_rows() == 0) return "";
    return (*(*t)->column(0)->GetScalar(0))->ToString();
  }

  arrow::Result<int64_t> Ingest(
      const std::string& table, const std::string& ts_json, const std::string& v_json,
      engine::IngestRequest::IfExists if_exists = engine::IngestRequest::IfExists::kAppend) {
    auto schema = arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                                 arrow::field("v", arrow::int64())});
    auto batch = engine::testing::BatchFromJson(schema, {ts_json, v_json});
    engine::IngestRequest request;
    request.table = table;
    request.if_exists = if_exists;
    auto reader = engine::testing::ReaderOf(schema, {batch});
    return connection_->Ingest(request, reader.get());
  }

  std::shared_ptr<engine::Engine> backend_, engine_;
  std::shared_ptr<engine::EngineConnection> connection_, direct_;
};

std::string NowJson(int64_t offset_seconds) {
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return std::to_string(now + offset_seconds * 1000000);
}

TEST_F(CachedEngineTest, IngestedTableIsAnsweredFromTheCache) {
  Open(CacheOptions{});
  auto rows = Ingest("sales", "[1, 2, 3]", "[10, 20, 30]");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(*rows, 3);
  // Written through: the backend has the rows...
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales", direct_.get()).first, 60);
  // ...and the cache answers.
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales"), std::make_pair(int64_t{60}, std::string("cache")));
  ASSERT_TRUE(Ingest("sales", "[4]", "[40]").ok());
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales"), std::make_pair(int64_t{100}, std::string("cache")));
  EXPECT_EQ(Ask("SELECT count(*) FROM sales", direct_.get()).first, 4);
  EXPECT_EQ(Stat("rows_written_through"), 4);
}

TEST_F(CachedEngineTest, RejectedIngestLeavesNothingInTheCache) {
  Open(CacheOptions{});
  ASSERT_TRUE(Ingest("sales", "[1]", "[10]").ok());
  // The backend refuses (table exists, mode fail): the cache must not keep the rows.
  auto refused = Ingest("sales", "[2]", "[20]", engine::IngestRequest::IfExists::kFail);
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales"), std::make_pair(int64_t{10}, std::string("cache")));
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales", direct_.get()).first, 10);
}

TEST_F(CachedEngineTest, SqlWriteSendsReadsToTheBackendUntilReloaded) {
  Open(CacheOptions{});
  ASSERT_TRUE(Ingest("sales", "[1, 2]", "[1, 2]").ok());
  ASSERT_TRUE(
      engine::testing::Update(*connection_, "UPDATE sales SET v = v * 10 WHERE v = 2").ok());
  // Never a stale answer: right after the write, the answer is the backend's (or a reload's).
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales").first, 21);
  // Then the reloaded mirror's (a query not asked before: no kept result answers it).
  ASSERT_TRUE(WaitFor([&] { return MirrorState("sales") == "ready"; }));
  EXPECT_GE(Stat("mirror_loads"), 1);
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales /* reloaded */"),
            std::make_pair(int64_t{21}, std::string("cache")));
}

// A plain INSERT runs with RETURNING * added: the mirror appends the stored rows (defaults
// filled, values cast) and keeps answering; nothing is reloaded.
TEST_F(CachedEngineTest, PlainInsertIsAppendedToTheMirror) {
  Open(CacheOptions{});
  ASSERT_TRUE(Ingest("sales", "[1, 2]", "[1, 2]").ok());
  ASSERT_TRUE(engine::testing::Update(*connection_,
                                      "ALTER TABLE sales ADD COLUMN note VARCHAR "
                                      "DEFAULT 'n'")
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return MirrorState("sales") == "ready"; }));
  const int64_t loads = Stat("mirror_loads");
  auto inserted =
      engine::testing::Update(*connection_,
                              "INSERT INTO sales (ts, v) VALUES (TIMESTAMP '2026-01-01', 3), "
                              "(TIMESTAMP '2026-01-02', '4') -- two rows");
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(*inserted, 2);
  EXPECT_EQ(MirrorState("sales"), "ready");
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales"), std::make_pair(int64_t{10}, std::string("cache")));
  EXPECT_EQ(Ask("SELECT count(*) FROM sales WHERE note = 'n'"),
            std::make_pair(int64_t{4}, std::string("cache")));
  // Run as a query, it gives a count, like DuckDB's INSERT.
  auto counted = engine::testing::Query(
      *connection_, "INSERT INTO sales (ts, v) VALUES (TIMESTAMP '2026-01-03', 5)");
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  EXPECT_EQ((*counted)->schema()->field(0)->name(), "Count");
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales /* after */"),
            std::make_pair(int64_t{15}, std::string("cache")));
  EXPECT_EQ(Stat("mirror_loads"), loads);
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales", direct_.get()).first, 15);
}

TEST_F(CachedEngineTest, ReplaceIngestReplacesTheMirror) {
  Open(CacheOptions{});
  ASSERT_TRUE(Ingest("sales", "[1, 2]", "[1, 2]").ok());
  ASSERT_TRUE(Ingest("sales", "[5]", "[50]", engine::IngestRequest::IfExists::kReplace).ok());
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales"), std::make_pair(int64_t{50}, std::string("cache")));
}

TEST_F(CachedEngineTest, TablesOfOthersUseTheResultCacheAndWritesInvalidateIt) {
  CacheOptions options;
  options.result_ttl = 60s;
  Open(options);
  ASSERT_TRUE(engine::testing::Update(*direct_, "CREATE TABLE others AS SELECT 7 AS v").ok());
  EXPECT_EQ(Ask("SELECT sum(v) FROM others"), std::make_pair(int64_t{7}, std::string("backend")));
  EXPECT_EQ(Ask("SELECT sum(v) FROM others"),
            std::make_pair(int64_t{7}, std::string("result-cache")));
  // A write through hyprstream drops the kept result at once.
  ASSERT_TRUE(engine::testing::Update(*connection_, "INSERT INTO others VALUES (1)").ok());
  EXPECT_EQ(Ask("SELECT sum(v) FROM others"), std::make_pair(int64_t{8}, std::string("backend")));
  // A write behind hyprstream's back is seen once the result expires (TTL) — here, a 0 bound.
  ASSERT_TRUE(engine::testing::Update(*direct_, "INSERT INTO others VALUES (100)").ok());
  EXPECT_EQ(Ask("SELECT sum(v) FROM others").first, 8);  // kept result, within its TTL
  ASSERT_TRUE(connection_->SetMaxStaleness(0ms).ok());
  EXPECT_EQ(Ask("SELECT sum(v) FROM others").first, 108);
}

TEST_F(CachedEngineTest, ResultCacheExpires) {
  CacheOptions options;
  options.result_ttl = 300ms;
  Open(options);
  ASSERT_TRUE(engine::testing::Update(*direct_, "CREATE TABLE others AS SELECT 7 AS v").ok());
  Ask("SELECT sum(v) FROM others");
  ASSERT_TRUE(engine::testing::Update(*direct_, "INSERT INTO others VALUES (1)").ok());
  EXPECT_EQ(Ask("SELECT sum(v) FROM others").first, 7);
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(Ask("SELECT sum(v) FROM others"), std::make_pair(int64_t{8}, std::string("backend")));
}

TEST_F(CachedEngineTest, OldRowsAreEvictedAndOnlyCoveredQueriesStayInTheCache) {
  CacheOptions options;
  options.max_duration = 1h;
  options.result_ttl = 0ms;
  Open(options);
  ASSERT_TRUE(Ingest("sales", "[" + NowJson(-7200) + ", " + NowJson(-60) + ", " + NowJson(0) + "]",
                     "[1, 10, 100]")
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return Stat("rows_evicted") == 1; }));
  // Covered: the WHERE bound is inside the kept hour.
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales WHERE ts >= now() - INTERVAL '30 minutes'"),
            std::make_pair(int64_t{110}, std::string("cache")));
  // Not covered: the whole table, or a bound before the horizon, goes to the backend.
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales"), std::make_pair(int64_t{111}, std::string("backend")));
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales WHERE ts >= now() - INTERVAL '3 hours'"),
            std::make_pair(int64_t{111}, std::string("backend")));
  EXPECT_EQ(Stat("mirrored_rows"), 2);
}

TEST_F(CachedEngineTest, ConfiguredTableIsLoadedAndRefreshedByAppend) {
  OpenWithReadingsMirror(/*result_ttl=*/0ms);
  EXPECT_EQ(Ask("SELECT sum(v) FROM readings"), std::make_pair(int64_t{5}, std::string("cache")));
  // Rows written straight into the backend arrive with the next refresh.
  ASSERT_TRUE(
      engine::testing::Update(*direct_, "INSERT INTO readings VALUES (TIMESTAMP '2026-01-02', 6)")
          .ok());
  ASSERT_TRUE(WaitFor([&] { return Ask("SELECT sum(v) FROM readings").first == 11; }));
  EXPECT_EQ(Ask("SELECT sum(v) FROM readings").second, "cache");
  // A staleness bound tighter than the refresh interval sends reads to the backend.
  ASSERT_TRUE(connection_->SetMaxStaleness(1ms).ok());
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(Ask("SELECT sum(v) FROM readings").second, "backend");
}

TEST_F(CachedEngineTest, ResultsComputedFromMirrorsAreKeptUntilTheMirrorChanges) {
  OpenWithReadingsMirror(/*result_ttl=*/60s);
  EXPECT_EQ(Ask("SELECT sum(v) FROM readings"), std::make_pair(int64_t{5}, std::string("cache")));
  EXPECT_EQ(Ask("SELECT sum(v) FROM readings"),
            std::make_pair(int64_t{5}, std::string("result-cache")));
  // New backend rows arrive with a refresh, which drops the kept result.
  ASSERT_TRUE(
      engine::testing::Update(*direct_, "INSERT INTO readings VALUES (TIMESTAMP '2026-01-02', 6)")
          .ok());
  ASSERT_TRUE(WaitFor([&] { return Ask("SELECT sum(v) FROM readings").first == 11; }));
}

TEST_F(CachedEngineTest, TransactionsReadTheirOwnWritesFromTheBackend) {
  Open(CacheOptions{});
  ASSERT_TRUE(Ingest("sales", "[1]", "[1]").ok());
  ASSERT_TRUE(connection_->BeginTransaction().ok());
  ASSERT_TRUE(
      engine::testing::Update(*connection_, "INSERT INTO sales VALUES (TIMESTAMP '2026-01-01', 2)")
          .ok());
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales"), std::make_pair(int64_t{3}, std::string("backend")));
  // Other sessions do not see the uncommitted row, from wherever they read.
  auto other = *engine_->Connect();
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales", other.get()).first, 1);
  ASSERT_TRUE(connection_->Rollback().ok());
  // The mirror never had the row (it was kept for the commit): it answers at once.
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales /* after */"),
            std::make_pair(int64_t{1}, std::string("cache")));
  // Committed, the row reaches the mirror at the commit.
  ASSERT_TRUE(connection_->BeginTransaction().ok());
  ASSERT_TRUE(
      engine::testing::Update(*connection_, "INSERT INTO sales VALUES (TIMESTAMP '2026-01-01', 5)")
          .ok());
  ASSERT_TRUE(connection_->Commit().ok());
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales /* committed */"),
            std::make_pair(int64_t{6}, std::string("cache")));
}

TEST_F(CachedEngineTest, StreamingAppenderWritesThrough) {
  Open(CacheOptions{});
  auto schema = arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                               arrow::field("v", arrow::int64())});
  auto appender = engine_->OpenAppender({"stream"}, schema);
  ASSERT_TRUE(appender.ok()) << appender.status().ToString();
  for (int i = 0; i < 3; ++i) {
    auto batch = engine::testing::BatchFromJson(schema, {"[1, 2]", "[5, 5]"});
    ASSERT_TRUE((*appender)->Append(*batch).ok());
  }
  EXPECT_EQ(Ask("SELECT sum(v) FROM stream"), std::make_pair(int64_t{30}, std::string("cache")));
  EXPECT_EQ(Ask("SELECT sum(v) FROM stream", direct_.get()).first, 30);
}

TEST_F(CachedEngineTest, DialectTheCacheCannotBindGoesToTheBackend) {
  Open(CacheOptions{});
  ASSERT_TRUE(Ingest("sales", "[1]", "[4]").ok());
  // A column the mirror lacks only exists in the backend (added behind hyprstream's back).
  ASSERT_TRUE(
      engine::testing::Update(*direct_, "ALTER TABLE sales ADD COLUMN extra INT DEFAULT 9").ok());
  EXPECT_EQ(Ask("SELECT sum(extra) FROM sales"),
            std::make_pair(int64_t{9}, std::string("backend")));
}

}  // namespace
}  // namespace hyprstream::cache

namespace hyprstream::cache {
namespace {

// The cache failing after the backend committed: the mirror is dropped from reads (never a
// silent divergence) and reloaded from the backend.
TEST_F(CachedEngineTest, CacheFailureAfterBackendCommitInvalidatesAndReloads) {
  backend_ = OpenMemoryEngine();
  auto cache = OpenMemoryEngine();
  engine_ = *OpenCachedEngine(backend_, cache, CacheOptions{});
  connection_ = *engine_->Connect();
  direct_ = *backend_->Connect();
  ASSERT_TRUE(Ingest("sales", "[1]", "[10]").ok());
  // Sabotage the mirror so the next append cannot go in.
  auto on_cache = *cache->Connect();
  ASSERT_TRUE(engine::testing::Update(*on_cache, "DROP TABLE sales").ok());
  auto rows = Ingest("sales", "[2]", "[20]");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();  // the backend committed: acknowledged
  EXPECT_EQ(Stat("write_through_failures"), 1);
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales").first, 30);  // never the mirror's stale 10
  ASSERT_TRUE(WaitFor([&] { return MirrorState("sales") == "ready"; }));
  EXPECT_EQ(Ask("SELECT sum(v) FROM sales /* after reload */"),
            std::make_pair(int64_t{30}, std::string("cache")));
}

}  // namespace
}  // namespace hyprstream::cache

namespace hyprstream::cache {
namespace {

// DDL through hyprstream: the next answer has the new columns, wherever it comes from.
TEST_F(CachedEngineTest, DdlThroughHyprstreamChangesTheAnswerShape) {
  CacheOptions options;
  options.result_ttl = 0ms;
  Open(options);
  ASSERT_TRUE(Ingest("sales", "[1]", "[10]").ok());
  auto before = engine::testing::Query(*connection_, "SELECT * FROM sales");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ((*before)->num_columns(), 2);
  ASSERT_TRUE(
      engine::testing::Update(*connection_, "ALTER TABLE sales ADD COLUMN w INTEGER DEFAULT 7")
          .ok());
  auto after = engine::testing::Query(*connection_, "SELECT * FROM sales");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ((*after)->num_columns(), 3);
  ASSERT_TRUE(WaitFor([&] { return MirrorState("sales") == "ready"; }));
  auto reloaded = engine::testing::Query(*connection_, "SELECT * FROM sales");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
  EXPECT_EQ((*reloaded)->num_columns(), 3);
  EXPECT_EQ(Ask("SELECT sum(w) FROM sales"), std::make_pair(int64_t{7}, std::string("cache")));
}

}  // namespace
}  // namespace hyprstream::cache
