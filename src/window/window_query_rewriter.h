// WindowQueryRewriter: answers GROUP BY time_bucket queries over `metrics` from the maintained
// windows. A query of the shape
//   SELECT metric_id, time_bucket(INTERVAL '5 minutes', timestamp) [AS b], count(value),
//          sum(value), avg(value), min(value), max(value)      -- any subset, any order
//   FROM metrics GROUP BY ALL | GROUP BY metric_id, b
// whose width is one of the metrics windows becomes a read of hyprstream_window(...) with the
// same column names and types. It is rewritten only when the answer is provably the same:
// no WHERE/HAVING/ORDER/LIMIT, no parameters, widths that divide a day (time_bucket's origin
// and the windows' epoch alignment agree), and no late or null-time rows in that window.
// Anything else is left to DuckDB. The SQL is parsed by DuckDB itself (json_serialize_sql).
#pragma once

#include <arrow/result.h>

#include <optional>
#include <string>

#include "engine/engine.h"

namespace hyprstream::window {

class WindowCatalog;

// The rewritten SQL, or nullopt to run `sql` as written. Never fails the query: any problem
// means "not rewritten".
std::optional<std::string> RewriteFromWindows(const WindowCatalog& catalog,
                                              engine::EngineConnection& connection,
                                              const std::string& sql);

}  // namespace hyprstream::window
