#include "window/trailing_panes.h"

#include <algorithm>

#include "window/event_time.h"

namespace hyprstream::window {

TrailingPanes::TrailingPanes(const WindowDef& def, const AggregateLayout* layout, int64_t reach_us,
                             int64_t panes_per_width)
    : def_(def),
      layout_(layout),
      max_open_panes_(2 * std::max<int64_t>(panes_per_width, 1) + 16),
      ring_(std::max<int64_t>(1, (reach_us + std::max<int64_t>(panes_per_width, 1) - 1) /
                                     std::max<int64_t>(panes_per_width, 1)),
            layout),
      blocks_(ring_.width() * kPanesPerBlock, layout) {}

void TrailingPanes::Fold(const int32_t* ids, const int64_t* times, const ValueInput* values,
                         int64_t n, int64_t evict_bound, int64_t* dropped_rows) {
  const int64_t width = ring_.width();
  const int64_t stride = layout_->stride();
  // Panes before keep_from hold only rows at or before the bound.
  const int64_t keep_from = evict_bound == kNoTime ? INT64_MIN : FloorDiv(evict_bound + 1, width);
  const int64_t limit =
      keep_from == INT64_MIN ? INT64_MAX : keep_from + max_open_panes_;  // first overflow pane
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  bool dropped_any = false;
  for (int64_t row = 0; row < n; ++row) {
    const int64_t t = times[row];
    if (t == kNoTime) continue;
    const int64_t pane = FloorDiv(t, width);
    if (pane < keep_from) {
      *dropped_rows += last_bound_ != kNoTime && t <= last_bound_;
      dropped_any = true;
      continue;
    }
    if (pane >= limit) continue;
    lo = std::min(lo, pane);
    hi = std::max(hi, pane);
  }
  if (lo <= hi) {
    ring_.Cover(lo, hi);
    blocks_.Cover(FloorDiv(lo, kPanesPerBlock), FloorDiv(hi, kPanesPerBlock));
  }
  slot_of_row_.assign(n, nullptr);
  block_of_row_.assign(n, nullptr);
  ++folds_;
  // Rows come mostly in time order: a pane's (and its block's) column and key bits are looked
  // up when the pane changes, not per row.
  int64_t last_pane = INT64_MIN;
  StateWord* pane_column = nullptr;
  uint64_t* pane_keys = nullptr;
  StateWord* block_column = nullptr;
  uint64_t* block_keys = nullptr;
  for (int64_t row = 0; row < n; ++row) {
    const int64_t t = times[row];
    if (t == kNoTime) continue;
    const int64_t pane = FloorDiv(t, width);
    if (pane < keep_from) continue;
    const int64_t id = ids[row];
    if (pane >= limit) {
      slot_of_row_[row] = overflow_.data() + id * stride;
      SetKeyBit(overflow_keys_.data(), static_cast<int32_t>(id));
      overflow_min_time_ = std::min(overflow_min_time_, t);
      continue;
    }
    if (pane != last_pane) {
      last_fold_[pane] = folds_;
      last_pane = pane;
      pane_column = ring_.MutableColumn(pane);
      pane_keys = ring_.KeyBits(pane);
      ring_.MarkRows(pane);
      const int64_t block = FloorDiv(pane, kPanesPerBlock);
      block_column = blocks_.MutableColumn(block);
      block_keys = blocks_.KeyBits(block);
      blocks_.MarkRows(block);
    }
    slot_of_row_[row] = pane_column + id * stride;
    SetKeyBit(pane_keys, static_cast<int32_t>(id));
    block_of_row_[row] = block_column + id * stride;
    SetKeyBit(block_keys, static_cast<int32_t>(id));
  }
  layout_->Fold(slot_of_row_.data(), 0, n, times, values);
  layout_->Fold(block_of_row_.data(), 0, n, times, values);
  if (keep_from != INT64_MIN) {
    if (!ring_.empty() && ring_.first() < keep_from) dropped_any = true;
    ring_.DropBefore(keep_from);
    last_fold_.erase(last_fold_.begin(), last_fold_.lower_bound(keep_from));
    // A block goes once all of its panes have gone (until then its keys stay held).
    blocks_.DropBefore(FloorDiv(keep_from, kPanesPerBlock));
    if (dropped_any) horizon_ = std::max(horizon_, keep_from * width - 1);
    last_bound_ = std::max(last_bound_, evict_bound);
  }
}

uint64_t TrailingPanes::LastFoldInto(int64_t time) const {
  auto it = last_fold_.find(FloorDiv(time, ring_.width()));
  return it == last_fold_.end() ? 0 : it->second;
}

void TrailingPanes::EdgeOf(int64_t first, int64_t* edge_begin, int64_t* edge_end) const {
  const int64_t width = ring_.width();
  const int64_t start = FloorDiv(first, width) * width;
  *edge_begin = first;
  *edge_end = start == first ? first : start + width;
}

bool TrailingPanes::MergeFrom(int64_t first, int64_t keys, StateWord* out,
                              uint64_t* has_rows) const {
  if (horizon_ != kNoTime && first <= horizon_) return false;
  int64_t edge_begin = 0, edge_end = 0;
  EdgeOf(first, &edge_begin, &edge_end);
  // Overflow rows count whole: they must all be inside the bound and none in the edge, which
  // the reader adds from storage.
  const bool overflow_rows = overflow_min_time_ != INT64_MAX;
  if (overflow_rows && std::max(first, edge_end) > overflow_min_time_) return false;
  const int64_t from_pane = FloorDiv(edge_end, ring_.width());
  const int64_t words = std::min<int64_t>((keys + 63) / 64, ring_.key_words());
  auto merge = [&](const PaneRing& ring, int64_t begin, int64_t end) {
    for (int64_t pane = std::max(begin, ring.first()); pane < std::min(end, ring.end()); ++pane) {
      if (!ring.HasRows(pane)) continue;
      const uint64_t* bits = ring.KeyBits(pane);
      layout_->MergeKeys(out, ring.Column(pane), bits, words);
      for (int64_t w = 0; w < words; ++w) has_rows[w] |= bits[w];
    }
  };
  // Panes up to the next block boundary, then whole blocks (every pane of which is inside).
  const int64_t first_block = FloorDiv(from_pane + kPanesPerBlock - 1, kPanesPerBlock);
  merge(ring_, from_pane, first_block * kPanesPerBlock);
  merge(blocks_, first_block, INT64_MAX);
  if (overflow_rows) {
    layout_->MergeKeys(out, overflow_.data(), overflow_keys_.data(), words);
    for (int64_t w = 0; w < words; ++w) has_rows[w] |= overflow_keys_[w];
  }
  return true;
}

void TrailingPanes::ReserveKeys(int64_t keys) {
  ring_.ReserveKeys(keys);
  blocks_.ReserveKeys(keys);
  const int64_t capacity = ring_.key_capacity();
  const int64_t stride = layout_->stride();
  const auto have = static_cast<int64_t>(overflow_keys_.size()) * 64;
  if (have >= capacity) return;
  overflow_.resize(capacity * stride);
  layout_->Init(overflow_.data() + have * stride, capacity - have);
  overflow_keys_.resize(capacity / 64, 0);
}

void TrailingPanes::ShrinkKeys(int64_t keys) {
  ring_.ShrinkKeys(keys);
  blocks_.ShrinkKeys(keys);
  const int64_t capacity = ring_.key_capacity();
  if (overflow_min_time_ != INT64_MAX ||
      capacity >= static_cast<int64_t>(overflow_keys_.size()) * 64)
    return;
  // No overflow rows: the overflow slots are all empty and may simply be cut.
  overflow_.resize(capacity * layout_->stride());
  overflow_.shrink_to_fit();
  overflow_keys_.assign(capacity / 64, 0);
  overflow_keys_.shrink_to_fit();
}

void TrailingPanes::CollectKeys(uint64_t* bits, int64_t words) const {
  ring_.CollectKeys(bits, words);
  blocks_.CollectKeys(bits, words);
  const int64_t n = std::min<int64_t>(words, static_cast<int64_t>(overflow_keys_.size()));
  for (int64_t w = 0; w < n; ++w) bits[w] |= overflow_keys_[w];
}

int64_t TrailingPanes::memory_bytes() const {
  return ring_.memory_bytes() + blocks_.memory_bytes() +
         static_cast<int64_t>(overflow_.capacity() * sizeof(StateWord) +
                              overflow_keys_.capacity() * 8);
}

}  // namespace hyprstream::window
