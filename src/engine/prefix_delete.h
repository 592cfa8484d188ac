// Telling whether a DELETE removed only a table's oldest rows (a retention DELETE ... WHERE
// ts < X) without reading its SQL: from the DELETE's own transaction, and a reader pinned to
// the snapshot that transaction began with (Engine::BeginSharingSnapshot). If the rows before
// at or after the oldest time left (or without a time) are as many as the rows left, the
// DELETE removed none of them and every older one, so anything holding those rows follows it
// by dropping its rows before that time. SQL that DuckDB and PostgreSQL both speak; the time
// column must compare with a TIMESTAMP literal (timestamp[us] without a time zone). Stateless
// functions; each call runs one query on the connection it is given.
#pragma once

#include <arrow/result.h>

#include <cstdint>
#include <optional>
#include <string>

#include "engine/engine.h"

namespace hyprstream::engine {

struct RowsLeft {
  std::optional<int64_t> oldest_us;  // the oldest time left; nullopt: no row with a time
  int64_t count = 0;                 // every row left, with a time or without
};

// `table`: the table as the connection's SQL names it (quoted); `time_column`: unquoted.
arrow::Result<RowsLeft> ReadRowsLeft(EngineConnection& deleting, const std::string& table,
                                     const std::string& time_column);

// Whether `before` (the shared snapshot) holds exactly left.count rows at or after
// left.oldest_us or without a time. False when no time is left.
arrow::Result<bool> RemovedOnlyRowsBefore(EngineConnection& before, const std::string& table,
                                          const std::string& time_column, const RowsLeft& left);

// `TIMESTAMP '...'` for microseconds since the epoch (UTC), as both dialects read it.
std::string TimestampLiteral(int64_t epoch_us);

}  // namespace hyprstream::engine
