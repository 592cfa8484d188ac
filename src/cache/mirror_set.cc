#include "cache/mirror_set.h"

#include "engine/result_provenance.h"

#include <arrow/util/async_generator.h>
#include <arrow/util/iterator.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "engine/internal_tables.h"

namespace hyprstream::cache {
namespace {

using Clock = std::chrono::system_clock;
using Steady = std::chrono::steady_clock;

std::string TimeFilter(const std::string& column, const char* op, int64_t epoch_us) {
  return " WHERE " + engine::QuoteIdentifier(column) + " " + op + " " +
         engine::QuoteLiteral(TimestampLiteral(epoch_us));
}

// The cache-side ingest target for `key` with another table name.
engine::IngestRequest CacheTable(const TableKey& key, std::string table) {
  engine::IngestRequest request;
  request.table = std::move(table);
  if (!key.schema.empty()) {
    size_t dot = key.schema.find('.');
    if (dot == std::string::npos) {
      request.schema = key.schema;
    } else {
      request.catalog = key.schema.substr(0, dot);
      request.schema = key.schema.substr(dot + 1);
    }
  }
  return request;
}

}  // namespace

const char* MirrorStateName(MirrorState state) {
  switch (state) {
    case MirrorState::kLoading:
      return "loading";
    case MirrorState::kReady:
      return "ready";
    case MirrorState::kStale:
      return "stale";
    case MirrorState::kFailed:
      return "failed";
  }
  return "?";
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

std::string TimestampLiteral(int64_t epoch_us) { return engine::FormatTimestamp(epoch_us); }

MirrorSet::MirrorSet(CacheOptions options) : options_(std::move(options)) {}

arrow::Status MirrorSet::EnsureSchema(engine::EngineConnection& cache, const TableKey& key) {
  if (key.schema.empty() || key.schema.find('.') != std::string::npos) return arrow::Status::OK();
  // One at a time: DuckDB fails one of two concurrent CREATE SCHEMA IF NOT EXISTS of the same
  // name with a write-write conflict.
  std::lock_guard<std::mutex> lock(schema_mutex_);
  if (schemas_.count(key.schema) > 0) return arrow::Status::OK();
  ARROW_RETURN_NOT_OK(engine::ExecuteStatement(
      cache, "CREATE SCHEMA IF NOT EXISTS " + engine::QuoteIdentifier(key.schema)));
  schemas_.insert(key.schema);
  return arrow::Status::OK();
}

std::shared_ptr<Mirror> MirrorSet::Add(MirrorOptions options, bool configured, bool load) {
  TableKey key = TableKey::Parse(options.table);
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = mirrors_[key];
  if (!slot) {
    slot = std::make_shared<Mirror>();
    slot->key = key;
    std::transform(options.time_column.begin(), options.time_column.end(),
                   options.time_column.begin(), [](unsigned char c) { return std::tolower(c); });
    slot->options = std::move(options);
    if (!configured && engine::IsInternalTable(key.schema, key.table)) {
      // hyprstream's own tables (window histories): only hyprstream writes them, so the
      // writes through the cache keep the copy whole and nothing is left to refresh.
      slot->options.refresh = RefreshMode::kNone;
    }
    slot->configured = configured;
    slot->reload_wanted = load;
  }
  return slot;
}

std::shared_ptr<Mirror> MirrorSet::Find(const TableKey& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = mirrors_.find(key);
  return it == mirrors_.end() ? nullptr : it->second;
}

bool MirrorSet::IsReady(const Mirror& mirror) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return mirror.state == MirrorState::kReady && mirror.writers == 0;
}

void MirrorSet::Remove(const TableKey& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  mirrors_.erase(key);
}

std::optional<ReadLease> MirrorSet::TryRead(const ReadFootprint& footprint,
                                            std::optional<std::chrono::milliseconds> max_staleness,
                                            engine::EngineConnection& duckdb) {
  if (!footprint.parsed || footprint.tables.empty() || footprint.foreign_functions) {
    return std::nullopt;
  }
  std::vector<std::shared_ptr<Mirror>> mirrors;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& key : footprint.tables) {
      auto it = mirrors_.find(key);
      if (it == mirrors_.end() || it->second->state != MirrorState::kReady) return std::nullopt;
      mirrors.push_back(it->second);
    }
  }
  std::sort(mirrors.begin(), mirrors.end(),
            [](const auto& a, const auto& b) { return a->key < b->key; });
  ReadLease lease;
  for (const auto& m : mirrors) lease.locks_.emplace_back(m->content);

  // Horizons only move under the exclusive content lock, so they are stable now.
  for (const auto& m : mirrors) {
    std::optional<int64_t> horizon;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      horizon = m->horizon_us;
    }
    if (!horizon) continue;
    const auto& top = footprint.top_level_tables;
    if (std::find(top.begin(), top.end(), m->key) == top.end()) return std::nullopt;
    bool covered = false;
    for (const auto& bound : footprint.lower_bounds) {
      if (!(bound.table == m->key) || bound.column != m->options.time_column) continue;
      auto value = EvaluateBound(duckdb, bound);
      if (value.ok() && *value >= *horizon) {
        covered = true;
        break;
      }
    }
    if (!covered) return std::nullopt;
  }

  auto now = Clock::now();
  lease.as_of = now;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& m : mirrors) {
    if (m->state != MirrorState::kReady || m->writers > 0) return std::nullopt;
    auto as_of = m->options.refresh == RefreshMode::kNone ? now : m->refreshed_at;
    if (max_staleness && now - as_of > *max_staleness) return std::nullopt;
    lease.as_of = std::min(lease.as_of, as_of);
  }
  return lease;
}

void MirrorSet::BeginWrite(const std::optional<std::vector<TableKey>>& tables) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto touch = [](Mirror& m) {
    ++m.writers;
    m.reload_wanted = true;
    if (m.state == MirrorState::kReady) m.state = MirrorState::kStale;
  };
  if (!tables) {
    for (auto& [_, m] : mirrors_) touch(*m);
    return;
  }
  for (const auto& key : *tables) {
    if (auto it = mirrors_.find(key); it != mirrors_.end()) touch(*it->second);
  }
}

void MirrorSet::EndWrite(const std::optional<std::vector<TableKey>>& tables) {
  bool due = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto release = [&](Mirror& m) {
      if (m.writers > 0) --m.writers;
      m.reload_wanted = true;
      m.next_refresh = Steady::now();
      due = due || m.writers == 0;
    };
    if (!tables) {
      for (auto& [_, m] : mirrors_) release(*m);
    } else {
      for (const auto& key : *tables) {
        if (auto it = mirrors_.find(key); it != mirrors_.end()) release(*it->second);
      }
    }
  }
  if (due && on_work_due_) on_work_due_();
}

void MirrorSet::Invalidate(const std::shared_ptr<Mirror>& mirror, const std::string& why) {
  spdlog::warn("cache of {} invalidated ({}); reads go to the backend until it is reloaded",
               mirror->key.ToString(), why);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    mirror->state = MirrorState::kStale;
    mirror->reload_wanted = true;
    mirror->next_refresh = Steady::now();  // reload at once
    mirror->last_error = why;
  }
  if (on_work_due_) on_work_due_();
}

void MirrorSet::Wrote(const std::shared_ptr<Mirror>& mirror, int64_t rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  mirror->rows += rows;
}

void MirrorSet::Deleted(const std::shared_ptr<Mirror>& mirror, int64_t rows) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    mirror->rows -= rows;
    ++mirror->deletes_followed;
  }
  Changed(mirror->key);
}

void MirrorSet::MarkReady(const std::shared_ptr<Mirror>& mirror, std::optional<int64_t> horizon_us,
                          std::chrono::system_clock::time_point as_of, int64_t rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  mirror->horizon_us = horizon_us;
  mirror->refreshed_at = as_of;
  mirror->rows = rows;
  ++mirror->generation;
  mirror->last_error.clear();
  if (!mirror->reload_wanted && mirror->writers == 0) {
    mirror->state = MirrorState::kReady;
    mirror->next_refresh = Steady::now() + RefreshInterval(*mirror);
  } else {
    // A write began while loading: what was loaded may miss it. Load again as soon as no write
    // is open (EndWrite asked for "at once"; waiting a refresh interval here left the table to
    // the backend for that long — test_sql_transactions_write_through_at_commit's flake).
    mirror->state = MirrorState::kStale;
    mirror->next_refresh = Steady::now();
  }
}

std::chrono::milliseconds MirrorSet::RefreshInterval(const Mirror& mirror) const {
  return mirror.options.refresh_interval.count() > 0 ? mirror.options.refresh_interval
                                                     : options_.refresh_interval;
}

arrow::Result<bool> MirrorSet::MakeReady(Mirror& mirror, engine::EngineConnection& backend,
                                         engine::EngineConnection& cache) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (mirror.writers > 0) return false;
    if (mirror.state == MirrorState::kReady) return true;
    if (LoadInFlight(mirror)) return false;  // the load in flight reports when it is done
    mirror.state = MirrorState::kLoading;
    mirror.reload_wanted = false;
  }
  arrow::Status loaded = LoadHeld(mirror, backend, cache);
  if (!loaded.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    mirror.state = MirrorState::kFailed;
    mirror.reload_wanted = true;
    mirror.last_error = loaded.message();
    return loaded;
  }
  return ReadyGeneration(mirror).has_value();
}

std::optional<int64_t> MirrorSet::ReadyGeneration(const Mirror& mirror) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (mirror.state != MirrorState::kReady || mirror.writers > 0) return std::nullopt;
  return mirror.generation;
}

// The backend's rows of a mirror, the first batch already read: the backend's statement has
// begun, so the rows are those of one snapshot taken by now. Gives up (Cancelled) once
// `stopping` is set.
class FirstBatchRead : public arrow::RecordBatchReader {
 public:
  FirstBatchRead(std::shared_ptr<engine::EngineConnection> pinned,
                 std::unique_ptr<engine::EngineStatement> statement,
                 std::shared_ptr<arrow::RecordBatchReader> rows,
                 std::shared_ptr<arrow::RecordBatch> first, const std::atomic<bool>* stopping)
      : pinned_(std::move(pinned)),
        statement_(std::move(statement)),
        rows_(std::move(rows)),
        first_(std::move(first)),
        stopping_(stopping) {}
  std::shared_ptr<arrow::Schema> schema() const override { return rows_->schema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* out) override {
    if (stopping_->load()) return arrow::Status::Cancelled("the cache is closing");
    if (first_) {
      *out = std::move(first_);
      return arrow::Status::OK();
    }
    return rows_->ReadNext(out);
  }

 private:
  std::shared_ptr<engine::EngineConnection> pinned_;  // the snapshot read from, if any (last out)
  std::unique_ptr<engine::EngineStatement> statement_;
  std::shared_ptr<arrow::RecordBatchReader> rows_;
  std::shared_ptr<arrow::RecordBatch> first_;
  const std::atomic<bool>* stopping_;
};

struct MirrorSet::BackendRows {
  std::optional<int64_t> horizon_us;
  std::unique_ptr<FirstBatchRead> reader;
};

void MirrorSet::KeepForLoad(Mirror& mirror, const arrow::RecordBatchVector& rows) {
  if (!mirror.catch_up) return;
  for (const auto& batch : rows) {
    if (batch->num_rows() > 0) mirror.catch_up->rows.push_back(batch);
  }
}

void MirrorSet::LoadMissedWrite(Mirror& mirror) {
  if (mirror.catch_up) mirror.catch_up->missed = true;
}

arrow::Result<MirrorSet::BackendRows> MirrorSet::ReadBackend(
    Mirror& mirror, engine::EngineConnection& backend,
    std::shared_ptr<engine::EngineConnection> pinned) {
  BackendRows out;
  std::string sql = "SELECT * FROM " + mirror.key.Quoted();
  if (options_.max_duration.count() > 0 && !mirror.options.time_column.empty()) {
    out.horizon_us = NowMicros() - options_.max_duration.count() * 1000;
    sql += TimeFilter(mirror.options.time_column, ">=", *out.horizon_us);
  }
  ARROW_ASSIGN_OR_RAISE(auto statement, (pinned ? *pinned : backend).Prepare(sql));
  ARROW_ASSIGN_OR_RAISE(auto rows, statement->ExecuteQuery());
  std::shared_ptr<arrow::RecordBatch> first;
  if (!pinned) ARROW_RETURN_NOT_OK(rows->ReadNext(&first));
  out.reader = std::make_unique<FirstBatchRead>(std::move(pinned), std::move(statement),
                                                std::move(rows), std::move(first), &stopping_);
  return out;
}

arrow::Result<int64_t> MirrorSet::Stage(Mirror& mirror, BackendRows& rows,
                                        engine::EngineConnection& cache) {
  ARROW_RETURN_NOT_OK(EnsureSchema(cache, mirror.key));
  auto staging = CacheTable(mirror.key, mirror.key.table + "__hyprstream_load");
  staging.if_exists = engine::IngestRequest::IfExists::kReplace;
  // The backend's next batches are read on a thread of their own while the cache appends.
  std::shared_ptr<arrow::RecordBatchReader> backend_rows = std::move(rows.reader);
  const auto schema = backend_rows->schema();
  ARROW_ASSIGN_OR_RAISE(auto ahead, arrow::MakeReadaheadIterator(
                                        arrow::MakeIteratorFromReader(std::move(backend_rows)), 2));
  ARROW_ASSIGN_OR_RAISE(auto reader,
                        arrow::RecordBatchReader::MakeFromIterator(std::move(ahead), schema));
  auto copied = cache.Ingest(staging, reader.get());
  reader.reset();  // ends the backend's read
  return copied;
}

arrow::Status MirrorSet::SwapIn(Mirror& mirror, engine::EngineConnection& cache,
                                std::optional<int64_t> horizon_us, Clock::time_point started,
                                int64_t rows) {
  {
    std::unique_lock<std::shared_mutex> swap(mirror.content);
    ARROW_RETURN_NOT_OK(cache.BeginTransaction());
    arrow::Status swapped = [&]() -> arrow::Status {
      ARROW_RETURN_NOT_OK(
          engine::ExecuteStatement(cache, "DROP TABLE IF EXISTS " + mirror.key.Quoted()));
      TableKey staging_key{mirror.key.schema, mirror.key.table + "__hyprstream_load"};
      ARROW_RETURN_NOT_OK(
          engine::ExecuteStatement(cache, "ALTER TABLE " + staging_key.Quoted() + " RENAME TO " +
                                              engine::QuoteIdentifier(mirror.key.table)));
      return cache.Commit();
    }();
    if (!swapped.ok()) {
      (void)cache.Rollback();
      return swapped;
    }
  }
  Changed(mirror.key);
  std::shared_ptr<Mirror> self = Find(mirror.key);
  if (self) {
    MarkReady(self, horizon_us, started, rows);
    std::lock_guard<std::mutex> lock(mutex_);
    ++self->loads;
  }
  if (external_.loaded) external_.loaded(mirror.key.schema, mirror.key.table);
  spdlog::info("cache loaded {}: {} rows{}", mirror.key.ToString(), rows,
               horizon_us ? " since " + TimestampLiteral(*horizon_us) : std::string());
  return arrow::Status::OK();
}

arrow::Result<int64_t> MirrorSet::AppendToStaging(Mirror& mirror, engine::EngineConnection& cache,
                                                  const arrow::RecordBatchVector& rows) {
  auto staging = CacheTable(mirror.key, mirror.key.table + "__hyprstream_load");
  staging.if_not_exists = engine::IngestRequest::IfNotExists::kFail;
  staging.if_exists = engine::IngestRequest::IfExists::kAppend;
  int64_t appended = 0;
  // A run of batches at a time with one schema (writes may send the columns differently).
  for (size_t begin = 0; begin < rows.size();) {
    size_t end = begin + 1;
    while (end < rows.size() && rows[end]->schema()->Equals(*rows[begin]->schema())) ++end;
    arrow::RecordBatchVector run(rows.begin() + begin, rows.begin() + end);
    ARROW_ASSIGN_OR_RAISE(auto reader, arrow::RecordBatchReader::Make(run, run.front()->schema()));
    ARROW_ASSIGN_OR_RAISE(int64_t n, cache.Ingest(staging, reader.get()));
    appended += n;
    begin = end;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  mirror.rows_written_during_loads += appended;
  return appended;
}

arrow::Status MirrorSet::Load(Mirror& mirror, engine::EngineConnection& backend,
                              engine::EngineConnection& cache, bool reload_ready,
                              engine::Engine* backend_engine) {
  std::unique_lock<std::mutex> write(mirror.write);
  if (!reload_ready) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (mirror.state != MirrorState::kLoading) return arrow::Status::OK();  // loaded meanwhile
  }
  auto started = Clock::now();
  // Under the write lock no write is half done: every committed write is in the backend's
  // snapshot, fixed once its first rows are read (or pinned now, where the backend offers
  // that: then the read begins after the lock, which matters when PostgreSQL has to scan far
  // for a first row after the horizon); every later one is kept for this load.
  std::shared_ptr<engine::EngineConnection> pinned = PinBackend(mirror, backend_engine);
  std::optional<BackendRows> read;
  if (!pinned) {
    ARROW_ASSIGN_OR_RAISE(BackendRows first, ReadBackend(mirror, backend));
    read = std::move(first);
  }
  mirror.catch_up = std::make_unique<LoadCatchUp>();
  write.unlock();
  if (pinned) {
    auto begun = ReadBackend(mirror, backend, std::move(pinned));
    if (!begun.ok()) {
      write.lock();
      mirror.catch_up.reset();
      return begun.status();
    }
    read = std::move(*begun);
  }
  BackendRows rows = std::move(*read);
  const auto held_to_begin = Clock::now() - started;
  const std::optional<int64_t> horizon = rows.horizon_us;
  arrow::Result<int64_t> copied = Stage(mirror, rows, cache);
  // The rows written meanwhile, a round at a time while writes go on...
  for (int round = 0; copied.ok() && round < 8; ++round) {
    arrow::RecordBatchVector kept;
    write.lock();
    kept.swap(mirror.catch_up->rows);
    write.unlock();
    if (kept.empty()) break;
    auto appended = AppendToStaging(mirror, cache, kept);
    if (appended.ok()) {
      *copied += *appended;
    } else {
      copied = appended.status();
    }
  }
  // ...and the last ones as the copy is swapped in.
  write.lock();
  const auto swapping = Clock::now();
  std::unique_ptr<LoadCatchUp> catch_up = std::move(mirror.catch_up);
  ARROW_RETURN_NOT_OK(copied.status());
  ARROW_ASSIGN_OR_RAISE(int64_t appended, AppendToStaging(mirror, cache, catch_up->rows));
  if (catch_up->missed) {
    std::lock_guard<std::mutex> lock(mutex_);
    mirror.reload_wanted = true;  // MarkReady leaves it stale: loaded again at once
  }
  ARROW_RETURN_NOT_OK(SwapIn(mirror, cache, horizon, started, *copied + appended));
  using Ms = std::chrono::duration<double, std::milli>;
  spdlog::info("cache load of {} held its writes {:.1f} ms to begin and {:.1f} ms to swap in",
               mirror.key.ToString(), Ms(held_to_begin).count(),
               Ms(Clock::now() - swapping).count());
  return arrow::Status::OK();
}

arrow::Status MirrorSet::LoadHeld(Mirror& mirror, engine::EngineConnection& backend,
                                  engine::EngineConnection& cache) {
  auto started = Clock::now();
  ARROW_ASSIGN_OR_RAISE(BackendRows rows, ReadBackend(mirror, backend));
  const std::optional<int64_t> horizon = rows.horizon_us;
  ARROW_ASSIGN_OR_RAISE(int64_t copied, Stage(mirror, rows, cache));
  return SwapIn(mirror, cache, horizon, started, copied);
}

std::shared_ptr<engine::EngineConnection> MirrorSet::PinBackend(const Mirror& mirror,
                                                                engine::Engine* backend_engine) {
  if (backend_engine == nullptr || !backend_engine->reads_snapshots()) return nullptr;
  auto pinned = backend_engine->SnapshotConnection(mirror.key.schema, mirror.key.table);
  if (pinned.ok()) return *std::move(pinned);
  spdlog::debug("the cache of {} reads the backend while its writes wait: {}",
                mirror.key.ToString(), pinned.status().message());
  return nullptr;
}

arrow::Status MirrorSet::Refresh(Mirror& mirror, engine::EngineConnection& backend,
                                 engine::EngineConnection& cache, engine::Engine* backend_engine) {
  const std::string& column = mirror.options.time_column;
  std::unique_lock<std::mutex> write(mirror.write);
  auto started = Clock::now();
  ARROW_ASSIGN_OR_RAISE(
      auto newest,
      engine::QueryValue(cache, "SELECT coalesce(CAST(epoch_us(max(" +
                                    engine::QuoteIdentifier(column) +
                                    ")::TIMESTAMP) AS VARCHAR), '') FROM " + mirror.key.Quoted()));
  std::string sql = "SELECT * FROM " + mirror.key.Quoted();
  if (!newest.empty()) {
    sql += TimeFilter(column, ">", std::stoll(newest));
  } else {
    std::lock_guard<std::mutex> lock(mutex_);
    if (mirror.horizon_us) sql += TimeFilter(column, ">=", *mirror.horizon_us);
  }
  // The backend is read as of a snapshot pinned now, where it offers one, while writes through
  // hyprstream go on: each holds mirror.write until its committed rows are in the copy, so
  // those committed before the snapshot are in the copy and later ones add their own rows.
  // (Without an index on the time column the read scans the whole backend table.)
  std::shared_ptr<engine::EngineConnection> pinned = PinBackend(mirror, backend_engine);
  int64_t generation = 0, deletes_followed = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation = mirror.generation;
    deletes_followed = mirror.deletes_followed;
  }
  if (pinned) write.unlock();
  auto read = [&]() -> arrow::Result<arrow::RecordBatchVector> {
    ARROW_ASSIGN_OR_RAISE(auto statement, (pinned ? *pinned : backend).Prepare(sql));
    ARROW_ASSIGN_OR_RAISE(auto reader, statement->ExecuteQuery());
    return reader->ToRecordBatches();
  }();
  if (pinned) {
    pinned.reset();  // ends the snapshot's transaction
    write.lock();
    std::lock_guard<std::mutex> lock(mutex_);
    if (mirror.state != MirrorState::kReady || mirror.writers > 0 ||
        mirror.generation != generation || mirror.deletes_followed != deletes_followed) {
      // The copy changed otherwise meanwhile (reloaded, written around, a DELETE followed):
      // the rows read may not fit it. Read again at the next round.
      mirror.next_refresh = Steady::now();
      return arrow::Status::OK();
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto copied, std::move(read));
  int64_t rows = 0;
  if (!copied.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto copy,
                          arrow::RecordBatchReader::Make(copied, copied.front()->schema()));
    auto target = CacheTable(mirror.key, mirror.key.table);
    target.if_not_exists = engine::IngestRequest::IfNotExists::kFail;
    target.if_exists = engine::IngestRequest::IfExists::kAppend;
    ARROW_ASSIGN_OR_RAISE(rows, cache.Ingest(target, copy.get()));
  }
  if (rows > 0) {
    Changed(mirror.key);
    if (external_.added) external_.added(mirror.key.schema, mirror.key.table, copied);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  mirror.rows += rows;
  mirror.refreshed_at = started;
  ++mirror.refreshes;
  mirror.next_refresh = Steady::now() + RefreshInterval(mirror);
  if (rows > 0) spdlog::debug("cache refreshed {}: {} new rows", mirror.key.ToString(), rows);
  return arrow::Status::OK();
}

arrow::Status MirrorSet::Evict(Mirror& mirror, engine::EngineConnection& cache, int64_t cutoff_us) {
  std::lock_guard<std::mutex> write(mirror.write);
  std::unique_lock<std::shared_mutex> content(mirror.content);
  ARROW_ASSIGN_OR_RAISE(auto statement,
                        cache.Prepare("DELETE FROM " + mirror.key.Quoted() +
                                      TimeFilter(mirror.options.time_column, "<", cutoff_us)));
  ARROW_ASSIGN_OR_RAISE(int64_t deleted, statement->ExecuteUpdate());
  if (deleted > 0) Changed(mirror.key);
  std::lock_guard<std::mutex> lock(mutex_);
  mirror.horizon_us = std::max(mirror.horizon_us.value_or(cutoff_us), cutoff_us);
  mirror.rows -= deleted;
  mirror.rows_evicted += deleted;
  return arrow::Status::OK();
}

void MirrorSet::Maintain(engine::EngineConnection& backend, engine::EngineConnection& cache,
                         engine::Engine* backend_engine) {
  enum class Action { kNone, kLoad, kRefresh };
  std::vector<std::pair<std::shared_ptr<Mirror>, Action>> work;
  const auto now = Steady::now();
  bool evict = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [_, m] : mirrors_) {
      Action action = Action::kNone;
      if (m->writers == 0 && m->state != MirrorState::kReady && m->reload_wanted &&
          now >= m->next_refresh) {
        action = Action::kLoad;
        m->state = MirrorState::kLoading;
        m->reload_wanted = false;
      } else if (m->state == MirrorState::kReady && m->writers == 0 &&
                 m->options.refresh != RefreshMode::kNone && now >= m->next_refresh) {
        action = (m->options.refresh == RefreshMode::kReload || m->options.time_column.empty())
                     ? Action::kLoad
                     : Action::kRefresh;
      }
      if (action != Action::kNone) work.emplace_back(m, action);
    }
    if (options_.max_duration.count() > 0 && now >= next_eviction_) {
      evict = true;
      next_eviction_ = now + std::chrono::seconds(1);
    }
  }
  for (auto& [m, action] : work) {
    if (stopping_) return;
    bool was_ready;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      was_ready = m->state == MirrorState::kReady;
    }
    arrow::Status status = action == Action::kLoad
                               ? Load(*m, backend, cache, was_ready, backend_engine)
                               : Refresh(*m, backend, cache, backend_engine);
    if (status.ok()) continue;
    if (stopping_ && status.IsCancelled()) return;  // (given up: the cache is closing)
    if (was_ready && !status.IsKeyError()) {
      // A failed refresh leaves the mirror as it was (consistent as of refreshed_at, which
      // every answer reports); it is tried again after the interval.
      spdlog::warn("cache refresh of {} failed: {}; serving it as of its last refresh",
                   m->key.ToString(), status.message());
      std::lock_guard<std::mutex> lock(mutex_);
      m->last_error = status.message();
      m->next_refresh = Steady::now() + RefreshInterval(*m);
      continue;
    }
    bool gone = status.IsKeyError() && !m->configured;
    spdlog::warn("cache {} of {} failed: {}{}", action == Action::kLoad ? "load" : "refresh",
                 m->key.ToString(), status.message(),
                 gone ? " (table gone: no longer cached)" : "; retried later");
    if (gone) {
      Remove(m->key);
      (void)engine::ExecuteStatement(cache, "DROP TABLE IF EXISTS " + m->key.Quoted());
      continue;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    m->state = MirrorState::kFailed;
    m->reload_wanted = true;
    m->last_error = status.message();
    m->next_refresh =
        Steady::now() + std::min(RefreshInterval(*m), std::chrono::milliseconds(5000));
  }
  if (!evict) return;
  const int64_t cutoff = NowMicros() - options_.max_duration.count() * 1000;
  std::vector<std::shared_ptr<Mirror>> evictable;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [_, m] : mirrors_) {
      if (m->state == MirrorState::kReady && !m->options.time_column.empty()) {
        evictable.push_back(m);
      }
    }
  }
  for (auto& m : evictable) {
    arrow::Status status = Evict(*m, cache, cutoff);
    if (!status.ok()) Invalidate(m, "eviction failed: " + status.message());
  }
}

std::optional<std::chrono::system_clock::time_point> MirrorSet::AsOf(const TableKey& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = mirrors_.find(key);
  if (it == mirrors_.end() || it->second->state != MirrorState::kReady) return std::nullopt;
  if (it->second->options.refresh == RefreshMode::kNone) return std::chrono::system_clock::now();
  return it->second->refreshed_at;
}

std::vector<MirrorSnapshot> MirrorSet::Snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<MirrorSnapshot> out;
  for (const auto& [key, m] : mirrors_) {
    const char* refresh = m->options.refresh == RefreshMode::kNone     ? "none"
                          : m->options.refresh == RefreshMode::kAppend ? "append"
                                                                       : "reload";
    out.push_back({key, m->options.time_column, refresh, MirrorStateName(m->state), m->last_error,
                   m->horizon_us, m->refreshed_at, m->rows, m->loads, m->refreshes, m->rows_evicted,
                   m->rows_written_during_loads, m->deletes_followed});
  }
  return out;
}

}  // namespace hyprstream::cache
