// WindowRebuilder: builds the windows of a table in the background (WindowCatalog::Rebuild):
// after a start, after a change they cannot follow, and when the engine's copy of the table
// was loaded whole (the cache's `loaded` events: its first load, a reload after a write it
// could not follow). That event arrives on the cache's background thread under the copy's
// write lock, where a rebuild cannot run (it waits for writes to the table, then reads the
// copy under that lock), so rebuilds run here, on a thread of their own, one table at a time.
//
// A rebuild that fails while the table's windows still await it (the backend unreachable, say)
// is tried again after 1 s, then after twice as long each time, at most every 30 s.
//
// Threading: Wanted from any thread; the destructor stops the thread (a rebuild under way
// ends at its next batch of rows: WindowCatalog::StopBuilds).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "window/window_catalog.h"

namespace hyprstream::window {

class WindowRebuilder {
 public:
  explicit WindowRebuilder(std::weak_ptr<WindowCatalog> catalog);
  ~WindowRebuilder();
  WindowRebuilder(const WindowRebuilder&) = delete;
  WindowRebuilder& operator=(const WindowRebuilder&) = delete;

  // The copy of `table` was loaded: rebuild its windows (once, however often it is asked
  // before the thread gets to it).
  void Wanted(const TableName& table);

 private:
  void Run();

  std::weak_ptr<WindowCatalog> catalog_;
  std::mutex mutex_;
  std::condition_variable wakeup_;
  // A failed rebuild to try again: when, and how long after the one before.
  struct Retry {
    TableName table;
    std::chrono::steady_clock::time_point at;
    std::chrono::seconds delay;
  };
  // Retries due by now move to wanted_ (their entry stays, for the next delay, until one
  // succeeds); the earliest retry due, or max() when none is.
  std::chrono::steady_clock::time_point DueRetries();

  std::map<std::string, TableName> wanted_;  // GUARDED_BY(mutex_); by TableName::key
  std::map<std::string, Retry> retries_;     // GUARDED_BY(mutex_); by TableName::key
  bool stopping_ = false;                    // GUARDED_BY(mutex_)
  std::thread thread_;                       // last: starts once the rest is built
};

}  // namespace hyprstream::window
