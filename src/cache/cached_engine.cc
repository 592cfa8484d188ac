#include "cache/cached_engine.h"

#include <arrow/builder.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <thread>

#include "cache/cache_core.h"
#include "cache/cached_connection.h"
#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "engine/forwarding_engine.h"
#include "engine/snapshot_read.h"

namespace hyprstream::cache {
namespace {

// Streaming ingest written through: each batch commits in the backend, then in the mirror.
class WriteThroughAppender : public engine::TableAppender {
 public:
  WriteThroughAppender(std::shared_ptr<CacheCore> core,
                       std::unique_ptr<engine::TableAppender> backend,
                       std::shared_ptr<engine::EngineConnection> cache, TableKey key)
      : core_(std::move(core)),
        backend_(std::move(backend)),
        cache_(std::move(cache)),
        key_(std::move(key)) {}

  const std::shared_ptr<arrow::Schema>& schema() const override { return backend_->schema(); }

  arrow::Result<int64_t> Append(const arrow::RecordBatch& batch) override {
    auto mirror = core_->mirrors.Find(key_);
    std::unique_lock<std::mutex> write;
    if (mirror) write = std::unique_lock<std::mutex>(mirror->write);
    if (mirror && !core_->mirrors.IsReady(*mirror)) {
      // Not ready: the backend takes the batch under the mirror's write lock, so the next
      // load's copy has it, and a load copying the table now is given it.
      core_->results.Invalidate({key_});
      auto rows = backend_->Append(batch);
      if (rows.ok()) {
        MirrorSet::KeepForLoad(*mirror, {batch.Slice(0)});
        core_->counters.rows_written_through += *rows;
      } else {
        MirrorSet::LoadMissedWrite(*mirror);
      }
      core_->results.Invalidate({key_});
      return rows;
    }
    if (!mirror) {  // no longer mirrored
      core_->results.Invalidate({key_});
      auto rows = backend_->Append(batch);
      core_->results.Invalidate({key_});
      if (rows.ok()) core_->counters.rows_written_through += *rows;
      return rows;
    }
    core_->results.Invalidate({key_});
    auto appended = backend_->Append(batch);
    if (!appended.ok()) MirrorSet::LoadMissedWrite(*mirror);
    ARROW_ASSIGN_OR_RAISE(int64_t rows, appended);
    MirrorSet::KeepForLoad(*mirror, {batch.Slice(0)});  // (a load in flight replaces the table)
    core_->counters.rows_written_through += rows;
    engine::IngestRequest request;
    request.table = key_.table;
    if (!key_.schema.empty()) request.schema = key_.schema;
    request.if_not_exists = engine::IngestRequest::IfNotExists::kFail;
    request.if_exists = engine::IngestRequest::IfExists::kAppend;
    auto one = arrow::RecordBatchReader::Make({batch.Slice(0)}, batch.schema());
    arrow::Status cached = one.status();
    if (cached.ok()) cached = cache_->Ingest(request, one->get()).status();
    if (!cached.ok()) {
      core_->counters.write_through_failures++;
      core_->mirrors.Invalidate(mirror, "write-through failed: " + cached.message());
    } else {
      core_->mirrors.Wrote(mirror, rows);
    }
    core_->results.Invalidate({key_});
    return rows;
  }

 private:
  std::shared_ptr<CacheCore> core_;
  std::unique_ptr<engine::TableAppender> backend_;
  std::shared_ptr<engine::EngineConnection> cache_;
  TableKey key_;
};

// A forwarding engine over the backend: what it does not override passes to the backend.
class CachedEngine : public engine::ForwardingEngine {
 public:
  explicit CachedEngine(std::shared_ptr<CacheCore> core)
      : ForwardingEngine(core->backend), core_(std::move(core)) {}
  ~CachedEngine() override {
    core_->mirrors.Stop();  // a load under way gives up (the stop does not wait for it)
    {
      std::lock_guard<std::mutex> lock(wakeup_->mutex);
      wakeup_->stopping = true;
    }
    wakeup_->changed.notify_all();
    if (maintainer_.joinable()) maintainer_.join();
  }

  arrow::Status Start() {
    ARROW_ASSIGN_OR_RAISE(auto probe, core_->backend->Connect());
    auto schema = engine::QueryValue(*probe, "SELECT current_schema()");
    if (schema.ok() && !schema->empty()) core_->backend_default_schema = *schema;
    // DuckDB's `/` on integers gives a DOUBLE; PostgreSQL and SQLite divide integers. Make the
    // cache answer like the backend it stands in for.
    auto info = probe->GetBackendInfo();
    if (info.ok() && (info->vendor_name.find("PostgreSQL") != std::string::npos ||
                      info->vendor_name.find("SQLite") != std::string::npos)) {
      ARROW_ASSIGN_OR_RAISE(auto cache, core_->cache->Connect());
      ARROW_RETURN_NOT_OK(engine::ExecuteStatement(*cache, "SET GLOBAL integer_division = true"));
    }
    ARROW_RETURN_NOT_OK(RegisterStatsFunctions());
    for (const auto& table : core_->options.tables) core_->mirrors.Add(table, /*configured=*/true);
    // A mirror to reload at once (after a write around it) wakes the background thread.
    core_->mirrors.OnWorkDue([weak = std::weak_ptr<Wakeup>(wakeup_)] {
      if (auto wakeup = weak.lock()) wakeup->Wake();
    });
    ARROW_ASSIGN_OR_RAISE(auto backend, core_->backend->Connect());
    ARROW_ASSIGN_OR_RAISE(auto cache, core_->cache->Connect());
    maintainer_ = std::thread([this, backend, cache] { MaintainLoop(*backend, *cache); });
    return arrow::Status::OK();
  }

  std::string name() const override {
    return core_->backend->name() + " (cached in " + core_->cache->name() + ")";
  }

  arrow::Result<std::shared_ptr<engine::EngineConnection>> Connect() override {
    ARROW_ASSIGN_OR_RAISE(auto backend, core_->backend->Connect());
    ARROW_ASSIGN_OR_RAISE(auto cache, core_->cache->Connect());
    return std::make_shared<CachedConnection>(core_, std::move(backend), std::move(cache));
  }

  arrow::Result<std::unique_ptr<engine::TableAppender>> OpenAppender(
      const std::vector<std::string>& path, const std::shared_ptr<arrow::Schema>& schema) override {
    engine::IngestRequest target;
    target.table = path.back();
    if (path.size() >= 2) target.schema = path[path.size() - 2];
    if (path.size() == 3) target.catalog = path[0];
    TableKey key = IngestTarget(target, core_->backend_default_schema);
    ARROW_ASSIGN_OR_RAISE(auto probe, core_->backend->Connect());
    bool existed =
        engine::QueryTable(*probe, "SELECT * FROM " + key.Quoted() + " WHERE 1 = 0").ok();
    ARROW_ASSIGN_OR_RAISE(auto backend, core_->backend->OpenAppender(path, schema));
    ARROW_ASSIGN_OR_RAISE(auto cache, core_->cache->Connect());
    if (!core_->mirrors.Find(key) && core_->options.mirror_ingested_tables) {
      MirrorOptions options;
      options.table = key.ToString();
      for (const auto& field : schema->fields()) {
        if (field->type()->id() == arrow::Type::TIMESTAMP) {
          options.time_column = field->name();
          break;
        }
      }
      auto mirror = core_->mirrors.Add(options, /*configured=*/false, /*load=*/existed);
      if (!existed) {
        // A new table: the mirror starts empty and complete.
        std::lock_guard<std::mutex> write(mirror->write);
        ARROW_RETURN_NOT_OK(core_->mirrors.EnsureSchema(*cache, key));
        engine::IngestRequest create = target;
        create.catalog.reset();
        create.schema = key.schema.empty() ? std::nullopt : std::optional<std::string>(key.schema);
        create.if_exists = engine::IngestRequest::IfExists::kReplace;
        ARROW_ASSIGN_OR_RAISE(auto empty, arrow::RecordBatchReader::Make({}, schema));
        ARROW_RETURN_NOT_OK(cache->Ingest(create, empty.get()).status());
        core_->mirrors.MarkReady(mirror, std::nullopt, std::chrono::system_clock::now(), 0);
      }
    }
    return std::make_unique<WriteThroughAppender>(core_, std::move(backend), std::move(cache), key);
  }

  // Table functions and macros live in the cache DuckDB: queries that only call them are
  // answered there, and queries over mirrored tables may use them.
  bool hosts_table_functions() const override { return true; }
  std::shared_ptr<engine::Engine> FunctionHost() override { return core_->cache; }
  arrow::Status RegisterTableFunction(engine::TableFunctionSpec spec) override {
    return core_->cache->RegisterTableFunction(std::move(spec));
  }
  arrow::Status DefineMacro(const std::string& create_macro) override {
    return core_->cache->DefineMacro(create_macro);
  }
  // Rows a refresh copies from the backend (rows others wrote there) and reloads.
  void WatchExternalRows(engine::ExternalRowsListener listener) override {
    core_->mirrors.OnExternalRows(std::move(listener));
  }
  // The backend's, begun on the session's backend connection; a mirror of the table follows
  // a DELETE in the transaction where it can (CachedConnection::BeginSharingSnapshot).
  arrow::Result<std::shared_ptr<engine::EngineConnection>> BeginSharingSnapshot(
      engine::EngineConnection& writer, const std::string& schema,
      const std::string& table) override {
    auto* session = dynamic_cast<CachedConnection*>(&writer);
    if (session == nullptr) return Engine::BeginSharingSnapshot(writer, schema, table);
    return session->BeginSharingSnapshot(KeyOf(schema, table));
  }
  // A mirrored table is as current as its last refresh (rows written through are always in).
  std::optional<std::chrono::system_clock::time_point> RowsAsOf(const std::string& schema,
                                                                const std::string& table) override {
    return core_->mirrors.AsOf(KeyOf(schema, table));
  }
  // A table with windows is mirrored whole (whether or not ingests create mirrors), so the
  // windows can be built from the mirror. Not with --cache-max-duration: the mirror then
  // holds only recent rows, and the windows need them all.
  bool FollowTable(const std::string& schema, const std::string& table,
                   const std::string& time_column) override {
    if (core_->options.max_duration.count() > 0) return false;
    TableKey key = KeyOf(schema, table);
    if (!core_->mirrors.Find(key)) {
      MirrorOptions options;
      options.table = key.ToString();
      options.time_column = time_column;
      core_->mirrors.Add(options, /*configured=*/false, /*load=*/true);
    }
    return true;
  }
  arrow::Result<std::optional<int64_t>> ReadCopy(const std::string& schema,
                                                 const std::string& table,
                                                 const engine::CopyReader& read) override {
    auto mirror = core_->mirrors.Find(KeyOf(schema, table));
    if (!mirror) return arrow::Status::NotImplemented("table ", table, " is not mirrored");
    ARROW_ASSIGN_OR_RAISE(auto cache, core_->cache->Connect());
    std::lock_guard<std::mutex> write(mirror->write);
    auto generation = core_->mirrors.ReadyGeneration(*mirror);
    if (!generation) {
      // Not ready: loaded here (a backend connection only for that).
      ARROW_ASSIGN_OR_RAISE(auto backend, core_->backend->Connect());
      ARROW_ASSIGN_OR_RAISE(bool ready, core_->mirrors.MakeReady(*mirror, *backend, *cache));
      generation = core_->mirrors.ReadyGeneration(*mirror);
      if (!ready || !generation) return std::nullopt;
    }
    // The snapshot is taken now, under the mirror's write lock; the reader's queries run
    // after the lock is gone.
    ARROW_ASSIGN_OR_RAISE(
        auto pinned, engine::PinSnapshot(cache, "SELECT count(*) FROM " + mirror->key.Quoted()));
    ARROW_RETURN_NOT_OK(read(*generation, std::move(pinned)));
    return generation;
  }
  std::optional<int64_t> CopyGeneration(const std::string& schema,
                                        const std::string& table) override {
    auto mirror = core_->mirrors.Find(KeyOf(schema, table));
    return mirror ? core_->mirrors.ReadyGeneration(*mirror) : std::nullopt;
  }

 private:
  TableKey KeyOf(const std::string& schema, const std::string& table) const {
    engine::IngestRequest name;
    name.table = table;
    if (!schema.empty()) name.schema = schema;
    return IngestTarget(name, core_->backend_default_schema);
  }

  // Every 100 ms, or at once when woken.
  void MaintainLoop(engine::EngineConnection& backend, engine::EngineConnection& cache) {
    std::unique_lock<std::mutex> lock(wakeup_->mutex);
    auto sampled = std::chrono::steady_clock::time_point{};
    while (true) {
      wakeup_->changed.wait_for(lock, std::chrono::milliseconds(100),
                                [this] { return wakeup_->stopping || wakeup_->due; });
      if (wakeup_->stopping) return;
      wakeup_->due = false;
      lock.unlock();
      core_->mirrors.Maintain(backend, cache, core_->backend.get());
      core_->results.Expire();
      if (std::chrono::steady_clock::now() - sampled >= std::chrono::seconds(1)) {
        sampled = std::chrono::steady_clock::now();
        auto bytes = engine::QueryValue(
            cache, "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()");
        if (bytes.ok()) core_->counters.cache_memory_bytes = std::stoll(*bytes);
      }
      lock.lock();
    }
  }

  arrow::Status RegisterStatsFunctions() {
    std::weak_ptr<CacheCore> weak = core_;
    engine::TableFunctionSpec stats;
    stats.name = "hyprstream_cache_stats";
    auto stats_schema =
        arrow::schema({arrow::field("name", arrow::utf8()), arrow::field("value", arrow::int64())});
    stats.schema = [stats_schema](const engine::TableFunctionArgs&) { return stats_schema; };
    stats.rows = [weak, stats_schema](const engine::TableFunctionArgs&)
        -> arrow::Result<std::shared_ptr<arrow::RecordBatch>> {
      auto core = weak.lock();
      if (!core) return arrow::Status::Invalid("the cache is shut down");
      auto r = core->results.stats();
      const auto& c = core->counters;
      int64_t mirror_rows = 0, evicted = 0, loads = 0, refreshes = 0, during_loads = 0;
      int64_t deletes_followed = 0;
      for (const auto& m : core->mirrors.Snapshot()) {
        during_loads += m.rows_written_during_loads;
        deletes_followed += m.deletes_followed;
        mirror_rows += m.rows;
        evicted += m.rows_evicted;
        loads += m.loads;
        refreshes += m.refreshes;
      }
      std::vector<std::pair<std::string, int64_t>> rows = {
          {"queries_answered_from_cache", c.answered_from_cache.load()},
          {"queries_answered_from_results", c.answered_from_results.load()},
          {"queries_answered_by_backend", c.answered_by_backend.load()},
          {"queries_bypassing_cache", c.bypassed.load()},
          {"hits", c.answered_from_cache.load() + c.answered_from_results.load()},
          {"misses", c.answered_by_backend.load()},
          {"result_entries", r.entries},
          {"result_bytes", r.bytes},
          {"result_insertions", r.insertions},
          {"result_evictions", r.evictions},
          {"result_expirations", r.expirations},
          {"result_invalidations", r.invalidations},
          {"mirrored_rows", mirror_rows},
          {"rows_evicted", evicted},
          {"mirror_loads", loads},
          {"mirror_refreshes", refreshes},
          {"rows_written_during_loads", during_loads},
          {"mirror_deletes_followed", deletes_followed},
          {"rows_written_through", c.rows_written_through.load()},
          {"write_through_failures", c.write_through_failures.load()},
          {"cache_memory_bytes", c.cache_memory_bytes.load()},
      };
      arrow::StringBuilder names;
      arrow::Int64Builder values;
      for (const auto& [name, value] : rows) {
        ARROW_RETURN_NOT_OK(names.Append(name));
        ARROW_RETURN_NOT_OK(values.Append(value));
      }
      ARROW_ASSIGN_OR_RAISE(auto name_array, names.Finish());
      ARROW_ASSIGN_OR_RAISE(auto value_array, values.Finish());
      return arrow::RecordBatch::Make(stats_schema, static_cast<int64_t>(rows.size()),
                                      {name_array, value_array});
    };
    ARROW_RETURN_NOT_OK(core_->cache->RegisterTableFunction(std::move(stats)));

    engine::TableFunctionSpec tables;
    tables.name = "hyprstream_cache_tables";
    auto tables_schema = arrow::schema(
        {arrow::field("table_name", arrow::utf8()), arrow::field("time_column", arrow::utf8()),
         arrow::field("refresh", arrow::utf8()), arrow::field("state", arrow::utf8()),
         arrow::field("rows", arrow::int64()),
         arrow::field("horizon", arrow::timestamp(arrow::TimeUnit::MICRO)),
         arrow::field("refreshed_at", arrow::timestamp(arrow::TimeUnit::MICRO)),
         arrow::field("loads", arrow::int64()), arrow::field("refreshes", arrow::int64()),
         arrow::field("rows_evicted", arrow::int64()), arrow::field("last_error", arrow::utf8())});
    tables.schema = [tables_schema](const engine::TableFunctionArgs&) { return tables_schema; };
    tables.rows = [weak, tables_schema](const engine::TableFunctionArgs&)
        -> arrow::Result<std::shared_ptr<arrow::RecordBatch>> {
      auto core = weak.lock();
      if (!core) return arrow::Status::Invalid("the cache is shut down");
      auto snapshot = core->mirrors.Snapshot();
      arrow::StringBuilder name, column, refresh, state, error;
      arrow::Int64Builder rows, loads, refreshes, evicted;
      arrow::TimestampBuilder horizon(arrow::timestamp(arrow::TimeUnit::MICRO),
                                      arrow::default_memory_pool());
      arrow::TimestampBuilder refreshed(arrow::timestamp(arrow::TimeUnit::MICRO),
                                        arrow::default_memory_pool());
      for (const auto& m : snapshot) {
        ARROW_RETURN_NOT_OK(name.Append(m.key.ToString()));
        ARROW_RETURN_NOT_OK(column.Append(m.time_column));
        ARROW_RETURN_NOT_OK(refresh.Append(m.refresh));
        ARROW_RETURN_NOT_OK(state.Append(m.state));
        ARROW_RETURN_NOT_OK(rows.Append(m.rows));
        ARROW_RETURN_NOT_OK(m.horizon_us ? horizon.Append(*m.horizon_us) : horizon.AppendNull());
        auto at =
            std::chrono::duration_cast<std::chrono::microseconds>(m.refreshed_at.time_since_epoch())
                .count();
        ARROW_RETURN_NOT_OK(at ? refreshed.Append(at) : refreshed.AppendNull());
        ARROW_RETURN_NOT_OK(loads.Append(m.loads));
        ARROW_RETURN_NOT_OK(refreshes.Append(m.refreshes));
        ARROW_RETURN_NOT_OK(evicted.Append(m.rows_evicted));
        ARROW_RETURN_NOT_OK(error.Append(m.last_error));
      }
      std::vector<std::shared_ptr<arrow::Array>> columns(11);
      ARROW_RETURN_NOT_OK(name.Finish(&columns[0]));
      ARROW_RETURN_NOT_OK(column.Finish(&columns[1]));
      ARROW_RETURN_NOT_OK(refresh.Finish(&columns[2]));
      ARROW_RETURN_NOT_OK(state.Finish(&columns[3]));
      ARROW_RETURN_NOT_OK(rows.Finish(&columns[4]));
      ARROW_RETURN_NOT_OK(horizon.Finish(&columns[5]));
      ARROW_RETURN_NOT_OK(refreshed.Finish(&columns[6]));
      ARROW_RETURN_NOT_OK(loads.Finish(&columns[7]));
      ARROW_RETURN_NOT_OK(refreshes.Finish(&columns[8]));
      ARROW_RETURN_NOT_OK(evicted.Finish(&columns[9]));
      ARROW_RETURN_NOT_OK(error.Finish(&columns[10]));
      return arrow::RecordBatch::Make(tables_schema, static_cast<int64_t>(snapshot.size()),
                                      std::move(columns));
    };
    return core_->cache->RegisterTableFunction(std::move(tables));
  }

  struct Wakeup {
    std::mutex mutex;
    std::condition_variable changed;
    bool due = false;       // GUARDED_BY(mutex)
    bool stopping = false;  // GUARDED_BY(mutex)
    void Wake() {
      {
        std::lock_guard<std::mutex> lock(mutex);
        due = true;
      }
      changed.notify_all();
    }
  };

  std::shared_ptr<CacheCore> core_;
  std::shared_ptr<Wakeup> wakeup_ = std::make_shared<Wakeup>();
  std::thread maintainer_;
};

}  // namespace

arrow::Result<std::shared_ptr<engine::Engine>> OpenCachedEngine(
    std::shared_ptr<engine::Engine> backend, std::shared_ptr<engine::Engine> cache,
    CacheOptions options) {
  auto core = std::make_shared<CacheCore>(std::move(backend), std::move(cache), std::move(options));
  auto engine = std::make_shared<CachedEngine>(core);
  ARROW_RETURN_NOT_OK(engine->Start());
  return engine;
}

}  // namespace hyprstream::cache
