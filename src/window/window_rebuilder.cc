#include "window/window_rebuilder.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace hyprstream::window {

WindowRebuilder::WindowRebuilder(std::weak_ptr<WindowCatalog> catalog)
    : catalog_(std::move(catalog)), thread_([this] { Run(); }) {}

WindowRebuilder::~WindowRebuilder() {
  // A rebuild under way ends at its next batch of rows.
  if (auto catalog = catalog_.lock()) catalog->StopBuilds();
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

std::chrono::steady_clock::time_point WindowRebuilder::DueRetries() {
  const auto now = std::chrono::steady_clock::now();
  auto earliest = std::chrono::steady_clock::time_point::max();
  for (auto& [key, retry] : retries_) {
    if (retry.at <= now) {
      wanted_.emplace(key, retry.table);
      retry.at = std::chrono::steady_clock::time_point::max();  // until it has run
    }
    earliest = std::min(earliest, retry.at);
  }
  return earliest;
}

void WindowRebuilder::Run() {
  using std::chrono::seconds;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    const auto due = DueRetries();
    auto ready = [this] { return stopping_ || !wanted_.empty(); };
    if (due == std::chrono::steady_clock::time_point::max()) {
      wakeup_.wait(lock, ready);
    } else {
      wakeup_.wait_until(lock, due, ready);
    }
    if (stopping_) return;
    if (wanted_.empty()) continue;  // a retry came due
    TableName table = wanted_.begin()->second;
    wanted_.erase(wanted_.begin());
    lock.unlock();
    bool again = false;
    seconds delay{0};
    if (auto catalog = catalog_.lock()) {
      arrow::Status status = catalog->Rebuild(table);
      again = !status.ok() && !status.IsCancelled() && catalog->AwaitsBuild(table);
      if (again) {
        std::lock_guard<std::mutex> held(mutex_);
        auto it = retries_.find(table.key());
        delay = it == retries_.end() ? seconds(1) : std::min(2 * it->second.delay, seconds(30));
      }
      if (!status.ok() && !status.IsCancelled()) {
        // Until then its windows answer no query: the engine answers.
        spdlog::warn("rebuilding the windows of {} failed: {}{}", table.key(), status.ToString(),
                     again ? fmt::format("; trying again in {} s", delay.count()) : "");
      }
    }
    lock.lock();
    if (again) {
      retries_[table.key()] = Retry{table, std::chrono::steady_clock::now() + delay, delay};
    } else {
      retries_.erase(table.key());
    }
  }
}

}  // namespace hyprstream::window
