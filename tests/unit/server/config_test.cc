// LoadConfig: defaults, the TOML file < environment < flags precedence, value parsing and the
// errors a user sees for bad input.
#include "server/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

namespace hyprstream::server {
namespace {

using Env = std::map<std::string, std::string>;
using std::chrono::seconds;

arrow::Result<LoadOutcome> Load(std::vector<std::string> args, const Env& env = {}) {
  args.insert(args.begin(), "hyprstream");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return LoadConfig(static_cast<int>(argv.size()), argv.data(), env);
}

Config LoadOk(std::vector<std::string> args, const Env& env = {}) {
  auto outcome = Load(std::move(args), env);
  EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
  if (!outcome.ok()) return Config{};
  EXPECT_FALSE(outcome->exit_text.has_value());
  return outcome->config;
}

std::string LoadError(std::vector<std::string> args, const Env& env = {}) {
  auto outcome = Load(std::move(args), env);
  EXPECT_FALSE(outcome.ok());
  if (outcome.ok()) return "";
  EXPECT_TRUE(outcome.status().IsInvalid()) << outcome.status().ToString();
  return outcome.status().message();
}

std::string WriteToml(const std::string& name, const std::string& text) {
  std::string path = testing::TempDir() + "/hyprstream_config_test_" + name + ".toml";
  std::ofstream(path) << text;
  return path;
}

TEST(Config, Defaults) {
  Config c = LoadOk({});
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 50051);
  EXPECT_EQ(c.engine, "duckdb");
  EXPECT_EQ(c.engine_connection, ":memory:");
  EXPECT_TRUE(c.engine_options.empty());
  EXPECT_FALSE(c.engine_username.has_value());
  EXPECT_FALSE(c.engine_password.has_value());
  EXPECT_FALSE(c.enable_cache);
  EXPECT_EQ(c.cache_engine, "duckdb");
  EXPECT_EQ(c.cache_connection, ":memory:");
  EXPECT_EQ(c.cache_max_duration, seconds(0));
  EXPECT_EQ(c.log_level, "info");
  EXPECT_FALSE(c.config_file.has_value());
  EXPECT_EQ(c.session_idle_timeout, seconds(3600));
  EXPECT_EQ(c.statement_idle_timeout, seconds(600));
  EXPECT_EQ(c.result_batch_rows, 131072);
}

TEST(Config, FileThenEnvironmentThenFlags) {
  const std::string path = WriteToml("precedence", R"(
host = "0.0.0.0"
port = 50052
log_level = "debug"
engine_connection = "/data/file.duckdb"
session_idle_timeout = "2h"
enable_cache = true
)");
  // File only.
  Config c = LoadOk({"--config", path});
  EXPECT_EQ(c.config_file, path);
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 50052);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.engine_connection, "/data/file.duckdb");
  EXPECT_EQ(c.session_idle_timeout, seconds(7200));
  EXPECT_TRUE(c.enable_cache);

  // The environment overrides the file (and names the file itself).
  const Env env = {{"HYPRSTREAM_CONFIG", path},
                   {"HYPRSTREAM_PORT", "50053"},
                   {"HYPRSTREAM_LOG_LEVEL", "warn"},
                   {"HYPRSTREAM_ENABLE_CACHE", "false"}};
  c = LoadOk({}, env);
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 50053);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_FALSE(c.enable_cache);

  // Flags override both; only flags actually given do.
  c = LoadOk({"--port", "50054", "--enable-cache", "--session-idle-timeout", "5m"}, env);
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 50054);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_TRUE(c.enable_cache);
  EXPECT_EQ(c.session_idle_timeout, seconds(300));
  EXPECT_EQ(c.engine_connection, "/data/file.duckdb");

  // --config wins over HYPRSTREAM_CONFIG; a repeated flag takes its last value.
  const std::string other = WriteToml("other", "host = \"10.0.0.1\"\n");
  c = LoadOk({"--config", other, "--port=1", "--port", "2"}, env);
  EXPECT_EQ(c.host, "10.0.0.1");
  EXPECT_EQ(c.port, 2);
}

TEST(Config, EngineOptionsRepeatedAndCommaLists) {
  Config c = LoadOk({"--engine-options", "threads=4", "--engine-options", "memory_limit=8GB",
                     "--cache-options", "a=1,b=x=y"});
  EXPECT_EQ(c.engine_options,
            (std::map<std::string, std::string>{{"memory_limit", "8GB"}, {"threads", "4"}}));
  EXPECT_EQ(c.cache_options, (std::map<std::string, std::string>{{"a", "1"}, {"b", "x=y"}}));

  // Maps merge per key across sources: file < environment < flags.
  const std::string path = WriteToml("options", R"(
[engine_options]
threads = 2
memory_limit = "1GB"
enable_x = true
ratio = 0.5
with_comma = "a,b"
)");
  c = LoadOk({"--config", path, "--engine-options", "threads=8"},
             {{"HYPRSTREAM_ENGINE_OPTIONS", "memory_limit=2GB,extra=1"}});
  EXPECT_EQ(c.engine_options, (std::map<std::string, std::string>{{"enable_x", "true"},
                                                                  {"extra", "1"},
                                                                  {"memory_limit", "2GB"},
                                                                  {"ratio", "0.5"},
                                                                  {"threads", "8"},
                                                                  {"with_comma", "a,b"}}));
}

TEST(Config, BooleansFromEnvironmentAndFlags) {
  for (const char* yes : {"true", "TRUE", "1", "yes", "on"}) {
    EXPECT_TRUE(LoadOk({}, {{"HYPRSTREAM_ENABLE_CACHE", yes}}).enable_cache) << yes;
  }
  for (const char* no : {"false", "0", "no", "Off"}) {
    EXPECT_FALSE(LoadOk({}, {{"HYPRSTREAM_ENABLE_CACHE", no}}).enable_cache) << no;
  }
  EXPECT_FALSE(LoadOk({"--enable-cache=false"}, {{"HYPRSTREAM_ENABLE_CACHE", "1"}}).enable_cache);
  EXPECT_NE(LoadError({}, {{"HYPRSTREAM_ENABLE_CACHE", "maybe"}})
                .find("HYPRSTREAM_ENABLE_CACHE: 'maybe' is not a boolean"),
            std::string::npos);
}

TEST(Config, EmptyEnvironmentValueIsUnset) {
  EXPECT_EQ(LoadOk({}, {{"HYPRSTREAM_HOST", ""}}).host, "127.0.0.1");
}

TEST(Config, CredentialsFromEnvironmentOrFileNeverFlags) {
  Config c = LoadOk(
      {}, {{"HYPRSTREAM_ENGINE_USERNAME", "bob"}, {"HYPRSTREAM_ENGINE_PASSWORD", "hunter2"}});
  EXPECT_EQ(c.engine_username, "bob");
  EXPECT_EQ(c.engine_password, "hunter2");

  const std::string path = WriteToml("credentials", "engine_password = \"from-file\"\n");
  EXPECT_EQ(LoadOk({"--config", path}).engine_password, "from-file");

  const std::string error = LoadError({"--engine-password", "x"});
  EXPECT_NE(error.find("HYPRSTREAM_ENGINE_PASSWORD"), std::string::npos) << error;
  EXPECT_FALSE(Load({"--engine-username=bob"}).ok());
}

TEST(Config, UnknownTomlKeyNamesKeyAndFile) {
  const std::string path = WriteToml("typo", "prot = 50052\n");
  const std::string error = LoadError({"--config", path});
  EXPECT_NE(error.find("unknown key 'prot'"), std::string::npos) << error;
  EXPECT_NE(error.find(path), std::string::npos) << error;
}

TEST(Config, WrongTomlTypeNamesKeyAndExpectedType) {
  std::string error = LoadError({"--config", WriteToml("type1", "port = \"50052\"\n")});
  EXPECT_NE(error.find("key port: expected an integer, got string"), std::string::npos) << error;
  error = LoadError({"--config", WriteToml("type2", "host = 5\n")});
  EXPECT_NE(error.find("key host: expected a string"), std::string::npos) << error;
  error = LoadError({"--config", WriteToml("type3", "enable_cache = \"yes\"\n")});
  EXPECT_NE(error.find("key enable_cache: expected a boolean"), std::string::npos) << error;
  error = LoadError({"--config", WriteToml("type4", "engine_options = \"a=1\"\n")});
  EXPECT_NE(error.find("expected a table"), std::string::npos) << error;
  error = LoadError({"--config", WriteToml("type5", "[engine_options]\nx = [1, 2]\n")});
  EXPECT_NE(error.find("engine_options.x: expected a string, number or boolean"), std::string::npos)
      << error;
  // Durations take a string or an integer.
  Config c = LoadOk({"--config", WriteToml("type6",
                                           "statement_idle_timeout = 30\n"
                                           "result_batch_rows = 1000\n")});
  EXPECT_EQ(c.statement_idle_timeout, seconds(30));
  EXPECT_EQ(c.result_batch_rows, 1000);
}

TEST(Config, BadTomlFiles) {
  std::string error = LoadError({"--config", "/nonexistent/hyprstream.toml"});
  EXPECT_NE(error.find("/nonexistent/hyprstream.toml"), std::string::npos) << error;
  error = LoadError({"--config", WriteToml("syntax", "host = \n")});
  EXPECT_NE(error.find("line 1"), std::string::npos) << error;
}

TEST(Config, BadValues) {
  for (const char* port : {"0", "65536", "-1", "80x", ""}) {
    const std::string error = LoadError({"--port", port});
    EXPECT_NE(error.find("--port"), std::string::npos) << error;
  }
  EXPECT_EQ(LoadOk({"--port", "65535"}).port, 65535);
  EXPECT_NE(LoadError({}, {{"HYPRSTREAM_PORT", "70000"}})
                .find("HYPRSTREAM_PORT: '70000' must be a whole number from 1 to 65535"),
            std::string::npos);
  EXPECT_NE(LoadError({"--engine", "postgres"}).find("'postgres' is not one of: duckdb, adbc"),
            std::string::npos);
  EXPECT_EQ(LoadOk({"--engine", "adbc"}).engine, "adbc");
  EXPECT_NE(LoadError({"--log-level", "verbose"}).find("--log-level: 'verbose'"),
            std::string::npos);
  EXPECT_NE(LoadError({"--result-batch-rows", "0"}).find("--result-batch-rows"), std::string::npos);
  EXPECT_NE(LoadError({"--prot", "1"}).find("--prot"), std::string::npos);
}

TEST(Config, KeyValueWithoutEqualsNamesTheItem) {
  std::string error = LoadError({"--engine-options", "threads=4,oops"});
  EXPECT_NE(error.find("--engine-options: 'oops' is not of the form key=value"), std::string::npos)
      << error;
  error = LoadError({}, {{"HYPRSTREAM_CACHE_OPTIONS", "=1"}});
  EXPECT_NE(error.find("HYPRSTREAM_CACHE_OPTIONS: '=1'"), std::string::npos) << error;
}

TEST(Config, Durations) {
  EXPECT_EQ(*ParseDuration("90s"), seconds(90));
  EXPECT_EQ(*ParseDuration("30m"), seconds(1800));
  EXPECT_EQ(*ParseDuration("1h"), seconds(3600));
  EXPECT_EQ(*ParseDuration("1d"), seconds(86400));
  EXPECT_EQ(*ParseDuration("45"), seconds(45));
  for (const char* bad : {"", "h", "1.5h", "-1s", "1w", "1 h", "10ms", "9999999999999s"}) {
    auto parsed = ParseDuration(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find("90s, 30m, 1h, 1d"), std::string::npos);
  }
  EXPECT_EQ(LoadOk({"--cache-max-duration", "1d"}).cache_max_duration, seconds(86400));
  const std::string error = LoadError({"--statement-idle-timeout", "soon"});
  EXPECT_NE(error.find("--statement-idle-timeout: 'soon' is not a duration"), std::string::npos)
      << error;
  EXPECT_NE(LoadError({"--session-idle-timeout", "0"}).find("minimum is 1s"), std::string::npos);
}

TEST(Config, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("1024"), 1024);
  EXPECT_EQ(*ParseByteSize("512KiB"), 512 << 10);
  EXPECT_EQ(*ParseByteSize("64MiB"), 64 << 20);
  EXPECT_EQ(*ParseByteSize("1GiB"), 1 << 30);
  EXPECT_FALSE(ParseByteSize("64MB").ok());
  EXPECT_FALSE(ParseByteSize("999999999999GiB").ok());
  EXPECT_EQ(LoadOk({"--result-batch-rows", "4096"}).result_batch_rows, 4096);
  EXPECT_NE(LoadError({"--result-batch-rows", "0"}).find("--result-batch-rows"),
            std::string::npos);
}

TEST(Config, TrailingWindowOptions) {
  EXPECT_EQ(LoadOk({}).metrics_trailing_window, std::chrono::seconds(3600));
  EXPECT_EQ(LoadOk({}).window_trailing_panes, 120);
  EXPECT_EQ(LoadOk({"--metrics-trailing-window", "0"}).metrics_trailing_window.count(), 0);
  EXPECT_EQ(LoadOk({"--metrics-trailing-window", "30m"}).metrics_trailing_window,
            std::chrono::seconds(1800));
  EXPECT_EQ(LoadOk({"--window-trailing-panes", "60"}).window_trailing_panes, 60);
  EXPECT_EQ(LoadOk({}).window_edge_cache_bytes, 256LL << 20);
  EXPECT_EQ(LoadOk({"--window-edge-cache-bytes", "64MiB"}).window_edge_cache_bytes, 64LL << 20);
  EXPECT_EQ(LoadOk({"--window-edge-cache-bytes", "0"}).window_edge_cache_bytes, 0);
  EXPECT_NE(LoadError({"--window-edge-cache-bytes", "lots"}).find("--window-edge-cache-bytes"),
            std::string::npos);
  const std::string too_few = LoadError({"--window-trailing-panes", "1"});
  EXPECT_NE(too_few.find("--window-trailing-panes"), std::string::npos) << too_few;
  EXPECT_NE(LoadError({"--metrics-trailing-window", "soon"}).find("--metrics-trailing-window"),
            std::string::npos);
}

TEST(Config, HelpAndVersionAreOutcomesNotErrors) {
  auto help = Load({"--help"});
  ASSERT_TRUE(help.ok()) << help.status().ToString();
  ASSERT_TRUE(help->exit_text.has_value());
  EXPECT_EQ(help->exit_code, 0);
  for (const char* text :
       {"--port", "HYPRSTREAM_PORT", "50051", "--engine-options", "--statement-idle-timeout",
        "HYPRSTREAM_RESULT_BATCH_ROWS", "HYPRSTREAM_CONFIG", "HYPRSTREAM_ENGINE_PASSWORD"}) {
    EXPECT_NE(help->exit_text->find(text), std::string::npos) << text;
  }
  EXPECT_EQ(help->exit_text->find("--engine-password"), std::string::npos);
  EXPECT_TRUE(Load({"-h"})->exit_text.has_value());

  auto version = Load({"--version"});
  ASSERT_TRUE(version.ok());
  ASSERT_TRUE(version->exit_text.has_value());
  EXPECT_EQ(version->exit_text->rfind("hyprstream ", 0), 0u) << *version->exit_text;
}

TEST(Config, DescribeNeverShowsPasswords) {
  Config c;
  c.engine_username = "bob";
  c.engine_password = "hunter2";
  c.engine_connection = "postgresql://bob:hunter2@db:5432/app";
  c.engine_options = {{"threads", "4"}, {"adbc.auth_token", "hunter2"}};
  c.enable_cache = true;
  c.cache_connection = "host=db password=hunter2 user=bob";
  const std::string line = DescribeConfig(c);
  EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
  EXPECT_NE(line.find("password=***"), std::string::npos) << line;
  EXPECT_NE(line.find("postgresql://bob:***@db:5432/app"), std::string::npos) << line;
  EXPECT_NE(line.find("threads=4"), std::string::npos) << line;
  EXPECT_NE(line.find("user=bob"), std::string::npos) << line;

  EXPECT_EQ(DescribeConfig(Config{}).find("password"), std::string::npos);
}


TEST(Config, WindowDefinitionsFromTheFile) {
  Config c = LoadOk({"--config", WriteToml("windows", R"(
[[windows]]
name = "bars"
table = "trades"
keys = ["sym", "venue"]
time_column = "ts"
value_columns = "price"
windows = ["1m", "hopping 1h/10m"]

[[windows]]
name = "other"
table = "main.events"
time_column = "at"
)")});
  ASSERT_EQ(c.window_definitions.size(), 2u);
  EXPECT_EQ(c.window_definitions[0].at("keys"), "sym,venue");
  EXPECT_EQ(c.window_definitions[0].at("windows"), "1m,hopping 1h/10m");
  EXPECT_EQ(c.window_definitions[1].at("table"), "main.events");
  std::string error = LoadError({"--config", WriteToml("windows_bad", "[[windows]]\nname = \"x\"\n")});
  EXPECT_NE(error.find("'table' is required"), std::string::npos) << error;
  error = LoadError({"--config", WriteToml("windows_key", "[[windows]]\nname = \"x\"\ntable = \"t\"\n"
                                                          "time_column = \"ts\"\nwidth = \"5m\"\n")});
  EXPECT_NE(error.find("unknown key 'width'"), std::string::npos) << error;
}

}  // namespace
}  // namespace hyprstream::server
