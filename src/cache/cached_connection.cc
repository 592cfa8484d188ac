#include "cache/cached_connection.h"

#include <arrow/util/key_value_metadata.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <ctime>
#include <deque>
#include <thread>

#include "cache/cached_statement.h"
#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "engine/statement_kind.h"
#include "engine/transaction_control_statement.h"
#include "sql/sql_script.h"

namespace hyprstream::cache {
namespace {

// Appends an ingest's batches to the mirror on a thread of its own, inside the cache
// connection's open transaction, while the backend takes the same batches: the two writes
// overlap instead of adding up. Push blocks while kMaxQueued batches wait. The first append
// creates/replaces the mirror table, even when no batch comes. A cache failure stops the
// copying (the backend still gets every batch); Finish reports it.
class MirrorAppender {
 public:
  static constexpr size_t kMaxQueued = 8;

  MirrorAppender(engine::EngineConnection* cache, std::shared_ptr<arrow::Schema> schema,
                 engine::IngestRequest first, engine::IngestRequest rest)
      : cache_(cache),
        schema_(std::move(schema)),
        first_(std::move(first)),
        rest_(std::move(rest)),
        worker_([this] { Run(); }) {}
  ~MirrorAppender() { (void)Finish(); }

  void Push(std::shared_ptr<arrow::RecordBatch> batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    space_.wait(lock, [this] { return queue_.size() < kMaxQueued || !failure_.ok(); });
    if (!failure_.ok()) return;  // the cache side already failed: stop copying
    queue_.push_back(std::move(batch));
    ready_.notify_one();
  }

  arrow::Status Finish() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_one();
    if (worker_.joinable()) worker_.join();
    return failure_;
  }

 private:
  void Run() {
    bool started = false;
    while (true) {
      std::shared_ptr<arrow::RecordBatch> batch;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !queue_.empty() || closed_; });
        if (queue_.empty() && started) return;
        if (!queue_.empty()) {
          batch = std::move(queue_.front());
          queue_.pop_front();
        }
      }
      space_.notify_one();
      arrow::RecordBatchVector batches;
      if (batch) batches.push_back(std::move(batch));
      arrow::Status status = [&]() -> arrow::Status {
        ARROW_ASSIGN_OR_RAISE(auto one, arrow::RecordBatchReader::Make(batches, schema_));
        return cache_->Ingest(started ? rest_ : first_, one.get()).status();
      }();
      started = true;
      if (!status.ok()) {
        std::lock_guard<std::mutex> lock(mutex_);
        failure_ = status;
        queue_.clear();
        space_.notify_all();
        return;
      }
    }
  }

  engine::EngineConnection* cache_;
  std::shared_ptr<arrow::Schema> schema_;
  engine::IngestRequest first_, rest_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<std::shared_ptr<arrow::RecordBatch>> queue_;
  bool closed_ = false;
  arrow::Status failure_;
  std::thread worker_;  // last: starts once everything above exists
};

// Hands every batch the backend reads from `source` to the mirror appender as well.
// Passes batches through and keeps them.
class KeepingReader : public arrow::RecordBatchReader {
 public:
  explicit KeepingReader(arrow::RecordBatchReader* source) : source_(source) {}
  std::shared_ptr<arrow::Schema> schema() const override { return source_->schema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* out) override {
    ARROW_RETURN_NOT_OK(source_->ReadNext(out));
    if (*out) kept_.push_back(*out);
    return arrow::Status::OK();
  }
  arrow::RecordBatchVector Take() { return std::move(kept_); }

 private:
  arrow::RecordBatchReader* source_;
  arrow::RecordBatchVector kept_;
};

class TeeReader : public arrow::RecordBatchReader {
 public:
  TeeReader(arrow::RecordBatchReader* source, MirrorAppender* mirror)
      : source_(source), mirror_(mirror) {}
  std::shared_ptr<arrow::Schema> schema() const override { return source_->schema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* out) override {
    ARROW_RETURN_NOT_OK(source_->ReadNext(out));
    if (*out) mirror_->Push(*out);
    return arrow::Status::OK();
  }

 private:
  arrow::RecordBatchReader* source_;
  MirrorAppender* mirror_;
};

// The first timestamp column of an ingested table: what its mirror evicts by.
std::string TimeColumnOf(const arrow::Schema& schema) {
  for (const auto& field : schema.fields()) {
    if (field->type()->id() == arrow::Type::TIMESTAMP) return field->name();
  }
  return "";
}

// USE x, SET schema/search_path = ...: unqualified names change meaning.
bool ChangesNamespace(const sql::Script& script) {
  for (const auto& statement : script.statements) {
    if (statement.keyword == "USE") return true;
    if (statement.keyword != "SET") continue;
    std::string lower(statement.text().substr(0, 200));
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("schema") != std::string::npos ||
        lower.find("search_path") != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

TableKey IngestTarget(const engine::IngestRequest& request, const std::string& default_schema) {
  auto lower = [](std::string text) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  TableKey key{request.schema ? lower(*request.schema) : "", lower(request.table)};
  if (key.schema == lower(default_schema)) key.schema.clear();
  if (request.catalog) {
    key.schema = lower(*request.catalog) + "." + (key.schema.empty() ? default_schema : key.schema);
  }
  return key;
}

CachedConnection::CachedConnection(std::shared_ptr<CacheCore> core,
                                   std::shared_ptr<engine::EngineConnection> backend,
                                   std::shared_ptr<engine::EngineConnection> cache)
    : ForwardingConnection(std::move(backend)), core_(std::move(core)), cache_(std::move(cache)) {}

arrow::Result<std::unique_ptr<engine::EngineStatement>> CachedConnection::Prepare(
    const std::string& sql) {
  const auto script = sql::Analyze(sql);
  if (auto control = engine::TransactionControlStatement::ControlOf(*script);
      control != sql::StatementKind::kOther) {
    // Commit() and Rollback() here release the mirrors the transaction wrote and apply its
    // stashed rows; SQL COMMIT must do the same.
    return std::make_unique<engine::TransactionControlStatement>(shared_from_this(), control);
  }
  if (ChangesNamespace(*script)) {
    std::lock_guard<std::mutex> lock(mutex_);
    namespace_changed_ = true;
  }
  ReadFootprint footprint;
  bool on_cache = false;
  if (!InTransaction() && !namespace_changed() &&
      engine::StatementKindOf(*script) == engine::StatementKind::kQuery) {
    footprint = AnalyzeRead(sql, core_->backend_default_schema);
    if (footprint.parsed && !footprint.tables.empty()) {
      // A kept result answers at once: no preparation anywhere.
      if (auto schema = core_->results.SchemaOf(sql)) {
        return CachedStatement::Make(shared_from_this(), sql, std::move(footprint), false,
                                     std::move(schema));
      }
    }
    if (footprint.parsed) {
      on_cache = (footprint.cache_functions && footprint.tables.empty()) ||
                 core_->mirrors.TryRead(footprint, max_staleness(), *cache_).has_value();
    }
  }
  return CachedStatement::Make(shared_from_this(), sql, std::move(footprint), on_cache, nullptr);
}

bool CachedConnection::namespace_changed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return namespace_changed_;
}

arrow::Status CachedConnection::SetCurrentCatalog(const std::string& catalog) {
  ARROW_RETURN_NOT_OK(target().SetCurrentCatalog(catalog));
  std::lock_guard<std::mutex> lock(mutex_);
  namespace_changed_ = true;
  return arrow::Status::OK();
}

arrow::Status CachedConnection::SetCurrentSchema(const std::string& schema) {
  ARROW_RETURN_NOT_OK(target().SetCurrentSchema(schema));
  std::lock_guard<std::mutex> lock(mutex_);
  namespace_changed_ = true;
  return arrow::Status::OK();
}

std::optional<std::chrono::milliseconds> CachedConnection::max_staleness() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return max_staleness_;
}

arrow::Status CachedConnection::SetMaxStaleness(
    std::optional<std::chrono::milliseconds> max_staleness) {
  if (max_staleness && max_staleness->count() < 0) {
    return arrow::Status::Invalid("max_staleness must not be negative");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  max_staleness_ = max_staleness;
  return arrow::Status::OK();
}

void CachedConnection::BeginWrite(const std::optional<std::vector<TableKey>>& tables) {
  core_->mirrors.BeginWrite(tables);
  if (tables) {
    core_->results.Invalidate(*tables);
  } else {
    core_->results.InvalidateAll();
  }
  if (!InTransaction()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!tables) {
    transaction_wrote_all_ = true;
  } else {
    transaction_writes_.insert(transaction_writes_.end(), tables->begin(), tables->end());
  }
}

void CachedConnection::EndWrite(const std::optional<std::vector<TableKey>>& tables) {
  // In a transaction the tables stay out of the cache until it ends (FinishTransactionWrites
  // releases them); BeginWrite counted them once, EndWrite must not release them early.
  if (InTransaction()) return;
  core_->mirrors.EndWrite(tables);
  if (tables) {
    core_->results.Invalidate(*tables);
  } else {
    core_->results.InvalidateAll();
  }
}

void CachedConnection::FinishTransactionWrites() {
  std::vector<TableKey> tables;
  bool all = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tables.swap(transaction_writes_);
    all = transaction_wrote_all_;
    transaction_wrote_all_ = false;
  }
  if (all) {
    // BeginWrite(nullopt) counted every mirror once; release those, then the named ones.
    core_->mirrors.EndWrite(std::nullopt);
    core_->results.InvalidateAll();
  }
  if (!tables.empty()) {
    core_->mirrors.EndWrite(tables);
    core_->results.Invalidate(tables);
  }
}

void CachedConnection::StashForCommit(const TableKey& table, arrow::RecordBatchVector rows) {
  StopFollowing();  // (rows the DELETE's check would not expect)
  std::lock_guard<std::mutex> lock(mutex_);
  auto& stash = stashed_[table];
  for (auto& batch : rows) {
    if (batch->num_rows() > 0) stash.push_back(std::move(batch));
  }
}

void CachedConnection::ApplyToMirror(const std::shared_ptr<Mirror>& mirror,
                                     const arrow::RecordBatchVector& rows) {
  MirrorSet::KeepForLoad(*mirror, rows);  // (a load in flight replaces this table)
  int64_t count = 0;
  for (const auto& batch : rows) count += batch->num_rows();
  core_->results.Invalidate({mirror->key});
  if (count == 0) return;
  engine::IngestRequest request;
  request.table = mirror->key.table;
  if (!mirror->key.schema.empty()) request.schema = mirror->key.schema;
  request.if_not_exists = engine::IngestRequest::IfNotExists::kFail;
  request.if_exists = engine::IngestRequest::IfExists::kAppend;
  auto applied = [&]() -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto reader, arrow::RecordBatchReader::Make(rows, rows[0]->schema()));
    return cache_->Ingest(request, reader.get()).status();
  }();
  if (!applied.ok()) {
    core_->counters.write_through_failures++;
    core_->mirrors.Invalidate(mirror, "write-through failed: " + applied.message());
  } else {
    core_->mirrors.Wrote(mirror, count);
  }
  core_->results.Invalidate({mirror->key});
}

arrow::Result<std::shared_ptr<engine::EngineConnection>> CachedConnection::BeginSharingSnapshot(
    const TableKey& table) {
  if (InTransaction()) return arrow::Status::Invalid("a transaction is already open");
  if (auto mirror = core_->mirrors.Find(table)) {
    ARROW_ASSIGN_OR_RAISE(followed_, FollowedDelete::Begin(core_, mirror, target(), *cache_));
    if (followed_) return followed_->before();
  }
  return core_->backend->BeginSharingSnapshot(target(), table.schema, table.table);
}

arrow::Result<bool> CachedConnection::BeginFollowedDelete(const TableKey& table) {
  if (InTransaction()) return false;
  auto mirror = core_->mirrors.Find(table);
  if (!mirror) return false;
  ARROW_ASSIGN_OR_RAISE(followed_, FollowedDelete::Begin(core_, mirror, target(), *cache_));
  return followed_ != nullptr;
}

bool CachedConnection::FollowsWrite(const std::string& sql,
                                    const std::optional<std::vector<TableKey>>& written) {
  if (!followed_) return false;
  if (!followed_->deleted() &&
      DeletesOnlyFrom(sql, core_->backend_default_schema) == followed_->table()) {
    followed_->Deleted();
    return true;
  }
  if (written && written->empty()) return false;  // (changes nothing)
  StopFollowing();
  return false;
}

void CachedConnection::StopFollowing() {
  if (!followed_) return;
  followed_->Rollback(*cache_);
  const TableKey table = followed_->table();
  followed_.reset();
  BeginWrite(std::vector<TableKey>{table});  // released at the transaction's end: reloaded
}

arrow::Status CachedConnection::Commit() {
  if (auto followed = std::move(followed_)) {
    if (followed->deleted()) {
      arrow::Status status = followed->Commit(target(), *cache_);
      FinishTransactionWrites();
      return status;
    }
    followed->Rollback(*cache_);
  }
  std::map<TableKey, arrow::RecordBatchVector> stashed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stashed.swap(stashed_);
  }
  if (stashed.empty()) {
    arrow::Status status = target().Commit();
    FinishTransactionWrites();
    return status;
  }
  const bool alive = engine::TransactionCanCommit(target());
  // The mirrors' write locks, in key order, from before the backend commits until its rows are
  // in the mirror: a refresh cannot copy them from the backend in between.
  std::vector<std::shared_ptr<Mirror>> mirrors;
  std::vector<std::unique_lock<std::mutex>> locks;
  for (const auto& [key, rows] : stashed) {
    auto mirror = core_->mirrors.Find(key);
    if (!mirror) continue;
    locks.emplace_back(mirror->write);
    mirrors.push_back(std::move(mirror));
  }
  arrow::Status status = target().Commit();
  if (status.ok() && alive) {
    for (const auto& mirror : mirrors) {
      if (core_->mirrors.IsReady(*mirror)) {
        ApplyToMirror(mirror, stashed[mirror->key]);
      } else {
        // Given to a load copying the table; otherwise the next load's copy has them (it
        // begins under the lock held here).
        MirrorSet::KeepForLoad(*mirror, stashed[mirror->key]);
      }
    }
    // Results kept from the backend while a mirror was not ready lack the committed rows.
    for (const auto& [key, rows] : stashed) core_->results.Invalidate({key});
  }
  locks.clear();
  FinishTransactionWrites();
  return status;
}

arrow::Status CachedConnection::Rollback() {
  if (auto followed = std::move(followed_)) followed->Rollback(*cache_);
  arrow::Status status = target().Rollback();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stashed_.clear();
  }
  FinishTransactionWrites();
  return status;
}

void CachedConnection::Interrupt() {
  target().Interrupt();
  cache_->Interrupt();
}

std::optional<double> CachedConnection::QueryProgress() const {
  auto progress = target().QueryProgress();
  return progress ? progress : cache_->QueryProgress();
}

arrow::Result<bool> CachedConnection::BackendHasTable(const TableKey& key) {
  auto probe = engine::QueryTable(target(), "SELECT * FROM " + key.Quoted() + " WHERE 1 = 0");
  if (probe.ok()) return true;
  if (probe.status().IsKeyError()) return false;
  return probe.status();
}

arrow::Result<int64_t> CachedConnection::Ingest(const engine::IngestRequest& request,
                                                arrow::RecordBatchReader* batches) {
  TableKey key = IngestTarget(request, core_->backend_default_schema);
  std::shared_ptr<Mirror> mirror = request.temporary ? nullptr : core_->mirrors.Find(key);
  bool creating = false;
  if (!mirror && !request.temporary && !InTransaction() && core_->options.mirror_ingested_tables) {
    ARROW_ASSIGN_OR_RAISE(bool exists, BackendHasTable(key));
    if (!exists && request.if_not_exists == engine::IngestRequest::IfNotExists::kCreate) {
      MirrorOptions options;
      options.table = key.ToString();
      options.time_column = TimeColumnOf(*batches->schema());
      creating = true;
      mirror = core_->mirrors.Add(options, /*configured=*/false, /*load=*/false);
    } else if (exists) {
      MirrorOptions options;
      options.table = key.ToString();
      options.time_column = TimeColumnOf(*batches->schema());
      mirror = core_->mirrors.Add(options, /*configured=*/false, /*load=*/true);  // loaded later
    }
  }
  std::vector<TableKey> tables{key};
  if (InTransaction()) StopFollowing();  // (rows the DELETE's check would not expect)
  if (mirror && !InTransaction()) {
    std::unique_lock<std::mutex> write(mirror->write);
    if (creating || core_->mirrors.IsReady(*mirror)) {
      return IngestThrough(request, batches, mirror, creating);
    }
    return IngestWhileNotReady(request, batches, *mirror);
  }
  if (mirror && InTransaction() && request.if_exists != engine::IngestRequest::IfExists::kReplace) {
    // Kept for the commit: the mirror (or a load copying the table then) takes exactly these
    // rows; a mirror neither ready nor loading then gets them from its next load.
    KeepingReader keeping(batches);
    auto rows = target().Ingest(request, &keeping);
    if (rows.ok()) {
      core_->counters.rows_written_through += *rows;
      StashForCommit(key, keeping.Take());
    }
    return rows;
  }
  return IngestAround(request, batches, tables);
}

arrow::Result<int64_t> CachedConnection::IngestAround(const engine::IngestRequest& request,
                                                      arrow::RecordBatchReader* batches,
                                                      const std::vector<TableKey>& tables) {
  BeginWrite(tables);
  auto rows = target().Ingest(request, batches);
  EndWrite(tables);
  if (rows.ok()) core_->counters.rows_written_through += *rows;
  return rows;
}

arrow::Result<int64_t> CachedConnection::IngestWhileNotReady(const engine::IngestRequest& request,
                                                             arrow::RecordBatchReader* batches,
                                                             Mirror& mirror) {
  core_->results.Invalidate({mirror.key});
  KeepingReader keeping(batches);
  auto rows = target().Ingest(request, &keeping);
  GiveToLoad(mirror, request, rows.ok(), keeping.Take());
  if (rows.ok()) core_->counters.rows_written_through += *rows;
  core_->results.Invalidate({mirror.key});
  return rows;
}

void CachedConnection::GiveToLoad(Mirror& mirror, const engine::IngestRequest& request, bool stored,
                                  const arrow::RecordBatchVector& rows) {
  if (stored && request.if_exists != engine::IngestRequest::IfExists::kReplace) {
    MirrorSet::KeepForLoad(mirror, rows);
  } else {
    MirrorSet::LoadMissedWrite(mirror);  // what the backend holds now is not known here
  }
}

arrow::Result<int64_t> CachedConnection::IngestThrough(const engine::IngestRequest& request,
                                                       arrow::RecordBatchReader* batches,
                                                       std::shared_ptr<Mirror> mirror,
                                                       bool creating) {
  const TableKey& key = mirror->key;
  core_->results.Invalidate({key});
  engine::IngestRequest first;
  first.table = key.table;
  if (!key.schema.empty()) first.schema = key.schema;
  engine::IngestRequest rest = first;
  rest.if_not_exists = engine::IngestRequest::IfNotExists::kFail;
  rest.if_exists = engine::IngestRequest::IfExists::kAppend;
  // Only a new table creates its mirror: a mirror gone missing must not come back with just
  // these rows.
  first.if_not_exists = creating ? engine::IngestRequest::IfNotExists::kCreate
                                 : engine::IngestRequest::IfNotExists::kFail;
  bool replacing = creating || request.if_exists == engine::IngestRequest::IfExists::kReplace;
  first.if_exists = replacing ? engine::IngestRequest::IfExists::kReplace
                              : engine::IngestRequest::IfExists::kAppend;
  ARROW_RETURN_NOT_OK(core_->mirrors.EnsureSchema(*cache_, key));
  ARROW_RETURN_NOT_OK(cache_->BeginTransaction());
  // A load in flight (refresh mode reload) gets the rows too: it replaces this table.
  std::optional<KeepingReader> for_load;
  if (MirrorSet::LoadInFlight(*mirror)) batches = &for_load.emplace(batches);
  MirrorAppender mirror_appender(cache_.get(), batches->schema(), first, rest);
  TeeReader tee(batches, &mirror_appender);
  // 1. The backend commits (or fails: then the cache keeps nothing of it).
  auto rows = target().Ingest(request, &tee);
  arrow::Status cached = mirror_appender.Finish();
  if (for_load) GiveToLoad(*mirror, request, rows.ok(), for_load->Take());
  if (!rows.ok()) {
    (void)cache_->Rollback();
    if (creating) core_->mirrors.Remove(key);
    return rows.status();
  }
  core_->counters.rows_written_through += *rows;
  // 2. The cache follows; if it cannot, it forgets the table until reloaded from the backend.
  if (cached.ok()) cached = cache_->Commit();
  if (!cached.ok()) {
    (void)cache_->Rollback();
    core_->counters.write_through_failures++;
    core_->mirrors.Invalidate(mirror, "write-through failed: " + cached.message());
    core_->results.Invalidate({key});
    return rows;
  }
  if (replacing) {
    core_->mirrors.MarkReady(mirror, std::nullopt, std::chrono::system_clock::now(), *rows);
  } else {
    core_->mirrors.Wrote(mirror, *rows);
  }
  core_->results.Invalidate({key});
  return rows;
}

}  // namespace hyprstream::cache
