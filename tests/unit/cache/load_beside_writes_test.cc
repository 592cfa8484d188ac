// A background load of a mirror copies the backend table while writes through hyprstream go on:
// they do not wait for the copy, and the mirror it swaps in holds their rows (or, when what a
// write committed is not known, the load is redone). Real DuckDB backend and cache; a layer
// over the backend holds the load's copy open (GatedLoads) or slows it (randomised test).
#include <arrow/api.h>
#include <arrow/compute/cast.h>
#include <arrow/util/key_value_metadata.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "../engine/engine_test_util.h"
#include "cache/cached_engine.h"
#include "engine/forwarding_engine.h"
#include "gated_loads.h"

namespace hyprstream::cache {
namespace {

using engine::testing::OpenMemoryEngine;
using namespace std::chrono_literals;

constexpr const char* kLoadQuery = "SELECT * FROM \"readings\"";

class LoadBesideWritesTest : public ::testing::Test {
 protected:
  // `readings` in the backend: 20,000 rows (several batches), mirrored with `refresh` (every
  // 50 ms: `reload` loads the ready mirror again and again).
  void Open(RefreshMode refresh = RefreshMode::kNone) {
    raw_backend_ = OpenMemoryEngine();
    direct_ = *raw_backend_->Connect();
    ASSERT_TRUE(engine::testing::Update(*direct_,
                                        "CREATE TABLE readings AS SELECT TIMESTAMP '2026-01-01' + "
                                        "INTERVAL (i) SECOND AS ts, i AS v FROM range(20000) t(i)")
                    .ok());
    gate_ = std::make_shared<testing::GatedLoads>(raw_backend_, kLoadQuery);
    CacheOptions options;
    options.refresh_interval = 50ms;
    MirrorOptions table;
    table.table = "readings";
    table.time_column = "ts";
    table.refresh = refresh;
    options.tables.push_back(table);
    auto engine = OpenCachedEngine(gate_, OpenMemoryEngine(), options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = *engine;
    connection_ = *engine_->Connect();
    ASSERT_TRUE(WaitUntilReady());
  }

  bool WaitUntilReady() {
    for (int i = 0; i < 600; ++i) {
      if (Mirror("state") == "ready") return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  std::string Mirror(const std::string& column) {
    auto t = engine::testing::Query(*connection_, "SELECT CAST(" + column +
                                                      " AS VARCHAR) FROM hyprstream_cache_tables() "
                                                      "WHERE table_name = 'readings'");
    if (!t.ok() || (*t)->num_rows() != 1) return "";
    return (*(*t)->column(0)->GetScalar(0))->ToString();
  }
  int64_t Loads() { return std::stoll(Mirror("loads")); }
  // An append refresh of `readings` under way, held after it read two rows another client
  // wrote straight into the backend (2028-01-01 and 2028-01-02, newer than every mirrored row).
  void RefreshHeldReadingRowsOfOthers() {
    Open(RefreshMode::kAppend);
    gate_->GateRefreshes(true);
    ASSERT_TRUE(engine::testing::Update(*direct_,
                                        "INSERT INTO readings VALUES (TIMESTAMP '2028-01-01', "
                                        "900000), (TIMESTAMP '2028-01-02', 900001)")
                    .ok());
    gate_->Close();
    ASSERT_TRUE(gate_->WaitUntilHeld()) << "no refresh read the backend";
  }
  // True once the mirror is ready with `rows` rows and has been refreshed since (within 12 s).
  bool WaitUntilCaughtUp(int64_t rows) {
    const int64_t refreshes = std::stoll(Mirror("refreshes"));
    for (int i = 0; i < 600; ++i) {
      if (Mirror("state") == "ready" && Mirror("rows") == std::to_string(rows) &&
          std::stoll(Mirror("refreshes")) > refreshes) {
        return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "mirror " << Mirror("state") << " with " << Mirror("rows") << " rows, want "
                  << rows;
    return false;
  }

  // A SQL write through hyprstream the cache cannot follow row by row: the mirror is reloaded.
  void WriteAroundTheMirror(const std::string& sql) {
    ASSERT_TRUE(engine::testing::Update(*connection_, sql).ok()) << sql;
  }

  static std::shared_ptr<arrow::Schema> Schema() {
    return arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                          arrow::field("v", arrow::int64())});
  }
  static std::shared_ptr<arrow::RecordBatch> Rows(int64_t first_v, int count) {
    arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                               arrow::default_memory_pool());
    arrow::Int64Builder v;
    for (int i = 0; i < count; ++i) {
      EXPECT_TRUE(ts.Append(1767225600000000 + (first_v + i) * 1000).ok());
      EXPECT_TRUE(v.Append(first_v + i).ok());
    }
    return arrow::RecordBatch::Make(Schema(), count, {*ts.Finish(), *v.Finish()});
  }
  arrow::Result<int64_t> Ingest(
      engine::EngineConnection& connection, std::shared_ptr<arrow::RecordBatch> rows,
      engine::IngestRequest::IfExists if_exists = engine::IngestRequest::IfExists::kAppend) {
    engine::IngestRequest request;
    request.table = "readings";
    request.if_exists = if_exists;
    auto reader = engine::testing::ReaderOf(Schema(), {std::move(rows)});
    return connection.Ingest(request, reader.get());
  }

  // The mirror's answer (it must be the cache's) equals the backend's rows.
  void ExpectTheMirrorHoldsTheBackendsRows() {
    const std::string sql = "SELECT v, count(*) AS n FROM readings GROUP BY v ORDER BY v";
    auto cached = engine::testing::Query(*connection_, sql);
    ASSERT_TRUE(cached.ok()) << cached.status().ToString();
    auto metadata = (*cached)->schema()->metadata();
    ASSERT_TRUE(metadata);
    EXPECT_EQ(metadata->Get("hyprstream.source").ValueOr(""), "cache");
    auto backend = engine::testing::Query(*direct_, sql);
    ASSERT_TRUE(backend.ok()) << backend.status().ToString();
    EXPECT_EQ((*cached)->num_rows(), (*backend)->num_rows());
    EXPECT_TRUE((*cached)->Equals(**backend, /*check_metadata=*/false))
        << "mirror rows " << (*cached)->num_rows() << ", backend rows " << (*backend)->num_rows();
  }

  std::shared_ptr<engine::Engine> raw_backend_, engine_;
  std::shared_ptr<testing::GatedLoads> gate_;
  std::shared_ptr<engine::EngineConnection> connection_, direct_;
};

// A stop does not wait for a load under way (a large table's copy takes minutes): the load
// gives up at its next batch.
TEST_F(LoadBesideWritesTest, AStopDoesNotWaitForALoadUnderWay) {
  Open();
  gate_->Pace(100ms);  // the 20-batch copy now takes about 2 s
  const int before = gate_->batches_read();
  WriteAroundTheMirror(
      "DELETE FROM readings WHERE v >= 100 AND v < 200");  // the mirror is reloaded
  for (int i = 0; i < 1000 && gate_->batches_read() < before + 3; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GE(gate_->batches_read(), before + 3) << "the reload never began";
  connection_.reset();
  engine_.reset();  // stops the cache
  const int read = gate_->batches_read() - before;
  EXPECT_LT(read, 15) << "the stop waited for the load to copy " << read << " of 21 batches";
}

TEST_F(LoadBesideWritesTest, WritesDuringALoadDoNotWaitForItsCopyAndAreInTheMirrorItSwapsIn) {
  Open();
  const int64_t loads = Loads();
  gate_->Close();
  WriteAroundTheMirror(
      "DELETE FROM readings WHERE v >= 100 AND v < 200");  // the mirror is reloaded
  ASSERT_TRUE(gate_->WaitUntilHeld()) << "no load began";

  // While the copy is held: every kind of write that appends through hyprstream.
  ASSERT_TRUE(Ingest(*connection_, Rows(100000, 50)).ok());
  auto appender = engine_->OpenAppender({"readings"}, Schema());
  ASSERT_TRUE(appender.ok()) << appender.status().ToString();
  ASSERT_TRUE((*appender)->Append(*Rows(200000, 30)).ok());
  ASSERT_TRUE((*appender)->Append(*Rows(300000, 20)).ok());
  auto returning =
      engine::testing::Query(*connection_,
                             "INSERT INTO readings VALUES (TIMESTAMP '2027-01-01', 400000), "
                             "(TIMESTAMP '2027-01-02', 400001) RETURNING *");
  ASSERT_TRUE(returning.ok()) << returning.status().ToString();
  EXPECT_EQ((*returning)->num_rows(), 2);
  auto other = *engine_->Connect();
  ASSERT_TRUE(Ingest(*other, Rows(500000, 7)).ok());
  EXPECT_FALSE(gate_->gave_up()) << "a write waited for the load's copy";
  EXPECT_NE(Mirror("state"), "ready");  // the load has not swapped its copy in yet

  gate_->Open();
  ASSERT_TRUE(WaitUntilReady());
  EXPECT_EQ(Loads(), loads + 1) << "the load was redone instead of taking the writes' rows";
  ExpectTheMirrorHoldsTheBackendsRows();
  // 20,000 - 100 deleted (not the oldest: written around the mirror) + 109 written while it
  // loaded.
  EXPECT_EQ(std::stoll(Mirror("rows")), 20009);
  EXPECT_EQ(*engine::testing::QueryInt(*connection_,
                                       "SELECT value FROM hyprstream_cache_stats() WHERE name = "
                                       "'rows_written_during_loads'"),
            109);
}

// Where the backend pins a snapshot, a load's read begins after the writes are let go, so they
// do not wait for its first rows either (PostgreSQL scanning a table for the first row after
// --cache-max-duration's horizon).
TEST_F(LoadBesideWritesTest, WritesDoNotWaitForALoadsFirstRows) {
  Open();
  const int64_t loads = Loads();
  gate_->HoldBeforeTheFirstBatch(true);
  gate_->Close();
  WriteAroundTheMirror("DELETE FROM readings WHERE v >= 100 AND v < 200");
  ASSERT_TRUE(gate_->WaitUntilHeld()) << "no load began";
  ASSERT_TRUE(Ingest(*connection_, Rows(100000, 50)).ok());
  auto appender = engine_->OpenAppender({"readings"}, Schema());
  ASSERT_TRUE(appender.ok()) << appender.status().ToString();
  ASSERT_TRUE((*appender)->Append(*Rows(200000, 30)).ok());
  EXPECT_FALSE(gate_->gave_up()) << "a write waited for the load's first rows";
  gate_->Open();
  ASSERT_TRUE(WaitUntilReady());
  EXPECT_EQ(Loads(), loads + 1) << "the load was redone instead of taking the writes' rows";
  ExpectTheMirrorHoldsTheBackendsRows();
  EXPECT_EQ(std::stoll(Mirror("rows")), 20000 - 100 + 80);
}

TEST_F(LoadBesideWritesTest, AWriteWhoseRowsTheLoadCannotKnowMakesItLoadAgain) {
  Open();
  const int64_t loads = Loads();
  gate_->Close();
  WriteAroundTheMirror("DELETE FROM readings WHERE v >= 100 AND v < 200");
  ASSERT_TRUE(gate_->WaitUntilHeld()) << "no load began";
  // Replaces the whole table in the backend: the copy being made is of the old one.
  ASSERT_TRUE(
      Ingest(*connection_, Rows(700000, 5), engine::IngestRequest::IfExists::kReplace).ok());
  EXPECT_FALSE(gate_->gave_up());
  gate_->Open();
  ASSERT_TRUE(WaitUntilReady());
  EXPECT_EQ(Loads(), loads + 2);
  ExpectTheMirrorHoldsTheBackendsRows();
  EXPECT_EQ(std::stoll(Mirror("rows")), 5);
}

// An append refresh reads the backend's new rows from a snapshot of it, without holding the
// mirror's writes: writes through hyprstream go on meanwhile (a backend table without an
// index on its time column is scanned whole for that read), and the mirror then holds their
// rows and the refresh's, once each.
TEST_F(LoadBesideWritesTest, WritesDuringARefreshDoNotWaitForItsReadOfTheBackend) {
  ASSERT_NO_FATAL_FAILURE(RefreshHeldReadingRowsOfOthers());

  ASSERT_TRUE(Ingest(*connection_, Rows(100000, 50)).ok());
  auto appender = engine_->OpenAppender({"readings"}, Schema());
  ASSERT_TRUE(appender.ok()) << appender.status().ToString();
  ASSERT_TRUE((*appender)->Append(*Rows(200000, 30)).ok());
  auto returning = engine::testing::Query(
      *connection_, "INSERT INTO readings VALUES (TIMESTAMP '2027-01-01', 400000) RETURNING *");
  ASSERT_TRUE(returning.ok()) << returning.status().ToString();
  ASSERT_TRUE(connection_->BeginTransaction().ok());
  ASSERT_TRUE(Ingest(*connection_, Rows(500000, 7)).ok());
  ASSERT_TRUE(connection_->Commit().ok());
  EXPECT_FALSE(gate_->gave_up()) << "a write waited for the refresh's read of the backend";

  gate_->Open();
  ASSERT_TRUE(WaitUntilCaughtUp(20000 + 2 + 50 + 30 + 1 + 7));
  ExpectTheMirrorHoldsTheBackendsRows();
}

// A refresh whose read of the backend overlapped a change of the mirror other than an append
// (here a retention DELETE it follows, which removed one of the rows the refresh read) leaves
// the rows it read to its next round instead of appending them to the changed mirror.
TEST_F(LoadBesideWritesTest, ARefreshThatOverlappedAFollowedDeleteReadsAgain) {
  ASSERT_NO_FATAL_FAILURE(RefreshHeldReadingRowsOfOthers());
  auto deleted = engine::testing::Update(
      *connection_, "DELETE FROM readings WHERE ts < TIMESTAMP '2028-01-01 12:00:00'");
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 20001);
  EXPECT_FALSE(gate_->gave_up()) << "the DELETE waited for the refresh's read of the backend";
  gate_->Open();
  ASSERT_TRUE(WaitUntilCaughtUp(1));
  ExpectTheMirrorHoldsTheBackendsRows();
}

// A followed DELETE whose check fails aborts its transaction, and DuckDB (like PostgreSQL)
// answers COMMIT of an aborted transaction with success while rolling it back: the DELETE
// runs again instead of being lost while the client is told it succeeded; the mirror is
// written around and reloaded.
TEST_F(LoadBesideWritesTest, ADeleteWhoseCheckAbortsItsTransactionRunsAgain) {
  Open();
  const int64_t loads = Loads();
  gate_->fail_checks = true;
  auto deleted = engine::testing::Update(
      *connection_, "DELETE FROM readings WHERE ts < TIMESTAMP '2026-01-01 00:10:00'");
  gate_->fail_checks = false;
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 600);
  EXPECT_EQ(*engine::testing::QueryInt(*direct_, "SELECT count(*) FROM readings"), 19400)
      << "the DELETE was lost";
  ASSERT_TRUE(WaitUntilReady());
  EXPECT_EQ(Loads(), loads + 1);
  ExpectTheMirrorHoldsTheBackendsRows();
}

class RandomisedLoadBesideWritesTest : public LoadBesideWritesTest,
                                       public ::testing::WithParamInterface<RefreshMode> {};

// Randomised: writers of every kind (and transactions, SQL writes that reload the mirror, and
// retention DELETEs it follows where it can) run while slow loads copy the table (with `reload`,
// also loads of the ready mirror, which answers meanwhile; with `append`, slow refreshes read
// rows another client writes straight into the backend meanwhile); after each round the mirror
// equals the backend.
TEST_P(RandomisedLoadBesideWritesTest, WritesAndReloadsLeaveTheMirrorEqualToTheBackend) {
  Open(GetParam());
  gate_->Slow(true);
  gate_->GateRefreshes(true);  // (slow too)
  // Each writer's values: its own range, so it can count its rows.
  constexpr int64_t kPerWriter = 100000000;
  std::array<int64_t, 3> next_v{kPerWriter, 2 * kPerWriter, 3 * kPerWriter};
  std::array<int64_t, 3> own{0, 0, 0};  // rows each writer stored
  const int64_t loads = Loads();
  for (int round = 0; round < 10; ++round) {
    std::vector<std::thread> writers;
    std::atomic<int> failures{0};
    for (int w = 0; w < 3; ++w) {
      writers.emplace_back([&, w, round] {
        std::mt19937 random(static_cast<unsigned>(round * 31 + w));
        auto connection = *engine_->Connect();
        std::unique_ptr<engine::TableAppender> appender;
        const int64_t base = (w + 1) * kPerWriter;
        int64_t& own_rows = own[w];
        for (int op = 0; op < 60; ++op) {
          const int count = 1 + static_cast<int>(random() % 40);
          const int64_t first = next_v[w];
          next_v[w] += count;
          int64_t stored = count;  // rows this write leaves (-1: not one of ours)
          arrow::Status status;
          std::this_thread::sleep_for(std::chrono::milliseconds(random() % 8));
          // Appends of every kind; once a round a SQL write, which reloads the mirror.
          const int pick = static_cast<int>(random() % 19);
          const bool reload = w == 0 && op == 20;
          const bool retention = w == 1 && op == 5;
          switch (retention ? 6 : reload ? 5 : pick < 8 ? 0 : pick < 12 ? 2 : pick < 15 ? 3 : 4) {
            case 0:
              status = Ingest(*connection, Rows(first, count)).status();
              break;
            case 2: {
              if (!appender) {
                auto opened = engine_->OpenAppender({"readings"}, Schema());
                if (!opened.ok()) {
                  status = opened.status();
                  break;
                }
                appender = std::move(*opened);
              }
              status = appender->Append(*Rows(first, count)).status();
              break;
            }
            case 3:
              // INSERT ... RETURNING *, or a plain INSERT (run with RETURNING * added).
              status = engine::testing::Query(*connection,
                                              "INSERT INTO readings VALUES (TIMESTAMP "
                                              "'2027-01-01', " +
                                                  std::to_string(first) + ")" +
                                                  (random() % 2 ? " RETURNING *" : ""))
                           .status();
              stored = 1;
              break;
            case 4: {
              status = connection->BeginTransaction();
              if (status.ok()) status = Ingest(*connection, Rows(first, count)).status();
              if (!status.ok()) break;
              if (random() % 3) {
                status = connection->Commit();
              } else {
                status = connection->Rollback();
                stored = 0;
              }
              break;
            }
            case 5:
              // A write the cache reloads after: a load begins while the others write. (It
              // deletes only rows of the start, never one a writer checks below.)
              status = engine::testing::Update(
                           *connection, "DELETE FROM readings WHERE v < 20000 AND v % 97 = " +
                                            std::to_string(random() % 97))
                           .status();
              stored = -1;
              break;
            case 6:
              // A retention DELETE of the start's oldest rows, which the mirror follows when it
              // is ready (each round's bound is later).
              status = engine::testing::Update(
                           *connection,
                           "DELETE FROM readings WHERE ts < TIMESTAMP '2026-01-01' + " +
                               std::to_string((round + 1) * 1500) + " * INTERVAL '1 second'")
                           .status();
              stored = -1;
              break;
          }
          if (!status.ok()) {
            ADD_FAILURE() << status.ToString();
            failures++;
            continue;
          }
          if (stored > 0) own_rows += stored;
          // Every acknowledged write stays readable, from wherever the answer comes (a load
          // that lost one would show here until the next load).
          auto seen = engine::testing::QueryInt(
              *connection, "SELECT count(*) FROM readings WHERE v >= " + std::to_string(base) +
                               " AND v < " + std::to_string(base + kPerWriter));
          if (!seen.ok() || *seen != own_rows) {
            ADD_FAILURE() << "writer " << w << ": want " << own_rows << " rows, got "
                          << (seen.ok() ? std::to_string(*seen) : seen.status().ToString());
            failures++;
          }
        }
      });
    }
    if (GetParam() == RefreshMode::kAppend) {
      // Another client writes straight into the backend meanwhile, newer rows each time: the
      // refreshes copy them, reading beside the writes through hyprstream.
      writers.emplace_back([&, round] {
        auto backend = *raw_backend_->Connect();
        for (int op = 0; op < 30; ++op) {
          const int64_t n = round * 30 + op;
          std::this_thread::sleep_for(std::chrono::milliseconds(5 + n % 11));
          auto written = engine::testing::Update(
              *backend, "INSERT INTO readings VALUES (TIMESTAMP '2029-01-01' + " +
                            std::to_string(n) + " * INTERVAL '1 second', " +
                            std::to_string(4 * kPerWriter + n) + ")");
          if (!written.ok()) {
            ADD_FAILURE() << written.status().ToString();
            failures++;
          }
        }
      });
    }
    for (auto& writer : writers) writer.join();
    ASSERT_EQ(failures.load(), 0);
    ASSERT_TRUE(WaitUntilReady());
    if (GetParam() == RefreshMode::kAppend) {
      // A refresh that began after the last write (the second from now).
      const int64_t refreshes = std::stoll(Mirror("refreshes"));
      for (int i = 0; i < 600 && std::stoll(Mirror("refreshes")) < refreshes + 2; ++i) {
        std::this_thread::sleep_for(20ms);
      }
      ASSERT_TRUE(WaitUntilReady());
    }
    ExpectTheMirrorHoldsTheBackendsRows();
  }
  EXPECT_GE(Loads(), loads + 10);  // one a round at least
  auto followed = engine::testing::QueryInt(
      *connection_,
      "SELECT value FROM hyprstream_cache_stats() WHERE name = 'mirror_deletes_followed'");
  ASSERT_TRUE(followed.ok()) << followed.status().ToString();
  EXPECT_GE(*followed, 1) << "no retention DELETE was followed";
  // Writes went on beside loads' copies (what this test is about).
  auto during = engine::testing::QueryInt(
      *connection_,
      "SELECT value FROM hyprstream_cache_stats() WHERE name = 'rows_written_during_loads'");
  ASSERT_TRUE(during.ok()) << during.status().ToString();
  EXPECT_GT(*during, 0);
}

INSTANTIATE_TEST_SUITE_P(Refresh, RandomisedLoadBesideWritesTest,
                         ::testing::Values(RefreshMode::kNone, RefreshMode::kReload,
                                           RefreshMode::kAppend),
                         [](const auto& info) {
                           return info.param == RefreshMode::kNone     ? std::string("None")
                                  : info.param == RefreshMode::kReload ? std::string("Reload")
                                                                       : std::string("Append");
                         });

}  // namespace
}  // namespace hyprstream::cache
