// ExpiringMap: server-side handles (sessions, transactions, prepared statements, result
// tickets) keyed by an opaque random id, dropped after they sit unused for `ttl`.
//
// Thread-safe. The map is split into shards, each with its own mutex held only for the map
// operation itself, so lookups from many clients do not contend on one lock.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace hyprstream::flightsql {

// 16 random bytes as 32 hex characters, from the OS's random source.
std::string NewHandleId();

template <typename T>
class ExpiringMap {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ExpiringMap(std::chrono::seconds ttl) : ttl_(ttl) {}

  // Stores `value` under a fresh id and returns the id.
  std::string Insert(std::shared_ptr<T> value) {
    std::string id = NewHandleId();
    Put(id, std::move(value));
    return id;
  }

  void Put(const std::string& id, std::shared_ptr<T> value) {
    Shard& shard = ShardFor(id);
    std::lock_guard<std::mutex> lock(shard.mutex);
    shard.entries[id] = Entry{std::move(value), Clock::now()};
  }

  // The value under `id` (and marks it used), or nullptr when unknown or expired.
  std::shared_ptr<T> Get(const std::string& id) {
    Shard& shard = ShardFor(id);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.entries.find(id);
    if (it == shard.entries.end()) return nullptr;
    it->second.last_used = Clock::now();
    return it->second.value;
  }

  // Removes and returns the value under `id`, or nullptr.
  std::shared_ptr<T> Take(const std::string& id) {
    Shard& shard = ShardFor(id);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.entries.find(id);
    if (it == shard.entries.end()) return nullptr;
    std::shared_ptr<T> value = std::move(it->second.value);
    shard.entries.erase(it);
    return value;
  }

  // The value under `id`, created by `make` when absent. `make` runs outside the lock; if two
  // callers race, one result wins and both get it.
  template <typename Make>
  auto GetOrCreate(const std::string& id, Make&& make) -> decltype(make()) {
    if (auto existing = Get(id)) return existing;
    auto made = make();
    if (!made.ok()) return made;
    Shard& shard = ShardFor(id);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto [it, inserted] = shard.entries.try_emplace(id, Entry{*made, Clock::now()});
    return it->second.value;
  }

  // Drops entries unused for longer than ttl; returns the dropped values (so their
  // destructors run outside the locks).
  std::vector<std::shared_ptr<T>> Sweep(Clock::time_point now = Clock::now()) {
    std::vector<std::shared_ptr<T>> dropped;
    for (Shard& shard : shards_) {
      std::lock_guard<std::mutex> lock(shard.mutex);
      for (auto it = shard.entries.begin(); it != shard.entries.end();) {
        if (now - it->second.last_used > ttl_) {
          dropped.push_back(std::move(it->second.value));
          it = shard.entries.erase(it);
        } else {
          ++it;
        }
      }
    }
    return dropped;
  }

  // Calls fn(value) for every entry, under its shard's lock: fn must be quick and must not
  // call back into the map.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    for (Shard& shard : shards_) {
      std::lock_guard<std::mutex> lock(shard.mutex);
      for (auto& [id, entry] : shard.entries) fn(*entry.value);
    }
  }

  size_t size() const {
    size_t n = 0;
    for (const Shard& shard : shards_) {
      std::lock_guard<std::mutex> lock(shard.mutex);
      n += shard.entries.size();
    }
    return n;
  }

 private:
  struct Entry {
    std::shared_ptr<T> value;
    Clock::time_point last_used;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry> entries;
  };
  static constexpr size_t kShards = 16;

  Shard& ShardFor(const std::string& id) { return shards_[std::hash<std::string>{}(id) % kShards]; }

  const std::chrono::seconds ttl_;
  std::array<Shard, kShards> shards_;
};

}  // namespace hyprstream::flightsql
