// The embedded DuckDB engine (DuckDB 1.4 C API). One duckdb_database per Engine; every
// EngineConnection is its own duckdb_connection. Results are converted to Arrow chunk by
// chunk with duckdb_data_chunk_to_arrow and the Arrow C data interface.
#pragma once

#include "engine/engine.h"

namespace hyprstream::engine {

// connection: ":memory:" (or empty) for an in-memory database, otherwise a database file
// path. options: DuckDB configuration flags passed to duckdb_set_config (e.g. threads=4,
// memory_limit=2GB); an unknown flag is an Invalid error naming it.
arrow::Result<std::shared_ptr<Engine>> OpenDuckDbEngine(const EngineOptions& options);

}  // namespace hyprstream::engine
