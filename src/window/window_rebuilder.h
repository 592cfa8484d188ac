// WindowRebuilder: rebuilds the windows of a table when the engine's copy of it was loaded
// whole (the cache's `loaded` events: its first load, a reload after a write it could not
// follow). The event arrives on the cache's background thread under the copy's write lock,
// where a rebuild cannot run (it waits for writes to the table, then reads the copy under
// that lock), so rebuilds run here, on a thread of their own, one table at a time.
//
// Threading: Wanted from any thread; the destructor stops the thread (a rebuild under way
// finishes first).
#pragma once

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
  std::map<std::string, TableName> wanted_;  // GUARDED_BY(mutex_); by TableName::key
  bool stopping_ = false;                    // GUARDED_BY(mutex_)
  std::thread thread_;                       // last: starts once the rest is built
};

}  // namespace hyprstream::window
