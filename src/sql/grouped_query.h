// GroupedQuery: what a single SELECT that aggregates one table's rows per key asks for, read
// from DuckDB's parse tree, in the three shapes window state can answer:
//   SELECT keys, time_bucket(<width>, ts), aggs FROM t GROUP BY ...
//   SELECT window_start, [window_end,] keys, aggs FROM tumble(t, ts, <width>) GROUP BY ...
//     (or hop(t, ts, <slide>, <width>))
//   SELECT keys, aggs FROM t WHERE ts > <query constant> GROUP BY ...
// GROUP BY ALL, or the keys (and the bucket) by name, alias or position; ORDER BY output
// columns and LIMIT/OFFSET constants. The window layer decides whether a definition holds the
// answer; it never reads parse trees itself. Widths come as SQL text for the caller's engine to
// evaluate. Pure functions; any thread.
#pragma once

#include <arrow/result.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sql/statement_info.h"

namespace hyprstream::sql {

struct GroupedQuery {
  // One select item, classified.
  struct Item {
    enum Kind { kKey, kBucket, kWindowStart, kWindowEnd, kAggregate } kind = kKey;
    std::string column;    // key / bucketed time column / aggregated column ("" for count(*))
    std::string function;  // kAggregate: the aggregate as called ("count_star" for count(*))
    std::string alias;     // as written, may be ""
  };

  // FROM a table: its schema ("" when not written) and name.
  std::string schema, table;
  // FROM tumble()/hop(): the table argument as written ("schema.table" or "table"), the time
  // column, the width and (hop) the slide as SQL text. Empty otherwise.
  std::string window_table, window_time, window_width_sql, window_slide_sql;
  // time_bucket(<width>, column): the width as SQL text; "" when there is no bucket.
  std::string bucket_width_sql;
  std::vector<Item> items;
  std::set<std::string> keys;  // the key columns (each listed once)
  // WHERE <time column> > (or >=) <query constant>: the column, the constant as SQL text.
  std::optional<std::string> since_sql;
  std::string since_column;
  bool inclusive = false;
  // ORDER BY over the output columns, by name or position; LIMIT and OFFSET constants.
  struct OrderTerm {
    std::string column;    // "" when by position
    int64_t position = 0;  // 1-based, when by position
    std::string suffix;    // " DESC", " ASC", " NULLS FIRST", " NULLS LAST" as written, or ""
  };
  std::vector<OrderTerm> order_by;
  std::optional<int64_t> limit, offset;

  bool from_window_function() const { return !window_time.empty(); }
  bool bucketed() const { return !bucket_width_sql.empty() || from_window_function(); }
  // The time column the query buckets or bounds ("" for neither).
  std::string time_column() const;
};

// The grouped query `statement` is, or NotImplemented saying why it is not one of the shapes.
// `from_only`: just the checks of the statement and its FROM (the table, or the window
// function's arguments), so a caller can stop early for a table it has nothing for.
arrow::Result<GroupedQuery> ReadGroupedQuery(const StatementInfo& statement,
                                             bool from_only = false);

}  // namespace hyprstream::sql
