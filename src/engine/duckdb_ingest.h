// Bulk ingest (Flight SQL CommandStatementIngest) into DuckDB: checks whether the target table
// exists, applies the if_exists / if_not_exists policy (creating the table from the Arrow
// schema with CREATE [OR REPLACE] [TEMP] TABLE), then appends every batch columnar. Outside a
// transaction it runs in its own BEGIN ... COMMIT and rolls back on any error; inside the
// caller's transaction a failure after something was written aborts that transaction (DuckDB
// has no savepoints), so nothing of the call can be committed. Temporary tables live in
// catalog "temp", schema "main".
#pragma once

#include "engine/duckdb_session.h"
#include "engine/engine.h"

namespace hyprstream::engine {

// Session mutex held and quiesced. Returns the number of rows written.
arrow::Result<int64_t> IngestLocked(DuckDbSession& session, const IngestRequest& request,
                                    arrow::RecordBatchReader* batches);

// Whether [catalog.][schema.]table names an existing table, looked up like the appender does.
bool TableExists(duckdb_connection connection, const std::optional<std::string>& catalog,
                 const std::optional<std::string>& schema, const std::string& table);

}  // namespace hyprstream::engine
