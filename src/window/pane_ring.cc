#include "window/pane_ring.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace hyprstream::window {
namespace {
constexpr size_t kAlignment = 64;  // cache line
constexpr size_t kMaxSpare = 1;    // steady state: one pane ends as the next begins
constexpr int64_t kMinKeyCapacity = 1024;
}  // namespace

void PaneRing::AlignedFree::operator()(StateWord* p) const {
  ::operator delete[](p, std::align_val_t{kAlignment});
}

PaneRing::ColumnPtr PaneRing::Allocate(int64_t keys) const {
  size_t words = static_cast<size_t>(keys) * layout_->stride();
  auto* p = static_cast<StateWord*>(::operator new[](std::max<size_t>(words, 1) * sizeof(StateWord),
                                                     std::align_val_t{kAlignment}));
  return ColumnPtr(p);
}

void PaneRing::Materialize(Pane& pane) {
  if (spare_.empty()) {
    pane.column = Allocate(key_capacity_);
    pane.keys.assign(key_capacity_ / 64, 0);
    layout_->Init(pane.column.get(), key_capacity_);
    return;
  }
  // Reuse a dropped pane: only the slots of keys that had rows need resetting.
  Pane& spare = spare_.back();
  const int64_t stride = layout_->stride();
  ForEachKey(spare.keys.data(), key_words(),
             [&](int32_t key) { layout_->Init(spare.column.get() + key * stride, 1); });
  std::fill(spare.keys.begin(), spare.keys.end(), 0);
  pane.column = std::move(spare.column);
  pane.keys = std::move(spare.keys);
  spare_.pop_back();
}

StateWord* PaneRing::MutableColumn(int64_t pane) {
  Pane& p = panes_[pane - first_];
  if (p.column == nullptr) Materialize(p);
  return p.column.get();
}

void PaneRing::Cover(int64_t lo, int64_t hi) {
  if (lo > hi) return;
  if (panes_.empty()) {
    first_ = lo;
    panes_.resize(hi - lo + 1);
    return;
  }
  while (first_ > lo) {
    panes_.emplace_front();
    --first_;
  }
  while (end() <= hi) panes_.emplace_back();
}

void PaneRing::DropBefore(int64_t pane) {
  while (!panes_.empty() && first_ < pane) {
    if (spare_.size() < kMaxSpare && panes_.front().column != nullptr) {
      spare_.push_back(std::move(panes_.front()));
    }
    panes_.pop_front();
    ++first_;
  }
}

void PaneRing::ReserveKeys(int64_t keys) {
  if (keys <= key_capacity_) return;
  int64_t capacity = std::max<int64_t>(key_capacity_ * 2, kMinKeyCapacity);
  while (capacity < keys) capacity *= 2;
  Resize(capacity);
}

void PaneRing::ShrinkKeys(int64_t keys) {
  int64_t capacity = kMinKeyCapacity;
  while (capacity < keys) capacity *= 2;
  if (capacity * 4 <= key_capacity_) Resize(capacity);
}

void PaneRing::Resize(int64_t capacity) {
  const int64_t stride = layout_->stride();
  const int64_t kept = std::min(capacity, key_capacity_);
  for (Pane& pane : panes_) {
    if (pane.column == nullptr) continue;
    ColumnPtr resized = Allocate(capacity);
    std::memcpy(static_cast<void*>(resized.get()), pane.column.get(),
                static_cast<size_t>(kept * stride) * sizeof(StateWord));
    layout_->Init(resized.get() + kept * stride, capacity - kept);
    pane.column = std::move(resized);
    pane.keys.resize(capacity / 64, 0);
    pane.keys.shrink_to_fit();
  }
  spare_.clear();
  key_capacity_ = capacity;
}

void PaneRing::CollectKeys(uint64_t* bits, int64_t words) const {
  words = std::min(words, key_words());
  for (const Pane& pane : panes_) {
    if (pane.column == nullptr) continue;
    const uint64_t* keys = pane.keys.data();
    for (int64_t w = 0; w < words; ++w) bits[w] |= keys[w];
  }
}

int64_t PaneRing::allocated_panes() const {
  int64_t count = static_cast<int64_t>(spare_.size());
  for (const Pane& pane : panes_) count += pane.column != nullptr;
  return count;
}

int64_t PaneRing::memory_bytes() const {
  return allocated_panes() * (key_capacity_ * layout_->slot_bytes() + key_capacity_ / 8);
}

}  // namespace hyprstream::window
