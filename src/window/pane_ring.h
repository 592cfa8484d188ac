// PaneRing: the open panes of one pane width, for every key. Pane p covers event times
// [p*width, (p+1)*width) and is one dense column of slots (AggregateLayout) indexed by key id,
// so updating is "slot = column(pane) + key * stride" and reading one window for all keys is
// a sequential scan. Open panes are contiguous pane numbers [first(), end()); dropping the
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

  // The column of pane `pane`, or nullptr when it is not open.
  StateWord* Column(int64_t pane) {
    return pane >= first_ && pane < end() ? panes_[pane - first_].column.get() : nullptr;
  }
  const StateWord* Column(int64_t pane) const {
    return const_cast<PaneRing*>(this)->Column(pane);
  }
  // Whether any row was folded into the pane (an open pane may still be all empty).
  bool HasRows(int64_t pane) const {
    return pane >= first_ && pane < end() && panes_[pane - first_].has_rows;
  }
  void MarkRows(int64_t pane) { panes_[pane - first_].has_rows = true; }

  // Opens every pane in [lo, hi] not yet open (empty state), keeping the range contiguous.
  void Cover(int64_t lo, int64_t hi);
  // Drops panes before `pane`.
  void DropBefore(int64_t pane);
  // Grows every column (and future ones) to hold `keys` keys; new slots are empty.
  void ReserveKeys(int64_t keys);
  int64_t key_capacity() const { return key_capacity_; }

  int64_t memory_bytes() const;

 private:
  struct AlignedFree {
    void operator()(StateWord* p) const;
  };
  using ColumnPtr = std::unique_ptr<StateWord[], AlignedFree>;
  struct Pane {
    ColumnPtr column;
    bool has_rows = false;
  };

  ColumnPtr NewColumn();
  ColumnPtr Allocate(int64_t keys) const;

  int64_t width_;
  const AggregateLayout* layout_;
  int64_t key_capacity_ = 0;
  int64_t first_ = 0;
  std::deque<Pane> panes_;
  std::vector<ColumnPtr> spare_;
};

}  // namespace hyprstream::window
