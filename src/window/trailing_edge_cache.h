// TrailingEdgeCache: the stored rows of the trailing panes that reads' bounds fall in, read back
// once and kept, so the reads of a dashboard refreshing every few seconds fold a pane's rows
// from memory instead of asking the table each time. Panes are loaded on one background
// thread (Request: the pane a read needed, and the next one before the bound reaches it)
// through the owner's loader; a few per definition window are kept, the least recently used
// (found or requested) going first, so reads with different bounds on one window (each needing
// its pane and the next) do not push out each other's panes. All kept panes together stay
// within max_bytes (the least recently used of any definition going first); a pane larger
// than that on its own is not kept and not asked for again (its reads scan the table), and
// max_bytes 0 keeps and loads nothing. Entries that rows folded into since they were read are
// stale: WindowStore::FinishTrailingRead refuses them and the reader Drops them. Thread-safe.
#pragma once

#include <arrow/result.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "window/window_store.h"

namespace hyprstream::window {

class TrailingEdgeCache {
 public:
  // Reads the rows of [pane_begin, pane_end) of trailing window `window` of `definition`;
  // nullptr: not now (keys not folded yet); CapacityError: more than the cache may hold (it
  // need not read them all to say so). Called on the loader thread.
  using Loader = std::function<arrow::Result<std::shared_ptr<const TrailingEdgeRows>>(
      const std::string& definition, size_t window, int64_t pane_begin, int64_t pane_end)>;

  static constexpr int64_t kDefaultMaxBytes = 256LL << 20;
  explicit TrailingEdgeCache(Loader loader, int64_t max_bytes = kDefaultMaxBytes)
      : loader_(std::move(loader)), max_bytes_(max_bytes) {}
  ~TrailingEdgeCache();  // stops the loader thread and waits for it

  // The kept rows of the pane (marked used), or nullptr.
  std::shared_ptr<const TrailingEdgeRows> Find(const std::string& definition, size_t window,
                                               int64_t pane_begin);
  // Forgets `rows` (found stale).
  void Drop(const std::string& definition, const TrailingEdgeRows* rows);
  // Loads the pane in the background unless it is kept (then marks it used) or being loaded.
  void Request(const std::string& definition, size_t window, int64_t pane_begin, int64_t pane_end);
  // Forgets every pane of `definition` (dropped, or its rows changed).
  void Forget(const std::string& definition);
  // The memory of the panes kept for `definition`; of every pane kept.
  int64_t memory_bytes(const std::string& definition) const;
  int64_t memory_bytes() const;
  // Panes read back so far: kept, and found larger than max_bytes on their own.
  struct Counts {
    uint64_t kept = 0;
    uint64_t too_large = 0;
  };
  Counts counts() const;

 private:
  using Key = std::tuple<std::string, size_t, int64_t>;  // definition, window, pane_begin
  // Per definition window: the pane and the next for two bounds.
  static constexpr size_t kPanesKept = 4;
  // Panes found too large remembered (the oldest forgotten beyond), so they are not read again.
  static constexpr size_t kTooLargeRemembered = 64;
  struct Kept {
    std::shared_ptr<const TrailingEdgeRows> rows;
    uint64_t last_use = 0;  // uses_ when last found, requested or loaded
    int64_t bytes = 0;      // rows->memory_bytes(), counted in kept_bytes_
  };

  void Run();
  // Erases the least recently used panes of `key`'s definition window beyond kPanesKept, then
  // the least recently used of all while the kept panes take more than max_bytes_.
  void Evict(const Key& key);
  // kept_.erase keeping kept_bytes_ right.
  std::map<Key, Kept>::iterator Erase(std::map<Key, Kept>::iterator it);
  // Logs `why`, counts the pane and adds it to too_large_ (forgetting the oldest pane beyond
  // kTooLargeRemembered).
  void RefuseTooLarge(const Key& key, const std::string& why);

  const Loader loader_;
  const int64_t max_bytes_;
  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable wake_;
  std::map<Key, Kept> kept_;
  int64_t kept_bytes_ = 0;  // the bytes of every pane in kept_
  Counts counts_;
  std::set<Key> too_large_;  // larger than max_bytes_ on their own: not requested again
  uint64_t uses_ = 0;
  std::set<Key> wanted_;                       // queued or loading
  std::deque<std::pair<Key, int64_t>> queue_;  // with pane_end
  bool stopping_ = false;
  std::thread thread_;  // started by the first Request
};

}  // namespace hyprstream::window
