#include "window/pane_suffixes.h"

namespace hyprstream::window {

int64_t PaneSuffixEntry::memory_bytes() const {
  int64_t bytes = 0;
  for (const auto& s : slots) bytes += static_cast<int64_t>(s.capacity() * sizeof(StateWord));
  for (const auto& h : has_rows) bytes += static_cast<int64_t>(h.capacity() * sizeof(uint64_t));
  return bytes;
}

std::shared_ptr<const PaneSuffixEntry> PaneSuffixes::Find(int64_t block, int64_t settled_end,
                                                          int64_t offset) {
  std::lock_guard lock(mutex_);
  for (size_t e = 0; e < entries_.size(); ++e) {
    const PaneSuffixEntry& entry = *entries_[e];
    if (entry.block != block || entry.settled_end != settled_end || offset < entry.first_offset ||
        offset - entry.first_offset >= static_cast<int64_t>(entry.slots.size())) {
      continue;
    }
    last_used_[e] = ++uses_;
    hits_.fetch_add(1, std::memory_order_relaxed);
    return entries_[e];
  }
  return nullptr;
}

void PaneSuffixes::Publish(std::shared_ptr<const PaneSuffixEntry> entry) {
  builds_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  size_t at = entries_.size();
  for (size_t e = 0; e < entries_.size(); ++e) {
    if (entries_[e]->block == entry->block) at = e;
  }
  if (at == entries_.size() && entries_.size() >= kEntries) {
    at = 0;
    for (size_t e = 1; e < entries_.size(); ++e) {
      if (last_used_[e] < last_used_[at]) at = e;
    }
  }
  if (at == entries_.size()) {
    entries_.push_back(std::move(entry));
    last_used_.push_back(++uses_);
  } else {
    entries_[at] = std::move(entry);
    last_used_[at] = ++uses_;
  }
}

void PaneSuffixes::DropBefore(int64_t block) {
  std::lock_guard lock(mutex_);
  for (size_t e = entries_.size(); e-- > 0;) {
    if (entries_[e]->block >= block) continue;
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(e));
    last_used_.erase(last_used_.begin() + static_cast<std::ptrdiff_t>(e));
  }
}

int64_t PaneSuffixes::memory_bytes() const {
  std::lock_guard lock(mutex_);
  int64_t bytes = 0;
  for (const auto& entry : entries_) bytes += entry->memory_bytes();
  return bytes;
}

}  // namespace hyprstream::window
