#include "server/server_main.h"

#include <arrow/flight/server.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

#include "engine/adbc_engine.h"
#include "engine/duckdb_engine.h"
#include "flightsql/flight_sql_server.h"
#include "server/config.h"
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

arrow::Status Serve(const Config& config) {
  ARROW_ASSIGN_OR_RAISE(auto engine, OpenEngine(config));
  window::WindowCatalogOptions window_options;
  window_options.metrics_table = config.metrics_table;
  window_options.metrics_running_width_us = config.metrics_running_window.count() * 1000000LL;
  window_options.allowed_lateness_us = config.window_lateness.count() * 1000000LL;
  ARROW_ASSIGN_OR_RAISE(window_options.metrics_integer_time_unit,
                        window::ParseTimeUnit(config.metrics_integer_time_unit));
  std::shared_ptr<window::WindowCatalog> windows;
  if (config.engine == "adbc") {
    // Windows keep their state in DuckDB tables and SQL; they run on the DuckDB engine (or
    // the DuckDB cache), not on a pass-through backend.
    spdlog::info("time windows are off: they run on the DuckDB engine/cache, not on engine {}",
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

  flightsql::FlightSqlServerOptions server_options;
  server_options.windows = windows;
  server_options.limits.session_idle_timeout = config.session_idle_timeout;
  server_options.limits.statement_idle_timeout = config.statement_idle_timeout;
  flightsql::FlightSqlServer server(engine, server_options);

  ARROW_ASSIGN_OR_RAISE(auto location,
                        arrow::flight::Location::ForGrpcTcp(config.host, config.port));
  arrow::flight::FlightServerOptions options(location);
  ARROW_RETURN_NOT_OK(server.Init(options));
  ARROW_RETURN_NOT_OK(server.SetShutdownOnSignals({SIGINT, SIGTERM}));
  spdlog::info("hyprstream {} serving Flight SQL on grpc://{}:{} ({})", HYPRSTREAM_VERSION,
               config.host, server.port(), DescribeConfig(config));
  ARROW_RETURN_NOT_OK(server.Serve());
  spdlog::info("shutting down (signal {})", server.GotSignal() ? server.GotSignal() : 0);
  return server.Shutdown();
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
