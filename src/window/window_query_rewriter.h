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
// column names and types. Anything else is left to the engine. No parameters. The query's
// shape comes from the sql module (sql/grouped_query.h, DuckDB's own parse); this module only
// matches it with the definitions.
#pragma once

#include <arrow/result.h>

#include <memory>
#include <optional>
#include <string>

#include "engine/engine.h"
#include "window/window_spec.h"

namespace hyprstream::window {

class WindowCatalog;

// A query answered from window state.
struct WindowAnswer {
  std::string sql;         // the rewritten query: a read of hyprstream_window(...)
  std::string definition;  // the definition whose state answers it
  // The tumbling/hopping window that must still answer exactly when the query runs (late
  // rows or removed rows since then make it fall back); nullopt for a trailing read, which
  // refuses a bound older than its buffer by itself.
  std::optional<WindowDef> exact;
  std::unique_ptr<engine::EngineStatement> from_windows;  // `sql`, prepared on the host
  std::unique_ptr<engine::EngineStatement> original;      // the query, prepared on the engine
};

// The answer from window state, or NotImplemented saying why `sql` is not one (then it runs
// as written: never a failure of the query). `original`: the engine that would run the query
// (it tells the result's names and types); `host`: a DuckDB connection where window functions
// run (constants are evaluated there). The caller skips queries inside a transaction (they
// may see their own uncommitted rows).
arrow::Result<WindowAnswer> RewriteFromWindows(const WindowCatalog& catalog,
                                               engine::EngineConnection& original,
                                               engine::EngineConnection& host,
                                               const std::string& sql);

}  // namespace hyprstream::window
