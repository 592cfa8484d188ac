// Config: every process option in one struct. LoadConfig fills it from defaults, then the TOML
// file (--config or HYPRSTREAM_CONFIG), then HYPRSTREAM_* environment variables, then command
// line flags — later wins. Every value is validated where it is read, and errors name the
// flag, variable or file key. docs/configuration.md lists every option. Plain functions, no
// shared state: safe to call from any thread.
#pragma once

#include <arrow/result.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hyprstream::server {

struct Config {
  std::string host = "127.0.0.1";
  int port = 50051;  // 1..65535

  std::string engine = "duckdb";  // duckdb | adbc
  std::string engine_connection = ":memory:";
  std::map<std::string, std::string> engine_options;
  // Backend credentials: from the environment or the config file only, never a flag (so they
  // never show in `ps`). DescribeConfig masks the password.
  std::optional<std::string> engine_username;
  std::optional<std::string> engine_password;

  bool enable_cache = false;
  std::string cache_engine = "duckdb";
  std::string cache_connection = ":memory:";
  std::map<std::string, std::string> cache_options;
  std::chrono::seconds cache_max_duration{0};  // 0: unset (keep everything)
  std::chrono::seconds cache_result_ttl{30};   // 0: no result cache
  int64_t cache_result_max_bytes = 256LL << 20;
  std::chrono::seconds cache_refresh_interval{30};
  bool cache_ingested_tables = true;  // mirror every table ingested through hyprstream
  // Mirrored backend tables: table -> "time_column[/append|reload|none]" (docs/cache.md).
  std::map<std::string, std::string> cache_tables;

  std::string log_level = "info";          // trace | debug | info | warn | error | critical | off
  std::optional<std::string> config_file;  // the TOML file that was read, if any

  std::chrono::seconds session_idle_timeout{3600};
  std::chrono::seconds statement_idle_timeout{600};  // prepared statements and result tickets
  int64_t result_batch_rows = 131072;                // target rows per streamed Arrow batch

  // Limits and operations (docs/operations.md). 0 turns a limit off.
  std::chrono::seconds query_timeout{0};  // per statement; sessions may override
  int64_t max_sessions = 1000;
  int64_t max_concurrent_statements = 64;
  std::chrono::seconds statement_queue_timeout{30};  // wait for a statement slot this long
  std::chrono::seconds poll_lease{30};      // a polled query not polled again this long stops
  std::string memory_limit;                 // DuckDB memory_limit; "": DuckDB's default
  std::chrono::seconds shutdown_grace{30};  // SIGTERM: let statements finish this long
  int http_port = 0;                        // /health and /metrics; 0: off

  bool metrics_table = true;                         // the built-in metrics table and windows
  std::chrono::seconds metrics_running_window{300};  // value_running_window_* width
  std::chrono::seconds window_lateness{60};          // allowed lateness of metrics windows
  std::chrono::seconds metrics_trailing_window{3600};  // metrics_trailing's width; 0: none
  int64_t window_trailing_panes = 120;                 // panes per trailing window width
  int64_t window_edge_cache_bytes = 256LL << 20;       // kept rows of trailing panes' edges
  std::string metrics_integer_time_unit;             // "", s, ms, us, ns
  // [[windows]] tables of the config file (docs/windows.md), key -> text.
  std::vector<std::map<std::string, std::string>> window_definitions;

  // Security (docs/security.md). TLS: PEM files; a client CA turns on mutual TLS.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string tls_min_version = "1.2";
  // [[users]] tables of the config file: name, password_hash, role. Authentication is on when
  // there is a user or an external JWT public key.
  struct User {
    std::string name;
    std::string password_hash;
    std::string role;
    std::vector<std::string> groups;  // for grants: group:NAME principals
  };
  std::vector<User> users;
  // [[grants]] tables of the config file: read or write on an object for a principal
  // (docs/security.md). Once any grant exists, non-admins need one for every table they use.
  struct GrantEntry {
    std::string privilege;
    std::string object;
    std::string principal;
  };
  std::vector<GrantEntry> grants;
  std::optional<std::string> auth_token_secret;  // environment or file only
  std::chrono::seconds auth_token_lifetime{3600};
  std::string auth_jwt_public_key;  // PEM file of an external identity provider
  std::string auth_jwt_issuer;
  std::string auth_jwt_audience;
  std::string auth_jwt_user_claim = "sub";
  std::string auth_jwt_role_claim = "role";
  std::string auth_jwt_groups_claim = "groups";
  bool readonly = false;
  std::string audit_log;  // file path; empty: no audit log

  bool auth_enabled() const { return !users.empty() || !auth_jwt_public_key.empty(); }
  bool tls_enabled() const { return !tls_cert.empty(); }
};

// What LoadConfig decided. Either run with `config` (exit_text empty), or print `exit_text`
// to stdout and exit with `exit_code` (--help, --version; both 0). Bad configuration is not
// an outcome but an error Status: print its message to stderr and exit 2.
struct LoadOutcome {
  Config config;
  // --hash-password: print a password hash for a password read from stdin, then exit.
  bool hash_password = false;
  std::optional<std::string> exit_text;
  int exit_code = 0;
};

// Builds the Config from argv (argv[0] is the program name) and `env` (main passes the real
// environment; tests pass their own). Errors are Status::Invalid naming the offending flag,
// variable or file key and what is accepted.
arrow::Result<LoadOutcome> LoadConfig(int argc, const char* const* argv,
                                      const std::map<std::string, std::string>& env);

// "90s", "30m", "1h", "1d" or a plain number of seconds.
arrow::Result<std::chrono::seconds> ParseDuration(const std::string& text);

// "67108864", "512KiB", "64MiB" or "1GiB".
arrow::Result<int64_t> ParseByteSize(const std::string& text);

// One line for the startup log. Never shows a password: the engine password, passwords in a
// connection URI and option values whose key names a secret appear as "***".
std::string DescribeConfig(const Config& config);

}  // namespace hyprstream::server
