// Query in, QueryTables out: every table read with the name the query calls it by, the tables
// of the top-level FROM, and the lower bounds the top-level WHERE puts on their columns.
#include "sql/query_tables.h"

#include <gtest/gtest.h>

#include "sql/sql_script.h"

namespace hyprstream::sql {
namespace {

arrow::Result<QueryTables> Read(const std::string& sql) {
  auto script = Analyze(sql);
  const StatementInfo* statement = script->Single();
  if (statement == nullptr) return arrow::Status::Invalid("not one statement");
  return ReadQueryTables(*statement);
}

std::vector<std::string> Names(const std::vector<TableRead>& reads) {
  std::vector<std::string> out;
  for (const auto& r : reads) out.push_back(r.schema + "|" + r.table + "|" + r.name);
  return out;
}

// StatementReads::table_reads of `sql`, named as Names() does.
std::vector<std::string> TableReads(const std::string& sql) {
  auto script = Analyze(sql);
  const StatementInfo* statement = script->Single();
  return statement == nullptr ? std::vector<std::string>{"not one statement"}
                              : Names(statement->reads().table_reads);
}

TEST(QueryTables, ReadsEveryTableButCtesWithTheNamesTheQueryUses) {
  const std::string sql =
      "WITH recent AS (SELECT * FROM s.Sales) SELECT * FROM recent JOIN hosts AS H USING (id) "
      "WHERE id IN (SELECT id FROM hosts) AND x IN (SELECT x FROM tumble('s.ticks', 'ts', "
      "INTERVAL 1 MINUTE))";
  auto tables = Read(sql);
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  EXPECT_EQ(TableReads(sql), (std::vector<std::string>{"s|Sales|sales", "|hosts|h", "|hosts|hosts",
                                                       "s|ticks|ticks"}));
  ASSERT_TRUE(tables->select);
  EXPECT_EQ(Names(tables->top_level), (std::vector<std::string>{"|hosts|h"}));
  EXPECT_TRUE(tables->other_sources);  // the CTE
}

TEST(QueryTables, LowerBoundsOfColumnsWhoseTableIsCertain) {
  auto tables = Read(
      "SELECT * FROM a JOIN b AS bb ON a.k = bb.k WHERE a.ts >= now() - INTERVAL '1 hour' AND "
      "bb.TS > 5 AND ts >= 7 AND a.v BETWEEN 1 AND 2 AND 3 <= bb.w AND a.x >= bb.y");
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  ASSERT_EQ(tables->lower_bounds.size(), 4u);  // `ts` alone (two tables) and `bb.y` are not
  EXPECT_EQ(tables->lower_bounds[0].table, 0u);
  EXPECT_EQ(tables->lower_bounds[0].column, "ts");
  EXPECT_EQ(tables->lower_bounds[0].expression_sql, "(now() - CAST('1 hour' AS INTERVAL))");
  EXPECT_EQ(tables->lower_bounds[1].table, 1u);
  EXPECT_EQ(tables->lower_bounds[1].column, "ts");
  EXPECT_EQ(tables->lower_bounds[2].column, "v");
  EXPECT_EQ(tables->lower_bounds[2].expression_sql, "1");
  EXPECT_EQ(tables->lower_bounds[3].table, 1u);
  EXPECT_EQ(tables->lower_bounds[3].column, "w");

  // One table alone: an unqualified column is its own; not under OR.
  tables = Read("SELECT * FROM t WHERE ts > 1 AND (u > 2 OR u > 3)");
  ASSERT_TRUE(tables.ok());
  ASSERT_EQ(tables->lower_bounds.size(), 1u);
  EXPECT_EQ(tables->lower_bounds[0].column, "ts");
}

TEST(QueryTables, OnlyOneQueryDuckDbParses) {
  EXPECT_TRUE(Read("SELEC 1").status().IsNotImplemented());
  EXPECT_TRUE(Read("INSERT INTO t VALUES (1)").status().IsNotImplemented());
  auto values = Read("SELECT 1 UNION ALL SELECT x FROM t");
  ASSERT_TRUE(values.ok());
  EXPECT_FALSE(values->select);
  EXPECT_EQ(TableReads("SELECT 1 UNION ALL SELECT x FROM t"), (std::vector<std::string>{"|t|t"}));
}

}  // namespace
}  // namespace hyprstream::sql
