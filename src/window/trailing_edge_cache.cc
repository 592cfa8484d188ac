#include "window/trailing_edge_cache.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace hyprstream::window {

TrailingEdgeCache::~TrailingEdgeCache() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const TrailingEdgeRows> TrailingEdgeCache::Find(const std::string& definition,
                                                                size_t window, int64_t pane_begin) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = kept_.find(Key{definition, window, pane_begin});
  if (it == kept_.end()) return nullptr;
  it->second.last_use = ++uses_;
  return it->second.rows;
}

void TrailingEdgeCache::Drop(const std::string& definition, const TrailingEdgeRows* rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = kept_.find(Key{definition, rows->window, rows->pane_begin});
  if (it != kept_.end() && it->second.rows.get() == rows) Erase(it);
}

void TrailingEdgeCache::Request(const std::string& definition, size_t window, int64_t pane_begin,
                                int64_t pane_end) {
  Key key{definition, window, pane_begin};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || max_bytes_ <= 0 || too_large_.count(key) > 0) return;
    if (auto it = kept_.find(key); it != kept_.end()) {
      it->second.last_use = ++uses_;
      return;
    }
    if (!wanted_.insert(key).second) return;
    queue_.emplace_back(std::move(key), pane_end);
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  }
  wake_.notify_one();
}

void TrailingEdgeCache::Forget(const std::string& definition) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = kept_.begin(); it != kept_.end();) {
    it = std::get<0>(it->first) == definition ? Erase(it) : std::next(it);
  }
  for (auto it = too_large_.begin(); it != too_large_.end();) {
    it = std::get<0>(*it) == definition ? too_large_.erase(it) : std::next(it);
  }
}

int64_t TrailingEdgeCache::memory_bytes(const std::string& definition) const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t bytes = 0;
  for (auto it = kept_.lower_bound(Key{definition, 0, INT64_MIN});
       it != kept_.end() && std::get<0>(it->first) == definition; ++it) {
    bytes += it->second.bytes;
  }
  return bytes;
}

int64_t TrailingEdgeCache::memory_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return kept_bytes_;
}

TrailingEdgeCache::Counts TrailingEdgeCache::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

void TrailingEdgeCache::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto [key, pane_end] = queue_.front();
    queue_.pop_front();
    lock.unlock();
    const auto& [definition, window, pane_begin] = key;
    const auto began = std::chrono::steady_clock::now();
    auto rows = loader_(definition, window, pane_begin, pane_end);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - began)
                        .count();
    lock.lock();
    wanted_.erase(key);
    if (!rows.ok() && rows.status().IsCapacityError()) {
      RefuseTooLarge(key, rows.status().message());
      continue;
    }
    if (!rows.ok()) {
      spdlog::debug("rows of a trailing pane of window '{}' were not read back: {}", definition,
                    rows.status().ToString());
      continue;
    }
    if (*rows == nullptr) continue;
    const int64_t bytes = (*rows)->memory_bytes();
    if (bytes > max_bytes_) {
      RefuseTooLarge(key, std::to_string(bytes >> 20) + " MB, more than the " +
                              std::to_string(max_bytes_ >> 20) +
                              " MB the edge cache may hold (--window-edge-cache-bytes)");
      continue;
    }
    spdlog::debug(
        "rows of a trailing pane of window '{}' kept: {} rows, {} MB, {} suffixes ({} ms)",
        definition, (*rows)->times.size(), bytes >> 20, (*rows)->suffixes.size(), ms);
    if (auto old = kept_.find(key); old != kept_.end()) Erase(old);
    kept_[key] = Kept{std::move(*rows), ++uses_, bytes};
    kept_bytes_ += bytes;
    ++counts_.kept;
    Evict(key);
  }
}

std::map<TrailingEdgeCache::Key, TrailingEdgeCache::Kept>::iterator TrailingEdgeCache::Erase(
    std::map<Key, Kept>::iterator it) {
  kept_bytes_ -= it->second.bytes;
  return kept_.erase(it);
}

void TrailingEdgeCache::RefuseTooLarge(const Key& key, const std::string& why) {
  spdlog::debug(
      "rows of a trailing pane of window '{}' not kept: {}; reads scan the pane's rows "
      "instead",
      std::get<0>(key), why);
  ++counts_.too_large;
  too_large_.insert(key);
  if (too_large_.size() <= kTooLargeRemembered) return;
  auto oldest =
      std::min_element(too_large_.begin(), too_large_.end(),
                       [](const Key& a, const Key& b) { return std::get<2>(a) < std::get<2>(b); });
  too_large_.erase(oldest);
}

void TrailingEdgeCache::Evict(const Key& key) {
  std::vector<std::pair<uint64_t, Key>> mine;  // (last use, pane) of this definition window
  for (const auto& [k, kept] : kept_) {
    if (std::get<0>(k) == std::get<0>(key) && std::get<1>(k) == std::get<1>(key)) {
      mine.emplace_back(kept.last_use, k);
    }
  }
  if (mine.size() > kPanesKept) {
    std::sort(mine.begin(), mine.end());
    for (size_t i = 0; i + kPanesKept < mine.size(); ++i) Erase(kept_.find(mine[i].second));
  }
  while (kept_bytes_ > max_bytes_ && !kept_.empty()) {
    auto lru = std::min_element(kept_.begin(), kept_.end(), [](const auto& a, const auto& b) {
      return a.second.last_use < b.second.last_use;
    });
    Erase(lru);
  }
}

}  // namespace hyprstream::window
