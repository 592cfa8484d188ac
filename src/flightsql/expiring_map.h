// ExpiringMap: server-side handles (sessions, transactions, prepared statements, result
// tickets) keyed by an opaque random id, dropped after they sit unused for `ttl`.
//
// Thread-safe. The map is split into shards, each with its own mutex held only for the map
// operation itself, so lookups from many clients do not contend on one lock.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
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

  // The value under `id` (and marks it used), created by `make` (returning a Result of a
  // shared_ptr) when absent. `make` runs outside the lock, once per id at a time: a second
  // caller for the same id waits for the first's outcome and gets its value, or makes its own
  // when the first failed. Should an entry appear meanwhile anyway (Put), it wins and the made
  // value is dropped here. `make` must not ask this map for the same id (it would wait for
  // itself).
  template <typename Make>
  auto GetOrCreate(const std::string& id, Make&& make) -> decltype(make()) {
    Shard& shard = ShardFor(id);
    {
      std::unique_lock<std::mutex> lock(shard.mutex);
      while (true) {
        auto it = shard.entries.find(id);
        if (it != shard.entries.end()) {
          it->second.last_used = Clock::now();
          return it->second.value;
        }
        if (shard.creating.insert(id).second) break;  // this caller makes it
        shard.created.wait(lock);
      }
    }
    // Whatever happens below, the id stops being "in creation" and the waiters look again.
    struct Done {
      Shard& shard;
      const std::string& id;
      ~Done() {
        {
          std::lock_guard<std::mutex> lock(shard.mutex);
          shard.creating.erase(id);
        }
        shard.created.notify_all();
      }
    };
    Done done{shard, id};            // destroyed last: after `made`, outside the lock
    decltype(make()) made = make();  // a value not stored is dropped outside the lock
    if (!made.ok()) return made;
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
    mutable std::mutex mutex;                        // guards entries, creating
    std::unordered_map<std::string, Entry> entries;  // GUARDED_BY(mutex)
    std::unordered_set<std::string> creating;        // GUARDED_BY(mutex): GetOrCreate's ids
    std::condition_variable created;                 // an id left `creating`
  };
  static constexpr size_t kShards = 16;

  Shard& ShardFor(const std::string& id) { return shards_[std::hash<std::string>{}(id) % kShards]; }

  const std::chrono::seconds ttl_;
  std::array<Shard, kShards> shards_;
};

}  // namespace hyprstream::flightsql
