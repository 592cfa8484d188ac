#include "engine/adbc_engine.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <vector>

#include "engine/adbc_connection_pool.h"
#include "engine/adbc_driver.h"
#include "engine/adbc_engine_connection.h"
#include "engine/adbc_table_appender.h"
#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "engine/snapshot_read.h"

namespace hyprstream::engine {
namespace {

class AdbcEngine : public Engine {
  static constexpr const char* kReadOnlyRepeatableRead =
      "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";
  // Snapshots are taken while the caller keeps writes to the table out (engine.h): their
  // backend connections wait this long at most for the pool, not its whole wait
  // (connect_timeout), so a busy pool (whose holders may be writers waiting for that very
  // lock) fails the call instead of holding the writes: the caller goes without (a DELETE is
  // not followed, a build is tried again).
  static constexpr std::chrono::milliseconds kWaitUnderLock{250};

 public:
  AdbcEngine(std::shared_ptr<AdbcConnectionPool> pool, bool postgresql)
      : pool_(std::move(pool)), postgresql_(postgresql) {}
  std::string name() const override { return "adbc"; }
  Dialect dialect() const override { return Dialect::kBackend; }
  arrow::Result<std::shared_ptr<EngineConnection>> Connect() override {
    return std::make_shared<AdbcEngineConnection>(pool_);
  }
  arrow::Result<std::unique_ptr<TableAppender>> OpenAppender(
      const std::vector<std::string>& path, const std::shared_ptr<arrow::Schema>& schema) override {
    return AdbcTableAppender::Open(pool_, path, schema);
  }

  // PostgreSQL: a REPEATABLE READ transaction reads every query as of its first one (read
  // only: it holds no lock a writer waits for). Other backends: not known to (SQLite's read
  // transaction would hold writers off).
  bool reads_snapshots() const override { return postgresql_; }
  std::string MetricsText() const override { return AdbcPoolMetricsText(pool_->Stats()); }
  arrow::Result<std::shared_ptr<EngineConnection>> SnapshotConnection(
      const std::string& schema, const std::string& table) override {
    if (!postgresql_) return Engine::SnapshotConnection(schema, table);
    auto connection = std::make_shared<AdbcEngineConnection>(pool_);
    ARROW_RETURN_NOT_OK(connection->Reserve(kWaitUnderLock));
    // Any query takes the snapshot; one that reads no table costs nothing.
    return PinSnapshot(std::move(connection), "SELECT 1", {kReadOnlyRepeatableRead});
  }
  // PostgreSQL: the writer's REPEATABLE READ transaction (SERIALIZABLE where that is the
  // session's default: never weaker than the statement would run without it) takes its
  // snapshot by exporting it (pg_export_snapshot), and the reader's, of the same level,
  // imports it; the export stays valid while the writer's transaction is open.
  arrow::Result<std::shared_ptr<EngineConnection>> BeginSharingSnapshot(
      EngineConnection& writer, const std::string& schema, const std::string& table) override {
    auto* adbc_writer = dynamic_cast<AdbcEngineConnection*>(&writer);
    if (!postgresql_ || adbc_writer == nullptr) {
      return Engine::BeginSharingSnapshot(writer, schema, table);
    }
    // Both backend connections first, each waiting a moment at most.
    auto reader = std::make_shared<AdbcEngineConnection>(pool_);
    ARROW_RETURN_NOT_OK(reader->Reserve(kWaitUnderLock));
    ARROW_RETURN_NOT_OK(adbc_writer->Reserve(kWaitUnderLock));
    auto level = QueryValue(writer, "SELECT current_setting('default_transaction_isolation')");
    arrow::Status began = level.status();
    if (began.ok()) began = writer.BeginTransaction();
    if (!began.ok()) {
      adbc_writer->Unreserve();
      return began;
    }
    const std::string isolation = std::string("SET TRANSACTION ISOLATION LEVEL ") +
                                  (*level == "serializable" ? "SERIALIZABLE" : "REPEATABLE READ");
    auto shared = [&]() -> arrow::Result<std::shared_ptr<EngineConnection>> {
      ARROW_RETURN_NOT_OK(ExecuteStatement(writer, isolation));
      ARROW_ASSIGN_OR_RAISE(std::string exported,
                            QueryValue(writer, "SELECT pg_export_snapshot()"));
      return PinSnapshot(
          std::move(reader), "SELECT 1",
          {isolation + ", READ ONLY", "SET TRANSACTION SNAPSHOT " + QuoteLiteral(exported)});
    }();
    if (!shared.ok()) (void)writer.Rollback();
    return shared;
  }

 private:
  std::shared_ptr<AdbcConnectionPool> pool_;
  const bool postgresql_;  // the backend is PostgreSQL (its driver)
};

std::string PercentEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

arrow::Result<int> ParsePositive(const std::string& key, const std::string& value) {
  int parsed = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (ec != std::errc() || end != value.data() + value.size() || parsed < 0) {
    return arrow::Status::Invalid("connection option ", key,
                                  " must be a non-negative integer, got '", value, "'");
  }
  return parsed;
}

// host:port (or the file) of a URI, without credentials.
std::string BackendOf(const std::string& uri) {
  auto scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return uri.substr(0, uri.find('?'));
  std::string rest = uri.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?"));
  if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (rest.empty()) return uri.substr(0, scheme_end) + " (default host)";
  return rest;
}

}  // namespace

arrow::Result<AdbcConnectionSpec> ParseAdbcConnection(const std::string& connection,
                                                      const std::string& driver) {
  AdbcConnectionSpec spec;
  auto question = connection.find('?');
  std::string base = connection.substr(0, question);
  std::vector<std::string> kept;
  if (question != std::string::npos) {
    std::string query = connection.substr(question + 1);
    size_t start = 0;
    while (start <= query.size()) {
      size_t amp = query.find('&', start);
      std::string item = query.substr(start, amp == std::string::npos ? amp : amp - start);
      start = amp == std::string::npos ? query.size() + 1 : amp + 1;
      if (item.empty()) continue;
      auto eq = item.find('=');
      std::string key = item.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
      if (key == "pool_max") {
        ARROW_ASSIGN_OR_RAISE(spec.pool_max, ParsePositive(key, value));
      } else if (key == "pool_min") {
        ARROW_ASSIGN_OR_RAISE(spec.pool_min, ParsePositive(key, value));
      } else if (key == "pool_max_lifetime") {
        ARROW_ASSIGN_OR_RAISE(spec.pool_max_lifetime_s, ParsePositive(key, value));
      } else if (key == "pool_idle_timeout") {
        ARROW_ASSIGN_OR_RAISE(spec.pool_idle_timeout_s, ParsePositive(key, value));
      } else if (key == "pool_check_idle_ms") {
        ARROW_ASSIGN_OR_RAISE(spec.pool_check_idle_ms, ParsePositive(key, value));
      } else if (key == "connect_timeout") {
        ARROW_ASSIGN_OR_RAISE(spec.connect_timeout_s, ParsePositive(key, value));
        if (driver == "postgresql") kept.push_back(item);  // libpq understands it
      } else {
        kept.push_back(item);
      }
    }
  }
  spec.driver_uri = base;
  for (size_t i = 0; i < kept.size(); ++i) spec.driver_uri += (i ? "&" : "?") + kept[i];
  spec.backend = BackendOf(base);
  if (spec.pool_max < 1) return arrow::Status::Invalid("pool_max must be at least 1");
  if (spec.pool_min > spec.pool_max) {
    return arrow::Status::Invalid("pool_min (", spec.pool_min, ") exceeds pool_max (",
                                  spec.pool_max, ")");
  }
  return spec;
}

std::string AddUriCredentials(const std::string& uri, const std::string& username,
                              const std::optional<std::string>& password) {
  auto scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return uri;
  std::string head = uri.substr(0, scheme_end + 3);
  std::string rest = uri.substr(scheme_end + 3);
  // Drop credentials already in the URI: the configured ones win.
  auto authority_end = rest.find_first_of("/?");
  auto at = rest.rfind('@', authority_end);
  if (at != std::string::npos) rest = rest.substr(at + 1);
  std::string userinfo = PercentEncode(username);
  if (password) {
    userinfo += ':';
    userinfo += PercentEncode(*password);
  }
  return head + userinfo + "@" + rest;
}

arrow::Result<std::shared_ptr<Engine>> OpenAdbcEngine(const EngineOptions& options) {
  ARROW_ASSIGN_OR_RAISE(auto where, ResolveAdbcDriver(options.options, options.connection));
  std::string driver_name = AdbcDriverForUri(options.connection);
  if (auto it = options.options.find("driver"); it != options.options.end()) {
    driver_name = it->second == "postgres" ? "postgresql" : it->second;
  } else if (where.path.find("postgresql") != std::string::npos) {
    driver_name = "postgresql";
  }
  ARROW_ASSIGN_OR_RAISE(auto spec, ParseAdbcConnection(options.connection, driver_name));
  ARROW_ASSIGN_OR_RAISE(auto library, AdbcDriverLibrary::Load(where));

  std::vector<std::pair<std::string, std::string>> database_options;
  std::string uri = spec.driver_uri;
  bool credentials_in_uri = driver_name == "postgresql" && options.username.has_value();
  if (credentials_in_uri) uri = AddUriCredentials(uri, *options.username, options.password);
  // SQLite: ":memory:" (or nothing) means the driver's default shared in-memory database, so
  // every pooled connection sees the same data.
  bool default_database = driver_name == "sqlite" && (uri.empty() || uri == ":memory:");
  if (!uri.empty() && !default_database) database_options.emplace_back(ADBC_OPTION_URI, uri);
  if (!credentials_in_uri) {
    if (options.username) database_options.emplace_back(ADBC_OPTION_USERNAME, *options.username);
    if (options.password) database_options.emplace_back(ADBC_OPTION_PASSWORD, *options.password);
  }
  for (const auto& [key, value] : options.options) {
    if (key == "driver" || key == "driver_path" || key == "entrypoint") continue;
    database_options.emplace_back(key, value);
  }
  AdbcPoolOptions pool_options;
  pool_options.max_connections = spec.pool_max;
  pool_options.min_connections = spec.pool_min;
  pool_options.acquire_timeout = std::chrono::seconds(spec.connect_timeout_s);
  pool_options.check_idle_after = std::chrono::milliseconds(spec.pool_check_idle_ms);
  pool_options.idle_timeout = std::chrono::seconds(spec.pool_idle_timeout_s);
  pool_options.max_lifetime = std::chrono::seconds(spec.pool_max_lifetime_s);
  pool_options.backend = spec.backend;
  // SQLite fails a statement at once ("database is locked") while another connection writes
  // (a window's history, another client): wait for it instead, as a server's clients expect.
  if (driver_name == "sqlite")
    pool_options.connection_setup.push_back("PRAGMA busy_timeout = 10000");
  ARROW_ASSIGN_OR_RAISE(
      auto pool, AdbcConnectionPool::Open(std::move(library), database_options, pool_options));
  return std::make_shared<AdbcEngine>(std::move(pool), driver_name == "postgresql");
}

}  // namespace hyprstream::engine
