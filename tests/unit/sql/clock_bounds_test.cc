// Query in, clock-bound rewrite (or none) out: which comparisons get their clock side cast to
// TIMESTAMP, what the type probe selects, and the queries left alone.
#include "sql/clock_bounds.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace hyprstream::sql {
namespace {

TEST(ClockBounds, CastsTheClockSideOfComparisonsWithAColumn) {
  struct Case {
    const char* sql;
    const char* rewritten;
    const char* probe;
  } cases[] = {
      {"SELECT metric_id, COUNT(*) AS samples, AVG(v) AS avg_value FROM metrics WHERE timestamp "
       ">= NOW() - INTERVAL '1 hour' GROUP BY metric_id ORDER BY avg_value DESC",
       "SELECT metric_id, count_star() AS samples, avg(v) AS avg_value FROM metrics WHERE "
       "(\"timestamp\" >= CAST((now() - CAST('1 hour' AS INTERVAL)) AS TIMESTAMP)) GROUP BY "
       "metric_id ORDER BY avg_value DESC",
       "SELECT \"timestamp\" FROM metrics"},
      // The clock on the left, under AND and OR, BETWEEN, another clock function.
      {"SELECT * FROM t WHERE (current_timestamp > ts OR k = 1) AND x BETWEEN "
       "date_trunc('hour', now()) AND now()",
       "SELECT * FROM t WHERE (((CAST(current_timestamp AS TIMESTAMP) > ts) OR (k = 1)) AND (x "
       "BETWEEN CAST(date_trunc('hour', now()) AS TIMESTAMP) AND CAST(now() AS TIMESTAMP)))",
       "SELECT ts, x FROM t"},
      // Parameters keep their numbers; a join's columns are probed over the same FROM.
      {"SELECT t.a, u.b FROM t JOIN u ON t.k = u.k WHERE u.ts > now() - $2 AND t.k = $1",
       "SELECT t.a, u.b FROM t INNER JOIN u ON ((t.k = u.k)) WHERE ((u.ts > CAST((now() - $2) AS "
       "TIMESTAMP)) AND (t.k = $1))",
       "SELECT u.ts FROM t INNER JOIN u ON ((t.k = u.k))"},
  };
  for (const auto& c : cases) {
    auto rewrite = ClockBoundRewriteOf(c.sql);
    ASSERT_NE(rewrite, nullptr) << c.sql;
    EXPECT_EQ(rewrite->sql, c.rewritten) << c.sql;
    EXPECT_EQ(rewrite->probe_sql, c.probe) << c.sql;
  }
}

TEST(ClockBounds, LeavesOtherQueriesAlone) {
  const char* cases[] = {
      "SELECT * FROM t WHERE ts > TIMESTAMP '2024-01-01'",       // no clock
      "SELECT * FROM t",                                         // no WHERE
      "SELECT * FROM t WHERE ts + INTERVAL 1 HOUR > now()",      // not a bare column
      "SELECT * FROM t WHERE ts > now() - v",                    // not one value per query
      "SELECT * FROM t WHERE f(ts, now())",                      // not a comparison
      "SELECT * FROM t WHERE NOT (ts > now() OR k = 1)",         // only under AND / OR
      "SELECT a FROM t WHERE ts > now() UNION SELECT a FROM u",  // not a plain SELECT
      "SELECT now() AS n",                                       // the clock, but no WHERE
      "INSERT INTO t SELECT * FROM u WHERE ts > now()",          // not a query
      "SELECT 1 AS a; SELECT * FROM t WHERE ts > now()",         // two statements
      "SELECT * FROM t WHERE ts > now(",                         // does not parse
  };
  for (const char* sql : cases) EXPECT_EQ(ClockBoundRewriteOf(sql), nullptr) << sql;
}

TEST(ClockBounds, SaysWhenPrintingMayRenameAColumn) {
  // An unaliased expression's name comes from its text, which printing the tree may change: the
  // engine compares the two statements' names before using the rewrite.
  for (const char* sql : {"SELECT count(*) FROM t WHERE ts > now()",
                          "SELECT a + 1, avg(v) FROM t WHERE ts > now() GROUP BY a"}) {
    auto rewrite = ClockBoundRewriteOf(sql);
    ASSERT_NE(rewrite, nullptr) << sql;
    EXPECT_TRUE(rewrite->names_may_differ) << sql;
  }
  for (const char* sql :
       {"SELECT count(*) AS n FROM t WHERE ts > now()", "SELECT *, a FROM t WHERE ts > now()"}) {
    auto rewrite = ClockBoundRewriteOf(sql);
    ASSERT_NE(rewrite, nullptr) << sql;
    EXPECT_FALSE(rewrite->names_may_differ) << sql;
  }
}

TEST(ClockBounds, TheSameTextGivesTheSameRewrite) {
  const char* sql = "SELECT k FROM t WHERE ts >= now() - INTERVAL '5 minutes'";
  auto first = ClockBoundRewriteOf(sql);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(ClockBoundRewriteOf(sql), first);  // memoised
}

TEST(ClockBounds, QueryConstantsOfNodesOfAnUnexpectedShapeAreNot) {
  using nlohmann::json;
  EXPECT_TRUE(IsQueryConstant(json{{"class", "CONSTANT"}}));
  // Keys DuckDB always writes for these classes, missing: not constant (and no undefined read).
  EXPECT_FALSE(IsQueryConstant(json{{"class", "CAST"}}));
  EXPECT_FALSE(IsQueryConstant(json{{"class", "FUNCTION"}, {"function_name", "now"}}));
  EXPECT_FALSE(IsQueryConstant(json::array()));
}

}  // namespace
}  // namespace hyprstream::sql
