// TableWriteGate: tells a rebuild of a table's windows when no write to the table is half
// done. A write through the windows layer stores rows, then folds them into the windows; a
// rebuild reads the stored rows and replaces the state. Were a write between the two steps
// during a rebuild, its rows would count twice (read, then folded into the new state) or not
// at all (folded into the old state). Writes hold the gate around both steps; a rebuild
// excludes them: it waits for the holds of its table to end and keeps new ones waiting.
//
// Threading: any thread. A hold is short (one write); a thread must not take a second hold
// on a table it holds. Holds of several tables are taken in one call (sorted: no two
// callers wait on each other).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "window/window_definition.h"

namespace hyprstream::window {

class TableWriteGate {
 public:
  class Hold;
  class Exclusion;

  // Waits while a rebuild excludes any of `tables`; the write is then in flight until the
  // Hold is destroyed.
  Hold Enter(const std::vector<TableName>& tables);
  // Waits for the holds on `table` to end; new ones wait until the Exclusion is destroyed.
  Exclusion Exclude(const TableName& table);

 private:
  struct Slot {
    std::mutex mutex;
    std::condition_variable changed;
    int writers = 0;        // GUARDED_BY(mutex)
    bool excluded = false;  // GUARDED_BY(mutex)
  };
  std::shared_ptr<Slot> SlotOf(const std::string& key);

  std::shared_mutex mutex_;
  std::map<std::string, std::shared_ptr<Slot>> slots_;  // GUARDED_BY(mutex_); by TableName::key
};

class TableWriteGate::Hold {
 public:
  Hold() = default;
  Hold(Hold&&) = default;
  Hold& operator=(Hold&& other);
  ~Hold();

 private:
  friend class TableWriteGate;
  void Release();
  std::vector<std::shared_ptr<Slot>> slots_;
};

class TableWriteGate::Exclusion {
 public:
  Exclusion(Exclusion&&) = default;
  ~Exclusion();

 private:
  friend class TableWriteGate;
  explicit Exclusion(std::shared_ptr<Slot> slot) : slot_(std::move(slot)) {}
  std::shared_ptr<Slot> slot_;
};

}  // namespace hyprstream::window
