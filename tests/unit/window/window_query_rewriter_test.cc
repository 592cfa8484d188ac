// The rewriter, SQL in, answer or reason out: over an in-memory DuckDB with a table `trades`
// and a definition `bars` (keys sym, time ts, value px; tumbling 1m and trailing 1h), which
// queries are answered from window state, which are not and why; and every answer equals
// DuckDB's own over the stored rows.
#include "window/window_query_rewriter.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include "engine/duckdb_engine.h"
#include "engine/engine_sql.h"
#include "window/window_catalog.h"

namespace hyprstream::window {
namespace {

class WindowQueryRewriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine::EngineOptions options;
    options.connection = ":memory:";
    engine_ = *engine::OpenDuckDbEngine(options);
    connection_ = *engine_->Connect();
    Run("CREATE TABLE trades (sym VARCHAR, ts TIMESTAMP, px DOUBLE, qty INTEGER)");
    // Rows of the last hour (for trailing reads) in whole minutes (for tumbling ones).
    Run("INSERT INTO trades SELECT CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END, "
        "date_trunc('minute', now()::TIMESTAMP) - INTERVAL (i) MINUTE, i * 1.5, i "
        "FROM range(1, 40) t(i)");
    WindowCatalogOptions catalog_options;
    catalog_options.metrics_table = false;
    catalog_ = *WindowCatalog::Open(engine_, engine_, catalog_options);
    WindowArguments arguments;
    arguments.keys = "sym";
    arguments.time = "ts";
    arguments.values = "px";
    arguments.windows = "1m, trailing 1h";
    ASSERT_TRUE(catalog_->Create("bars", TableName::Of(std::nullopt, "trades"), arguments).ok());
  }

  void Run(const std::string& sql) {
    ASSERT_TRUE(engine::ExecuteStatement(*connection_, sql).ok()) << sql;
  }

  // The answer's rows, or the reason it was not answered from windows ("no: <reason>").
  std::string Outcome(const std::string& sql) {
    auto answer = RewriteFromWindows(*catalog_, *connection_, *connection_, sql);
    if (!answer.ok()) return "no: " + answer.status().message();
    auto reader = answer->from_windows->ExecuteQuery();
    auto original = answer->original->ExecuteQuery();
    if (!reader.ok() || !original.ok()) return "failed";
    auto got = (*reader)->ToTable();
    auto want = (*original)->ToTable();
    if (!got.ok() || !want.ok()) return "failed";
    // Same columns and rows as the engine's (floats to 1e-9: summation order).
    if (!(*got)->schema()->Equals(*(*want)->schema(), false)) return "schema differs";
    auto g = (*got)->CombineChunksToBatch().ValueOrDie();
    auto w = (*want)->CombineChunksToBatch().ValueOrDie();
    if (!g->ApproxEquals(*w, arrow::EqualOptions::Defaults().atol(1e-9))) return "rows differ";
    return "answered";
  }

  std::shared_ptr<engine::Engine> engine_;
  std::shared_ptr<engine::EngineConnection> connection_;
  std::shared_ptr<WindowCatalog> catalog_;
};

TEST_F(WindowQueryRewriterTest, AnswersTheShapesItKnowsExactly) {
  const char* answered[] = {
      "SELECT sym, time_bucket(INTERVAL '1 minute', ts) AS b, count(px), sum(px) "
      "FROM trades GROUP BY ALL ORDER BY b, sym",
      "SELECT sym, time_bucket(INTERVAL 1 MINUTE, ts) AS b, min(px), max(px) FROM trades "
      "GROUP BY sym, b ORDER BY 2, 1 LIMIT 5",
      "SELECT window_start, sym, avg(px) AS a FROM tumble('trades', 'ts', INTERVAL '1 minute') "
      "GROUP BY ALL ORDER BY window_start, sym",
      "SELECT sym, count(px) AS n, sum(px) AS s FROM trades "
      "WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym ORDER BY sym",
      "SELECT sym, avg(px) FROM trades WHERE ts >= now() - INTERVAL 30 MINUTE GROUP BY 1 "
      "ORDER BY 1",
  };
  for (const char* sql : answered) EXPECT_EQ(Outcome(sql), "answered") << sql;
}

TEST_F(WindowQueryRewriterTest, SaysWhyOtherQueriesAreNot) {
  struct Case {
    const char* sql;
    const char* reason;  // a part of the message
  } cases[] = {
      {"SELECT sym, count(*) FROM trades GROUP BY sym", "over all rows"},
      {"SELECT sym, sum(qty) FROM trades WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym",
       "no definition keeps"},
      {"SELECT sym, sum(px * 2) FROM trades WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym",
       "an aggregate of an expression"},
      {"SELECT sym, median(px) FROM trades WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym",
       "the windows do not keep"},
      {"SELECT sym, time_bucket(INTERVAL '2 minutes', ts) b, count(px) FROM trades "
       "GROUP BY ALL",
       "no definition keeps"},  // no 2m window
      {"SELECT sym, time_bucket(INTERVAL '1 minute', ts) b, count(*) FROM trades GROUP BY ALL",
       "no definition keeps"},  // count(*) is not among its aggregates
      {"SELECT sym, time_bucket(INTERVAL '7 minutes', ts) b, count(px) FROM trades GROUP BY ALL",
       "does not divide a day"},
      {"SELECT sym, count(px) FROM trades WHERE px > 3 OR px < 1 GROUP BY sym",
       "a WHERE other than one comparison"},
      {"SELECT sym, count(*) FROM trades WHERE ts > ? GROUP BY sym", "parameters"},
      {"SELECT sym, count(*) FROM trades WHERE ts > now() - INTERVAL '1 hour' "
       "GROUP BY sym HAVING count(*) > 1",
       "not a plain SELECT"},
      {"SELECT count(*) FROM other_table", "no window definition over that table"},
      {"SELECT 1; SELECT 2", "not one statement"},
      {"INSERT INTO trades VALUES ('a', now(), 1, 1)", "not one SELECT"},
  };
  Run("CREATE TABLE other_table (x INT)");
  for (const auto& c : cases) {
    const std::string outcome = Outcome(c.sql);
    EXPECT_NE(outcome.find(c.reason), std::string::npos) << c.sql << " -> " << outcome;
  }
}

TEST_F(WindowQueryRewriterTest, ALateRowStopsTumblingAnswersButNotTrailingOnes) {
  const std::string tumbling =
      "SELECT sym, time_bucket(INTERVAL '1 minute', ts) AS b, count(px) FROM trades "
      "GROUP BY ALL ORDER BY b, sym";
  ASSERT_EQ(Outcome(tumbling), "answered");
  // A row an hour older than everything, folded in late (beyond the 0s lateness).
  auto rows = engine::QueryTable(
      *connection_, "SELECT 'a' AS sym, now()::TIMESTAMP - INTERVAL 2 HOUR AS ts, 1.0 AS px");
  ASSERT_TRUE(rows.ok());
  Run("INSERT INTO trades VALUES ('a', now()::TIMESTAMP - INTERVAL 2 HOUR, 1.0, 1)");
  ASSERT_TRUE(catalog_->Committed(TableName::Of(std::nullopt, "trades"),
                                  {(*rows)->CombineChunksToBatch().ValueOrDie()})
                  .ok());
  EXPECT_NE(Outcome(tumbling).find("no definition keeps"), std::string::npos);
  EXPECT_EQ(Outcome("SELECT sym, count(px) AS n FROM trades "
                    "WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym ORDER BY sym"),
            "answered");
}

}  // namespace
}  // namespace hyprstream::window
