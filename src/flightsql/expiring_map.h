// ExpiringMap: server-side handles (sessions, transactions, prepared statements, result
// tickets, poll jobs) keyed by an id, each bound to the owner that stored it (the
// authenticated user), dropped after they sit unused for `ttl`.
//
// Only its owner sees an entry: a lookup by anyone else finds nothing and leaves the entry
// as it is (Found::foreign says so, for the audit log, never for the client). Two owners may
// hold entries under the same id (sessions named by a cookie or a peer); random ids are
// unique anyway.
//
// Thread-safe. The map is split into shards by id, each with its own mutex held only for the
// map operation itself, so lookups from many clients do not contend on one lock.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <iterator>
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

  // What a lookup by one owner found: the value, or null; when null, `foreign` tells whether
  // another owner holds an entry under that id (left untouched) and `held_by` names one.
  struct Found {
    std::shared_ptr<T> value;
    bool foreign = false;
    std::string held_by;
  };

  explicit ExpiringMap(std::chrono::seconds ttl) : ttl_(ttl) {}

  // Stores `value` for `owner` under a fresh id and returns the id.
  std::string Insert(const std::string& owner, std::shared_ptr<T> value) {
    std::string id = NewHandleId();
    Put(id, owner, std::move(value));
    return id;
  }

  // Stores `value` for `owner` under `id`, replacing what `owner` had there.
  void Put(const std::string& id, const std::string& owner, std::shared_ptr<T> value) {
    Shard& shard = ShardFor(id);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto& entries = shard.entries[id];
    if (Entry* entry = Find(entries, owner)) {
      *entry = Entry{owner, std::move(value), Clock::now()};
    } else {
      entries.push_back(Entry{owner, std::move(value), Clock::now()});
    }
  }

  // The value `owner` holds under `id` (and marks it used).
  Found Get(const std::string& id, const std::string& owner) {
    Shard& shard = ShardFor(id);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.entries.find(id);
    if (it == shard.entries.end()) return {};
    Entry* entry = Find(it->second, owner);
    if (entry == nullptr) return Foreign(it->second);
    entry->last_used = Clock::now();
    return Found{entry->value, false, {}};
  }

  // Removes and returns the value `owner` holds under `id`.
  Found Take(const std::string& id, const std::string& owner) {
    Shard& shard = ShardFor(id);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.entries.find(id);
    if (it == shard.entries.end()) return {};
    auto& entries = it->second;
    Entry* entry = Find(entries, owner);
    if (entry == nullptr) return Foreign(entries);
    Found found{std::move(entry->value), false, {}};
    entries.erase(entries.begin() + (entry - entries.data()));
    if (entries.empty()) shard.entries.erase(it);
    return found;
  }

  // The value `owner` holds under `id` (and marks it used), created by `make` (returning a
  // Result of a shared_ptr) when absent. `make` runs outside the lock, once per id and owner at
  // a time: a second caller waits for the first's outcome and gets its value, or makes its own
  // when the first failed. Should an entry appear meanwhile anyway (Put), it wins and the made
  // value is dropped here. `make` must not ask this map for the same id (it would wait for
  // itself).
  template <typename Make>
  auto GetOrCreate(const std::string& id, const std::string& owner, Make&& make)
      -> decltype(make()) {
    Shard& shard = ShardFor(id);
    const std::string creating_key = id + '\0' + owner;
    {
      std::unique_lock<std::mutex> lock(shard.mutex);
      while (true) {
        auto it = shard.entries.find(id);
        if (it != shard.entries.end()) {
          if (Entry* entry = Find(it->second, owner)) {
            entry->last_used = Clock::now();
            return entry->value;
          }
        }
        if (shard.creating.insert(creating_key).second) break;  // this caller makes it
        shard.created.wait(lock);
      }
    }
    // Whatever happens below, the id stops being "in creation" and the waiters look again.
    struct Done {
      Shard& shard;
      const std::string& key;
      ~Done() {
        {
          std::lock_guard<std::mutex> lock(shard.mutex);
          shard.creating.erase(key);
        }
        shard.created.notify_all();
      }
    };
    Done done{shard, creating_key};  // destroyed last: after `made`, outside the lock
    decltype(make()) made = make();  // a value not stored is dropped outside the lock
    if (!made.ok()) return made;
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto& entries = shard.entries[id];
    if (Entry* entry = Find(entries, owner)) return entry->value;
    entries.push_back(Entry{owner, *made, Clock::now()});
    return entries.back().value;
  }

  // Drops entries unused for longer than ttl; returns the dropped values (so their
  // destructors run outside the locks).
  std::vector<std::shared_ptr<T>> Sweep(Clock::time_point now = Clock::now()) {
    std::vector<std::shared_ptr<T>> dropped;
    for (Shard& shard : shards_) {
      std::lock_guard<std::mutex> lock(shard.mutex);
      for (auto it = shard.entries.begin(); it != shard.entries.end();) {
        auto& entries = it->second;
        auto expired = std::stable_partition(entries.begin(), entries.end(),
                                             [&](Entry& e) { return now - e.last_used <= ttl_; });
        for (auto e = expired; e != entries.end(); ++e) dropped.push_back(std::move(e->value));
        entries.erase(expired, entries.end());
        it = entries.empty() ? shard.entries.erase(it) : std::next(it);
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
      for (auto& [id, entries] : shard.entries) {
        for (auto& entry : entries) fn(*entry.value);
      }
    }
  }

  size_t size() const {
    size_t n = 0;
    for (const Shard& shard : shards_) {
      std::lock_guard<std::mutex> lock(shard.mutex);
      for (const auto& [id, entries] : shard.entries) n += entries.size();
    }
    return n;
  }

 private:
  struct Entry {
    std::string owner;
    std::shared_ptr<T> value;
    Clock::time_point last_used;
  };
  struct Shard {
    mutable std::mutex mutex;  // guards entries, creating
    // Per id, one entry per owner: almost always exactly one. GUARDED_BY(mutex)
    std::unordered_map<std::string, std::vector<Entry>> entries;
    std::unordered_set<std::string> creating;  // GUARDED_BY(mutex): GetOrCreate's id + owner
    std::condition_variable created;           // a key left `creating`
  };
  static constexpr size_t kShards = 16;

  static Entry* Find(std::vector<Entry>& entries, const std::string& owner) {
    for (Entry& entry : entries) {
      if (entry.owner == owner) return &entry;
    }
    return nullptr;
  }

  static Found Foreign(const std::vector<Entry>& entries) {
    return Found{nullptr, true, entries.front().owner};
  }

  Shard& ShardFor(const std::string& id) { return shards_[std::hash<std::string>{}(id) % kShards]; }

  const std::chrono::seconds ttl_;
  std::array<Shard, kShards> shards_;
};

}  // namespace hyprstream::flightsql
