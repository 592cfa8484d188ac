// StatementFootprint against DuckDB's own parser: which tables a query reads, which time
// bounds its WHERE gives, and which tables a write changes.
#include "cache/statement_footprint.h"

#include <gtest/gtest.h>

#include "../engine/engine_test_util.h"

namespace hyprstream::cache {
namespace {

using engine::testing::OpenMemoryEngine;

class FootprintTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = OpenMemoryEngine();
    connection_ = *engine_->Connect();
  }
  ReadFootprint Read(const std::string& sql) { return AnalyzeRead(sql, "public"); }
  std::shared_ptr<engine::Engine> engine_;
  std::shared_ptr<engine::EngineConnection> connection_;
};

std::vector<std::string> Names(const std::vector<TableKey>& keys) {
  std::vector<std::string> out;
  for (const auto& k : keys) out.push_back(k.ToString());
  return out;
}

TEST_F(FootprintTest, TablesEverywhereButNotCtes) {
  auto f = Read(
      "WITH recent AS (SELECT * FROM public.Sales WHERE x > 1) "
      "SELECT * FROM recent JOIN hosts h USING (id) "
      "WHERE id IN (SELECT id FROM other.blocked)");
  ASSERT_TRUE(f.parsed);
  EXPECT_EQ(Names(f.tables), (std::vector<std::string>{"sales", "hosts", "other.blocked"}));
  EXPECT_FALSE(f.foreign_functions);
  EXPECT_EQ(Names(f.top_level_tables), (std::vector<std::string>{"hosts"}));
}

TEST_F(FootprintTest, TableFunctionsAndParameters) {
  auto f = Read("SELECT * FROM hyprstream_cache_stats()");
  EXPECT_TRUE(f.cache_functions);
  EXPECT_FALSE(f.foreign_functions);
  EXPECT_TRUE(f.tables.empty());
  // tumble()/hop() run in the cache over its copy of the table they name.
  f = Read("SELECT * FROM tumble('public.ticks', 'ts', INTERVAL 1 MINUTE) t WHERE t.px > 1");
  EXPECT_TRUE(f.cache_functions);
  EXPECT_FALSE(f.foreign_functions);
  EXPECT_EQ(Names(f.tables), (std::vector<std::string>{"ticks"}));
  f = Read("SELECT * FROM read_csv('x.csv') WHERE a = ?");
  EXPECT_TRUE(f.foreign_functions);
  EXPECT_TRUE(f.has_parameters);
}

TEST_F(FootprintTest, UnparseableIsUnknown) {
  EXPECT_FALSE(Read("SELEC 1").parsed);
  EXPECT_FALSE(Read("SELECT 1; SELECT 2").parsed);
}

TEST_F(FootprintTest, LowerBoundsOfTheTimeColumn) {
  auto f = Read(
      "SELECT k, avg(v) FROM sales s WHERE s.ts >= TIMESTAMP '2024-01-01 00:00:00' "
      "AND v > 3 AND TIMESTAMP '2024-02-01' < ts GROUP BY k");
  // Bounds of every column are found (v > 3 too); the cache looks at its time column's.
  ASSERT_EQ(f.lower_bounds.size(), 3u);
  EXPECT_EQ(f.lower_bounds[0].table.ToString(), "sales");
  EXPECT_EQ(f.lower_bounds[0].column, "ts");
  EXPECT_EQ(f.lower_bounds[1].column, "v");
  EXPECT_EQ(f.lower_bounds[2].column, "ts");
  auto first = EvaluateBound(*connection_, f.lower_bounds[0]);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, 1704067200000000LL);
  auto second = EvaluateBound(*connection_, f.lower_bounds[2]);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 1706745600000000LL);

  f = Read("SELECT * FROM sales WHERE ts BETWEEN now() - INTERVAL '1 hour' AND now()");
  ASSERT_EQ(f.lower_bounds.size(), 1u);
  auto bound = EvaluateBound(*connection_, f.lower_bounds[0]);
  ASSERT_TRUE(bound.ok());
  auto now_us = *engine::testing::QueryInt(*connection_, "SELECT epoch_us(now()::TIMESTAMP)");
  EXPECT_NEAR(static_cast<double>(now_us - *bound), 3600e6, 60e6);
}

TEST_F(FootprintTest, NoBoundFromColumnsParametersOrOr) {
  EXPECT_TRUE(Read("SELECT * FROM sales WHERE ts >= other_ts").lower_bounds.empty());
  EXPECT_TRUE(Read("SELECT * FROM sales WHERE ts >= ?").lower_bounds.empty());
  EXPECT_TRUE(Read("SELECT * FROM sales WHERE ts >= now() OR v > 1").lower_bounds.empty());
  EXPECT_TRUE(Read("SELECT * FROM sales WHERE ts <= now()").lower_bounds.empty());
  // Unqualified columns with two tables are ambiguous.
  EXPECT_TRUE(Read("SELECT * FROM sales, hosts WHERE ts >= now()").lower_bounds.empty());
}

TEST(WrittenTablesTest, RecognisesWrites) {
  auto one = [](const std::string& sql) {
    auto t = WrittenTables(sql, "public");
    return t && t->size() == 1 ? (*t)[0].ToString() : std::string(t ? "<none>" : "<all>");
  };
  EXPECT_EQ(one("INSERT INTO Sales VALUES (1)"), "sales");
  EXPECT_EQ(one("insert or replace into public.sales select 1"), "sales");
  EXPECT_EQ(one("  -- note\n UPDATE s.t SET a = 1"), "s.t");
  EXPECT_EQ(one("DELETE FROM \"Odd Name\" WHERE 1"), "odd name");
  EXPECT_EQ(one("TRUNCATE TABLE t"), "t");
  EXPECT_EQ(one("DROP TABLE IF EXISTS t"), "t");
  EXPECT_EQ(one("CREATE OR REPLACE TEMP TABLE t AS SELECT 1"), "t");
  EXPECT_EQ(one("ALTER TABLE t ADD COLUMN b INT"), "t");
  EXPECT_EQ(one("COPY t FROM 'x.csv'"), "t");
  EXPECT_EQ(one("COPY t TO 'x.csv'"), "<none>");
  EXPECT_EQ(one("SELECT 1"), "<none>");
  EXPECT_EQ(one("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"), "t");
  EXPECT_EQ(one("WITH d AS (DELETE FROM s.t RETURNING *) SELECT * FROM d"), "s.t");
  EXPECT_EQ(one("MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE"), "t");
  EXPECT_EQ(one("DROP SCHEMA s CASCADE"), "<all>");
  EXPECT_EQ(one("CALL something()"), "<all>");
}

TEST(WrittenTablesTest, EveryStatementOfAScript) {
  auto t = WrittenTables("INSERT INTO a VALUES (1); DELETE FROM b; SELECT 1", "public");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(Names(*t), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(WrittenTables("INSERT INTO a VALUES (1); DROP SCHEMA s CASCADE", "public"));
}

TEST(TableKeyTest, ParseAndQuote) {
  EXPECT_EQ(TableKey::Parse("S.T").ToString(), "s.t");
  EXPECT_EQ(TableKey::Parse("t").Quoted(), "\"t\"");
  EXPECT_EQ(TableKey::Parse("a.b.c").ToString(), "a.b.c");
  EXPECT_EQ(TableKey::Parse("\"Odd.Name\"").ToString(), "odd.name");
  EXPECT_EQ(TableKey::Parse("\"Odd.Name\"").schema, "");
}

}  // namespace
}  // namespace hyprstream::cache
