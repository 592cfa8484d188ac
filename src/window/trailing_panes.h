// TrailingPanes: the state of one trailing window for "the last N as of now" reads, in memory
// that depends on the keys, not the rows: per key, the partial aggregates of its rows in panes
// of a fixed width (the window's width / a pane count), one PaneRing column per pane. A read
// since time f merges, per key, every pane that starts at or after f; the rows of the one pane
// that straddles f (the edge) are not told apart by time here, so the reader adds them from
// storage (WindowStore::FinishTrailingRead) — a narrow time-range scan instead of every row.
// Each row also folds into a coarse pane of kPanesPerBlock panes, so a read merges at most
// about 2 * sqrt(panes) slots per key instead of one per pane.
// Panes older than the owner's eviction bound are dropped (horizon()); rows too far in the
// future for the ring fold into one overflow pane, which reads include while it starts after
// their bound. Reads keep the merged state of settled panes between them (PaneSuffixes), so
// a read merges about three slots per key. Not thread-safe (owned and synchronised by
// WindowStore: Fold exclusive; MergeFrom from concurrent readers, which share the suffixes
// under their own lock).
#pragma once

#include "window/aggregate_layout.h"
#include "window/pane_ring.h"
#include "window/pane_suffixes.h"
#include "window/window_spec.h"

#include <cstdint>
#include <map>
#include <vector>

namespace hyprstream::window {

class TrailingPanes {
 public:
  // `layout` outlives this object. Panes are (reach_us / panes_per_width) wide, where reach_us
  // is how far back of the newest time rows are kept (the width plus the owner's slack).
  TrailingPanes(const WindowDef& def, const AggregateLayout* layout, int64_t reach_us,
                int64_t panes_per_width);

  const WindowDef& def() const { return def_; }
  int64_t pane_width() const { return ring_.width(); }

  // Folds rows [0, n) (null times skipped) into their panes, then drops every pane whose rows
  // all have time <= evict_bound. Arriving rows older than an earlier batch's bound count in
  // *dropped_rows (late); rows the batch itself pushed out of the window were on time.
  void Fold(const int32_t* ids, const int64_t* times, const ValueInput* values, int64_t n,
            int64_t evict_bound, int64_t* dropped_rows);
  // Rows with time <= horizon() may be missing; kNoTime: none missing.
  int64_t horizon() const { return horizon_; }
  // No row with an earlier time is in any pane (the first open pane's or block's start, or
  // the overflow's earliest row); INT64_MAX when no pane is open.
  int64_t OldestTimeHeld() const;
  // The number of the last Fold that put rows into the pane holding `time` (0: none): a
  // reader that saw one number and later sees another knows rows of that pane arrived
  // meanwhile (what it read of that pane elsewhere may disagree with the panes).
  uint64_t LastFoldInto(int64_t time) const;

  // The first time a read "time > since" (">= since" when inclusive) includes.
  static int64_t FirstIncluded(int64_t since, bool inclusive) {
    return inclusive ? since : since + 1;
  }
  // [edge_begin, edge_end): the event times of the pane holding `first`, which the state
  // cannot split; empty (begin == end) when `first` starts a pane.
  void EdgeOf(int64_t first, int64_t* edge_begin, int64_t* edge_end) const;
  // For every key id below `keys`: merges into out[id * stride] the panes whose rows all have
  // time >= `first` (edge excluded) and sets bit id of `has_rows` for keys with any row there.
  // `out` holds keys x stride words, which MergeFrom initialises (a kept suffix is copied in
  // rather than merged into empty slots); `has_rows` (keys + 63) / 64 zeroed words.
  // False when the state cannot answer: `first` is not after horizon(), or rows of the
  // overflow pane would be split by it or fall in the edge.
  bool MergeFrom(int64_t first, int64_t keys, StateWord* out, uint64_t* has_rows) const;

  void ReserveKeys(int64_t keys);
  void ShrinkKeys(int64_t keys);
  // ORs into bits[0, words) the keys with rows in any pane (they must not be retired).
  void CollectKeys(uint64_t* bits, int64_t words) const;
  int64_t memory_bytes() const;
  int64_t open_panes() const { return ring_.open_panes(); }
  const PaneSuffixes& suffixes() const { return suffixes_; }

 private:
  static constexpr int64_t kPanesPerBlock = 11;

  // Merges into out/has_rows the panes [from_pane, first_block * K) and the blocks from
  // first_block on.
  void MergeRange(int64_t from_pane, int64_t first_block, int64_t words, StateWord* out,
                  uint64_t* has_rows) const;
  // Whether no Fold after `fold` put rows into a pane in [from_pane, end_pane).
  bool UnchangedSince(uint64_t fold, int64_t from_pane, int64_t end_pane) const;
  // The suffixes of block `block` from pane offset `offset` on, over blocks up to settled_end.
  std::shared_ptr<const PaneSuffixEntry> BuildSuffixes(int64_t block, int64_t offset,
                                                       int64_t settled_end, int64_t keys,
                                                       int64_t words) const;

  WindowDef def_;
  const AggregateLayout* layout_;
  int64_t max_open_panes_;  // a row beyond first pane + this goes to the overflow pane
  PaneRing ring_;
  PaneRing blocks_;  // coarse pane b = panes [b * kPanesPerBlock, (b + 1) * kPanesPerBlock)
  int64_t horizon_ = INT64_MIN;     // kNoTime
  int64_t last_bound_ = INT64_MIN;  // the highest eviction bound so far (kNoTime: none)
  // Rows too far ahead of the ring: one slot per key, and the earliest such time.
  std::vector<StateWord> overflow_;
  std::vector<uint64_t> overflow_keys_;
  int64_t overflow_min_time_ = INT64_MAX;
  uint64_t folds_ = 0;
  std::map<int64_t, uint64_t> last_fold_;  // open pane -> the last Fold with rows in it
  std::vector<StateWord*> slot_of_row_;    // Fold scratch
  std::vector<StateWord*> block_of_row_;
  mutable PaneSuffixes suffixes_;
};

}  // namespace hyprstream::window
