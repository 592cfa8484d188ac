// LoadConfig: one table of options drives the flags, the environment variables, the TOML keys
// and the --help text, so the four can never disagree. Every source hands text to the same
// per-option parser; the TOML reader first checks the value's type.
#include <arrow/config.h>
#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <functional>
#include <sstream>
#include <vector>

#include "access/grant.h"
#include "server/config.h"

#ifndef HYPRSTREAM_VERSION
#define HYPRSTREAM_VERSION "dev"
#endif

namespace hyprstream::server {
namespace {

using KeyValues = std::map<std::string, std::string>;

// What a TOML value must be; flags and environment variables are always text.
enum class ValueKind { kText, kInteger, kBool, kDuration, kSize, kKeyValues };

struct OptionSpec {
  std::string name;  // flag without dashes; TOML key and env var are derived from it
  ValueKind kind;
  std::string help;  // one line for --help
  std::string default_text;
  std::function<arrow::Status(Config&, const std::string&)> set;  // parses and validates
  KeyValues Config::*entries = nullptr;  // kKeyValues: the map TOML tables fill directly
  bool secret = false;                   // environment or file only, never a flag
};

std::string TomlKey(const std::string& name) {
  std::string key = name;
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

std::string EnvName(const std::string& name) {
  std::string env = "HYPRSTREAM_";
  for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return env;
}

// --- Per-option parsers ---------------------------------------------------------------------

auto Text(std::string Config::*field, std::vector<std::string> allowed = {}) {
  return [field, allowed](Config& c, const std::string& v) -> arrow::Status {
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return arrow::Status::Invalid("'", v, "' is not one of: ", list);
    }
    c.*field = v;
    return arrow::Status::OK();
  };
}

auto Secret(std::optional<std::string> Config::*field) {
  return [field](Config& c, const std::string& v) {
    c.*field = v;
    return arrow::Status::OK();
  };
}

template <typename Int>
auto Integer(Int Config::*field, int64_t min, int64_t max) {
  return [field, min, max](Config& c, const std::string& v) -> arrow::Status {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
    if (ec != std::errc() || end != v.data() + v.size() || value < min || value > max) {
      return arrow::Status::Invalid("'", v, "' must be a whole number from ", min, " to ", max);
    }
    c.*field = static_cast<Int>(value);
    return arrow::Status::OK();
  };
}

auto Bool(bool Config::*field) {
  return [field](Config& c, const std::string& v) -> arrow::Status {
    std::string lower;
    for (char ch : v) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower == "1" || lower == "true" || lower == "yes" || lower == "on") {
      c.*field = true;
    } else if (lower == "0" || lower == "false" || lower == "no" || lower == "off") {
      c.*field = false;
    } else {
      return arrow::Status::Invalid("'", v, "' is not a boolean; use true/false, 1/0, yes/no");
    }
    return arrow::Status::OK();
  };
}

auto Duration(std::chrono::seconds Config::*field, int64_t min_seconds) {
  return [field, min_seconds](Config& c, const std::string& v) -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto value, ParseDuration(v));
    if (value.count() < min_seconds) {
      return arrow::Status::Invalid("'", v, "' is too short; the minimum is ", min_seconds, "s");
    }
    c.*field = value;
    return arrow::Status::OK();
  };
}

auto ByteSize(int64_t Config::*field) {
  return [field](Config& c, const std::string& v) -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(c.*field, ParseByteSize(v));
    return arrow::Status::OK();
  };
}

// gRPC (inside libarrow_flight) negotiates TLS 1.2 or 1.3 and exposes no minimum to us.
auto TlsMinVersion() {
  return [](Config& c, const std::string& v) -> arrow::Status {
    if (v == "1.2" || v == "TLSv1.2") {
      c.tls_min_version = "1.2";
      return arrow::Status::OK();
    }
    if (v == "1.3" || v == "TLSv1.3") {
      return arrow::Status::Invalid(
          "'", v,
          "' cannot be enforced: Arrow Flight's bundled gRPC offers no setting for the "
          "minimum TLS version (it always accepts 1.2 and 1.3); use 1.2 or terminate TLS in a "
          "proxy");
    }
    return arrow::Status::Invalid("'", v,
                                  "' is not accepted: the minimum is 1.2 (gRPC never "
                                  "negotiates older versions)");
  };
}

// "a=1,b=2" or one "a=1", merged into the map (a later source overrides per key).
auto KeyValueList(KeyValues Config::*field) {
  return [field](Config& c, const std::string& v) -> arrow::Status {
    std::stringstream items(v);
    std::string item;
    while (std::getline(items, item, ',')) {
      if (item.empty()) continue;
      const size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0) {
        return arrow::Status::Invalid("'", item, "' is not of the form key=value");
      }
      (c.*field)[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return arrow::Status::OK();
  };
}

// --- The options ----------------------------------------------------------------------------

std::vector<OptionSpec> Options() {
  using K = ValueKind;
  const char* kLevels = "trace, debug, info, warn, error, critical or off";
  return {
      {"host", K::kText, "address to listen on (0.0.0.0 for all interfaces)", "127.0.0.1",
       Text(&Config::host)},
      {"port", K::kInteger, "TCP port to listen on", "50051", Integer(&Config::port, 1, 65535)},
      {"engine", K::kText, "SQL engine: duckdb (embedded) or adbc (a backend via an ADBC driver)",
       "duckdb", Text(&Config::engine, {"duckdb", "adbc"})},
      {"engine-connection", K::kText, "duckdb: :memory: or a database file; adbc: the backend URI",
       ":memory:", Text(&Config::engine_connection)},
      {"engine-options", K::kKeyValues,
       "engine setting k=v, repeatable or a,b list (duckdb: threads=4, memory_limit=8GB)", "none",
       KeyValueList(&Config::engine_options), &Config::engine_options},
      {"engine-username", K::kText, "backend user (environment or file only)", "none",
       Secret(&Config::engine_username), nullptr, true},
      {"engine-password", K::kText, "backend password (environment or file only)", "none",
       Secret(&Config::engine_password), nullptr, true},
      {"enable-cache", K::kBool, "put a read cache in front of the engine (--enable-cache=false)",
       "false", Bool(&Config::enable_cache)},
      {"cache-engine", K::kText, "engine of the read cache: duckdb", "duckdb",
       Text(&Config::cache_engine, {"duckdb"})},
      {"cache-connection", K::kText, "cache database: :memory: or a file",
       ":memory:", Text(&Config::cache_connection)},
      {"cache-options", K::kKeyValues, "cache engine setting k=v, repeatable or a,b list", "none",
       KeyValueList(&Config::cache_options), &Config::cache_options},
      {"cache-max-duration", K::kDuration, "how far back the cache keeps rows (30m, 1h, 1d)",
       "0 (unset)", Duration(&Config::cache_max_duration, 0)},
      {"cache-result-ttl", K::kDuration, "keep backend query results this long (0: never)", "30s",
       Duration(&Config::cache_result_ttl, 0)},
      {"cache-result-max-bytes", K::kSize, "memory for kept query results (LRU beyond)", "256MiB",
       ByteSize(&Config::cache_result_max_bytes)},
      {"cache-refresh-interval", K::kDuration,
       "how often mirrored tables catch up with rows others wrote to the backend", "30s",
       Duration(&Config::cache_refresh_interval, 1)},
      {"cache-ingested-tables", K::kBool,
       "mirror every table ingested through hyprstream (--cache-ingested-tables=false)", "true",
       Bool(&Config::cache_ingested_tables)},
      {"cache-tables", K::kKeyValues,
       "backend tables to mirror: table=time_column[/append|reload|none], repeatable", "none",
       KeyValueList(&Config::cache_tables), &Config::cache_tables},
      {"log-level", K::kText, kLevels, "info",
       Text(&Config::log_level, {"trace", "debug", "info", "warn", "error", "critical", "off"})},
      {"session-idle-timeout", K::kDuration, "close client sessions idle this long", "1h",
       Duration(&Config::session_idle_timeout, 1)},
      {"statement-idle-timeout", K::kDuration,
       "drop prepared statements and unread results idle this long", "10m",
       Duration(&Config::statement_idle_timeout, 1)},
      {"result-batch-rows", K::kInteger, "target rows per streamed Arrow record batch", "131072",
       Integer(&Config::result_batch_rows, 1, int64_t{1} << 24)},
      {"metrics-table", K::kBool,
       "keep the built-in metrics table with running windows (--metrics-table=false)", "true",
       Bool(&Config::metrics_table)},
      {"metrics-running-window", K::kDuration,
       "width of the trailing window behind metrics.value_running_window_*", "5m",
       Duration(&Config::metrics_running_window, 1)},
      {"window-lateness", K::kDuration,
       "how late a row may arrive and still update its window (metrics)", "1m",
       Duration(&Config::window_lateness, 0)},
      {"metrics-trailing-window", K::kDuration,
       "width of the built-in metrics_trailing window that answers 'the last N' queries of "
       "metrics from panes (0: none)",
       "1h", Duration(&Config::metrics_trailing_window, 0)},
      {"window-trailing-panes", K::kInteger,
       "panes per trailing window width: more panes, more memory per key, fewer rows read back "
       "per query",
       "120", Integer(&Config::window_trailing_panes, 2, 100000)},
      {"window-edge-cache-bytes", K::kSize,
       "memory for the rows of the trailing panes that reads' bounds fall in, kept between reads "
       "(least recently used beyond; 0: none)",
       "256MiB", ByteSize(&Config::window_edge_cache_bytes)},
      {"metrics-integer-time-unit", K::kText,
       "unit of integer epoch values in metrics.timestamp: s, ms, us or ns (unset: rejected)",
       "none", Text(&Config::metrics_integer_time_unit, {"", "s", "ms", "us", "ns"})},
      {"tls-cert", K::kText, "PEM certificate (chain) to serve TLS with; clients use grpc+tls://",
       "none", Text(&Config::tls_cert)},
      {"tls-key", K::kText, "PEM private key of --tls-cert", "none", Text(&Config::tls_key)},
      {"tls-client-ca", K::kText,
       "PEM CA bundle: require client certificates signed by it (mutual TLS)", "none",
       Text(&Config::tls_client_ca)},
      {"tls-min-version", K::kText,
       "lowest TLS version accepted: 1.2 (what gRPC enforces; 1.3 cannot be enforced, see "
       "docs/security.md)",
       "1.2", TlsMinVersion()},
      {"auth-token-secret", K::kText,
       "HS256 secret (32+ bytes) signing bearer tokens (environment or file only; default: "
       "random per start)",
       "random", Secret(&Config::auth_token_secret), nullptr, true},
      {"auth-token-lifetime", K::kDuration, "how long an issued bearer token is valid", "1h",
       Duration(&Config::auth_token_lifetime, 1)},
      {"auth-jwt-public-key", K::kText,
       "PEM public key (RSA: RS256, EC P-256: ES256) of an external token issuer", "none",
       Text(&Config::auth_jwt_public_key)},
      {"auth-jwt-issuer", K::kText, "required iss of external tokens", "none",
       Text(&Config::auth_jwt_issuer)},
      {"auth-jwt-audience", K::kText, "required aud of external tokens", "none",
       Text(&Config::auth_jwt_audience)},
      {"auth-jwt-user-claim", K::kText, "claim of external tokens naming the user", "sub",
       Text(&Config::auth_jwt_user_claim)},
      {"auth-jwt-role-claim", K::kText,
       "claim of external tokens holding the role (admin, read_write, read_only)", "role",
       Text(&Config::auth_jwt_role_claim)},
      {"auth-jwt-groups-claim", K::kText,
       "claim of external tokens holding the user's groups (for grants to group:NAME)", "groups",
       Text(&Config::auth_jwt_groups_claim)},
      {"readonly", K::kBool, "serve read-only: every user is at most read_only", "false",
       Bool(&Config::readonly)},
      {"audit-log", K::kText, "file to append the JSON-lines audit log to", "none",
       Text(&Config::audit_log)},
      {"query-timeout", K::kDuration,
       "interrupt a statement running longer (0: none; session option hyprstream.query_timeout)",
       "0 (none)", Duration(&Config::query_timeout, 0)},
      {"max-sessions", K::kInteger, "open client sessions at most (0: no limit)", "1000",
       Integer(&Config::max_sessions, 0, int64_t{1} << 30)},
      {"max-concurrent-statements", K::kInteger,
       "statements running at once; more wait in a queue (0: no limit)", "64",
       Integer(&Config::max_concurrent_statements, 0, int64_t{1} << 20)},
      {"statement-queue-timeout", K::kDuration,
       "how long a statement waits for a slot before UNAVAILABLE", "30s",
       Duration(&Config::statement_queue_timeout, 0)},
      {"poll-lease", K::kDuration,
       "stop a PollFlightInfo query whose client does not poll again within this long", "30s",
       Duration(&Config::poll_lease, 1)},
      {"memory-limit", K::kText, "DuckDB memory_limit for the process (e.g. 4GB, 512MB)",
       "DuckDB's (80% of RAM)", Text(&Config::memory_limit)},
      {"shutdown-grace", K::kDuration,
       "on SIGTERM, let running statements finish this long before interrupting them", "30s",
       Duration(&Config::shutdown_grace, 0)},
      {"http-port", K::kInteger, "port of the HTTP /health and /metrics endpoint (0: off)", "0",
       Integer(&Config::http_port, 0, 65535)},
  };
}

arrow::Status Apply(const OptionSpec& option, const std::string& where, Config* config,
                    const std::string& value) {
  arrow::Status status = option.set(*config, value);
  return status.ok() ? status : arrow::Status::Invalid(where, ": ", status.message());
}

// --- TOML file ------------------------------------------------------------------------------

std::string TypeName(const toml::node& node) {
  std::ostringstream out;
  out << node.type();
  return out.str();
}

// A scalar TOML value as text; nullopt for tables, arrays and dates.
std::optional<std::string> ScalarText(const toml::node& node) {
  if (auto s = node.value_exact<std::string>()) return *s;
  if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
  if (auto i = node.value_exact<int64_t>()) return std::to_string(*i);
  if (auto d = node.value_exact<double>()) {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), *d);
    return std::string(buffer, end);
  }
  return std::nullopt;
}

bool KindAccepts(ValueKind kind, const toml::node& node, std::string* expected) {
  switch (kind) {
    case ValueKind::kText:
      *expected = "a string";
      return node.is_string();
    case ValueKind::kInteger:
      *expected = "an integer";
      return node.is_integer();
    case ValueKind::kBool:
      *expected = "a boolean";
      return node.is_boolean();
    case ValueKind::kDuration:
      *expected = "a duration string such as \"1h\" or an integer of seconds";
      return node.is_string() || node.is_integer();
    case ValueKind::kSize:
      *expected = "a size string such as \"64MiB\" or an integer of bytes";
      return node.is_string() || node.is_integer();
    case ValueKind::kKeyValues:
      *expected = "a table of key = value";
      return node.is_table();
  }
  return false;
}

// [[windows]] tables: name, table, keys, time_column, value_columns, windows, aggregates,
// lateness, time_unit. Lists of strings are joined with commas.
arrow::Status ReadWindowDefinitions(const std::string& path, const toml::node& node,
                                    Config* config) {
  static const std::vector<std::string> kKeys = {"name",        "table",         "keys",
                                                 "time_column", "value_columns", "windows",
                                                 "aggregates",  "lateness",      "time_unit"};
  const auto* array = node.as_array();
  if (array == nullptr) {
    return arrow::Status::Invalid(
        "config file ", path, ", key windows: expected [[windows]] tables, got ", TypeName(node));
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string where = "config file " + path + ", windows[" + std::to_string(i) + "]";
    const auto* entry = (*array)[i].as_table();
    if (entry == nullptr) return arrow::Status::Invalid(where, ": expected a table");
    std::map<std::string, std::string> definition;
    for (const auto& [key, value] : *entry) {
      const std::string name(key.str());
      if (std::find(kKeys.begin(), kKeys.end(), name) == kKeys.end()) {
        return arrow::Status::Invalid(where, ": unknown key '", name,
                                      "' (docs/windows.md lists the keys)");
      }
      if (const auto* list = value.as_array()) {
        std::string joined;
        for (const auto& item : *list) {
          auto text = ScalarText(item);
          if (!text) return arrow::Status::Invalid(where, ".", name, ": expected strings");
          joined += (joined.empty() ? "" : ",") + *text;
        }
        definition[name] = joined;
      } else if (auto text = ScalarText(value)) {
        definition[name] = *text;
      } else {
        return arrow::Status::Invalid(where, ".", name, ": expected a string or a list");
      }
    }
    for (const char* required : {"name", "table", "time_column"}) {
      if (!definition.count(required)) {
        return arrow::Status::Invalid(where, ": '", required, "' is required");
      }
    }
    config->window_definitions.push_back(std::move(definition));
  }
  return arrow::Status::OK();
}

// [[users]] tables: name, password_hash, role. Plaintext passwords are refused.
arrow::Status ReadUsers(const std::string& path, const toml::node& node, Config* config) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    return arrow::Status::Invalid("config file ", path,
                                  ", key users: expected [[users]] tables, got ", TypeName(node));
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string where = "config file " + path + ", users[" + std::to_string(i) + "]";
    const auto* entry = (*array)[i].as_table();
    if (entry == nullptr) return arrow::Status::Invalid(where, ": expected a table");
    Config::User user;
    for (const auto& [key, value] : *entry) {
      const std::string name(key.str());
      if (name == "groups") {
        const auto* groups = value.as_array();
        if (groups == nullptr) {
          return arrow::Status::Invalid(where, ".groups: expected an array of strings");
        }
        for (const auto& group : *groups) {
          auto text = group.value_exact<std::string>();
          if (!text || text->empty()) {
            return arrow::Status::Invalid(where, ".groups: expected an array of strings");
          }
          user.groups.push_back(*text);
        }
        continue;
      }
      auto text = value.value_exact<std::string>();
      if (!text) return arrow::Status::Invalid(where, ".", name, ": expected a string");
      if (name == "name") {
        user.name = *text;
      } else if (name == "password_hash") {
        user.password_hash = *text;
      } else if (name == "role") {
        user.role = *text;
      } else if (name == "password") {
        return arrow::Status::Invalid(where,
                                      ": plaintext passwords are not accepted; store "
                                      "password_hash from `hyprstream --hash-password`");
      } else {
        return arrow::Status::Invalid(where, ": unknown key '", name,
                                      "' (name, password_hash, role, groups)");
      }
    }
    if (user.name.empty() || user.password_hash.empty() || user.role.empty()) {
      return arrow::Status::Invalid(where, ": name, password_hash and role are required");
    }
    if (user.role != "admin" && user.role != "read_write" && user.role != "read_only") {
      return arrow::Status::Invalid(where, ".role: '", user.role,
                                    "' is not one of: admin, read_write, read_only");
    }
    config->users.push_back(std::move(user));
  }
  return arrow::Status::OK();
}

// [[grants]] tables: privilege, object, principal; checked as hyprstream_grant() checks them.
arrow::Status ReadGrants(const std::string& path, const toml::node& node, Config* config) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    return arrow::Status::Invalid("config file ", path,
                                  ", key grants: expected [[grants]] tables, got ", TypeName(node));
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string where = "config file " + path + ", grants[" + std::to_string(i) + "]";
    const auto* entry = (*array)[i].as_table();
    if (entry == nullptr) return arrow::Status::Invalid(where, ": expected a table");
    Config::GrantEntry grant;
    for (const auto& [key, value] : *entry) {
      const std::string name(key.str());
      auto text = value.value_exact<std::string>();
      if (!text) return arrow::Status::Invalid(where, ".", name, ": expected a string");
      if (name == "privilege") {
        grant.privilege = *text;
      } else if (name == "object") {
        grant.object = *text;
      } else if (name == "principal") {
        grant.principal = *text;
      } else {
        return arrow::Status::Invalid(where, ": unknown key '", name,
                                      "' (privilege, object, principal)");
      }
    }
    auto parsed = access::Grant::Parse(grant.privilege, grant.object, grant.principal);
    if (!parsed.ok()) return arrow::Status::Invalid(where, ": ", parsed.status().message());
    config->grants.push_back(std::move(grant));
  }
  return arrow::Status::OK();
}

arrow::Status ApplyFile(const std::vector<OptionSpec>& options, const std::string& path,
                        Config* config) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return arrow::Status::Invalid("config file ", path, ": not found or not a regular file");
  }
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return arrow::Status::Invalid("config file ", path, ", line ", e.source().begin.line, ": ",
                                  e.description());
  }
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    if (name == "windows") {
      ARROW_RETURN_NOT_OK(ReadWindowDefinitions(path, node, config));
      continue;
    }
    if (name == "users") {
      ARROW_RETURN_NOT_OK(ReadUsers(path, node, config));
      continue;
    }
    if (name == "grants") {
      ARROW_RETURN_NOT_OK(ReadGrants(path, node, config));
      continue;
    }
    auto option = std::find_if(options.begin(), options.end(),
                               [&](const OptionSpec& o) { return TomlKey(o.name) == name; });
    if (option == options.end()) {
      return arrow::Status::Invalid("config file ", path, ": unknown key '", name,
                                    "' (docs/configuration.md lists the keys)");
    }
    const std::string where = "config file " + path + ", key " + name;
    std::string expected;
    if (!KindAccepts(option->kind, node, &expected)) {
      return arrow::Status::Invalid(where, ": expected ", expected, ", got ", TypeName(node));
    }
    if (option->kind != ValueKind::kKeyValues) {
      ARROW_RETURN_NOT_OK(Apply(*option, where, config, *ScalarText(node)));
      continue;
    }
    for (const auto& [entry_key, entry] : *node.as_table()) {
      auto text = ScalarText(entry);
      if (!text) {
        return arrow::Status::Invalid(where, ".", entry_key.str(),
                                      ": expected a string, number or boolean, got ",
                                      TypeName(entry));
      }
      (config->*(option->entries))[std::string(entry_key.str())] = *text;
    }
  }
  return arrow::Status::OK();
}

// --- Environment and flags ------------------------------------------------------------------

std::string Lookup(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

// Where a flag's values land before they are applied (only if the flag was given).
struct FlagSlot {
  CLI::Option* option = nullptr;
  std::string text;
  std::vector<std::string> list;
  bool on = false;
};

std::string HelpLine(const OptionSpec& option) {
  return option.help + " [" + EnvName(option.name) + ", default " + option.default_text + "]";
}

std::string Placeholder(ValueKind kind) {
  switch (kind) {
    case ValueKind::kInteger:
      return "N";
    case ValueKind::kDuration:
      return "DURATION";
    case ValueKind::kSize:
      return "SIZE";
    case ValueKind::kKeyValues:
      return "K=V";
    default:
      return "TEXT";
  }
}

}  // namespace

arrow::Result<LoadOutcome> LoadConfig(int argc, const char* const* argv,
                                      const std::map<std::string, std::string>& env) {
  const std::vector<OptionSpec> options = Options();
  LoadOutcome outcome;

  CLI::App app{
      "hyprstream: an Arrow Flight SQL server for real-time data on DuckDB.\n"
      "Each option can also be set by the environment variable shown or by its key (the flag\n"
      "name with underscores) in the TOML file given with --config. Precedence: defaults <\n"
      "file < environment < flags.",
      "hyprstream"};
  app.get_formatter()->column_width(36);
  app.set_version_flag("--version", std::string("hyprstream ") + HYPRSTREAM_VERSION + " (Arrow " +
                                        arrow::GetBuildInfo().version_string + ")");
  app.footer(
      "Backend credentials are never flags (they would show in `ps`): set\n"
      "HYPRSTREAM_ENGINE_USERNAME / HYPRSTREAM_ENGINE_PASSWORD or engine_username /\n"
      "engine_password in the config file. Durations: 90s, 30m, 1h, 1d or plain seconds.");
  std::string config_path;
  app.add_option("--config", config_path,
                 "TOML configuration file [HYPRSTREAM_CONFIG, default none]")
      ->type_name("PATH")
      ->take_last();
  bool hash_password = false;
  app.add_flag("--hash-password", hash_password,
               "read a password from stdin, print its password_hash for [[users]], and exit");
  std::vector<FlagSlot> slots(options.size());
  for (size_t i = 0; i < options.size(); ++i) {
    const OptionSpec& option = options[i];
    FlagSlot& slot = slots[i];
    if (option.secret) continue;
    const std::string flag = "--" + option.name;
    if (option.kind == ValueKind::kBool) {
      slot.option = app.add_flag(flag, slot.on, HelpLine(option));
    } else if (option.kind == ValueKind::kKeyValues) {
      slot.option = app.add_option(flag, slot.list, HelpLine(option))->expected(1)->take_all();
    } else {
      slot.option = app.add_option(flag, slot.text, HelpLine(option))->take_last();
    }
    slot.option->type_name(option.kind == ValueKind::kBool ? "" : Placeholder(option.kind));
  }

  // A secret given as a flag gets a pointed answer rather than "not expected".
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    for (const auto& option : options) {
      const std::string flag = "--" + option.name;
      if (option.secret && (arg == flag || arg.rfind(flag + "=", 0) == 0)) {
        return arrow::Status::Invalid(flag,
                                      " is not a flag, so the secret never shows in the "
                                      "process list; set ",
                                      EnvName(option.name), " or ", TomlKey(option.name),
                                      " in the config file");
      }
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    outcome.exit_text = app.help();
    return outcome;
  } catch (const CLI::CallForVersion&) {
    outcome.exit_text = app.version() + "\n";
    return outcome;
  } catch (const CLI::ParseError& e) {
    return arrow::Status::Invalid(e.what());
  }

  if (hash_password) {
    outcome.hash_password = true;
    return outcome;
  }
  Config& config = outcome.config;
  if (config_path.empty()) config_path = Lookup(env, "HYPRSTREAM_CONFIG");
  if (!config_path.empty()) {
    config.config_file = config_path;
    ARROW_RETURN_NOT_OK(ApplyFile(options, config_path, &config));
  }
  for (const auto& option : options) {
    const std::string name = EnvName(option.name);
    const std::string value = Lookup(env, name);
    if (!value.empty()) ARROW_RETURN_NOT_OK(Apply(option, name, &config, value));
  }
  for (size_t i = 0; i < options.size(); ++i) {
    const FlagSlot& slot = slots[i];
    if (slot.option == nullptr || slot.option->count() == 0) continue;
    const std::string where = "--" + options[i].name;
    if (options[i].kind == ValueKind::kBool) {
      ARROW_RETURN_NOT_OK(Apply(options[i], where, &config, slot.on ? "true" : "false"));
    } else if (options[i].kind == ValueKind::kKeyValues) {
      for (const auto& value : slot.list) {
        ARROW_RETURN_NOT_OK(Apply(options[i], where, &config, value));
      }
    } else {
      ARROW_RETURN_NOT_OK(Apply(options[i], where, &config, slot.text));
    }
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return arrow::Status::Invalid("--tls-cert and --tls-key go together: give both or neither");
  }
  if (!config.tls_client_ca.empty() && config.tls_cert.empty()) {
    return arrow::Status::Invalid("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key");
  }
  return outcome;
}

}  // namespace hyprstream::server
