#include "cache/cached_statement.h"

#include <arrow/compute/cast.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/engine_sql.h"
#include "sql/sql_script.h"

namespace hyprstream::cache {
namespace {

// Casts each batch to `target` (same column count) where the types differ.
class ConformingReader : public arrow::RecordBatchReader {
 public:
  ConformingReader(std::shared_ptr<arrow::RecordBatchReader> inner,
                   std::shared_ptr<arrow::Schema> target)
      : inner_(std::move(inner)), target_(std::move(target)) {}
  std::shared_ptr<arrow::Schema> schema() const override { return target_; }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* out) override {
    std::shared_ptr<arrow::RecordBatch> batch;
    ARROW_RETURN_NOT_OK(inner_->ReadNext(&batch));
    if (!batch) {
      *out = nullptr;
      return arrow::Status::OK();
    }
    std::vector<std::shared_ptr<arrow::Array>> columns;
    for (int i = 0; i < batch->num_columns(); ++i) {
      const auto& type = target_->field(i)->type();
      if (batch->column(i)->type()->Equals(*type)) {
        columns.push_back(batch->column(i));
      } else {
        ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(*batch->column(i), type));
        columns.push_back(std::move(cast));
      }
    }
    *out = arrow::RecordBatch::Make(target_, batch->num_rows(), std::move(columns));
    return arrow::Status::OK();
  }
  arrow::Status Close() override { return inner_->Close(); }

 private:
  std::shared_ptr<arrow::RecordBatchReader> inner_;
  std::shared_ptr<arrow::Schema> target_;
};

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> Conform(
    std::shared_ptr<arrow::RecordBatchReader> reader,
    const std::shared_ptr<arrow::Schema>& target) {
  if (!target || reader->schema()->Equals(*target, /*check_metadata=*/false)) return reader;
  if (reader->schema()->num_fields() != target->num_fields()) {
    return arrow::Status::Invalid("the backend answered with ", reader->schema()->num_fields(),
                                  " columns where the cache announced ", target->num_fields(),
                                  "; run the query again");
  }
  return std::make_shared<ConformingReader>(std::move(reader), target);
}

// Streams the backend's batches through and keeps them for the result cache if the whole
// result fits the entry budget.
class ResultRecorder : public arrow::RecordBatchReader {
 public:
  // `as_of`: when the rows were known equal to the backend (what Lookup's max_age checks).
  ResultRecorder(std::shared_ptr<arrow::RecordBatchReader> inner, ResultCache* cache,
                 std::string key, std::vector<TableKey> tables,
                 std::chrono::system_clock::time_point as_of)
      : inner_(std::move(inner)),
        cache_(cache),
        key_(std::move(key)),
        tables_(std::move(tables)),
        epoch_(cache->epoch()),
        started_(as_of) {}
  std::shared_ptr<arrow::Schema> schema() const override { return inner_->schema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* out) override {
    ARROW_RETURN_NOT_OK(inner_->ReadNext(out));
    if (!recording_) return arrow::Status::OK();
    if (!*out) {
      recording_ = false;
      CachedResult result{inner_->schema(), std::move(batches_), tables_, started_, bytes_};
      cache_->Insert(key_, std::move(result), epoch_);
      return arrow::Status::OK();
    }
    bytes_ += BatchBytes(**out);
    if (bytes_ > cache_->max_entry_bytes()) {
      recording_ = false;
      batches_.clear();
    } else {
      batches_.push_back(*out);
    }
    return arrow::Status::OK();
  }
  arrow::Status Close() override { return inner_->Close(); }

 private:
  std::shared_ptr<arrow::RecordBatchReader> inner_;
  ResultCache* cache_;
  std::string key_;
  std::vector<TableKey> tables_;
  uint64_t epoch_;
  std::chrono::system_clock::time_point started_;
  bool recording_ = true;
  arrow::RecordBatchVector batches_;
  int64_t bytes_ = 0;
};

// The table an INSERT only appends to, and how the rows it stores are learned, so the mirror
// takes them instead of being reloaded: `INSERT ... RETURNING *` returns them (every returned
// row a stored row, whole); a plain INSERT is run with RETURNING * added (`returning_sql`).
// nullopt for any other statement.
struct AppendTarget {
  TableKey table;
  std::optional<std::string> returning_sql;  // set: the INSERT as written returns nothing
};

std::optional<AppendTarget> AppendTargetOf(const std::string& sql,
                                           const std::string& default_schema) {
  const auto script = sql::Analyze(sql);
  const sql::StatementInfo* statement = script->Single();
  if (statement == nullptr || !statement->insert || statement->writes.size() != 1) {
    return std::nullopt;
  }
  const auto mode = statement->writes[0].mode;
  if (mode != sql::WriteMode::kAppend && mode != sql::WriteMode::kInsertIgnore) return std::nullopt;
  AppendTarget target;
  if (!statement->insert->returning) {
    target.returning_sql = statement->insert->WithReturningAll(sql);
    if (!target.returning_sql) return std::nullopt;
  } else {
    // RETURNING * exactly.
    std::string_view text = statement->text();
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
      text.remove_suffix(1);
    }
    const std::string tail = " RETURNING *";
    if (text.size() < tail.size()) return std::nullopt;
    std::string end(text.substr(text.size() - tail.size()));
    for (auto& c : end) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (end != tail) return std::nullopt;
  }
  auto written = WrittenTables(sql, default_schema);
  if (!written || written->size() != 1) return std::nullopt;
  target.table = written->front();
  return target;
}

// DDL (or a statement whose effect is unknown) may change what queries return.
bool ChangesSchemas(const std::string& sql, const std::optional<std::vector<TableKey>>& written) {
  if (!written) return true;
  const auto script = sql::Analyze(sql);
  return std::any_of(script->statements.begin(), script->statements.end(),
                     [](const auto& statement) { return sql::IsDdl(statement.kind); });
}

// The backend's error, saying what the DuckDB cache, asked first, said (when it was asked and
// failed): the SQL may be DuckDB's, failing in DuckDB on its data (an overflow, error()),
// which the backend's own error (often a syntax error in its dialect) would hide.
arrow::Status WithCacheError(const arrow::Status& backend, const arrow::Status& cache) {
  if (cache.ok()) return backend;
  return backend.WithMessage(backend.message(),
                             " (the DuckDB cache, asked first, failed too: ", cache.message(), ")");
}

}  // namespace

arrow::Result<std::unique_ptr<engine::EngineStatement>> CachedStatement::Make(
    std::shared_ptr<CachedConnection> connection, std::string sql, ReadFootprint footprint,
    bool on_cache, std::shared_ptr<arrow::Schema> kept_schema) {
  std::unique_ptr<CachedStatement> statement(
      new CachedStatement(std::move(connection), std::move(sql), std::move(footprint)));
  if (kept_schema) {
    statement->kind_ = engine::StatementKind::kQuery;
    statement->dataset_schema_ = std::move(kept_schema);
    statement->parameter_schema_ = arrow::schema({});
    return statement;
  }
  engine::EngineStatement* primary = nullptr;
  arrow::Status cache_error;
  if (on_cache) {
    auto prepared = statement->OnCache();
    if (prepared.ok()) primary = *prepared;
    // DuckDB could not bind it (another dialect, a missing column): the backend decides.
    if (!prepared.ok()) cache_error = prepared.status();
  }
  if (!primary) {
    statement->cache_.reset();
    auto backend = statement->Backend();
    if (!backend.ok()) return WithCacheError(backend.status(), cache_error);
    primary = *backend;
  }
  statement->kind_ = primary->kind();
  statement->dataset_schema_ = primary->dataset_schema();
  statement->parameter_schema_ = primary->parameter_schema();
  if (statement->cache_) {
    // Answer with the backend's column names and types, so a result looks the same whichever
    // side produced it (DuckDB names count(*) "count_star()", PostgreSQL "count"). Without
    // the backend (unreachable), the cache's own schema stands.
    auto& known = statement->connection_->core().backend_schemas;
    std::shared_ptr<arrow::Schema> schema = known.Get(statement->sql_);
    if (!schema) {
      auto backend = statement->Backend();
      if (backend.ok()) {
        schema = (*backend)->dataset_schema();
        if (schema) known.Put(statement->sql_, schema);
      } else {
        statement->backend_.reset();
      }
    }
    if (schema && statement->dataset_schema_ &&
        schema->num_fields() == statement->dataset_schema_->num_fields()) {
      statement->dataset_schema_ = schema;
    }
  }
  return statement;
}

CachedStatement::CachedStatement(std::shared_ptr<CachedConnection> connection, std::string sql,
                                 ReadFootprint footprint)
    : connection_(std::move(connection)), sql_(std::move(sql)), footprint_(std::move(footprint)) {}

arrow::Result<engine::EngineStatement*> CachedStatement::Prepared(
    std::unique_ptr<engine::EngineStatement>& statement, bool& bound,
    engine::EngineConnection& where, const std::string& sql) {
  if (!statement) {
    ARROW_ASSIGN_OR_RAISE(statement, where.Prepare(sql));
  }
  if (!bound) {
    ARROW_RETURN_NOT_OK(statement->Bind(parameters_));
    bound = true;
  }
  return statement.get();
}

arrow::Result<engine::EngineStatement*> CachedStatement::Backend() {
  return Prepared(backend_, backend_bound_, connection_->backend(), sql_);
}

arrow::Result<engine::EngineStatement*> CachedStatement::OnCache() {
  return Prepared(cache_, cache_bound_, connection_->cache(), sql_);
}

arrow::Status CachedStatement::Bind(std::shared_ptr<arrow::RecordBatch> parameters) {
  parameters_ = std::move(parameters);
  backend_bound_ = cache_bound_ = returning_bound_ = false;
  // Validate now on the side that was prepared, so a bad binding fails the bind.
  if (cache_) return OnCache().status();
  if (!backend_ && !(parameters_ && parameters_->num_rows() > 0)) return arrow::Status::OK();
  return Backend().status();
}

std::optional<std::chrono::milliseconds> CachedStatement::MaxStaleness() const {
  return max_staleness_override_ ? max_staleness_override_ : connection_->max_staleness();
}

std::string CachedStatement::ResultKey() const {
  std::string key = sql_;
  if (parameters_ && parameters_->num_rows() > 0) {
    auto sink = arrow::io::BufferOutputStream::Create().ValueOr(nullptr);
    if (!sink) return "";
    auto writer = arrow::ipc::MakeStreamWriter(sink, parameters_->schema());
    if (!writer.ok() || !(*writer)->WriteRecordBatch(*parameters_).ok() ||
        !(*writer)->Close().ok()) {
      return "";
    }
    auto buffer = sink->Finish();
    if (!buffer.ok()) return "";
    key += '\0';
    key += (*buffer)->ToString();
  }
  return key;
}

std::shared_ptr<arrow::RecordBatchReader> CachedStatement::KeepResult(
    std::shared_ptr<arrow::RecordBatchReader> reader, std::chrono::system_clock::time_point as_of) {
  CacheCore& core = connection_->core();
  if (!core.results.enabled() || !footprint_.parsed || footprint_.tables.empty() ||
      footprint_.foreign_functions) {
    return reader;
  }
  std::string key = ResultKey();
  if (key.empty()) return reader;
  return std::make_shared<ResultRecorder>(std::move(reader), &core.results, std::move(key),
                                          footprint_.tables, as_of);
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> CachedStatement::ReadBackend(bool bypass) {
  CacheCore& core = connection_->core();
  if (footprint_.cache_functions) {
    // The backend has none of hyprstream's functions: its error would be a syntax error.
    std::string tables;
    for (const TableKey& table : footprint_.tables) {
      tables += (tables.empty() ? "" : ", ") + table.Quoted();
    }
    return arrow::Status::Invalid(
        "this query calls hyprstream's functions (tumble, hop, hyprstream_*), which run in the "
        "DuckDB cache over its copy of ",
        tables, ", and that copy cannot answer it now (",
        connection_->InTransaction() ? "inside a transaction the backend answers"
                                     : "it is loading, stale or being written",
        "): run it outside a transaction, or retry once the copy is ready "
        "(SELECT * FROM hyprstream_cache_tables() shows its state)");
  }
  ARROW_ASSIGN_OR_RAISE(auto* backend, Backend());
  ARROW_ASSIGN_OR_RAISE(auto reader, backend->ExecuteQuery());
  (bypass ? core.counters.bypassed : core.counters.answered_by_backend)++;
  ARROW_ASSIGN_OR_RAISE(reader, Conform(std::move(reader), dataset_schema_));
  if (!bypass) reader = KeepResult(std::move(reader), std::chrono::system_clock::now());
  return WithProvenance(std::move(reader), bypass ? "bypass" : "miss", "backend",
                        std::chrono::system_clock::now());
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> CachedStatement::Read() {
  CacheCore& core = connection_->core();
  auto max_staleness = MaxStaleness();
  if (connection_->InTransaction() || connection_->namespace_changed() ||
      (max_staleness && max_staleness->count() == 0)) {
    return ReadBackend(/*bypass=*/true);
  }
  // 1. A kept result of the same query.
  if (core.results.enabled() && footprint_.parsed && !footprint_.tables.empty()) {
    std::string key = ResultKey();
    if (!key.empty()) {
      if (auto kept = core.results.Lookup(key, max_staleness)) {
        core.counters.answered_from_results++;
        ARROW_ASSIGN_OR_RAISE(auto reader,
                              arrow::RecordBatchReader::Make(kept->batches, kept->schema));
        ARROW_ASSIGN_OR_RAISE(reader, Conform(std::move(reader), dataset_schema_));
        return WithProvenance(std::move(reader), "hit", "result-cache", kept->cached_at);
      }
    }
  }
  // 2. The mirrors, when they cover every row the query can read.
  bool cache_only = footprint_.cache_functions && footprint_.tables.empty();
  std::optional<ReadLease> lease;
  arrow::Status cache_error;  // why the cache's DuckDB could not run a query it was given
  if (!cache_only) lease = core.mirrors.TryRead(footprint_, max_staleness, connection_->cache());
  if (cache_only || lease) {
    auto on_cache = OnCache();
    if (on_cache.ok()) {
      auto reader = (*on_cache)->ExecuteQuery();
      if (reader.ok()) {
        auto as_of = lease ? lease->as_of : std::chrono::system_clock::now();
        lease.reset();  // the query has its snapshot
        core.counters.answered_from_cache++;
        ARROW_ASSIGN_OR_RAISE(auto conformed, Conform(std::move(*reader), dataset_schema_));
        if (!cache_only) conformed = KeepResult(std::move(conformed), as_of);
        return WithProvenance(std::move(conformed), "hit", "cache", as_of);
      }
      if (cache_only) return reader.status();
      spdlog::debug("cache could not run it ({}); asking the backend", reader.status().message());
      cache_error = reader.status();
    } else if (cache_only) {
      return on_cache.status();
    }
  }
  // 3. The backend (its error says the cache's too: WithCacheError).
  auto answer = ReadBackend(/*bypass=*/false);
  if (answer.ok()) return answer;
  return WithCacheError(answer.status(), cache_error);
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> CachedStatement::ExecuteQuery() {
  if (kind_ == engine::StatementKind::kQuery) return Read();
  if (auto appended = AppendToMirror()) {
    ARROW_ASSIGN_OR_RAISE(Appended rows, std::move(*appended));
    return rows.reader;
  }
  // A write (or something else with effects): the backend runs it, to completion before the
  // cache reloads what it changed.
  using Rows = arrow::Result<std::shared_ptr<arrow::RecordBatchReader>>;
  return Write<Rows>([](engine::EngineStatement& backend) -> Rows {
    ARROW_ASSIGN_OR_RAISE(auto result, backend.ExecuteQuery());
    ARROW_ASSIGN_OR_RAISE(auto batches, result->ToRecordBatches());
    return arrow::RecordBatchReader::Make(std::move(batches), result->schema());
  });
}

template <typename Result>
Result CachedStatement::Write(const std::function<Result(engine::EngineStatement&)>& run) {
  auto written = WrittenTables(sql_, connection_->core().backend_default_schema);
  if (kind_ == engine::StatementKind::kQuery) written = std::vector<TableKey>{};
  if (ChangesSchemas(sql_, written)) connection_->core().backend_schemas.Clear();
  auto on_backend = [&]() -> Result {
    ARROW_ASSIGN_OR_RAISE(auto* backend, Backend());
    return run(*backend);
  };
  if (connection_->InTransaction()) {
    if (connection_->FollowsWrite(sql_, written)) return on_backend();  // (the mirror follows)
  } else if (auto followed = FollowedOnItsOwn<Result>(on_backend)) {
    return *std::move(followed);
  }
  // What it may have changed stops answering from the cache until reloaded.
  connection_->BeginWrite(written);
  Result result = on_backend();
  connection_->EndWrite(written);
  return result;
}

template <typename Result>
std::optional<Result> CachedStatement::FollowedOnItsOwn(const std::function<Result()>& run) {
  auto table = DeletesOnlyFrom(sql_, connection_->core().backend_default_schema);
  if (!table) return std::nullopt;
  auto began = connection_->BeginFollowedDelete(*table);
  if (!began.ok()) {
    spdlog::warn("the cache of {} cannot follow a DELETE ({}); it is reloaded after it",
                 table->ToString(), began.status().message());
    return std::nullopt;
  }
  if (!*began) return std::nullopt;
  connection_->FollowsWrite(sql_, std::vector<TableKey>{*table});
  Result result = run();
  if (!result.ok()) {
    (void)connection_->Rollback();
    // It lost to another write of its rows (a REPEATABLE READ transaction fails where the
    // statement on its own waits and goes on) and changed nothing: run it as usual.
    if (engine::IsWriteConflict(result.status())) {
      spdlog::info("a DELETE of {} lost to another write of its rows ({}); running it again",
                   table->ToString(), result.status().message());
      return std::nullopt;
    }
    return result;
  }
  if (arrow::Status committed = connection_->Commit(); !committed.ok()) {
    if (!engine::IsWriteConflict(committed)) return committed;
    spdlog::info("a DELETE of {} changed nothing ({}); running it again", table->ToString(),
                 committed.message());
    return std::nullopt;
  }
  return result;
}

arrow::Result<engine::EngineStatement*> CachedStatement::Returning(const std::string& sql) {
  return Prepared(returning_, returning_bound_, connection_->backend(), sql);
}

std::optional<arrow::Result<CachedStatement::Appended>> CachedStatement::AppendToMirror() {
  CacheCore& core = connection_->core();
  auto target = AppendTargetOf(sql_, core.backend_default_schema);
  if (!target) return std::nullopt;
  const TableKey& key = target->table;
  auto mirror = core.mirrors.Find(key);
  if (!mirror) return std::nullopt;
  // The statement that returns the stored rows; one the backend cannot prepare (no RETURNING
  // in its dialect) leaves the INSERT to run around the mirror.
  engine::EngineStatement* statement = nullptr;
  if (target->returning_sql) {
    auto prepared = Returning(*target->returning_sql);
    if (!prepared.ok()) {
      spdlog::debug(
          "INSERT ... RETURNING * cannot be prepared ({}); the mirror of {} is "
          "reloaded after the INSERT instead",
          prepared.status().message(), key.ToString());
      return std::nullopt;
    }
    statement = *prepared;
  } else {
    auto prepared = Backend();
    if (!prepared.ok()) return prepared.status();
    statement = *prepared;
  }
  std::unique_lock<std::mutex> write(mirror->write, std::defer_lock);
  bool ready = true;
  if (!connection_->InTransaction()) {
    // The mirror's write lock from the readiness check until the mirror has the rows; when it
    // is not ready, until the backend has them (the next load's copy has them then) and a
    // load copying the table now is given them.
    write.lock();
    ready = core.mirrors.IsReady(*mirror);
  }
  auto run = [&]() -> arrow::Result<arrow::RecordBatchVector> {
    ARROW_ASSIGN_OR_RAISE(auto result, statement->ExecuteQuery());
    return result->ToRecordBatches();
  };
  core.results.Invalidate({key});
  arrow::Result<arrow::RecordBatchVector> rows = run();
  int64_t count = 0;
  if (rows.ok()) {
    for (const auto& batch : *rows) count += batch->num_rows();
  }
  if (connection_->InTransaction()) {
    if (rows.ok()) connection_->StashForCommit(key, *rows);
  } else if (rows.ok()) {
    core.counters.rows_written_through += count;
    if (ready) {
      connection_->ApplyToMirror(mirror, *rows);
    } else {
      MirrorSet::KeepForLoad(*mirror, *rows);
      core.results.Invalidate({key});
    }
  } else {
    MirrorSet::LoadMissedWrite(*mirror);
  }
  if (!rows.ok()) return rows.status();
  Appended appended;
  appended.count = count;
  if (target->returning_sql) {
    auto counted = engine::CountResult(count);  // what the INSERT as written gives
    if (!counted.ok()) return counted.status();
    appended.reader = *std::move(counted);
    return appended;
  }
  auto schema = rows->empty() ? statement->dataset_schema() : (*rows)[0]->schema();
  if (!schema) return arrow::Status::IOError("INSERT ... RETURNING gave no schema");
  auto reader = arrow::RecordBatchReader::Make(std::move(*rows), schema);
  if (!reader.ok()) return reader.status();
  appended.reader = *std::move(reader);
  return appended;
}

arrow::Result<int64_t> CachedStatement::ExecuteUpdate() {
  if (kind_ != engine::StatementKind::kQuery) {
    if (auto appended = AppendToMirror()) {
      ARROW_ASSIGN_OR_RAISE(Appended rows, std::move(*appended));
      return rows.count;
    }
  }
  return Write<arrow::Result<int64_t>>(
      [](engine::EngineStatement& backend) { return backend.ExecuteUpdate(); });
}

}  // namespace hyprstream::cache
