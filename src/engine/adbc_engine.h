// The ADBC engine: hyprstream as a Flight SQL front for any database an ADBC driver reaches
// (PostgreSQL, SQLite, another Flight SQL server, ...). One driver library and one connection
// pool per engine; sessions borrow pooled connections per operation (AdbcEngineConnection).
// Snapshots (SnapshotConnection, BeginSharingSnapshot: taken while the caller keeps a table's
// writes out) wait at most 250 ms for pooled connections, then fail with BackendUnavailable.
// Thread-safe.
#pragma once

#include "engine/engine.h"

namespace hyprstream::engine {

// options.connection: the backend URI, with pool options in its query string (pool_max,
// pool_min, pool_check_idle_ms, pool_idle_timeout, pool_max_lifetime and connect_timeout seconds;
// removed before the URI reaches the driver, except connect_timeout for libpq). options.options:
// driver_path=<file> | driver=<short name> | entrypoint=<symbol>; everything else is an ADBC
// database option. username/password go into a PostgreSQL URI (percent-encoded) or the standard
// ADBC username/password options.
arrow::Result<std::shared_ptr<Engine>> OpenAdbcEngine(const EngineOptions& options);

// The backend URI and pool settings split from the connection string (exposed for tests).
struct AdbcConnectionSpec {
  std::string driver_uri;  // what the driver receives (credentials not yet added)
  int pool_max = 10;
  int pool_min = 1;
  int pool_check_idle_ms = 1000;   // an idle connection unused this long is checked before use
  int pool_idle_timeout_s = 600;   // idle connections beyond pool_min are closed after; 0: never
  int pool_max_lifetime_s = 1800;  // connections open this long are closed once free; 0: never
  int connect_timeout_s = 30;
  std::string backend;  // host:port or file, for messages
};
arrow::Result<AdbcConnectionSpec> ParseAdbcConnection(const std::string& connection,
                                                      const std::string& driver);
// `uri` with user:password@ (percent-encoded) after the scheme.
std::string AddUriCredentials(const std::string& uri, const std::string& username,
                              const std::optional<std::string>& password);

}  // namespace hyprstream::engine
