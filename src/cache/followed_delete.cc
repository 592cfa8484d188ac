#include "cache/followed_delete.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "engine/prefix_delete.h"
#include "engine/result_provenance.h"

namespace hyprstream::cache {
namespace {

// The table as the backend's SQL names it (its default schema when `key` has none).
std::string BackendName(const TableKey& key) {
  const std::string table = engine::QuoteIdentifier(key.table);
  return key.schema.empty() ? table : engine::QuoteIdentifier(key.schema) + "." + table;
}

}  // namespace

arrow::Result<std::unique_ptr<FollowedDelete>> FollowedDelete::Begin(
    std::shared_ptr<CacheCore> core, std::shared_ptr<Mirror> mirror,
    engine::EngineConnection& backend, engine::EngineConnection& cache) {
  // (A catalog-qualified name is not one the backend's SQL below could use.)
  if (mirror->options.time_column.empty() || mirror->key.schema.find('.') != std::string::npos) {
    return nullptr;
  }
  std::lock_guard<std::mutex> write(mirror->write);
  const std::optional<int64_t> generation = core->mirrors.ReadyGeneration(*mirror);
  if (!generation || MirrorSet::LoadInFlight(*mirror)) return nullptr;  // reloaded anyway
  auto before = core->backend->BeginSharingSnapshot(backend, mirror->key.schema, mirror->key.table);
  if (!before.ok()) {
    if (before.status().IsNotImplemented()) return nullptr;
    return before.status();
  }
  // The mirror's transaction takes its snapshot at its first read, here, under the lock.
  arrow::Status began = cache.BeginTransaction();
  if (began.ok()) {
    began = engine::QueryValue(cache, "SELECT count(*) FROM " + mirror->key.Quoted()).status();
    if (!began.ok()) (void)cache.Rollback();
  }
  if (!began.ok()) {
    (void)backend.Rollback();
    spdlog::warn("the cache of {} cannot follow a DELETE ({}); it is reloaded after it",
                 mirror->key.ToString(), began.message());
    return nullptr;
  }
  return std::unique_ptr<FollowedDelete>(
      new FollowedDelete(std::move(core), std::move(mirror), *std::move(before), *generation));
}

std::optional<std::string> FollowedDelete::RemovedRows(engine::EngineConnection& backend) {
  const std::string table = BackendName(mirror_->key);
  const std::string& time = mirror_->options.time_column;
  auto left = engine::ReadRowsLeft(backend, table, time);
  arrow::Result<bool> only = left.ok() && left->count == 0 ? arrow::Result<bool>(true)
                             : left.ok()
                                 ? engine::RemovedOnlyRowsBefore(*before_, table, time, *left)
                                 : arrow::Result<bool>(left.status());
  before_.reset();  // ends the reader's transaction
  if (!only.ok()) {
    spdlog::info("the cache of {} cannot tell which rows a DELETE removed ({}); it is reloaded",
                 mirror_->key.ToString(), only.status().message());
    return std::nullopt;
  }
  if (!*only) return std::nullopt;
  if (left->count == 0) return std::string();  // every row
  return " WHERE " + engine::QuoteIdentifier(time) + " < " +
         engine::TimestampLiteral(*left->oldest_us);
}

arrow::Status FollowedDelete::Commit(engine::EngineConnection& backend,
                                     engine::EngineConnection& cache) {
  const auto began = std::chrono::steady_clock::now();
  const std::optional<std::string> removed_rows = RemovedRows(backend);
  bool follows = removed_rows.has_value();
  int64_t removed = 0;
  if (follows) {
    // The mirror's transaction began with the backend's: it deletes the same rows, and none
    // written through since.
    auto deleted = [&]() -> arrow::Result<int64_t> {
      ARROW_ASSIGN_OR_RAISE(auto statement,
                            cache.Prepare("DELETE FROM " + mirror_->key.Quoted() + *removed_rows));
      return statement->ExecuteUpdate();
    }();
    if (deleted.ok()) {
      removed = *deleted;
    } else {
      spdlog::warn("the cache of {} could not follow a DELETE ({}); it is reloaded",
                   mirror_->key.ToString(), deleted.status().message());
      follows = false;
    }
  }
  const double checked_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  if (!follows) (void)cache.Rollback();
  if (!engine::TransactionCanCommit(backend)) {
    // A check that failed (the windows' or this one) aborted the transaction: COMMIT would
    // answer success while rolling it back. Nothing changed; the caller runs it again.
    (void)cache.Rollback();
    (void)backend.Rollback();
    return engine::WriteConflict("checking the rows of a DELETE of " + mirror_->key.ToString() +
                                 " aborted its transaction; it changed nothing");
  }
  // The backend commits, then the mirror, under the mirror's write lock: no load, refresh or
  // eviction comes in between.
  std::lock_guard<std::mutex> write(mirror_->write);
  const std::vector<TableKey> tables{mirror_->key};
  if (!follows) {
    // Written around the mirror: it stops answering before the change is seen, until reloaded.
    core_->mirrors.BeginWrite(tables);
    core_->results.Invalidate(tables);
    arrow::Status committed = backend.Commit();
    core_->mirrors.EndWrite(tables);
    core_->results.Invalidate(tables);
    return committed;
  }
  arrow::Status committed = backend.Commit();
  if (!committed.ok()) {
    (void)cache.Rollback();  // the backend changed nothing
    return committed;
  }
  core_->results.Invalidate(tables);
  if (core_->mirrors.ReadyGeneration(*mirror_) != generation_ ||
      MirrorSet::LoadInFlight(*mirror_)) {
    // Loaded or written around since the transactions began: its rows are not those the
    // DELETE saw.
    (void)cache.Rollback();
    core_->mirrors.Invalidate(mirror_, "changed while a DELETE it followed ran");
    return committed;
  }
  if (arrow::Status cached = cache.Commit(); !cached.ok()) {
    (void)cache.Rollback();
    core_->counters.write_through_failures++;
    core_->mirrors.Invalidate(mirror_, "following a DELETE failed: " + cached.message());
    return committed;
  }
  core_->mirrors.Deleted(mirror_, removed);
  core_->results.Invalidate(tables);
  spdlog::info("the cache of {} followed the DELETE of {} ({} rows; checked in {:.2f} s)",
               mirror_->key.ToString(),
               removed_rows->empty() ? "all its rows" : "its rows" + *removed_rows, removed,
               checked_s);
  return committed;
}

void FollowedDelete::Rollback(engine::EngineConnection& cache) {
  before_.reset();
  if (cache.InTransaction()) (void)cache.Rollback();
}

}  // namespace hyprstream::cache
