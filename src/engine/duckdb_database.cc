#include "engine/duckdb_database.h"

#include <algorithm>
#include <map>
#include <string>
#include <thread>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/duckdb_handle.h"
#include "engine/duckdb_status.h"

namespace hyprstream::engine {

namespace {

bool IsKnownConfigFlag(const std::string& name) {
  size_t count = duckdb_config_count();
  for (size_t i = 0; i < count; ++i) {
    const char* flag = nullptr;
    const char* description = nullptr;
    if (duckdb_get_config_flag(i, &flag, &description) == DuckDBSuccess && flag != nullptr &&
        name == flag) {
      return true;
    }
  }
  return false;
}

}  // namespace

arrow::Result<std::shared_ptr<DuckDbDatabase>> DuckDbDatabase::Open(const EngineOptions& options) {
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) != DuckDBSuccess) {
    return arrow::Status::IOError("DuckDB: cannot create a configuration");
  }
  // Without a `threads` setting DuckDB runs one worker per core. (An earlier floor of 4
  // threads, against a hang seen once on a UNION ALL of large aggregates with 2-3 threads,
  // oversubscribed small machines; the hang does not reproduce — see
  // DuckDbEngineOpen.UnionOfLargeAggregatesWithTwoThreads.)
  std::map<std::string, std::string> settings = options.options;
  // Results label TIMESTAMPTZ columns with the session's TimeZone, which DuckDB would take
  // from the host (Etc/UTC on Debian, UTC with TZ=UTC): a fixed default instead, set once
  // DuckDB is open (it needs ICU, which is not loaded while the config is read).
  std::string time_zone = kDefaultTimeZone;
  for (auto it = settings.begin(); it != settings.end();) {
    if (EqualsIgnoringCase(it->first, "TimeZone")) {
      time_zone = it->second;
      it = settings.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, value] : settings) {
    if (duckdb_set_config(config, name.c_str(), value.c_str()) != DuckDBSuccess) {
      duckdb_destroy_config(&config);
      if (!IsKnownConfigFlag(name)) {
        return arrow::Status::Invalid("unknown DuckDB option '", name, "'");
      }
      return arrow::Status::Invalid("invalid value '", value, "' for DuckDB option '", name, "'");
    }
  }
  const char* path = (options.connection.empty() || options.connection == ":memory:")
                         ? nullptr
                         : options.connection.c_str();
  duckdb_database database = nullptr;
  char* error = nullptr;
  duckdb_state state = duckdb_open_ext(path, &database, config, &error);
  duckdb_destroy_config(&config);
  if (state != DuckDBSuccess) {
    std::string message = error != nullptr ? error : "unknown error";
    if (error != nullptr) duckdb_free(error);
    // Bad option values are only detected at open time.
    arrow::Status status = StatusFromDuckDbMessage(message, "opening DuckDB database");
    if (status.IsIOError() && message.find("option") != std::string::npos) {
      return arrow::Status::Invalid(status.message());
    }
    return status;
  }
  std::shared_ptr<DuckDbDatabase> opened(
      new DuckDbDatabase(database, std::max<int64_t>(1, options.result_batch_rows)));
  ARROW_RETURN_NOT_OK(opened->SetDefaultTimeZone(time_zone));
  return opened;
}

arrow::Status DuckDbDatabase::SetDefaultTimeZone(const std::string& time_zone) {
  ARROW_ASSIGN_OR_RAISE(duckdb_connection connection, Connect());
  ResultHandle result;
  const std::string sql = "SET GLOBAL TimeZone = " + QuoteLiteral(time_zone);
  duckdb_state state = duckdb_query(connection, sql.c_str(), result.out());
  arrow::Status status = state == DuckDBSuccess
                             ? arrow::Status::OK()
                             : StatusFromResult(result.get(), "setting the default TimeZone");
  result.Reset();
  duckdb_disconnect(&connection);
  if (!status.ok()) {
    return arrow::Status::Invalid(
        "invalid TimeZone '", time_zone,
        "' (an IANA name such as UTC or Europe/Paris): ", status.message());
  }
  return arrow::Status::OK();
}

DuckDbDatabase::~DuckDbDatabase() { duckdb_close(&database_); }

void DuckDbDatabase::AddDirectFunction(std::shared_ptr<const TableFunctionSpec> spec) {
  std::lock_guard<std::mutex> lock(direct_mutex_);
  direct_functions_[spec->name] = std::move(spec);
}

std::shared_ptr<const TableFunctionSpec> DuckDbDatabase::FindDirectFunction(
    const std::string& name) const {
  std::lock_guard<std::mutex> lock(direct_mutex_);
  auto it = direct_functions_.find(name);
  return it == direct_functions_.end() ? nullptr : it->second;
}

arrow::Result<duckdb_connection> DuckDbDatabase::Connect() {
  duckdb_connection connection = nullptr;
  if (duckdb_connect(database_, &connection) != DuckDBSuccess) {
    return arrow::Status::IOError("DuckDB: cannot open a connection");
  }
  return connection;
}

}  // namespace hyprstream::engine
