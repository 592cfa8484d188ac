// One open duckdb_database, shared (std::shared_ptr) by the engine and every session and
// appender made from it, so it is closed only after the last of them is gone. Thread-safe.
#pragma once

#include <duckdb.h>

#include <arrow/result.h>

#include "engine/engine.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace hyprstream::engine {

// The TimeZone every session starts with (results label TIMESTAMPTZ columns with it); an
// engine option TimeZone=<IANA name> changes it, SET TimeZone one session's.
inline constexpr char kDefaultTimeZone[] = "UTC";

class DuckDbDatabase {
 public:
  // See OpenDuckDbEngine for the meaning of `options`.
  static arrow::Result<std::shared_ptr<DuckDbDatabase>> Open(const EngineOptions& options);
  ~DuckDbDatabase();
  DuckDbDatabase(const DuckDbDatabase&) = delete;
  DuckDbDatabase& operator=(const DuckDbDatabase&) = delete;

  // A new connection; the caller disconnects it.
  arrow::Result<duckdb_connection> Connect();

  // Target rows per streamed result batch (EngineOptions::result_batch_rows).
  int64_t result_batch_rows() const { return result_batch_rows_; }

  // Table functions whose rows may be served without DuckDB's executor
  // (TableFunctionSpec::direct_read), by lower-case name; Find returns null when unknown.
  void AddDirectFunction(std::shared_ptr<const TableFunctionSpec> spec);
  std::shared_ptr<const TableFunctionSpec> FindDirectFunction(const std::string& name) const;

 private:
  arrow::Status SetDefaultTimeZone(const std::string& time_zone);
  DuckDbDatabase(duckdb_database database, int64_t result_batch_rows)
      : database_(database), result_batch_rows_(result_batch_rows) {}
  duckdb_database database_;
  int64_t result_batch_rows_;
  mutable std::mutex direct_mutex_;  // guards direct_functions_
  std::map<std::string, std::shared_ptr<const TableFunctionSpec>> direct_functions_;
};

}  // namespace hyprstream::engine
