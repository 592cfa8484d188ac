// CacheOptions: how the DuckDB read cache in front of a backend behaves (docs/cache.md).
// Plain data, filled by the server's config loader; durations of zero mean "unset".
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace hyprstream::cache {

// How a mirrored table catches up with rows written to the backend by others.
enum class RefreshMode {
  kNone,    // hyprstream is the only writer: the mirror is current by construction
  kAppend,  // periodically copy backend rows newer than the newest mirrored time value
  kReload,  // periodically reload the whole (recent) table and swap it in atomically
};

// One backend table kept in the cache (a "mirror").
struct MirrorOptions {
  std::string table;        // [schema.]table as the backend names it
  std::string time_column;  // empty: no time column (the whole table is mirrored)
  RefreshMode refresh = RefreshMode::kAppend;
  std::chrono::milliseconds refresh_interval{0};  // 0: the cache-wide default
};

struct CacheOptions {
  // Rows older than this (by the mirror's time column) are evicted; 0 keeps everything.
  std::chrono::milliseconds max_duration{0};
  // Query results answered by the backend are kept this long (0: no result cache)...
  std::chrono::milliseconds result_ttl{std::chrono::seconds(30)};
  // ...within this many bytes in total (least recently used entries leave first).
  int64_t result_max_bytes = 256LL << 20;
  // Default refresh interval of mirrors (how stale data written by others may get).
  std::chrono::milliseconds refresh_interval{std::chrono::seconds(30)};
  // Mirror every table ingested through hyprstream, not only the configured ones.
  bool mirror_ingested_tables = true;
  std::vector<MirrorOptions> tables;
};

}  // namespace hyprstream::cache
