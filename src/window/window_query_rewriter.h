// WindowQueryRewriter: answers ordinary SQL from the maintained windows when a definition over
// the queried table provably gives the same answer. Three shapes, over any table with
// window definitions (keys = all of the definition's key columns; aggregates count(*),
// count/sum/avg/min/max/var/stddev of its value columns, any subset and order):
//   SELECT keys, time_bucket(INTERVAL w, ts), aggs FROM t GROUP BY ...        tumbling window w
//   SELECT window_start, [window_end,] keys, aggs FROM tumble(t, ts, INTERVAL w) GROUP BY ...
//     (or hop(t, ts, slide, width) when the slide divides the width: a hopping window)
//   SELECT keys, aggs FROM t WHERE ts > <constant, e.g. now() - INTERVAL '1 hour'> GROUP BY ...
//                                                      trailing window holding every such row
// GROUP BY ALL or the keys (+ bucket) by name, alias or position; ORDER BY output columns and
// LIMIT are kept. Bucket widths must divide a day (time_bucket's origin and the windows' epoch
// alignment agree) and the window must have had no late or null-time rows; a trailing answer
// needs the bound after everything its buffer dropped; the result must have the original's
// column names and types. Anything else is left to DuckDB. No parameters, not inside a
// transaction (it may see its own uncommitted rows). The SQL is parsed by DuckDB itself
// (through the sql module); `connection` only evaluates constant bounds and checks schemas.
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
