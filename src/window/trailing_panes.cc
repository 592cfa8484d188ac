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
    suffixes_.DropBefore(FloorDiv(keep_from, kPanesPerBlock));
    if (dropped_any) horizon_ = std::max(horizon_, keep_from * width - 1);
    last_bound_ = std::max(last_bound_, evict_bound);
  }
}

int64_t TrailingPanes::OldestTimeHeld() const {
  int64_t oldest = overflow_min_time_;
  if (!ring_.empty()) oldest = std::min(oldest, ring_.first() * ring_.width());
  if (!blocks_.empty()) oldest = std::min(oldest, blocks_.first() * kPanesPerBlock * ring_.width());
  return oldest;
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

void TrailingPanes::MergeRange(int64_t from_pane, int64_t first_block, int64_t words,
                               StateWord* out, uint64_t* has_rows) const {
  auto merge = [&](const PaneRing& ring, int64_t begin, int64_t end) {
    for (int64_t pane = std::max(begin, ring.first()); pane < std::min(end, ring.end()); ++pane) {
      if (!ring.HasRows(pane)) continue;
      const uint64_t* bits = ring.KeyBits(pane);
      layout_->MergeKeys(out, ring.Column(pane), bits, words);
      for (int64_t w = 0; w < words; ++w) has_rows[w] |= bits[w];
    }
  };
  merge(ring_, from_pane, first_block * kPanesPerBlock);
  merge(blocks_, first_block, INT64_MAX);
}

bool TrailingPanes::UnchangedSince(uint64_t fold, int64_t from_pane, int64_t end_pane) const {
  for (auto it = last_fold_.lower_bound(from_pane); it != last_fold_.end() && it->first < end_pane;
       ++it) {
    if (it->second > fold) return false;
  }
  return true;
}

std::shared_ptr<const PaneSuffixEntry> TrailingPanes::BuildSuffixes(int64_t block, int64_t offset,
                                                                    int64_t settled_end,
                                                                    int64_t keys,
                                                                    int64_t words) const {
  auto entry = std::make_shared<PaneSuffixEntry>();
  entry->block = block;
  entry->first_offset = offset;
  entry->settled_end = settled_end;
  entry->fold = folds_;
  entry->keys = keys;
  entry->words = words;
  std::vector<StateWord> acc(static_cast<size_t>(keys) * layout_->stride());
  layout_->Init(acc.data(), keys);
  std::vector<uint64_t> bits(words, 0);
  // The settled blocks after `block`, then its panes from the last back to `offset`.
  for (int64_t b = block + 1; b < settled_end; ++b) {
    if (!blocks_.HasRows(b)) continue;
    const uint64_t* block_bits = blocks_.KeyBits(b);
    layout_->MergeKeys(acc.data(), blocks_.Column(b), block_bits, words);
    for (int64_t w = 0; w < words; ++w) bits[w] |= block_bits[w];
  }
  const int64_t count = kPanesPerBlock - offset;
  entry->slots.resize(count);
  entry->has_rows.resize(count);
  for (int64_t j = count - 1; j >= 0; --j) {
    const int64_t pane = block * kPanesPerBlock + offset + j;
    if (ring_.HasRows(pane)) {
      const uint64_t* pane_bits = ring_.KeyBits(pane);
      layout_->MergeKeys(acc.data(), ring_.Column(pane), pane_bits, words);
      for (int64_t w = 0; w < words; ++w) bits[w] |= pane_bits[w];
    }
    entry->slots[j] = acc;
    entry->has_rows[j] = bits;
  }
  return entry;
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
  // Panes up to the next block boundary, then whole blocks (every pane of which is inside) —
  // from the suffixes when the blocks between the bound and the two newest have settled.
  const int64_t block = FloorDiv(from_pane, kPanesPerBlock);
  const int64_t offset = from_pane - block * kPanesPerBlock;
  const int64_t settled_end = ring_.empty() ? block : FloorDiv(ring_.end() - 1, kPanesPerBlock) - 1;
  if (settled_end <= block) {  // an empty ring too
    layout_->Init(out, keys);
    const int64_t first_block = FloorDiv(from_pane + kPanesPerBlock - 1, kPanesPerBlock);
    MergeRange(from_pane, first_block, words, out, has_rows);
  } else {
    auto entry = suffixes_.Find(block, settled_end, offset);
    if (entry == nullptr || !UnchangedSince(entry->fold, from_pane, settled_end * kPanesPerBlock)) {
      entry = BuildSuffixes(block, offset, settled_end, keys, words);
      suffixes_.Publish(entry);
    }
    const int64_t j = offset - entry->first_offset;
    // Ids the entry has no slot for did not exist when it was built (their rows since would
    // have changed its panes); ids beyond the read's keys were retired (empty slots).
    const std::vector<StateWord>& slots = entry->slots[j];
    const int64_t copied = std::min(entry->keys, keys);
    std::copy_n(slots.begin(), copied * layout_->stride(), out);
    layout_->Init(out + copied * layout_->stride(), keys - copied);
    const std::vector<uint64_t>& bits = entry->has_rows[j];
    for (int64_t w = 0; w < std::min<int64_t>(words, entry->words); ++w) has_rows[w] |= bits[w];
    MergeRange(settled_end * kPanesPerBlock, settled_end, words, out, has_rows);
  }
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
  return ring_.memory_bytes() + blocks_.memory_bytes() + suffixes_.memory_bytes() +
         static_cast<int64_t>(overflow_.capacity() * sizeof(StateWord) +
                              overflow_keys_.capacity() * 8);
}

}  // namespace hyprstream::window
