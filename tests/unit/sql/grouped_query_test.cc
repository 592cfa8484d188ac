// Query in, GroupedQuery (or the reason it is none) out: the three shapes window state can
// answer, read from DuckDB's own parse.
#include "sql/grouped_query.h"

#include <gtest/gtest.h>

#include "sql/sql_script.h"

namespace hyprstream::sql {
namespace {

arrow::Result<GroupedQuery> Read(const std::string& sql, bool from_only = false) {
  auto script = Analyze(sql);
  const StatementInfo* statement = script->Single();
  if (statement == nullptr) return arrow::Status::Invalid("not one statement");
  return ReadGroupedQuery(*statement, from_only);
}

using Item = GroupedQuery::Item;

TEST(GroupedQuery, ReadsATrailingBoundKeysAggregatesAndModifiers) {
  auto query = Read(
      "SELECT sym AS s, count(*) AS n, avg(px) FROM main.trades WHERE now() - INTERVAL '1 hour' "
      "<= ts GROUP BY 1 ORDER BY n DESC NULLS LAST, 1 LIMIT 5 OFFSET 2");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(query->schema, "main");
  EXPECT_EQ(query->table, "trades");
  EXPECT_FALSE(query->bucketed());
  ASSERT_EQ(query->items.size(), 3u);
  EXPECT_EQ(query->items[0].kind, Item::kKey);
  EXPECT_EQ(query->items[0].column, "sym");
  EXPECT_EQ(query->items[0].alias, "s");
  EXPECT_EQ(query->items[1].kind, Item::kAggregate);
  EXPECT_EQ(query->items[1].function, "count_star");
  EXPECT_EQ(query->items[1].column, "");
  EXPECT_EQ(query->items[2].function, "avg");
  EXPECT_EQ(query->items[2].column, "px");
  EXPECT_EQ(query->keys, std::set<std::string>{"sym"});
  ASSERT_TRUE(query->since_sql.has_value());
  EXPECT_EQ(*query->since_sql, "(now() - CAST('1 hour' AS INTERVAL))");
  EXPECT_EQ(query->since_column, "ts");
  EXPECT_TRUE(query->inclusive);  // ts >= bound, written the other way round
  EXPECT_EQ(query->time_column(), "ts");
  ASSERT_EQ(query->order_by.size(), 2u);
  EXPECT_EQ(query->order_by[0].column, "n");
  EXPECT_EQ(query->order_by[0].suffix, " DESC NULLS LAST");
  EXPECT_EQ(query->order_by[1].column, "");
  EXPECT_EQ(query->order_by[1].position, 1);
  EXPECT_EQ(query->limit, 5);
  EXPECT_EQ(query->offset, 2);
}

TEST(GroupedQuery, ReadsTimeBucketsAndWindowFunctions) {
  auto bucket = Read(
      "SELECT sym, time_bucket(INTERVAL '1 minute', ts) AS b, sum(px) FROM trades GROUP BY sym, "
      "b");
  ASSERT_TRUE(bucket.ok()) << bucket.status().ToString();
  EXPECT_TRUE(bucket->bucketed());
  EXPECT_FALSE(bucket->from_window_function());
  EXPECT_EQ(bucket->bucket_width_sql, "CAST('1 minute' AS INTERVAL)");
  EXPECT_EQ(bucket->items[1].kind, Item::kBucket);
  EXPECT_EQ(bucket->time_column(), "ts");

  auto hop = Read(
      "SELECT window_start, window_end, sym, max(px) FROM hop('s.trades', 'ts', INTERVAL "
      "'1 minute', INTERVAL '5 minutes') GROUP BY ALL");
  ASSERT_TRUE(hop.ok()) << hop.status().ToString();
  EXPECT_TRUE(hop->from_window_function());
  EXPECT_EQ(hop->window_table, "s.trades");
  EXPECT_EQ(hop->time_column(), "ts");
  EXPECT_EQ(hop->window_slide_sql, "CAST('1 minute' AS INTERVAL)");
  EXPECT_EQ(hop->window_width_sql, "CAST('5 minutes' AS INTERVAL)");
  EXPECT_EQ(hop->items[0].kind, Item::kWindowStart);
  EXPECT_EQ(hop->items[1].kind, Item::kWindowEnd);
  EXPECT_EQ(hop->keys, std::set<std::string>{"sym"});
}

TEST(GroupedQuery, SaysWhyAQueryIsNoneOfTheShapes) {
  struct Case {
    const char* sql;
    const char* reason;  // a part of the message
  } cases[] = {
      {"SELECT sym, count(*) FROM trades GROUP BY sym", "over all rows"},
      {"SELECT sym, sum(px * 2) FROM trades WHERE ts > now() GROUP BY sym",
       "an aggregate of an expression"},
      {"SELECT sym, count(*) FROM trades WHERE ts > ? GROUP BY sym", "parameters"},
      {"SELECT sym, count(*) FROM trades WHERE ts > now() GROUP BY sym HAVING count(*) > 1",
       "not a plain SELECT"},
      {"SELECT sym, count(*) FROM trades WHERE ts > now() GROUP BY px", "GROUP BY"},
      {"SELECT sym, sym, count(*) FROM trades WHERE ts > now() GROUP BY ALL", "listed twice"},
      {"SELECT sym, count(*) FROM trades WHERE ts > px GROUP BY sym", "one bound"},
      {"SELECT sym, time_bucket(INTERVAL '1 minute', ts), count(*) FROM trades GROUP BY sym",
       "the bucket is not grouped by"},
      {"SELECT count(*) FROM t1, t2 WHERE ts > now()", "FROM is not one table"},
      {"SELECT k, count(*) FROM (SELECT * FROM t) s WHERE ts > now() GROUP BY k",
       "FROM is not one table"},
      {"SELECT k, count(*) FROM range(3) WHERE ts > now() GROUP BY k", "FROM is not one table"},
      {"INSERT INTO trades VALUES (1)", "not one SELECT"},
  };
  for (const auto& c : cases) {
    auto query = Read(c.sql);
    ASSERT_FALSE(query.ok()) << c.sql;
    EXPECT_TRUE(query.status().IsNotImplemented()) << c.sql;
    EXPECT_NE(query.status().message().find(c.reason), std::string::npos)
        << c.sql << " -> " << query.status().message();
  }
  // The FROM alone is enough to name the table, whatever the rest is.
  auto from = Read("SELECT sym, count(*) FROM other.t GROUP BY sym", /*from_only=*/true);
  ASSERT_TRUE(from.ok()) << from.status().ToString();
  EXPECT_EQ(from->schema, "other");
  EXPECT_EQ(from->table, "t");
}

}  // namespace
}  // namespace hyprstream::sql
