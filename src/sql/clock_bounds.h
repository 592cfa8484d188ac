// Clock bounds: comparisons in a query's WHERE of a column with the clock, such as
// `ts >= now() - INTERVAL '1 hour'`. now() is a TIMESTAMPTZ, so over a TIMESTAMP column DuckDB
// casts the column to TIMESTAMPTZ row by row through ICU (most of the time of such a query) and
// no filter reaches the scan. Where the session's TimeZone is UTC that cast maps every
// TIMESTAMP to the same instant, so comparing the column with the clock side cast to TIMESTAMP
// once selects exactly the same rows. This module finds such comparisons and prints the query
// with them cast; whether the columns are TIMESTAMPs and the session is in UTC is the engine's
// to check (ClockBoundRewrite::probe_sql). Pure functions, memoised by text; any thread.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace hyprstream::sql {

struct ClockBoundRewrite {
  // The query with the clock side of each such comparison cast to TIMESTAMP. Its result columns
  // have the query's types, and its names unless `names_may_differ`.
  std::string sql;
  // SELECT <each column compared with the clock> FROM <the query's FROM>: its result types are
  // the compared columns' types (prepare it; nothing needs to run).
  std::string probe_sql;
  // A select item is an unaliased expression, whose name the printing may change: compare the
  // two statements' result names before using `sql`.
  bool names_may_differ = false;
};

// The rewrite of `sql`, or nullptr when it is not one SELECT whose WHERE compares a column with
// the clock.
std::shared_ptr<const ClockBoundRewrite> ClockBoundRewriteOf(std::string_view sql);

// An expression DuckDB evaluates to one value per query: constants, casts, the clock and
// arithmetic over them (now() - INTERVAL '1 hour', date_trunc('day', current_timestamp)).
bool IsQueryConstant(const nlohmann::json& expression);

}  // namespace hyprstream::sql
