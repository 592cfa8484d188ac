// CacheCore: what every part of the cached engine shares — the backend and cache engines, the
// mirrors, the result cache and the counters behind hyprstream_cache_stats(). Owned by the
// CachedEngine, referenced by its connections and statements. Thread-safe: the members are
// themselves thread-safe and the counters are atomics.
#pragma once

#include <arrow/type.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "cache/cache_options.h"
#include "cache/mirror_set.h"
#include "cache/result_cache.h"
#include "engine/engine.h"

namespace hyprstream::cache {

struct CacheCounters {
  std::atomic<int64_t> answered_from_cache{0};    // queries run on the mirrors
  std::atomic<int64_t> answered_from_results{0};  // queries answered by the result cache
  std::atomic<int64_t> answered_by_backend{0};    // cache misses sent to the backend
  std::atomic<int64_t> bypassed{0};               // reads in a transaction, max_staleness 0
  std::atomic<int64_t> rows_written_through{0};
  std::atomic<int64_t> write_through_failures{0};  // cache side failed after a backend commit
  std::atomic<int64_t> cache_memory_bytes{0};      // the cache DuckDB's memory (sampled)
};

// The result schema the backend gave a query's SQL text, so a query the mirrors answer is
// not described by the backend again each time. Entries live kTtl and are all dropped when
// DDL passes through hyprstream. Thread-safe.
class BackendSchemas {
 public:
  static constexpr auto kTtl = std::chrono::seconds(60);
  static constexpr size_t kCapacity = 4096;
  std::shared_ptr<arrow::Schema> Get(const std::string& sql) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = schemas_.find(sql);
    if (it == schemas_.end() || it->second.second < std::chrono::steady_clock::now()) {
      return nullptr;
    }
    return it->second.first;
  }
  void Put(const std::string& sql, std::shared_ptr<arrow::Schema> schema) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (schemas_.size() >= kCapacity) schemas_.clear();
    schemas_[sql] = {std::move(schema), std::chrono::steady_clock::now() + kTtl};
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    schemas_.clear();
  }

 private:
  std::mutex mutex_;
  std::unordered_map<
      std::string, std::pair<std::shared_ptr<arrow::Schema>, std::chrono::steady_clock::time_point>>
      schemas_;
};

struct CacheCore {
  CacheCore(std::shared_ptr<engine::Engine> backend_engine,
            std::shared_ptr<engine::Engine> cache_engine, CacheOptions cache_options)
      : backend(std::move(backend_engine)),
        cache(std::move(cache_engine)),
        options(cache_options),
        mirrors(cache_options),
        results(cache_options.result_ttl, cache_options.result_max_bytes) {
    mirrors.OnChange([this](const TableKey& key) { results.Invalidate({key}); });
  }

  std::shared_ptr<engine::Engine> backend;
  std::shared_ptr<engine::Engine> cache;
  const CacheOptions options;
  std::string backend_default_schema = "main";  // the schema unqualified names resolve to
  MirrorSet mirrors;
  ResultCache results;
  BackendSchemas backend_schemas;
  CacheCounters counters;
};

}  // namespace hyprstream::cache
