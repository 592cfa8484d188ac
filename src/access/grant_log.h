// GrantLog: the grants admins make and revoke at run time, kept in the engine's table
// _hyprstream.grant_changes (one row per change, in order) so they survive a restart of a
// file-backed database; at start they are replayed over the config file's grants. Each
// change is written on a connection of its own and committed at once, whatever the caller's
// transaction does. Thread-safe: a mutex orders appends.
#pragma once

#include <arrow/result.h>

#include <memory>
#include <mutex>
#include <vector>

#include "access/grant.h"
#include "engine/engine.h"

namespace hyprstream::access {

struct GrantChange {
  bool granted = true;  // false: revoked
  Grant grant;
};

class GrantLog {
 public:
  // Creates the table when missing.
  static arrow::Result<std::unique_ptr<GrantLog>> Open(std::shared_ptr<engine::Engine> engine);

  // Every change so far, oldest first.
  arrow::Result<std::vector<GrantChange>> Load() const;
  arrow::Status Append(const GrantChange& change);

 private:
  explicit GrantLog(std::shared_ptr<engine::Engine> engine) : engine_(std::move(engine)) {}

  std::shared_ptr<engine::Engine> engine_;
  std::mutex mutex_;  // orders Append
};

}  // namespace hyprstream::access
