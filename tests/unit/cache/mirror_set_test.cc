// MirrorSet's reload reports (what the windows above the cache rely on): a mirror that was
// ready and is loaded again reports a reload (rows others wrote may have come in unannounced);
// a first load redone because a write began while it ran does not (no refresh has run yet, so
// nothing was announced that the second load could skip). Real DuckDB backend and cache.
#include "cache/mirror_set.h"

#include <gtest/gtest.h>

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
    listener.reloaded = [this](const std::string&, const std::string& table) {
      reloads_.push_back(table);
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

  void Maintain() { mirrors_.Maintain(*backend_, *cache_, ""); }

  const std::vector<TableKey> readings_{TableKey::Parse("readings")};
  std::shared_ptr<engine::Engine> backend_engine_, cache_engine_;
  std::shared_ptr<engine::EngineConnection> backend_, cache_;
  MirrorSet mirrors_{CacheOptions{}};
  std::shared_ptr<Mirror> mirror_;
  std::vector<std::string> reloads_;
};

TEST_F(MirrorSetTest, FirstLoadRedoneForAWriteThatBeganDuringItIsNoReload) {
  // The write begins while the first load copies the table (after its swap, before it is
  // marked ready): the load cannot make the mirror ready and is redone after the write.
  bool began = false;
  mirrors_.OnChange([&](const TableKey&) {
    if (began) return;
    began = true;
    mirrors_.BeginWrite(readings_);
  });
  Maintain();
  ASSERT_TRUE(began);
  EXPECT_EQ(State(), "stale");
  mirrors_.EndWrite(readings_);
  Maintain();
  EXPECT_EQ(State(), "ready");
  EXPECT_EQ(Snapshot().loads, 2);
  EXPECT_TRUE(reloads_.empty());
}

TEST_F(MirrorSetTest, LoadAfterTheMirrorWasReadyIsAReload) {
  Maintain();
  ASSERT_EQ(State(), "ready");
  EXPECT_TRUE(reloads_.empty());
  mirrors_.BeginWrite(readings_);
  EXPECT_EQ(State(), "stale");
  mirrors_.EndWrite(readings_);
  Maintain();
  EXPECT_EQ(State(), "ready");
  EXPECT_EQ(reloads_, std::vector<std::string>{"readings"});
}

TEST_F(MirrorSetTest, LoadAfterAFailedWriteThroughIsAReload) {
  Maintain();
  ASSERT_EQ(State(), "ready");
  mirrors_.Invalidate(mirror_, "write-through failed: test");
  Maintain();
  EXPECT_EQ(State(), "ready");
  EXPECT_EQ(reloads_, std::vector<std::string>{"readings"});
}

}  // namespace
}  // namespace hyprstream::cache
