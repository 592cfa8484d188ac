#include "window/table_write_gate.h"

#include <algorithm>

namespace hyprstream::window {

std::shared_ptr<TableWriteGate::Slot> TableWriteGate::SlotOf(const std::string& key) {
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    if (auto it = slots_.find(key); it != slots_.end()) return it->second;
  }
  std::unique_lock<std::shared_mutex> lock(mutex_);
  auto& slot = slots_[key];
  if (!slot) slot = std::make_shared<Slot>();
  return slot;
}

TableWriteGate::Hold TableWriteGate::Enter(const std::vector<TableName>& tables) {
  std::vector<std::string> keys;
  for (const auto& table : tables) keys.push_back(table.key());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  Hold hold;
  for (const auto& key : keys) {
    auto slot = SlotOf(key);
    std::unique_lock<std::mutex> lock(slot->mutex);
    slot->changed.wait(lock, [&] { return !slot->excluded; });
    ++slot->writers;
    hold.slots_.push_back(std::move(slot));
  }
  return hold;
}

TableWriteGate::Exclusion TableWriteGate::Exclude(const TableName& table) {
  auto slot = SlotOf(table.key());
  std::unique_lock<std::mutex> lock(slot->mutex);
  // One rebuild of a table at a time; then no new writer gets in while the holds drain.
  slot->changed.wait(lock, [&] { return !slot->excluded; });
  slot->excluded = true;
  slot->changed.wait(lock, [&] { return slot->writers == 0; });
  return Exclusion(std::move(slot));
}

TableWriteGate::Hold& TableWriteGate::Hold::operator=(Hold&& other) {
  if (this != &other) {
    Release();
    slots_ = std::move(other.slots_);
  }
  return *this;
}

TableWriteGate::Hold::~Hold() { Release(); }

void TableWriteGate::Hold::Release() {
  for (auto& slot : slots_) {
    std::lock_guard<std::mutex> lock(slot->mutex);
    if (--slot->writers == 0) slot->changed.notify_all();
  }
  slots_.clear();
}

TableWriteGate::Exclusion::~Exclusion() {
  if (!slot_) return;
  std::lock_guard<std::mutex> lock(slot_->mutex);
  slot_->excluded = false;
  slot_->changed.notify_all();
}

}  // namespace hyprstream::window
