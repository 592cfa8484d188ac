// Query in, per-column origin tables out (what result column metadata names).
#include "sql/select_item_origins.h"

#include <gtest/gtest.h>

#include "sql/sql_script.h"

namespace hyprstream::sql {
namespace {

// The origins of `sql`'s result columns as "table|-" per column, joined by spaces ("" when
// none can be told).
std::string Origins(const std::string& sql, size_t columns) {
  auto script = Analyze(sql);
  if (script->Single() == nullptr) return "not one statement";
  auto tables = ResultColumnTables(SelectItemOrigins(*script->Single()), columns);
  std::string out;
  for (const auto& table : tables) {
    if (!out.empty()) out += " ";
    out += table ? table->ToString() : "-";
  }
  return out;
}

TEST(SelectItemOrigins, ColumnsOfBaseTables) {
  struct Case {
    const char* sql;
    size_t columns;
    const char* origins;
  } cases[] = {
      {"SELECT a, b FROM t", 2, "t t"},
      {"SELECT a AS x, t.b FROM s.t", 2, "s.t s.t"},
      {"SELECT x.a, y.b FROM c.s.t AS x JOIN u y ON x.k = y.k", 2, "c.s.t u"},
      {"SELECT a FROM t JOIN u ON true", 1, "-"},  // unqualified over two tables
      {"SELECT a + 1, count(*) FROM t GROUP BY 1", 2, "- -"},
      {"SELECT *, a FROM t", 4, "t t t t"},  // * takes what `a` leaves
      {"SELECT u.*, t.a FROM t, u", 3, "u u t"},
      {"SELECT * FROM t JOIN u ON true", 3, "- - -"},  // columns of several tables
      {"SELECT * EXCLUDE (a) FROM t", 2, "- -"},
      {"SELECT * FROM t AS x(a, b)", 2, ""},                 // renamed columns: not told
      {"WITH t AS (SELECT 1 AS a) SELECT a FROM t", 1, ""},  // a CTE, not a table
      {"SELECT a FROM (SELECT a FROM t)", 1, ""},
      {"SELECT a FROM t UNION ALL SELECT a FROM u", 1, ""},
      {"SELECT a FROM read_csv('f.csv')", 1, ""},
      {"SELECT 1", 1, ""},
      {"INSERT INTO t SELECT a FROM u", 1, ""},
      {"SELECT *, * FROM t", 4, ""},  // two stars: not told
  };
  for (const auto& c : cases) EXPECT_EQ(Origins(c.sql, c.columns), c.origins) << c.sql;
}

}  // namespace
}  // namespace hyprstream::sql
