// MirrorSet: the backend tables kept in the cache DuckDB ("mirrors"), each under the same
// [schema.]name as in the backend so a query runs unchanged on either side. A mirror holds
// every backend row whose time column is at or after its horizon (all rows when it has no
// horizon), as of `refreshed_at` plus everything written through hyprstream since.
//
// Locking (never held across a call into another lock's holder in the other order):
//   Mirror::write   — one content-changing operation at a time (write-through, load, refresh,
//                     eviction); held for the whole operation, except the copy of a background
//                     load (writes go on meanwhile and give their rows to the load: LoadCatchUp;
//                     with a pinned snapshot, its whole read) and a refresh's read of a
//                     backend snapshot (Refresh).
//   Mirror::content — shared by a query while it checks the horizon and starts; exclusive
//                     only for the moment rows are deleted or a reloaded table is swapped in.
//   MirrorSet::mutex_ — the registry and each mirror's state fields; short sections only.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "cache/cache_options.h"
#include "cache/statement_footprint.h"
#include "engine/engine.h"

namespace hyprstream::cache {

enum class MirrorState { kLoading, kReady, kStale, kFailed };
const char* MirrorStateName(MirrorState state);

// The writes through hyprstream committed while a background load copies the backend table:
// the load adds them to its copy before swapping it in. Guarded by Mirror::write.
struct LoadCatchUp {
  arrow::RecordBatchVector rows;
  bool missed = false;  // a write whose committed rows are not known: the load is redone
};

struct Mirror {
  TableKey key;
  MirrorOptions options;
  bool configured = false;  // from the config (kept on failure) or created by an ingest

  std::mutex write;
  std::shared_mutex content;
  std::unique_ptr<LoadCatchUp> catch_up;  // GUARDED_BY(write): set while a load copies

  // Guarded by MirrorSet::mutex_.
  MirrorState state = MirrorState::kLoading;
  std::optional<int64_t> horizon_us;  // nullopt: every row of the backend table
  std::chrono::system_clock::time_point refreshed_at{};
  std::chrono::steady_clock::time_point next_refresh{};
  int writers = 0;  // backend writes in flight that bypass the mirror
  bool reload_wanted = true;
  int64_t rows = 0;
  int64_t generation = 0;  // bumped whenever the cache table is replaced
  int64_t loads = 0, refreshes = 0, rows_evicted = 0;
  int64_t rows_written_during_loads = 0;  // rows a load took from writes during its copy
  int64_t deletes_followed = 0;           // DELETEs followed instead of reloading (Deleted)
  std::string last_error;
};

// What a query may read from the cache: shared locks on every mirror it reads, held until the
// query has started (then the DuckDB snapshot keeps it consistent).
class ReadLease {
 public:
  std::chrono::system_clock::time_point as_of;  // oldest refreshed_at of the mirrors read
 private:
  friend class MirrorSet;
  std::vector<std::shared_lock<std::shared_mutex>> locks_;
};

struct MirrorSnapshot {
  TableKey key;
  std::string time_column, refresh, state, last_error;
  std::optional<int64_t> horizon_us;
  std::chrono::system_clock::time_point refreshed_at;
  int64_t rows, loads, refreshes, rows_evicted, rows_written_during_loads, deletes_followed;
};

class MirrorSet {
 public:
  explicit MirrorSet(CacheOptions options);
  // Called (from the background thread) after a mirror's rows changed by a load, refresh or
  // eviction, so results computed from it can be dropped. Set once, before use.
  void OnChange(std::function<void(const TableKey&)> callback) { on_change_ = std::move(callback); }
  // Called under the mirror's write lock with the rows a refresh copied from the backend (rows
  // others wrote there), and after every load (the first too: what it copied is not told row
  // by row). Set once, before use.
  void OnExternalRows(engine::ExternalRowsListener listener) { external_ = std::move(listener); }

  // Called when a mirror is to be loaded at once (a write around it ended, or it was
  // invalidated), so the background thread need not wait for its next round. Set once,
  // before use; called without MirrorSet's locks.
  void OnWorkDue(std::function<void()> callback) { on_work_due_ = std::move(callback); }

  const CacheOptions& options() const { return options_; }

  // Registers a mirror (state kLoading until the background load). Existing: returned as is.
  // `load`: false when the caller fills the new mirror itself (then MarkReady). One of
  // hyprstream's own tables (engine/internal_tables.h) not `configured` is never refreshed.
  std::shared_ptr<Mirror> Add(MirrorOptions options, bool configured, bool load = true);
  bool IsReady(const Mirror& mirror) const;
  std::shared_ptr<Mirror> Find(const TableKey& key) const;
  void Remove(const TableKey& key);

  // A lease when every table of `footprint` is a ready mirror whose rows cover what the query
  // can read (its WHERE bounds the time column at or after the horizon) and whose data is
  // no older than `max_staleness`; nullopt otherwise. `duckdb` evaluates the bounds.
  std::optional<ReadLease> TryRead(const ReadFootprint& footprint,
                                   std::optional<std::chrono::milliseconds> max_staleness,
                                   engine::EngineConnection& duckdb);

  // A backend write hyprstream does not mirror row by row (SQL DML/DDL, writes in a
  // transaction): the tables stop answering reads until EndWrite's reload. nullopt: all.
  void BeginWrite(const std::optional<std::vector<TableKey>>& tables);
  void EndWrite(const std::optional<std::vector<TableKey>>& tables);
  // The mirror no longer matches the backend (a failed write-through): reload it.
  void Invalidate(const std::shared_ptr<Mirror>& mirror, const std::string& why);
  // After a committed write-through: `rows` more rows, content current.
  void Wrote(const std::shared_ptr<Mirror>& mirror, int64_t rows);
  // After a DELETE the mirror followed (FollowedDelete): `rows` fewer rows, content current.
  void Deleted(const std::shared_ptr<Mirror>& mirror, int64_t rows);
  // The mirror now holds exactly the backend table as of `as_of` (a new table created by a
  // write-through, or a finished load).
  void MarkReady(const std::shared_ptr<Mirror>& mirror, std::optional<int64_t> horizon_us,
                 std::chrono::system_clock::time_point as_of, int64_t rows);

  // Loads `mirror` now, on the caller's thread, unless it is ready. Caller holds mirror.write.
  // False when it cannot be made ready now (a write around it is in flight or began while it
  // loaded, or a background load is copying it: that one reports `loaded` when done).
  arrow::Result<bool> MakeReady(Mirror& mirror, engine::EngineConnection& backend,
                                engine::EngineConnection& cache);
  // While a background load copies the backend table, writes through hyprstream do not wait
  // for it. Each, once the backend has committed it, gives the load its rows (KeepForLoad) or
  // says what it committed is not known (LoadMissedWrite: the load then leaves the mirror stale
  // and is redone). Callers hold mirror.write.
  static bool LoadInFlight(const Mirror& mirror) { return mirror.catch_up != nullptr; }
  static void KeepForLoad(Mirror& mirror, const arrow::RecordBatchVector& rows);
  static void LoadMissedWrite(Mirror& mirror);

  // The mirror's generation while it is ready and no write around it is in flight.
  std::optional<int64_t> ReadyGeneration(const Mirror& mirror) const;

  // Creates the cache-side schema of `key` unless it exists (callers from every thread;
  // `cache` outside a transaction).
  arrow::Status EnsureSchema(engine::EngineConnection& cache, const TableKey& key);

  // Background work, one step: loads wanted mirrors, refreshes due ones, evicts old rows.
  // `backend` and `cache` are the background thread's own connections; `backend_engine`, where
  // given, pins the snapshots refreshes read from (see Refresh).
  void Maintain(engine::EngineConnection& backend, engine::EngineConnection& cache,
                engine::Engine* backend_engine = nullptr);
  // The cache is closing: a load under way gives up at its next batch of the backend's rows
  // (a large table's copy would hold up the stop), and Maintain does nothing more.
  void Stop() { stopping_ = true; }

  std::vector<MirrorSnapshot> Snapshot() const;
  // When a ready mirror last caught up with the backend (now for refresh mode none); nullopt
  // for a table without a ready mirror.
  std::optional<std::chrono::system_clock::time_point> AsOf(const TableKey& key) const;

 private:
  struct BackendRows;
  // The background load: mirror.write is held while the backend's read begins and while the
  // copy is swapped in, not while the rows are copied. `reload_ready`: load even when the
  // mirror is ready (refresh mode reload); otherwise a load Maintain picked is skipped when
  // another (MakeReady) got there first.
  // Where `backend_engine` pins a snapshot at once (PinBackend), the backend's read begins
  // after mirror.write is released, not once its first rows are read under it.
  arrow::Status Load(Mirror& mirror, engine::EngineConnection& backend,
                     engine::EngineConnection& cache, bool reload_ready,
                     engine::Engine* backend_engine);
  // A load on the caller's thread; caller holds mirror.write throughout.
  arrow::Status LoadHeld(Mirror& mirror, engine::EngineConnection& backend,
                         engine::EngineConnection& cache);
  // Starts the backend's read of the table: its first rows read (its snapshot is fixed), or on
  // `pinned`, a connection pinned to a snapshot already, which the rows hold until read.
  arrow::Result<BackendRows> ReadBackend(Mirror& mirror, engine::EngineConnection& backend,
                                         std::shared_ptr<engine::EngineConnection> pinned = {});
  // Copies `rows` into the mirror's staging table; returns the rows copied.
  arrow::Result<int64_t> Stage(Mirror& mirror, BackendRows& rows, engine::EngineConnection& cache);
  // Appends rows writes gave a load to the staging table; returns how many.
  arrow::Result<int64_t> AppendToStaging(Mirror& mirror, engine::EngineConnection& cache,
                                         const arrow::RecordBatchVector& rows);
  // Replaces the mirror's table by the staging table. Caller holds mirror.write.
  arrow::Status SwapIn(Mirror& mirror, engine::EngineConnection& cache,
                       std::optional<int64_t> horizon_us,
                       std::chrono::system_clock::time_point started, int64_t rows);
  // Appends the backend's rows newer than the copy's newest. mirror.write is held throughout
  // where `backend_engine` cannot pin a snapshot (SnapshotConnection) at once; otherwise only
  // while the snapshot is pinned and while the rows are appended, and rows read while the copy
  // changed otherwise (a load, a write around it, a followed DELETE) are left to the next round.
  arrow::Status Refresh(Mirror& mirror, engine::EngineConnection& backend,
                        engine::EngineConnection& cache, engine::Engine* backend_engine);
  // A connection pinned to a snapshot of the backend taken now (for a refresh or a load);
  // nullptr where none is offered at once.
  static std::shared_ptr<engine::EngineConnection> PinBackend(const Mirror& mirror,
                                                              engine::Engine* backend_engine);
  arrow::Status Evict(Mirror& mirror, engine::EngineConnection& cache, int64_t cutoff_us);
  std::chrono::milliseconds RefreshInterval(const Mirror& mirror) const;

  void Changed(const TableKey& key) {
    if (on_change_) on_change_(key);
  }

  const CacheOptions options_;
  std::function<void(const TableKey&)> on_change_;
  engine::ExternalRowsListener external_;
  std::function<void()> on_work_due_;
  mutable std::mutex mutex_;
  std::map<TableKey, std::shared_ptr<Mirror>> mirrors_;
  std::chrono::steady_clock::time_point next_eviction_{};
  std::mutex schema_mutex_;
  std::set<std::string> schemas_;  // GUARDED_BY(schema_mutex_): created in the cache
  std::atomic<bool> stopping_{false};
};

// Microseconds since the epoch as a SQL timestamp literal in UTC ('2026-11-25 10:00:00.000000').
std::string TimestampLiteral(int64_t epoch_us);
int64_t NowMicros();

}  // namespace hyprstream::cache
