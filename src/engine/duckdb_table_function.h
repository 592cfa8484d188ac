// Registers a TableFunctionSpec (engine.h) as a DuckDB table function through the C API. The
// function's rows come from the spec's callback as one Arrow record batch and are copied into
// DuckDB vectors chunk by chunk (fixed-width columns by memcpy, short strings written into
// DuckDB's string headers in place, longer ones into the vector's string heap).
#pragma once

#include <duckdb.h>

#include <arrow/status.h>

#include "engine/engine.h"

namespace hyprstream::engine {

// Registers on `connection`; DuckDB puts the function in its system catalog, so every
// connection of the database sees it.
arrow::Status RegisterDuckDbTableFunction(duckdb_connection connection, TableFunctionSpec spec);

}  // namespace hyprstream::engine
