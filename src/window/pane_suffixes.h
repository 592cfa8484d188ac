// PaneSuffixes: the merged state of a trailing window's settled panes, kept between reads so
// that a read merges about three slots per key instead of one per block and pane (~20).
//
// For the block b holding a read's first whole pane, an entry keeps, per key, suffix[i] =
// panes [b*K + i, (b+1)*K) merged with every block after b up to `settled_end` (two blocks
// before the newest when built: rows arriving now, or a little late, land after it). A read
// from pane b*K + i copies suffix[i] and merges the blocks from settled_end on itself.
// An entry answers only while no row folded into a pane it covers after it was built
// (TrailingPanes checks its fold numbers before using one).
//
// Entries are immutable once published; Find and Publish may be called by concurrent readers
// (they hold the owner's shared lock, so the panes do not change meanwhile).
#pragma once

#include "window/aggregate_layout.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace hyprstream::window {

struct PaneSuffixEntry {
  int64_t block = 0;         // b
  int64_t first_offset = 0;  // suffix[0] starts at pane b*K + first_offset
  int64_t settled_end = 0;   // blocks [b + 1, settled_end) are merged into every suffix
  uint64_t fold = 0;         // the owner's fold count when built
  int64_t keys = 0;          // slots for key ids below this
  int64_t words = 0;         // has-rows words per suffix
  // suffix j (pane b*K + first_offset + j): keys x stride slots, then its key bits.
  std::vector<std::vector<StateWord>> slots;
  std::vector<std::vector<uint64_t>> has_rows;

  int64_t memory_bytes() const;
};

class PaneSuffixes {
 public:
  static constexpr size_t kEntries = 2;  // e.g. a 1 h and a 30 min read of one definition

  // The entry for `block` and `settled_end` that holds the suffix of pane offset `offset`,
  // or nullptr. The caller checks it is still valid (its fold number).
  std::shared_ptr<const PaneSuffixEntry> Find(int64_t block, int64_t settled_end, int64_t offset);
  // Keeps `entry`, replacing one for the same block or else the least recently found.
  void Publish(std::shared_ptr<const PaneSuffixEntry> entry);
  // Forgets entries of blocks before `block` (their panes have gone).
  void DropBefore(int64_t block);

  int64_t memory_bytes() const;
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t builds() const { return builds_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mutex_;
  // GUARDED_BY(mutex_): the entries and when each was last found.
  std::vector<std::shared_ptr<const PaneSuffixEntry>> entries_;
  std::vector<uint64_t> last_used_;
  uint64_t uses_ = 0;  // GUARDED_BY(mutex_)
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> builds_{0};
};

}  // namespace hyprstream::window
