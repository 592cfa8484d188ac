// CachedEngine: a backend engine (any Engine, normally ADBC) with a DuckDB cache in front.
// Reads are answered from mirrored tables and kept results when they can be answered
// completely and freshly enough; everything else, and every write, goes to the backend.
// Ingests are written through: acknowledged after the backend committed, then applied to the
// mirror (docs/cache.md gives the order and guarantees). A background thread loads, refreshes
// and evicts mirrors and expires results. hyprstream_cache_stats() and
// hyprstream_cache_tables() show what the cache does, from SQL.
//
// Thread-safe like every Engine.
#pragma once

#include "cache/cache_options.h"
#include "engine/engine.h"

namespace hyprstream::cache {

// `cache` must be a DuckDB engine. Configured mirrors start loading in the background.
arrow::Result<std::shared_ptr<engine::Engine>> OpenCachedEngine(
    std::shared_ptr<engine::Engine> backend, std::shared_ptr<engine::Engine> cache,
    CacheOptions options);

}  // namespace hyprstream::cache
