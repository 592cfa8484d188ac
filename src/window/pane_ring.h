// PaneRing: the open panes of one pane width, for every key. Pane p covers event times
// [p*width, (p+1)*width) and is one dense column of slots (AggregateLayout) indexed by key id,
// so updating is "slot = column(pane) + key * stride" and reading one window for all keys is
// a sequential scan. Each pane also has a bitmap of the keys that have rows in it, so
// closing, merging and recycling a pane cost time in proportion to its active keys, not to
// every key ever seen. Open panes are contiguous pane numbers [first(), end()); dropping the
// oldest keeps up to two columns for reuse and frees the rest. Not thread-safe (owned and
// synchronised by WindowStore).
#pragma once

#include "window/aggregate_layout.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace hyprstream::window {

class PaneRing {
 public:
  PaneRing(int64_t width_us, const AggregateLayout* layout) : width_(width_us), layout_(layout) {}

  int64_t width() const { return width_; }
  int64_t first() const { return first_; }
  int64_t end() const { return first_ + static_cast<int64_t>(panes_.size()); }
  bool empty() const { return panes_.empty(); }
  int64_t open_panes() const { return static_cast<int64_t>(panes_.size()); }

  // The column of pane `pane`, or nullptr when it is not open or has never had rows.
  StateWord* Column(int64_t pane) {
    return pane >= first_ && pane < end() ? panes_[pane - first_].column.get() : nullptr;
  }
  const StateWord* Column(int64_t pane) const { return const_cast<PaneRing*>(this)->Column(pane); }
  // The column of open pane `pane`, allocated (empty) on first use: panes in gaps of the
  // data cost no memory until a row lands in them.
  StateWord* MutableColumn(int64_t pane);
  // Bit k set: key k has rows in the pane. The writer sets bits for the slots it folds into
  // (SetKeyBit) and calls MarkRows for the pane. Only for panes with a column.
  uint64_t* KeyBits(int64_t pane) { return panes_[pane - first_].keys.data(); }
  const uint64_t* KeyBits(int64_t pane) const { return panes_[pane - first_].keys.data(); }
  int64_t key_words() const { return key_capacity_ / 64; }
  // Whether any row was folded into the pane (an open pane may still be all empty).
  bool HasRows(int64_t pane) const {
    return pane >= first_ && pane < end() && panes_[pane - first_].has_rows;
  }
  void MarkRows(int64_t pane) { panes_[pane - first_].has_rows = true; }

  // Opens every pane in [lo, hi] not yet open, keeping the range contiguous (columns are
  // allocated by MutableColumn).
  void Cover(int64_t lo, int64_t hi);
  // Drops panes before `pane`.
  void DropBefore(int64_t pane);
  // Grows every column (and future ones) to hold `keys` keys; new slots are empty.
  void ReserveKeys(int64_t keys);
  // Gives memory back once `keys` (every key id with rows in an open pane is below it) fits
  // in a quarter of the capacity: columns are reallocated for max(1024, keys) rounded up to a
  // power of two and the spares dropped.
  void ShrinkKeys(int64_t keys);
  int64_t key_capacity() const { return key_capacity_; }
  // ORs the key bits of every open pane into bits[0, words): the keys with rows in any.
  void CollectKeys(uint64_t* bits, int64_t words) const;

  int64_t allocated_panes() const;  // open panes with a column, plus spares
  int64_t memory_bytes() const;

 private:
  struct AlignedFree {
    void operator()(StateWord* p) const;
  };
  using ColumnPtr = std::unique_ptr<StateWord[], AlignedFree>;
  struct Pane {
    ColumnPtr column;            // null until the first row
    std::vector<uint64_t> keys;  // key_capacity_ bits (empty while column is null)
    bool has_rows = false;
  };

  void Materialize(Pane& pane);
  // Reallocates every column for `capacity` keys (slots below both capacities kept, new ones
  // empty) and drops the spares.
  void Resize(int64_t capacity);
  ColumnPtr Allocate(int64_t keys) const;

  int64_t width_;
  const AggregateLayout* layout_;
  int64_t key_capacity_ = 0;  // a multiple of 64
  int64_t first_ = 0;
  std::deque<Pane> panes_;
  std::vector<Pane> spare_;  // dropped panes; slots of their set key bits still hold state
};

inline void SetKeyBit(uint64_t* bits, int32_t key) { bits[key >> 6] |= uint64_t{1} << (key & 63); }

// Calls f(key) for every set bit, in ascending key order.
template <typename F>
void ForEachKey(const uint64_t* bits, int64_t words, F&& f) {
  for (int64_t w = 0; w < words; ++w) {
    for (uint64_t word = bits[w]; word != 0; word &= word - 1) {
      f(static_cast<int32_t>(w * 64 + __builtin_ctzll(word)));
    }
  }
}

}  // namespace hyprstream::window
