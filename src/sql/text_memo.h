// TextMemo<V>: a process-wide memo from a text (SQL, a parse tree) to an immutable value,
// bounded by entries and by an estimated cost in bytes; a shard that reaches its share of
// either bound is emptied, and texts longer than a limit are not kept. Thread-safe: sharded
// by the text's hash, each shard's mutex held only to look up or insert (the value is made
// outside it, so two threads may make the same value at once; the first one kept wins).
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hyprstream::sql {

template <typename V>
class TextMemo {
 public:
  TextMemo(size_t max_entries, size_t max_bytes, size_t max_text_bytes)
      : max_entries_(max_entries / kShards + 1),
        max_bytes_(max_bytes / kShards + 1),
        max_text_bytes_(max_text_bytes) {}

  std::shared_ptr<const V> Find(std::string_view text) const {
    if (text.size() > max_text_bytes_) return nullptr;
    const Shard& shard = shards_[Hash{}(text) % kShards];
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.entries.find(text);
    return it == shard.entries.end() ? nullptr : it->second;
  }

  // Keeps `value` for `text` (unless it is kept already); `cost` estimates its bytes.
  void Add(std::string_view text, std::shared_ptr<const V> value, size_t cost) {
    if (text.size() > max_text_bytes_) return;
    Shard& shard = shards_[Hash{}(text) % kShards];
    std::lock_guard<std::mutex> lock(shard.mutex);
    if (shard.entries.size() >= max_entries_ || shard.bytes + cost > max_bytes_) {
      shard.entries.clear();
      shard.bytes = 0;
    }
    if (shard.entries.emplace(std::string(text), std::move(value)).second) shard.bytes += cost;
  }

 private:
  static constexpr size_t kShards = 16;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  struct Shard {
    mutable std::mutex mutex;  // guards entries and bytes
    std::unordered_map<std::string, std::shared_ptr<const V>, Hash, std::equal_to<>> entries;
    size_t bytes = 0;
  };

  const size_t max_entries_;  // per shard
  const size_t max_bytes_;    // per shard
  const size_t max_text_bytes_;
  std::array<Shard, kShards> shards_;
};

}  // namespace hyprstream::sql
