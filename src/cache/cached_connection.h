// CachedConnection / CachedStatement: one session of the cached engine. Reads are answered
// from the cache DuckDB when the mirrors cover them (cache_router below), else from the result
// cache, else by the backend (and the result may be kept). Writes go to the backend first;
// ingests are then applied to the mirror in the same order (write-through, see docs/cache.md).
//
// Every query result carries its provenance as schema metadata:
//   hyprstream.cache   hit | miss | bypass
//   hyprstream.source  cache | result-cache | backend
//   hyprstream.as_of   when the data was last known equal to the backend (UTC, ISO 8601)
// A forwarding connection over the backend's session: every call it does not override
// (metadata, statement types, ...) goes to the backend.
// Threading: like every EngineConnection, calls are serialised by the two inner connections;
// the session's own fields are guarded by mutex_.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cache/cache_core.h"
#include "cache/followed_delete.h"
#include "engine/forwarding_engine.h"
#include "engine/result_provenance.h"

namespace hyprstream::cache {

class CachedConnection : public engine::ForwardingConnection,
                         public std::enable_shared_from_this<CachedConnection> {
 public:
  CachedConnection(std::shared_ptr<CacheCore> core,
                   std::shared_ptr<engine::EngineConnection> backend,
                   std::shared_ptr<engine::EngineConnection> cache);

  arrow::Result<std::unique_ptr<engine::EngineStatement>> Prepare(const std::string& sql) override;
  arrow::Result<int64_t> Ingest(const engine::IngestRequest& request,
                                arrow::RecordBatchReader* batches) override;
  arrow::Status Commit() override;
  arrow::Status Rollback() override;
  void Interrupt() override;
  std::optional<double> QueryProgress() const override;
  arrow::Status SetMaxStaleness(std::optional<std::chrono::milliseconds> max_staleness) override;
  // The session namespace is the backend's; a change sends later reads there.
  arrow::Status SetCurrentCatalog(const std::string& catalog) override;
  arrow::Status SetCurrentSchema(const std::string& schema) override;

  // For CachedStatement.
  CacheCore& core() { return *core_; }
  engine::EngineConnection& backend() { return target(); }
  engine::EngineConnection& cache() { return *cache_; }
  std::optional<std::chrono::milliseconds> max_staleness() const override;
  // True once the session moved to another catalog or schema: unqualified names then mean
  // something the mirrors do not know, so its reads go to the backend.
  bool namespace_changed() const;
  // A write this session sends to the backend: the tables stop answering from the cache until
  // reloaded (after the transaction, if one is open). nullopt: any table.
  void BeginWrite(const std::optional<std::vector<TableKey>>& tables);
  void EndWrite(const std::optional<std::vector<TableKey>>& tables);
  // Rows appended to mirrored `table` (exactly as stored: ingested rows, INSERT ... RETURNING *
  // rows) by the open transaction: they enter the mirror when it commits, instead of the
  // mirror being reloaded after it.
  void StashForCommit(const TableKey& table, arrow::RecordBatchVector rows);
  // Appends `rows` (as stored in the backend) to `mirror`, and to a load in flight; the caller
  // holds mirror->write and the backend has committed them. A mirror that cannot follow is
  // reloaded.
  void ApplyToMirror(const std::shared_ptr<Mirror>& mirror, const arrow::RecordBatchVector& rows);

  // Engine::BeginSharingSnapshot on this session (in no transaction): the backend's
  // transaction and its pinned reader, and where `table`'s mirror can follow a DELETE run in
  // the transaction, the mirror's transaction too (FollowedDelete, committed by Commit).
  arrow::Result<std::shared_ptr<engine::EngineConnection>> BeginSharingSnapshot(
      const TableKey& table);
  // The same for a DELETE run on its own (CachedStatement): false, and no transaction begun,
  // where the mirror cannot follow it.
  arrow::Result<bool> BeginFollowedDelete(const TableKey& table);
  // A write `sql` (writing `written`) about to run in the open transaction: true when it is
  // the DELETE the mirror follows (then it runs without BeginWrite). Any other write ends the
  // following: the mirror is written around as usual.
  bool FollowsWrite(const std::string& sql, const std::optional<std::vector<TableKey>>& written);

 private:
  arrow::Result<bool> BackendHasTable(const TableKey& key);
  arrow::Result<int64_t> IngestThrough(const engine::IngestRequest& request,
                                       arrow::RecordBatchReader* batches,
                                       std::shared_ptr<Mirror> mirror, bool creating);
  // Into a mirrored table whose mirror is not ready; caller holds mirror.write. The backend
  // takes the rows under that lock, so the next load's copy has them, and a load copying the
  // table now is given them.
  arrow::Result<int64_t> IngestWhileNotReady(const engine::IngestRequest& request,
                                             arrow::RecordBatchReader* batches, Mirror& mirror);
  // After the backend ran `request` (`stored`: it succeeded) while a load copies `mirror`.
  void GiveToLoad(Mirror& mirror, const engine::IngestRequest& request, bool stored,
                  const arrow::RecordBatchVector& rows);
  // The backend takes the rows and the mirrors of `tables` are reloaded after.
  arrow::Result<int64_t> IngestAround(const engine::IngestRequest& request,
                                      arrow::RecordBatchReader* batches,
                                      const std::vector<TableKey>& tables);
  void FinishTransactionWrites();
  // The transaction writes something else than the DELETE its mirror follows.
  void StopFollowing();

  std::shared_ptr<CacheCore> core_;
  std::shared_ptr<engine::EngineConnection> cache_;

  mutable std::mutex mutex_;
  std::optional<std::chrono::milliseconds> max_staleness_;
  bool namespace_changed_ = false;
  // Writes of the open transaction, released at commit/rollback. all_written_: unknown tables.
  std::vector<TableKey> transaction_writes_;
  bool transaction_wrote_all_ = false;
  // Rows of the open transaction for mirrors, applied at commit (StashForCommit).
  std::map<TableKey, arrow::RecordBatchVector> stashed_;
  // The DELETE a mirror follows in the open transaction (BeginSharingSnapshot). Touched only
  // by the session's serialised calls.
  std::unique_ptr<FollowedDelete> followed_;
};

// The mirror name of an ingest's target table.
TableKey IngestTarget(const engine::IngestRequest& request, const std::string& default_schema);

using engine::WithProvenance;

}  // namespace hyprstream::cache
