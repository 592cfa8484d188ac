#include "server/server_main.h"

#include <arrow/array.h>
#include <arrow/flight/server.h>
#include <arrow/flight/server_auth.h>
#include <arrow/scalar.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "access/grant_functions.h"
#include "access/grant_log.h"
#include "access/grant_set.h"
#include "cache/cached_engine.h"
#include "engine/adbc_engine.h"
#include "engine/duckdb_engine.h"
#include "engine/engine_sql.h"
#include "flightsql/flight_sql_server.h"
#include "server/audit_log.h"
#include "server/auth_middleware.h"
#include "server/authenticator.h"
#include "server/config.h"
#include "server/http_endpoint.h"
#include "server/password_hash.h"
#include "server/termination_signals.h"
#include "server/tls_options.h"
#include "server/window_metrics.h"
#include "window/window_catalog.h"
#include "window/windowed_engine.h"

namespace hyprstream::server {
namespace {

arrow::Result<std::shared_ptr<engine::Engine>> OpenEngine(const Config& config) {
  engine::EngineOptions options;
  options.connection = config.engine_connection;
  options.options = config.engine_options;
  options.result_batch_rows = config.result_batch_rows;
  if (config.engine == "duckdb") {
    // --memory-limit; an explicit --engine-options memory_limit=... wins.
    if (!config.memory_limit.empty()) options.options.emplace("memory_limit", config.memory_limit);
    return engine::OpenDuckDbEngine(options);
  }
  if (config.engine == "adbc") {
    options.username = config.engine_username;
    options.password = config.engine_password;
    return engine::OpenAdbcEngine(options);
  }
  return arrow::Status::NotImplemented("engine '", config.engine,
                                       "' is not available in this build; use duckdb or adbc");
}

arrow::Result<cache::CacheOptions> CacheOptionsOf(const Config& config) {
  cache::CacheOptions options;
  options.max_duration = config.cache_max_duration;
  options.result_ttl = config.cache_result_ttl;
  options.result_max_bytes = config.cache_result_max_bytes;
  options.refresh_interval = config.cache_refresh_interval;
  options.mirror_ingested_tables = config.cache_ingested_tables;
  for (const auto& [table, spec] : config.cache_tables) {
    cache::MirrorOptions mirror;
    mirror.table = table;
    const size_t slash = spec.find('/');
    mirror.time_column = spec.substr(0, slash);
    const std::string mode = slash == std::string::npos ? "append" : spec.substr(slash + 1);
    if (mode == "append") {
      mirror.refresh =
          mirror.time_column.empty() ? cache::RefreshMode::kReload : cache::RefreshMode::kAppend;
    } else if (mode == "reload") {
      mirror.refresh = cache::RefreshMode::kReload;
    } else if (mode == "none") {
      mirror.refresh = cache::RefreshMode::kNone;
    } else {
      return arrow::Status::Invalid("--cache-tables ", table, "=", spec, ": refresh mode '", mode,
                                    "' is not append, reload or none");
    }
    options.tables.push_back(std::move(mirror));
  }
  return options;
}

// The engine clients talk to: the configured one, behind the DuckDB cache when enabled.
arrow::Result<std::shared_ptr<engine::Engine>> OpenServingEngine(const Config& config) {
  ARROW_ASSIGN_OR_RAISE(auto engine, OpenEngine(config));
  if (!config.enable_cache) return engine;
  engine::EngineOptions cache_engine;
  cache_engine.connection = config.cache_connection;
  cache_engine.options = config.cache_options;
  cache_engine.result_batch_rows = config.result_batch_rows;
  if (!config.memory_limit.empty()) {
    cache_engine.options.emplace("memory_limit", config.memory_limit);
  }
  ARROW_ASSIGN_OR_RAISE(auto cache, engine::OpenDuckDbEngine(cache_engine));
  ARROW_ASSIGN_OR_RAISE(auto options, CacheOptionsOf(config));
  return cache::OpenCachedEngine(std::move(engine), std::move(cache), std::move(options));
}

// The windows layer over the serving engine (any engine: embedded DuckDB, a backend with or
// without the cache), with the definitions of the config.
arrow::Result<std::shared_ptr<window::WindowedEngine>> OpenWindows(
    const Config& config, std::shared_ptr<engine::Engine> engine) {
  window::WindowCatalogOptions window_options;
  window_options.metrics_table = config.metrics_table;
  window_options.metrics_running_width_us = config.metrics_running_window.count() * 1000000LL;
  window_options.allowed_lateness_us = config.window_lateness.count() * 1000000LL;
  window_options.metrics_trailing_windows.clear();
  if (config.metrics_trailing_window.count() > 0) {
    window_options.metrics_trailing_windows.push_back(
        window::WindowDef::Trailing(config.metrics_trailing_window.count() * 1000000LL));
  }
  window_options.trailing_panes = config.window_trailing_panes;
  window_options.trailing_edge_cache_bytes = config.window_edge_cache_bytes;
  ARROW_ASSIGN_OR_RAISE(window_options.metrics_integer_time_unit,
                        window::ParseTimeUnit(config.metrics_integer_time_unit));
  ARROW_ASSIGN_OR_RAISE(auto windowed,
                        window::WindowedEngine::Open(std::move(engine), window_options));
  window::WindowCatalog& windows = windowed->catalog();
  for (const auto& definition : config.window_definitions) {
    const std::string name = definition.at("name");  // required by the config loader
    auto target = window::TableName::Parse(definition.at("table"));
    auto arguments = window::WindowArguments::FromMap(definition);
    auto created = windows.Create(name, target, arguments);
    if (created.ok()) {
      spdlog::info("window {} on {} defined from the config ({} rows back-filled)", name,
                   target.key(), *created);
    } else if (created.status().IsAlreadyExists()) {
      spdlog::info("window {} already defined; kept as stored", name);
    } else if (created.status().IsKeyError()) {
      spdlog::warn("config window {} skipped: {}", name, created.status().message());
    } else {
      return created.status().WithMessage("config window '", name,
                                          "': ", created.status().message());
    }
  }
  return windowed;
}

// hyprstream_cache_stats() (name, value rows) as hyprstream_cache_<name> gauges.
std::string CacheMetrics(engine::EngineConnection& connection) {
  auto batches = [&]() -> arrow::Result<arrow::RecordBatchVector> {
    ARROW_ASSIGN_OR_RAISE(auto statement,
                          connection.Prepare("SELECT * FROM hyprstream_cache_stats()"));
    ARROW_ASSIGN_OR_RAISE(auto reader, statement->ExecuteQuery());
    return reader->ToRecordBatches();
  }();
  if (!batches.ok()) return "";
  std::string text;
  for (const auto& batch : *batches) {
    if (batch->num_columns() < 2) continue;
    auto names = std::dynamic_pointer_cast<arrow::StringArray>(batch->column(0));
    if (!names) continue;
    for (int64_t i = 0; i < batch->num_rows(); ++i) {
      auto value = batch->column(1)->GetScalar(i);
      if (!value.ok() || !(*value)->is_valid || names->IsNull(i)) continue;
      auto number = (*value)->CastTo(arrow::float64());
      if (!number.ok()) continue;
      const std::string name = "hyprstream_cache_" + names->GetString(i);
      text += "# TYPE " + name + " gauge\n" + name + " " +
              std::to_string(std::static_pointer_cast<arrow::DoubleScalar>(*number)->value) + "\n";
    }
  }
  return text;
}

// /health and /metrics. Cache statistics come from hyprstream_cache_stats() on a connection of
// the endpoint's own (the endpoint answers one request at a time).
HttpEndpoint::Handler ProbeHandler(const Config& config, flightsql::FlightSqlServer& server,
                                   const flightsql::CallObserver& observer,
                                   std::shared_ptr<engine::Engine> engine,
                                   const window::WindowCatalog& windows) {
  std::shared_ptr<engine::EngineConnection> stats_connection;
  if (config.enable_cache) {
    auto connection = engine->Connect();
    if (connection.ok()) stats_connection = *connection;
  }
  return [&server, &observer, &windows, stats_connection,
          engine](const std::string& path) -> HttpResponse {
    if (path == "/health") {
      if (observer.draining()) return {503, "text/plain; charset=utf-8", "draining\n"};
      return {200, "text/plain; charset=utf-8", "serving\n"};
    }
    if (path == "/metrics") {
      std::string text = server.MetricsText() + WindowMetricsText(windows) + engine->MetricsText();
      text +=
          "# HELP hyprstream_draining 1 while the server shuts down.\n"
          "# TYPE hyprstream_draining gauge\nhyprstream_draining " +
          std::to_string(observer.draining() ? 1 : 0) + "\n";
      if (stats_connection) text += CacheMetrics(*stats_connection);
      return {200, "text/plain; version=0.0.4; charset=utf-8", std::move(text)};
    }
    return {404, "text/plain; charset=utf-8", "not found; try /health or /metrics\n"};
  };
}

// SIGTERM/SIGINT: refuse new calls, give running statements `grace` to finish (a second
// signal cuts it short), interrupt what is left, stop the transport.
void DrainAndStop(const Config& config, flightsql::FlightSqlServer& server,
                  flightsql::CallObserver& observer, int signal) {
  observer.StartDraining();
  auto& sessions = server.sessions();
  spdlog::info(
      "signal {}: shutting down, draining; {} statements running, up to {}s to finish (a "
      "second signal stops at once)",
      signal, sessions.running_count(), config.shutdown_grace.count());
  const auto deadline = std::chrono::steady_clock::now() + config.shutdown_grace;
  bool forced = false;
  while (sessions.running_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    if (int again = WaitForTerminationSignal(std::chrono::milliseconds(100)); again != 0) {
      spdlog::warn("signal {} again: stopping at once", again);
      forced = true;
      break;
    }
  }
  if (sessions.running_count() > 0) {
    spdlog::warn("interrupting {} statements still running{}", sessions.running_count(),
                 forced ? "" : " after the grace period");
    sessions.InterruptAll();
  }
  // Calls still in flight (interrupted streams, short metadata calls) get a moment to end.
  auto stop_by = std::chrono::system_clock::now() + std::chrono::seconds(forced ? 1 : 5);
  arrow::Status stopped = server.Shutdown(&stop_by);
  if (!stopped.ok()) spdlog::warn("stopping the Flight server: {}", stopped.ToString());
  (void)server.Wait();
}

// A file-backed DuckDB writes its WAL into the database file before exit.
void Checkpoint(const Config& config, engine::Engine& engine) {
  if (config.engine != "duckdb" || config.enable_cache || config.engine_connection.empty() ||
      config.engine_connection == ":memory:") {
    return;
  }
  arrow::Status status = [&]() -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto connection, engine.Connect());
    return engine::ExecuteStatement(*connection, "CHECKPOINT");
  }();
  if (status.ok()) {
    spdlog::info("checkpointed {}", config.engine_connection);
  } else {
    spdlog::warn("checkpoint of {} failed (the WAL replays at next start): {}",
                 config.engine_connection, status.ToString());
  }
}

arrow::Result<std::unique_ptr<Authenticator>> MakeAuthenticator(const Config& config) {
  AuthenticatorOptions options;
  for (const auto& user : config.users) {
    options.users.push_back(UserEntry{user.name, user.password_hash,
                                      *flightsql::ParseRole(user.role),  // checked on load
                                      user.groups});
  }
  if (config.auth_token_secret) options.token_secret = *config.auth_token_secret;
  options.token_lifetime = config.auth_token_lifetime;
  if (!config.auth_jwt_public_key.empty()) {
    ExternalJwtOptions external;
    ARROW_ASSIGN_OR_RAISE(external.public_key_pem,
                          ReadTextFile(config.auth_jwt_public_key, "--auth-jwt-public-key"));
    external.issuer = config.auth_jwt_issuer;
    external.audience = config.auth_jwt_audience;
    external.user_claim = config.auth_jwt_user_claim;
    external.role_claim = config.auth_jwt_role_claim;
    external.groups_claim = config.auth_jwt_groups_claim;
    options.external = std::move(external);
  }
  return Authenticator::Make(std::move(options));
}

// The grants of the config with the run-time changes kept in the engine replayed over them,
// and hyprstream_grant()/_revoke()/_grants() to change them (on `host`, the engine clients
// use). Grants name DuckDB catalogs and are resolved through DuckDB's catalog: the embedded
// engine only. The change log is kept through `storage`, the engine below the windows: a
// statement through the windows that changes tables they cannot tell (CREATE SCHEMA) would
// stop queries being answered from them.
arrow::Result<std::shared_ptr<access::GrantSet>> OpenGrants(
    const Config& config, engine::Engine& host, const std::shared_ptr<engine::Engine>& storage) {
  std::vector<access::Grant> grants;
  for (const auto& entry : config.grants) {
    ARROW_ASSIGN_OR_RAISE(auto grant,
                          access::Grant::Parse(entry.privilege, entry.object, entry.principal));
    grants.push_back(std::move(grant));
  }
  if (config.engine != "duckdb" || config.enable_cache) {
    if (!grants.empty()) {
      return arrow::Status::Invalid(
          "[[grants]] need the embedded DuckDB engine (--engine duckdb without --enable-cache): "
          "grants are checked against DuckDB's catalog");
    }
    return nullptr;
  }
  auto set = std::make_shared<access::GrantSet>(std::move(grants));
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<access::GrantLog> log, access::GrantLog::Open(storage));
  ARROW_ASSIGN_OR_RAISE(auto changes, log->Load());
  for (const auto& change : changes) {
    change.granted ? set->Add(change.grant) : set->Remove(change.grant);
  }
  ARROW_RETURN_NOT_OK(access::RegisterGrantFunctions(set, log, host));
  if (set->enforced()) {
    spdlog::info(
        "{} grants are enforced for non-admin users ({} from the config, {} run-time changes "
        "replayed)",
        set->List().size(), config.grants.size(), changes.size());
    if (!config.auth_enabled() && !config.readonly) {
      spdlog::warn(
          "[[grants]] without authentication do nothing: every caller is the anonymous admin; "
          "configure [[users]] or --auth-jwt-public-key (docs/security.md)");
    }
  }
  return set;
}

arrow::Status Serve(const Config& config) {
  // Before DuckDB, gRPC or any other thread starts: signals are received by the shutdown
  // sequence below, never by a handler on a random thread.
  BlockTerminationSignals();
  // Security first: a bad certificate, key or user list stops the start before any data opens.
  std::unique_ptr<Authenticator> authenticator;
  if (config.auth_enabled()) {
    ARROW_ASSIGN_OR_RAISE(authenticator, MakeAuthenticator(config));
  }
  std::unique_ptr<AuditLog> audit;
  if (!config.audit_log.empty()) {
    ARROW_ASSIGN_OR_RAISE(audit, AuditLog::Open(config.audit_log));
  }
  ARROW_ASSIGN_OR_RAISE(auto serving, OpenServingEngine(config));
  ARROW_ASSIGN_OR_RAISE(auto windowed, OpenWindows(config, serving));
  std::shared_ptr<engine::Engine> engine = windowed;

  flightsql::FlightSqlServerOptions server_options;
  server_options.limits.session_idle_timeout = config.session_idle_timeout;
  server_options.limits.statement_idle_timeout = config.statement_idle_timeout;
  server_options.limits.query_timeout = config.query_timeout;
  server_options.limits.max_sessions = config.max_sessions;
  server_options.limits.max_concurrent_statements = config.max_concurrent_statements;
  server_options.limits.statement_queue_timeout = config.statement_queue_timeout;
  server_options.limits.poll_lease = config.poll_lease;
  ARROW_ASSIGN_OR_RAISE(server_options.grants, OpenGrants(config, *engine, serving));
  flightsql::FlightSqlServer server(engine, server_options);
  auto observer = std::make_shared<flightsql::CallObserver>(&server.metrics());

  ARROW_ASSIGN_OR_RAISE(auto location, ListenLocation(config));
  arrow::flight::FlightServerOptions options(location);
  ARROW_RETURN_NOT_OK(ApplyTlsOptions(config, &options));
  // Every call is counted (refused ones too), then authenticated and authorised.
  options.middleware.emplace_back("hyprstream.calls", observer);
  if (authenticator) {
    // The Handshake RPC must exist for clients to send credentials on; the credentials
    // themselves are checked by the middleware below, from the call's headers.
    options.auth_handler = std::make_shared<arrow::flight::NoOpAuthHandler>();
  }
  if (authenticator || audit || config.readonly) {
    options.middleware.emplace_back(flightsql::kCallRecordKey,
                                    std::make_shared<AuthMiddlewareFactory>(AuthMiddlewareOptions{
                                        authenticator.get(), config.readonly, audit.get()}));
  }
  ARROW_RETURN_NOT_OK(server.Init(options));
  std::unique_ptr<HttpEndpoint> http;
  if (config.http_port > 0) {
    ARROW_ASSIGN_OR_RAISE(http, HttpEndpoint::Start(config.host, config.http_port,
                                                    ProbeHandler(config, server, *observer, engine,
                                                                 windowed->catalog())));
    spdlog::info("serving /health and /metrics on http://{}:{}", config.host, http->port());
  }
  spdlog::info("hyprstream {} serving Flight SQL on {}://{}:{} ({})", HYPRSTREAM_VERSION,
               config.tls_enabled() ? "grpc+tls" : "grpc", config.host, server.port(),
               DescribeConfig(config));
  if (!config.tls_enabled() && !IsLoopbackHost(config.host)) {
    spdlog::warn(
        "SERVING WITHOUT TLS ON {}: queries, data{} cross the network in clear text; set "
        "--tls-cert and --tls-key",
        config.host, config.auth_enabled() ? ", passwords and bearer tokens" : "");
  }
  if (!config.auth_enabled() && !IsLoopbackHost(config.host)) {
    spdlog::warn(
        "no authentication: anyone who reaches {}:{} has full access; configure "
        "[[users]] (docs/security.md)",
        config.host, server.port());
  }
  const int signal = WaitForTerminationSignal(std::nullopt);
  DrainAndStop(config, server, *observer, signal);
  http.reset();
  Checkpoint(config, *engine);
  spdlog::info("stopped");
  return arrow::Status::OK();
}

}  // namespace

int RunServer(int argc, const char* const* argv, const std::map<std::string, std::string>& env) {
  auto outcome = LoadConfig(argc, argv, env);
  if (!outcome.ok()) {
    std::cerr << "hyprstream: " << outcome.status().message() << "\n"
              << "Run 'hyprstream --help' for the options.\n";
    return 2;
  }
  if (outcome->exit_text) {
    std::cout << *outcome->exit_text;
    return outcome->exit_code;
  }
  if (outcome->hash_password) {
    // One line from stdin (the password; a trailing newline is not part of it).
    std::string password;
    std::getline(std::cin, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) {
      std::cerr << "hyprstream: --hash-password reads the password from stdin; got none\n";
      return 2;
    }
    auto hash = HashPassword(password);
    if (!hash.ok()) {
      std::cerr << "hyprstream: " << hash.status().message() << "\n";
      return 1;
    }
    std::cout << *hash << "\n";
    return 0;
  }
  const Config& config = outcome->config;

  auto logger = spdlog::stderr_color_mt("hyprstream");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  arrow::Status status = Serve(config);
  if (!status.ok()) {
    spdlog::critical("{}", status.ToString());
    return 1;
  }
  return 0;
}

}  // namespace hyprstream::server
