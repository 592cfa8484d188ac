// CachedStatement: a statement of a CachedConnection. It is prepared where it will most likely
// run (the cache when the mirrors answer it now, else the backend) and decides again at each
// execution, so a mirror that went stale in between sends it to the backend; results are then
// cast to the schema announced at preparation.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cache/cached_connection.h"

namespace hyprstream::cache {

class CachedStatement : public engine::EngineStatement {
 public:
  // `on_cache`: prepared on the cache (the mirrors answered it at preparation).
  // `kept_schema`: the schema of a kept result of `sql`; then nothing is prepared until an
  // execution finds the result gone.
  static arrow::Result<std::unique_ptr<engine::EngineStatement>> Make(
      std::shared_ptr<CachedConnection> connection, std::string sql, ReadFootprint footprint,
      bool on_cache, std::shared_ptr<arrow::Schema> kept_schema);

  engine::StatementKind kind() const override { return kind_; }
  std::shared_ptr<arrow::Schema> dataset_schema() const override { return dataset_schema_; }
  std::shared_ptr<arrow::Schema> parameter_schema() const override { return parameter_schema_; }
  arrow::Status Bind(std::shared_ptr<arrow::RecordBatch> parameters) override;
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override;
  arrow::Result<int64_t> ExecuteUpdate() override;
  void SetMaxStaleness(std::optional<std::chrono::milliseconds> max_staleness) override {
    max_staleness_override_ = max_staleness;
  }

 private:
  CachedStatement(std::shared_ptr<CachedConnection> connection, std::string sql,
                  ReadFootprint footprint);
  // `statement`, prepared `where` from `sql` if not yet, and bound to the parameters unless
  // `bound` says it is.
  arrow::Result<engine::EngineStatement*> Prepared(
      std::unique_ptr<engine::EngineStatement>& statement, bool& bound,
      engine::EngineConnection& where, const std::string& sql);
  arrow::Result<engine::EngineStatement*> Backend();
  arrow::Result<engine::EngineStatement*> OnCache();
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> Read();
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ReadBackend(bool bypass);
  std::string ResultKey() const;
  // Streams `reader` through, keeping the whole result in the result cache when it fits.
  std::shared_ptr<arrow::RecordBatchReader> KeepResult(
      std::shared_ptr<arrow::RecordBatchReader> reader,
      std::chrono::system_clock::time_point as_of);
  std::optional<std::chrono::milliseconds> MaxStaleness() const;
  // An INSERT that only appends to a mirrored table: runs it so that it returns the rows it
  // stored (the INSERT itself when it ends in RETURNING *, else with RETURNING * added) and
  // hands them to the mirror — at once, to a load copying the table, or at commit — instead of
  // reloading the mirror; nullopt for any other statement (or when the backend cannot prepare
  // the RETURNING form). `reader`: what the statement as written returns (its rows, or a
  // count).
  struct Appended {
    std::shared_ptr<arrow::RecordBatchReader> reader;
    int64_t count = 0;
  };
  std::optional<arrow::Result<Appended>> AppendToMirror();
  // The INSERT with RETURNING * added, prepared on the backend and bound.
  arrow::Result<engine::EngineStatement*> Returning(const std::string& sql);
  // Runs a write on the backend (`run` on the backend's statement). The mirrors of what it
  // writes stop answering until reloaded, unless it is a DELETE a mirror follows: in the
  // session's transaction (FollowsWrite), or on its own (FollowedOnItsOwn).
  template <typename Result>
  Result Write(const std::function<Result(engine::EngineStatement&)>& run);
  // A DELETE outside a transaction that its table's mirror follows: run (`run`) in a
  // transaction of its own, committed with the mirror's; nullopt when the mirror cannot follow
  // it (or it lost to another write and changed nothing): then it runs as any write.
  template <typename Result>
  std::optional<Result> FollowedOnItsOwn(const std::function<Result()>& run);

  std::shared_ptr<CachedConnection> connection_;
  const std::string sql_;
  const ReadFootprint footprint_;
  engine::StatementKind kind_ = engine::StatementKind::kQuery;
  std::shared_ptr<arrow::Schema> dataset_schema_, parameter_schema_;
  std::unique_ptr<engine::EngineStatement> backend_, cache_, returning_;
  bool backend_bound_ = false, cache_bound_ = false, returning_bound_ = false;
  std::shared_ptr<arrow::RecordBatch> parameters_;
  std::optional<std::chrono::milliseconds> max_staleness_override_;
};

}  // namespace hyprstream::cache
