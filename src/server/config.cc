#include "server/config.h"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <functional>
#include <sstream>
#include <vector>

namespace hyprstream::server {
namespace {

using Setter = std::function<arrow::Status(Config&, const std::string&)>;

// One option as it appears as a flag, an environment variable and a TOML key.
struct OptionSpec {
  std::string name;  // flag name without dashes; TOML key and env var are derived from it
  std::string help;
  std::string default_text;
  Setter set;
  bool is_flag = false;       // boolean switch on the command line (--enable-cache)
  bool repeatable = false;    // k=v lists: each value is added
  bool secret = false;        // never a command line flag
};

std::string TomlKey(const std::string& name) {
  std::string key = name;
  for (char& c : key) c = c == '-' ? '_' : c;
  return key;
}

std::string EnvName(const std::string& name) {
  std::string env = "HYPRSTREAM_";
  for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return env;
}

arrow::Result<bool> ParseBool(const std::string& name, const std::string& text) {
  std::string v;
  for (char c : text) v += static_cast<char>(std::tolower(c));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return arrow::Status::Invalid(name, ": '", text, "' is not a boolean (use true or false)");
}

arrow::Result<int64_t> ParseInt(const std::string& name, const std::string& text, int64_t min,
                                int64_t max) {
  try {
    size_t used = 0;
    int64_t value = std::stoll(text, &used);
    if (used == text.size() && value >= min && value <= max) return value;
  } catch (const std::exception&) {
  }
  return arrow::Status::Invalid(name, ": '", text, "' must be a whole number from ", min, " to ",
                                max);
}

// "a=1,b=2" (or one "a=1") into `into`.
arrow::Status AddKeyValues(const std::string& name, const std::string& text,
                           std::map<std::string, std::string>* into) {
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return arrow::Status::Invalid(name, ": '", item, "' is not of the form key=value");
    }
    (*into)[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return arrow::Status::OK();
}

Setter StringSetter(std::string Config::*field, std::vector<std::string> allowed = {}) {
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

Setter SecondsSetter(std::chrono::seconds Config::*field) {
  return [field](Config& c, const std::string& v) -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(c.*field, ParseDuration(v));
    return arrow::Status::OK();
  };
}

Setter MapSetter(std::map<std::string, std::string> Config::*field) {
  return [field](Config& c, const std::string& v) { return AddKeyValues("", v, &(c.*field)); };
}

std::vector<OptionSpec> Options() {
  return {
      {"host", "address to listen on", "127.0.0.1", StringSetter(&Config::host)},
      {"port", "TCP port to listen on", "50051",
       [](Config& c, const std::string& v) -> arrow::Status {
         ARROW_ASSIGN_OR_RAISE(auto port, ParseInt("port", v, 1, 65535));
         c.port = static_cast<int>(port);
         return arrow::Status::OK();
       }},
      {"engine", "storage engine: duckdb (embedded) or adbc (a backend reached by an ADBC driver)",
       "duckdb", StringSetter(&Config::engine, {"duckdb", "adbc"})},
      {"engine-connection", "duckdb: ':memory:' or a database file path; adbc: the backend URI",
       ":memory:", StringSetter(&Config::engine_connection)},
      {"engine-options",
       "engine setting key=value, repeatable or comma-separated (duckdb: threads=4, "
       "memory_limit=8GB, ...; adbc: driver_path=...)",
       "none", MapSetter(&Config::engine_options), false, true},
      {"engine-username", "backend user name (environment or config file only)", "none",
       [](Config& c, const std::string& v) {
         c.engine_username = v;
         return arrow::Status::OK();
       },
       false, false, true},
      {"engine-password", "backend password (environment or config file only)", "none",
       [](Config& c, const std::string& v) {
         c.engine_password = v;
         return arrow::Status::OK();
       },
       false, false, true},
      {"enable-cache", "put a DuckDB read cache in front of the engine", "false",
       [](Config& c, const std::string& v) -> arrow::Status {
         ARROW_ASSIGN_OR_RAISE(c.enable_cache, ParseBool("enable-cache", v));
         return arrow::Status::OK();
       },
       true},
      {"cache-engine", "engine of the read cache", "duckdb",
       StringSetter(&Config::cache_engine, {"duckdb"})},
      {"cache-connection", "cache database: ':memory:' or a file path", ":memory:",
       StringSetter(&Config::cache_connection)},
      {"cache-options", "cache engine setting key=value, repeatable", "none",
       MapSetter(&Config::cache_options), false, true},
      {"cache-max-duration", "how far back the cache keeps rows per table (e.g. 1h)", "unset",
       SecondsSetter(&Config::cache_max_duration)},
      {"log-level", "trace, debug, info, warn, error, critical or off", "info",
       StringSetter(&Config::log_level,
                    {"trace", "debug", "info", "warn", "error", "critical", "off"})},
      {"session-idle-timeout", "close client sessions idle this long (e.g. 1h, 900s)", "1h",
       SecondsSetter(&Config::session_idle_timeout)},
      {"statement-idle-timeout",
       "drop prepared statements and unread result tickets idle this long", "10m",
       SecondsSetter(&Config::statement_idle_timeout)},
  };
}

arrow::Status Apply(const OptionSpec& option, const std::string& source, Config* config,
                    const std::string& value) {
  arrow::Status status = option.set(*config, value);
  if (status.ok()) return status;
  return arrow::Status::Invalid(source, ": ", status.message());
}

std::string TomlValueToString(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
  if (auto i = node.value_exact<int64_t>()) return std::to_string(*i);
  if (auto d = node.value_exact<double>()) return std::to_string(*d);
  return "";
}

arrow::Status ApplyFile(const std::vector<OptionSpec>& options, const std::string& path,
                        Config* config) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream message;
    message << "config file " << path << ": " << e.description() << " (line "
            << e.source().begin.line << ")";
    return arrow::Status::Invalid(message.str());
  }
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    auto it = std::find_if(options.begin(), options.end(),
                           [&](const OptionSpec& o) { return TomlKey(o.name) == name; });
    if (it == options.end()) {
      return arrow::Status::Invalid("config file ", path, ": unknown key '", name,
                                    "' (see docs/configuration.md)");
    }
    const std::string where = "config file " + path + ", key " + name;
    if (it->repeatable) {
      const toml::table* entries = node.as_table();
      if (!entries) return arrow::Status::Invalid(where, ": expected a table of key = value");
      for (const auto& [k, v] : *entries) {
        ARROW_RETURN_NOT_OK(
            Apply(*it, where, config, std::string(k.str()) + "=" + TomlValueToString(v)));
      }
      continue;
    }
    if (!node.is_value()) return arrow::Status::Invalid(where, ": expected a single value");
    ARROW_RETURN_NOT_OK(Apply(*it, where, config, TomlValueToString(node)));
  }
  return arrow::Status::OK();
}

std::string Lookup(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

}  // namespace

arrow::Result<std::chrono::seconds> ParseDuration(const std::string& text) {
  static const std::map<std::string, int64_t> kUnits = {
      {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  auto unit = kUnits.find(text.substr(digits));
  if (digits == 0 || digits > 12 || unit == kUnits.end()) {
    return arrow::Status::Invalid("'", text,
                                  "' is not a duration; use a number with s, m, h or d (e.g. 90s, "
                                  "30m, 1h, 1d)");
  }
  return std::chrono::seconds(std::stoll(text.substr(0, digits)) * unit->second);
}

arrow::Result<LoadOutcome> LoadConfig(int argc, const char* const* argv,
                                      const std::map<std::string, std::string>& env) {
  const std::vector<OptionSpec> options = Options();
  LoadOutcome outcome;

  CLI::App app{
      "hyprstream: a Flight SQL server for real-time data on DuckDB.\n"
      "Every option can also be set by the HYPRSTREAM_* environment variable shown, or by its\n"
      "key in the TOML file given with --config. Precedence: defaults < file < environment <\n"
      "flags.",
      "hyprstream"};
  app.set_version_flag("--version", std::string("hyprstream ") + HYPRSTREAM_VERSION);
  std::string config_path;
  app.add_option("--config", config_path, "TOML configuration file [env HYPRSTREAM_CONFIG]");
  std::map<std::string, std::vector<std::string>> flag_values;
  std::map<std::string, CLI::Option*> flags;
  for (const auto& option : options) {
    if (option.secret) continue;
    std::string help = option.help + " [env " + EnvName(option.name) + ", default " +
                       option.default_text + "]";
    if (option.is_flag) {
      flags[option.name] = app.add_flag("--" + option.name, help);
    } else {
      flags[option.name] = app.add_option("--" + option.name, flag_values[option.name], help);
      if (!option.repeatable) flags[option.name]->expected(1);
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

  Config& config = outcome.config;
  if (config_path.empty()) config_path = Lookup(env, "HYPRSTREAM_CONFIG");
  if (!config_path.empty()) {
    config.config_file = config_path;
    ARROW_RETURN_NOT_OK(ApplyFile(options, config_path, &config));
  }
  for (const auto& option : options) {
    std::string value = Lookup(env, EnvName(option.name));
    if (!value.empty()) ARROW_RETURN_NOT_OK(Apply(option, EnvName(option.name), &config, value));
  }
  for (const auto& option : options) {
    auto flag = flags.find(option.name);
    if (flag == flags.end() || flag->second->count() == 0) continue;
    const std::string where = "--" + option.name;
    if (option.is_flag) {
      ARROW_RETURN_NOT_OK(Apply(option, where, &config, "true"));
      continue;
    }
    for (const auto& value : flag_values[option.name]) {
      ARROW_RETURN_NOT_OK(Apply(option, where, &config, value));
    }
  }
  return outcome;
}

std::string DescribeConfig(const Config& config) {
  std::ostringstream out;
  out << "engine=" << config.engine << " connection=" << config.engine_connection;
  for (const auto& [k, v] : config.engine_options) out << " " << k << "=" << v;
  if (config.engine_username) out << " user=" << *config.engine_username;
  if (config.engine_password) out << " password=***";
  if (config.enable_cache) out << " cache=" << config.cache_engine << ":" << config.cache_connection;
  return out.str();
}

}  // namespace hyprstream::server
