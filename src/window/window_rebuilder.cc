#include "window/window_rebuilder.h"

#include <spdlog/spdlog.h>

namespace hyprstream::window {

WindowRebuilder::WindowRebuilder(std::weak_ptr<WindowCatalog> catalog)
    : catalog_(std::move(catalog)), thread_([this] { Run(); }) {}

WindowRebuilder::~WindowRebuilder() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wakeup_.notify_all();
  thread_.join();
}

void WindowRebuilder::Wanted(const TableName& table) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wanted_.emplace(table.key(), table);
  }
  wakeup_.notify_all();
}

void WindowRebuilder::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wakeup_.wait(lock, [this] { return stopping_ || !wanted_.empty(); });
    if (stopping_) return;
    TableName table = wanted_.begin()->second;
    wanted_.erase(wanted_.begin());
    lock.unlock();
    if (auto catalog = catalog_.lock()) {
      arrow::Status status = catalog->Rebuild(table);
      if (!status.ok()) {
        // Its windows keep answering no query (the engine answers) until the copy's next load.
        spdlog::warn("rebuilding the windows of {} from its cached copy failed: {}", table.key(),
                     status.ToString());
      }
    }
    lock.lock();
  }
}

}  // namespace hyprstream::window
