#include "server/server_main.h"

#include <arrow/flight/server.h>
#include <arrow/flight/server_auth.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "cache/cached_engine.h"
#include "engine/adbc_engine.h"
#include "engine/duckdb_engine.h"
#include "engine/engine_sql.h"
#include "flightsql/flight_sql_server.h"
#include "server/audit_log.h"
#include "server/auth_middleware.h"
#include "server/authenticator.h"
#include "server/config.h"
#include "server/password_hash.h"
#include "server/shutdown_signals.h"
#include "server/tls_options.h"
#include "window/window_catalog.h"

namespace hyprstream::server {
namespace {

arrow::Result<std::shared_ptr<engine::Engine>> OpenEngine(const Config& config) {
  engine::EngineOptions options;
  options.connection = config.engine_connection;
  options.options = config.engine_options;
  options.result_batch_rows = config.result_batch_rows;
  if (config.engine == "duckdb") return engine::OpenDuckDbEngine(options);
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
      mirror.refresh = mirror.time_column.empty() ? cache::RefreshMode::kReload
                                                  : cache::RefreshMode::kAppend;
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
  ARROW_ASSIGN_OR_RAISE(auto cache, engine::OpenDuckDbEngine(cache_engine));
  ARROW_ASSIGN_OR_RAISE(auto options, CacheOptionsOf(config));
  return cache::OpenCachedEngine(std::move(engine), std::move(cache), std::move(options));
}

arrow::Result<std::shared_ptr<window::WindowCatalog>> OpenWindows(
    const Config& config, const std::shared_ptr<engine::Engine>& engine) {
  window::WindowCatalogOptions window_options;
  window_options.metrics_table = config.metrics_table;
  window_options.metrics_running_width_us = config.metrics_running_window.count() * 1000000LL;
  window_options.allowed_lateness_us = config.window_lateness.count() * 1000000LL;
  ARROW_ASSIGN_OR_RAISE(window_options.metrics_integer_time_unit,
                        window::ParseTimeUnit(config.metrics_integer_time_unit));
  std::shared_ptr<window::WindowCatalog> windows;
  if (engine->name() != "duckdb") {
    // Windows keep their state in DuckDB tables and SQL; they run on the embedded DuckDB
    // engine only (not yet behind a cache or on a pass-through backend).
    spdlog::info("time windows are off: they run on the embedded DuckDB engine, not on {}",
                 engine->name());
  } else {
    ARROW_ASSIGN_OR_RAISE(windows, window::WindowCatalog::Open(engine, window_options));
  }
  if (!windows && !config.window_definitions.empty()) {
    return arrow::Status::Invalid("windows defined in the config need the DuckDB engine");
  }
  for (const auto& definition : config.window_definitions) {
    const std::string name = definition.at("name");  // required by the config loader
    auto target = window::TableName::Parse(definition.at("table"));
    auto arguments = window::WindowArguments::FromMap(definition);
    auto created = windows->Create(name, target, arguments);
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
  return windows;
}

arrow::Result<std::unique_ptr<Authenticator>> MakeAuthenticator(const Config& config) {
  AuthenticatorOptions options;
  for (const auto& user : config.users) {
    options.users.push_back(UserEntry{user.name, user.password_hash,
                                      *flightsql::ParseRole(user.role)});  // checked on load
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
    options.external = std::move(external);
  }
  return Authenticator::Make(std::move(options));
}

arrow::Status Serve(const Config& config) {
  // Before any thread exists: only the signal watcher sees SIGINT/SIGTERM.
  ShutdownSignals::BlockInThisThread();
  // Security first: a bad certificate, key or user list stops the start before any data opens.
  std::unique_ptr<Authenticator> authenticator;
  if (config.auth_enabled()) {
    ARROW_ASSIGN_OR_RAISE(authenticator, MakeAuthenticator(config));
  }
  std::unique_ptr<AuditLog> audit;
  if (!config.audit_log.empty()) {
    ARROW_ASSIGN_OR_RAISE(audit, AuditLog::Open(config.audit_log));
  }
  ARROW_ASSIGN_OR_RAISE(auto location, ListenLocation(config));
  arrow::flight::FlightServerOptions options(location);
  ARROW_RETURN_NOT_OK(ApplyTlsOptions(config, &options));
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

  ARROW_ASSIGN_OR_RAISE(auto engine, OpenServingEngine(config));
  ARROW_ASSIGN_OR_RAISE(auto windows, OpenWindows(config, engine));

  flightsql::FlightSqlServerOptions server_options;
  server_options.windows = windows;
  server_options.limits.session_idle_timeout = config.session_idle_timeout;
  server_options.limits.statement_idle_timeout = config.statement_idle_timeout;
  flightsql::FlightSqlServer server(engine, server_options);

  ARROW_RETURN_NOT_OK(server.Init(options));
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
  ShutdownSignals signals;
  signals.Watch([&server, grace = config.shutdown_grace_period](int signal) {
    // gRPC stops accepting calls at once (clients get UNAVAILABLE); running calls may finish
    // until the deadline, then are cancelled (which interrupts their DuckDB statements).
    spdlog::info(
        "signal {}: shutting down; running calls may finish for up to {}s (a second "
        "signal stops at once)",
        signal, grace.count());
    auto deadline = std::chrono::system_clock::now() + grace;
    arrow::Status stopped = server.Shutdown(&deadline);
    if (!stopped.ok()) spdlog::error("shutdown: {}", stopped.ToString());
  });
  ARROW_RETURN_NOT_OK(server.Serve());
  signals.Join();
  if (config.engine == "duckdb" && config.engine_connection != ":memory:") {
    // Fold the write-ahead log into the database file, so the next start replays nothing.
    auto checkpointed = [&]() -> arrow::Status {
      ARROW_ASSIGN_OR_RAISE(auto connection, engine->Connect());
      return hyprstream::engine::ExecuteStatement(*connection, "CHECKPOINT");
    }();
    if (checkpointed.ok()) {
      spdlog::info("checkpointed {}", config.engine_connection);
    } else {
      spdlog::warn("checkpoint at shutdown failed: {}", checkpointed.ToString());
    }
  }
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
