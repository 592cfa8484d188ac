// What the protocol needs to know of SQL text an engine cannot describe itself (ADBC
// backends, the cache): query, update or other (engine::StatementKind), told by the sql
// module's reading of every statement. Pure functions; any thread.
#pragma once

#include <string>

#include "engine/engine.h"
#include "sql/sql_script.h"

namespace hyprstream::engine {

// Query: every statement only reads (SELECT, WITH ... SELECT, VALUES, SHOW, EXPLAIN, ...).
// Update: every statement is DML, DDL, COPY, ATTACH or another command that returns a count.
// Other: the rest (SET, PRAGMA, transaction control, mixed scripts, data-modifying CTEs).
StatementKind StatementKindOf(const sql::Script& script);
StatementKind ClassifyStatement(const std::string& sql);

}  // namespace hyprstream::engine
