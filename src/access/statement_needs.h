// StatementNeeds: the grants a piece of SQL needs — read on every table it reads (through
// views, table and scalar macros, tumble()/hop()/query_table() and the window functions, whose
// bodies are read in turn: a view needs read on itself and on what it reads) and write on
// every table it changes (UPDATE, DELETE, MERGE and upserts read their target too). The SQL
// text is the sql module's to read; names are resolved against the DuckDB catalog of
// `connection` (its current database, schema and search path). A name that could mean
// several existing tables needs every one of them. SQL whose tables cannot be told (PRAGMA,
// CALL, EXECUTE, a DML statement with subqueries, a table function given a computed name)
// gives `untellable` instead. Functions over a connection; any thread.
#pragma once

#include <arrow/result.h>

#include <optional>
#include <string>
#include <vector>

#include "access/grant.h"
#include "engine/engine.h"

namespace hyprstream::access {

struct Need {
  Privilege privilege;
  QualifiedTable table;
  std::string via;  // "" or how it is reached ("view memory.main.v", "window w")
  // The window whose results are read (hyprstream_window): a read grant on it does instead.
  std::string window;
};

struct StatementNeeds {
  std::vector<Need> needs;
  std::optional<std::string> untellable;  // why the tables cannot be told, when they cannot
};

arrow::Result<StatementNeeds> NeedsOfSql(engine::EngineConnection& connection,
                                         const std::string& sql);

// A table named by parts (a PATH descriptor, an ingest target): [catalog, schema,] table,
// resolved like a name in SQL: every existing table it may name, or the one it would name.
arrow::Result<std::vector<QualifiedTable>> ResolveTable(engine::EngineConnection& connection,
                                                        const std::vector<std::string>& parts);

}  // namespace hyprstream::access
