// Config: every process option in one struct. LoadConfig fills it from defaults, then the TOML
// file (--config or HYPRSTREAM_CONFIG), then HYPRSTREAM_* environment variables, then command
// line flags — later wins. docs/configuration.md lists every option.
#pragma once

#include <arrow/result.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace hyprstream::server {

struct Config {
  std::string host = "127.0.0.1";
  int port = 50051;

  std::string engine = "duckdb";  // duckdb | adbc
  std::string engine_connection = ":memory:";
  std::map<std::string, std::string> engine_options;
  // Credentials for the backend: from the environment or the config file only, never flags.
  std::optional<std::string> engine_username;
  std::optional<std::string> engine_password;

  bool enable_cache = false;
  std::string cache_engine = "duckdb";
  std::string cache_connection = ":memory:";
  std::map<std::string, std::string> cache_options;
  std::chrono::seconds cache_max_duration{0};  // 0: unset

  std::string log_level = "info";
  std::optional<std::string> config_file;

  std::chrono::seconds session_idle_timeout{3600};
  std::chrono::seconds statement_idle_timeout{600};
};

// What LoadConfig decided: a config to run with, or text to print and an exit code (--help,
// --version).
struct LoadOutcome {
  Config config;
  std::optional<std::string> exit_text;
  int exit_code = 0;
};

// Errors (Invalid) name the offending flag, variable or key and what is accepted.
arrow::Result<LoadOutcome> LoadConfig(int argc, const char* const* argv,
                                      const std::map<std::string, std::string>& env);

// Parses "90s", "30m", "1h", "1d" or a plain number of seconds.
arrow::Result<std::chrono::seconds> ParseDuration(const std::string& text);

// One line for the startup log; never shows the password.
std::string DescribeConfig(const Config& config);

}  // namespace hyprstream::server
