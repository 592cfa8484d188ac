// TextMemo<V>: a process-wide memo from a text (SQL, a parse tree) to an immutable value,
// bounded by entries and by an estimated cost in bytes; emptied when either bound is reached,
// and texts longer than a limit are not kept. Thread-safe: one mutex, held only to look up or
// insert (the value is made outside it, so two threads may make the same value at once).
#pragma once

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
      : max_entries_(max_entries), max_bytes_(max_bytes), max_text_bytes_(max_text_bytes) {}

  std::shared_ptr<const V> Find(std::string_view text) const {
    if (text.size() > max_text_bytes_) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(text);
    return it == entries_.end() ? nullptr : it->second;
  }

  // Keeps `value` for `text`; `cost` estimates the bytes the entry holds.
  void Add(std::string_view text, std::shared_ptr<const V> value, size_t cost) {
    if (text.size() > max_text_bytes_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.size() >= max_entries_ || bytes_ + cost > max_bytes_) {
      entries_.clear();
      bytes_ = 0;
    }
    if (entries_.emplace(std::string(text), std::move(value)).second) bytes_ += cost;
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };

  const size_t max_entries_;
  const size_t max_bytes_;
  const size_t max_text_bytes_;
  mutable std::mutex mutex_;  // guards entries_ and bytes_
  std::unordered_map<std::string, std::shared_ptr<const V>, Hash, std::equal_to<>> entries_;
  size_t bytes_ = 0;
};

}  // namespace hyprstream::sql
