// MirrorSet's load reports and generations (what the windows above the cache build on): every
// load is reported (it copies rows others wrote without telling them row by row) and gives
// the mirror a new generation; a mirror has a generation to read only while it is ready and
// no write goes around it; MakeReady loads on the caller's thread. Real DuckDB backend and
// cache.
#include "cache/mirror_set.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "../engine/engine_test_util.h"

namespace hyprstream::cache {
namespace {

using engine::testing::OpenMemoryEngine;

class MirrorSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_engine_ = OpenMemoryEngine();
    cache_engine_ = OpenMemoryEngine();
    backend_ = *backend_engine_->Connect();
    cache_ = *cache_engine_->Connect();
    ASSERT_TRUE(engine::testing::Update(*backend_,
                                        "CREATE TABLE readings AS SELECT TIMESTAMP '2026-01-01' "
                                        "AS ts, 5 AS v")
                    .ok());
    engine::ExternalRowsListener listener;
    listener.loaded = [this](const std::string&, const std::string& table) {
      loads_.push_back(table);
    };
    mirrors_.OnExternalRows(std::move(listener));
    MirrorOptions options;
    options.table = "readings";
    options.time_column = "ts";
    mirror_ = mirrors_.Add(options, /*configured=*/false, /*load=*/true);
  }

  MirrorSnapshot Snapshot() {
    for (const auto& snapshot : mirrors_.Snapshot()) {
      if (snapshot.key == mirror_->key) return snapshot;
    }
    ADD_FAILURE() << "no mirror of readings";
    return {};
  }
  std::string State() { return Snapshot().state; }

  void Maintain() { mirrors_.Maintain(*backend_, *cache_); }

  const std::vector<TableKey> readings_{TableKey::Parse("readings")};
  std::shared_ptr<engine::Engine> backend_engine_, cache_engine_;
  std::shared_ptr<engine::EngineConnection> backend_, cache_;
  MirrorSet mirrors_{CacheOptions{}};
  std::shared_ptr<Mirror> mirror_;
  std::vector<std::string> loads_;
};

// hyprstream's own tables (window histories), mirrored because hyprstream ingests into them,
// are written only through it: never refreshed from the backend (a refresh would read the
// backend table, without an index on its time column all of it, every interval for nothing).
// One named in the configuration keeps the refresh it was given.
TEST_F(MirrorSetTest, HyprstreamsOwnTablesAreNotRefreshed) {
  auto refresh_of = [this](const std::string& table, bool configured) {
    MirrorOptions options;
    options.table = table;
    options.time_column = "window_start";
    auto mirror = mirrors_.Add(options, configured, /*load=*/false);
    for (const auto& snapshot : mirrors_.Snapshot()) {
      if (snapshot.key == mirror->key) return snapshot.refresh;
    }
    return std::string("missing");
  };
  EXPECT_EQ(refresh_of("_hyprstream.metrics_history", false), "none");
  EXPECT_EQ(refresh_of("_hyprstream_metrics_history", false), "none");  // SQLite's name
  EXPECT_EQ(refresh_of("_hyprstream.configured", true), "append");
  EXPECT_EQ(refresh_of("public.metrics_history", false), "append");
}

TEST_F(MirrorSetTest, EveryLoadIsReportedAndGivesANewGeneration) {
  EXPECT_FALSE(mirrors_.ReadyGeneration(*mirror_).has_value());
  Maintain();
  ASSERT_EQ(State(), "ready");
  EXPECT_EQ(loads_, std::vector<std::string>{"readings"});
  auto first = mirrors_.ReadyGeneration(*mirror_);
  ASSERT_TRUE(first.has_value());
  // A write around the mirror: no generation to read until it is loaded again.
  mirrors_.BeginWrite(readings_);
  EXPECT_EQ(State(), "stale");
  EXPECT_FALSE(mirrors_.ReadyGeneration(*mirror_).has_value());
  mirrors_.EndWrite(readings_);
  EXPECT_FALSE(mirrors_.ReadyGeneration(*mirror_).has_value());
  Maintain();
  EXPECT_EQ(State(), "ready");
  EXPECT_EQ(loads_, (std::vector<std::string>{"readings", "readings"}));
  auto second = mirrors_.ReadyGeneration(*mirror_);
  ASSERT_TRUE(second.has_value());
  EXPECT_GT(*second, *first);
}

TEST_F(MirrorSetTest, ALoadAWriteBeganDuringLeavesItStaleAndIsRedone) {
  // The write begins while the load copies the table (after its swap, before it is marked
  // ready): the load cannot make the mirror ready and is redone after the write.
  bool began = false;
  mirrors_.OnChange([&](const TableKey&) {
    if (began) return;
    began = true;
    mirrors_.BeginWrite(readings_);
  });
  Maintain();
  ASSERT_TRUE(began);
  EXPECT_EQ(State(), "stale");
  EXPECT_FALSE(mirrors_.ReadyGeneration(*mirror_).has_value());
  mirrors_.EndWrite(readings_);
  Maintain();
  EXPECT_EQ(State(), "ready");
  EXPECT_EQ(Snapshot().loads, 2);
  EXPECT_TRUE(mirrors_.ReadyGeneration(*mirror_).has_value());
}

TEST_F(MirrorSetTest, LoadAfterAFailedWriteThroughIsReported) {
  Maintain();
  ASSERT_EQ(State(), "ready");
  auto before = mirrors_.ReadyGeneration(*mirror_);
  mirrors_.Invalidate(mirror_, "write-through failed: test");
  EXPECT_FALSE(mirrors_.ReadyGeneration(*mirror_).has_value());
  Maintain();
  EXPECT_EQ(State(), "ready");
  EXPECT_EQ(loads_.size(), 2u);
  EXPECT_NE(mirrors_.ReadyGeneration(*mirror_), before);
}

TEST_F(MirrorSetTest, MakeReadyLoadsOnTheCallersThreadAndMaintainDoesNotLoadAgain) {
  {
    std::lock_guard<std::mutex> write(mirror_->write);
    auto ready = mirrors_.MakeReady(*mirror_, *backend_, *cache_);
    ASSERT_TRUE(ready.ok()) << ready.status().ToString();
    EXPECT_TRUE(*ready);
  }
  EXPECT_EQ(State(), "ready");
  EXPECT_EQ(Snapshot().rows, 1);
  auto generation = mirrors_.ReadyGeneration(*mirror_);
  Maintain();  // not due: the mirror is ready and its refresh interval has not passed
  EXPECT_EQ(Snapshot().loads, 1);
  EXPECT_EQ(mirrors_.ReadyGeneration(*mirror_), generation);
  // Ready already: nothing is loaded.
  std::lock_guard<std::mutex> write(mirror_->write);
  ASSERT_TRUE(*mirrors_.MakeReady(*mirror_, *backend_, *cache_));
  EXPECT_EQ(Snapshot().loads, 1);
}

TEST_F(MirrorSetTest, MakeReadyRefusesWhileAWriteGoesAroundTheMirror) {
  mirrors_.BeginWrite(readings_);
  {
    std::lock_guard<std::mutex> write(mirror_->write);
    auto ready = mirrors_.MakeReady(*mirror_, *backend_, *cache_);
    ASSERT_TRUE(ready.ok());
    EXPECT_FALSE(*ready);
  }
  EXPECT_EQ(Snapshot().loads, 0);
  mirrors_.EndWrite(readings_);
  std::lock_guard<std::mutex> write(mirror_->write);
  EXPECT_TRUE(*mirrors_.MakeReady(*mirror_, *backend_, *cache_));
}

TEST_F(MirrorSetTest, SchemasAreCreatedOnceWhateverTheThreads) {
  // Concurrent CREATE SCHEMA IF NOT EXISTS of one name: DuckDB fails all but one with a
  // write-write conflict, so the mirrors create cache schemas one at a time.
  for (int round = 0; round < 20; ++round) {
    std::string name = "s";  // (built in steps: g++ 12 warns, wrongly, of "s" + ... here)
    name += std::to_string(round);
    const TableKey key = TableKey::Parse(name + ".readings");
    std::vector<std::thread> threads;
    std::vector<arrow::Status> results(4);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        auto connection = cache_engine_->Connect();
        results[t] =
            connection.ok() ? mirrors_.EnsureSchema(**connection, key) : connection.status();
      });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& status : results) EXPECT_TRUE(status.ok()) << status.ToString();
  }
  auto schemas = engine::testing::QueryInt(
      *cache_, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name LIKE 's%'");
  ASSERT_TRUE(schemas.ok());
  EXPECT_EQ(*schemas, 20);
}

}  // namespace
}  // namespace hyprstream::cache
