// FollowedDelete: a DELETE of a mirrored table that its mirror follows instead of being
// reloaded whole (a retention DELETE ... WHERE ts < X). Begin, under the mirror's write lock
// (so no write through is half done), begins the backend's transaction with a reader pinned to
// its snapshot (Engine::BeginSharingSnapshot) and the mirror's own transaction, so both start
// from the same rows; writes through go on meanwhile, and neither transaction sees them.
// Commit tells from the backend's rows whether the DELETE removed exactly the rows before the
// oldest time left (engine/prefix_delete.h), or every row. If so, the mirror deletes the same
// rows in its transaction and commits right after the backend; otherwise it stops answering
// before the backend commits and is reloaded, as after any write around it. One session's:
// used from its serialised calls only.
#pragma once

#include <arrow/result.h>

#include <memory>
#include <optional>
#include <string>

#include "cache/cache_core.h"

namespace hyprstream::cache {

class FollowedDelete {
 public:
  // nullopt (nothing begun) when the mirror cannot follow now: not ready, a load copying it,
  // no time column, or the backend shares no snapshot (NotImplemented). `backend` and
  // `cache`: the session's connections, in no transaction.
  static arrow::Result<std::unique_ptr<FollowedDelete>> Begin(std::shared_ptr<CacheCore> core,
                                                              std::shared_ptr<Mirror> mirror,
                                                              engine::EngineConnection& backend,
                                                              engine::EngineConnection& cache);

  const TableKey& table() const { return mirror_->key; }
  // The backend's rows as the transaction began (pinned; kept until Commit or Rollback).
  const std::shared_ptr<engine::EngineConnection>& before() const { return before_; }
  // The DELETE ran in the transaction (Commit then follows it; without one it only commits).
  void Deleted() { deleted_ = true; }
  bool deleted() const { return deleted_; }

  // Commits the backend's transaction (its status is returned) and the mirror's after it, or
  // has the mirror reloaded. A transaction a failed check aborted is rolled back instead
  // (WriteConflict: nothing changed, run it again).
  arrow::Status Commit(engine::EngineConnection& backend, engine::EngineConnection& cache);
  // Ends the mirror's transaction; the backend's is the caller's to end.
  void Rollback(engine::EngineConnection& cache);

 private:
  FollowedDelete(std::shared_ptr<CacheCore> core, std::shared_ptr<Mirror> mirror,
                 std::shared_ptr<engine::EngineConnection> before, int64_t generation)
      : core_(std::move(core)),
        mirror_(std::move(mirror)),
        before_(std::move(before)),
        generation_(generation) {}
  // The rows the mirror deletes to follow: the WHERE clause of those before the oldest time
  // left (" WHERE ts < ..."), or "" when no row is left; nullopt when the DELETE removed other
  // rows too (or that cannot be told).
  std::optional<std::string> RemovedRows(engine::EngineConnection& backend);

  std::shared_ptr<CacheCore> core_;
  std::shared_ptr<Mirror> mirror_;
  std::shared_ptr<engine::EngineConnection> before_;
  const int64_t generation_;  // the mirror's when both transactions began
  bool deleted_ = false;
};

}  // namespace hyprstream::cache
