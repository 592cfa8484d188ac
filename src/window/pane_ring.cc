#include "window/pane_ring.h"

#include <cstring>
#include <new>

namespace hyprstream::window {
namespace {
constexpr size_t kAlignment = 64;  // cache line
constexpr size_t kMaxSpare = 2;
}  // namespace

void PaneRing::AlignedFree::operator()(StateWord* p) const {
  ::operator delete[](p, std::align_val_t{kAlignment});
}

PaneRing::ColumnPtr PaneRing::Allocate(int64_t keys) const {
  size_t words = static_cast<size_t>(keys) * layout_->stride();
  auto* p = static_cast<StateWord*>(
      ::operator new[](std::max<size_t>(words, 1) * sizeof(StateWord), std::align_val_t{kAlignment}));
  return ColumnPtr(p);
}

PaneRing::ColumnPtr PaneRing::NewColumn() {
  ColumnPtr column;
  if (!spare_.empty()) {
    column = std::move(spare_.back());
    spare_.pop_back();
  } else {
    column = Allocate(key_capacity_);
  }
  layout_->Init(column.get(), key_capacity_);
  return column;
}

void PaneRing::Cover(int64_t lo, int64_t hi) {
  if (lo > hi) return;
  if (panes_.empty()) {
    first_ = lo;
    for (int64_t p = lo; p <= hi; ++p) panes_.push_back(Pane{NewColumn(), false});
    return;
  }
  while (first_ > lo) {
    panes_.push_front(Pane{NewColumn(), false});
    --first_;
  }
  while (end() <= hi) panes_.push_back(Pane{NewColumn(), false});
}

void PaneRing::DropBefore(int64_t pane) {
  while (!panes_.empty() && first_ < pane) {
    if (spare_.size() < kMaxSpare) spare_.push_back(std::move(panes_.front().column));
    panes_.pop_front();
    ++first_;
  }
}

void PaneRing::ReserveKeys(int64_t keys) {
  if (keys <= key_capacity_) return;
  int64_t capacity = std::max<int64_t>(key_capacity_ * 2, 1024);
  while (capacity < keys) capacity *= 2;
  const int64_t stride = layout_->stride();
  for (Pane& pane : panes_) {
    ColumnPtr grown = Allocate(capacity);
    std::memcpy(static_cast<void*>(grown.get()), pane.column.get(),
                static_cast<size_t>(key_capacity_ * stride) * sizeof(StateWord));
    layout_->Init(grown.get() + key_capacity_ * stride, capacity - key_capacity_);
    pane.column = std::move(grown);
  }
  spare_.clear();
  key_capacity_ = capacity;
}

int64_t PaneRing::memory_bytes() const {
  return static_cast<int64_t>(panes_.size() + spare_.size()) * key_capacity_ *
         layout_->slot_bytes();
}

}  // namespace hyprstream::window
