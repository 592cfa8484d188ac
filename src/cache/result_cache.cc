#include "cache/result_cache.h"

#include <arrow/util/byte_size.h>

#include <algorithm>

namespace hyprstream::cache {

ResultCache::ResultCache(std::chrono::milliseconds ttl, int64_t max_bytes)
    : ttl_(ttl), max_bytes_(max_bytes) {}

std::shared_ptr<const CachedResult> ResultCache::Lookup(
    const std::string& key, std::optional<std::chrono::milliseconds> max_age) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  auto it = found->second;
  if (it->expires <= std::chrono::steady_clock::now()) {
    ++stats_.expirations;
    DropLocked(it);
    ++stats_.misses;
    return nullptr;
  }
  if (max_age && std::chrono::system_clock::now() - it->result->cached_at > *max_age) {
    ++stats_.misses;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it);
  ++stats_.hits;
  return it->result;
}

std::shared_ptr<arrow::Schema> ResultCache::SchemaOf(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end() || found->second->expires <= std::chrono::steady_clock::now()) {
    return nullptr;
  }
  return found->second->result->schema;
}

uint64_t ResultCache::epoch() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return epoch_;
}

void ResultCache::Insert(const std::string& key, CachedResult result, uint64_t epoch_at_start) {
  if (!enabled() || result.bytes > max_entry_bytes()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (epoch_ != epoch_at_start) return;  // a write may have changed what it read
  if (auto found = index_.find(key); found != index_.end()) DropLocked(found->second);
  stats_.bytes += result.bytes;
  ++stats_.entries;
  ++stats_.insertions;
  lru_.push_front(Entry{key, std::make_shared<const CachedResult>(std::move(result)),
                        std::chrono::steady_clock::now() + ttl_});
  index_[key] = lru_.begin();
  while (stats_.bytes > max_bytes_ && !lru_.empty()) {
    ++stats_.evictions;
    DropLocked(std::prev(lru_.end()));
  }
}

void ResultCache::DropLocked(std::list<Entry>::iterator it) {
  stats_.bytes -= it->result->bytes;
  --stats_.entries;
  index_.erase(it->key);
  lru_.erase(it);
}

void ResultCache::Invalidate(const std::vector<TableKey>& tables) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++epoch_;
  for (auto it = lru_.begin(); it != lru_.end();) {
    const auto& read = it->result->tables;
    bool touched = std::any_of(tables.begin(), tables.end(), [&](const TableKey& t) {
      return std::find(read.begin(), read.end(), t) != read.end();
    });
    auto next = std::next(it);
    if (touched) {
      ++stats_.invalidations;
      DropLocked(it);
    }
    it = next;
  }
}

void ResultCache::InvalidateAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++epoch_;
  stats_.invalidations += static_cast<int64_t>(lru_.size());
  while (!lru_.empty()) DropLocked(lru_.begin());
}

void ResultCache::Expire() {
  std::lock_guard<std::mutex> lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->expires <= now) {
      ++stats_.expirations;
      DropLocked(it);
    }
    it = next;
  }
}

ResultCacheStats ResultCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

int64_t BatchBytes(const arrow::RecordBatch& batch) {
  return static_cast<int64_t>(arrow::util::TotalBufferSize(batch));
}

}  // namespace hyprstream::cache
