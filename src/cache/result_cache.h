// ResultCache: query results answered by the backend, kept in memory for a TTL within a byte
// budget (least recently used entries leave first). Each entry remembers the tables it read so
// a write through hyprstream drops exactly the results it may have changed.
//
// Thread-safe: one mutex guards the index; it is held only to look up, insert or drop entries
// (never while a result is produced or streamed). Results are immutable Arrow batches shared
// with readers, so an entry dropped while being read stays valid for that reader.
#pragma once

#include <arrow/record_batch.h>

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/statement_footprint.h"

namespace hyprstream::cache {

struct CachedResult {
  std::shared_ptr<arrow::Schema> schema;
  arrow::RecordBatchVector batches;
  std::vector<TableKey> tables;
  std::chrono::system_clock::time_point cached_at;
  int64_t bytes = 0;
};

struct ResultCacheStats {
  int64_t hits = 0, misses = 0, insertions = 0, evictions = 0, expirations = 0, invalidations = 0,
          entries = 0, bytes = 0;
};

class ResultCache {
 public:
  ResultCache(std::chrono::milliseconds ttl, int64_t max_bytes);

  bool enabled() const { return ttl_.count() > 0 && max_bytes_ > 0; }
  // Largest result worth keeping (a quarter of the budget).
  int64_t max_entry_bytes() const { return max_bytes_ / 4; }

  // The live entry for `key` no older than `max_age` (when given), or nullptr (a miss).
  std::shared_ptr<const CachedResult> Lookup(const std::string& key,
                                             std::optional<std::chrono::milliseconds> max_age);
  // The schema of the live entry for `key` (not counted as a hit or miss), or nullptr.
  std::shared_ptr<arrow::Schema> SchemaOf(const std::string& key) const;
  // A number that changes on every invalidation: capture it before running a query and pass
  // it to Insert, so a result that raced with a write is not kept.
  uint64_t epoch() const;
  void Insert(const std::string& key, CachedResult result, uint64_t epoch_at_start);

  void Invalidate(const std::vector<TableKey>& tables);
  void InvalidateAll();
  // Drops expired entries (the background thread calls this now and then).
  void Expire();
  ResultCacheStats stats() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const CachedResult> result;
    std::chrono::steady_clock::time_point expires;
  };
  void DropLocked(std::list<Entry>::iterator it);

  const std::chrono::milliseconds ttl_;
  const int64_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  uint64_t epoch_ = 0;
  ResultCacheStats stats_;
};

// The bytes an Arrow batch holds (buffer sizes, shared buffers counted once per batch).
int64_t BatchBytes(const arrow::RecordBatch& batch);

}  // namespace hyprstream::cache
