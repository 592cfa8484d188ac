// Security options of LoadConfig: TLS flags, [[users]], token secret, readonly, audit log.
#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "server/config.h"

namespace hyprstream::server {
namespace {

using Env = std::map<std::string, std::string>;

arrow::Result<LoadOutcome> Load(std::vector<std::string> args, const Env& env = {}) {
  args.insert(args.begin(), "hyprstream");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return LoadConfig(static_cast<int>(argv.size()), argv.data(), env);
}

std::string WriteToml(const std::string& name, const std::string& text) {
  std::string path = testing::TempDir() + "/hyprstream_security_test_" + name + ".toml";
  std::ofstream(path) << text;
  return path;
}

constexpr char kHash[] =
    "pbkdf2-sha256$10000$c2FsdHNhbHRzYWx0c2FsdA==$"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

TEST(SecurityConfig, OffByDefault) {
  auto outcome = Load({});
  ASSERT_TRUE(outcome.ok());
  EXPECT_FALSE(outcome->config.auth_enabled());
  EXPECT_FALSE(outcome->config.tls_enabled());
  EXPECT_FALSE(outcome->config.readonly);
  EXPECT_EQ(outcome->config.tls_min_version, "1.2");
}

TEST(SecurityConfig, TlsFlagsFromEveryMechanism) {
  auto flags = Load({"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->config.tls_client_ca, "ca.pem");
  auto env = Load({}, {{"HYPRSTREAM_TLS_CERT", "c.pem"}, {"HYPRSTREAM_TLS_KEY", "k.pem"}});
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(env->config.tls_enabled());
  auto file = Load({"--config", WriteToml("tls", "tls_cert = 'c.pem'\ntls_key = 'k.pem'\n")});
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->config.tls_key, "k.pem");
}

TEST(SecurityConfig, TlsFlagsMustComeTogether) {
  EXPECT_FALSE(Load({"--tls-cert", "c.pem"}).ok());
  EXPECT_FALSE(Load({"--tls-key", "k.pem"}).ok());
  EXPECT_FALSE(Load({"--tls-client-ca", "ca.pem"}).ok());
}

TEST(SecurityConfig, MinimumTlsVersionThatCannotBeEnforcedIsRefused) {
  auto v13 = Load({"--tls-min-version", "1.3"});
  ASSERT_FALSE(v13.ok());
  EXPECT_NE(v13.status().message().find("cannot be enforced"), std::string::npos);
  EXPECT_FALSE(Load({"--tls-min-version", "1.1"}).ok());
  EXPECT_TRUE(Load({"--tls-min-version", "1.2"}).ok());
}

TEST(SecurityConfig, UsersFromTheFile) {
  auto path = WriteToml("users", std::string("[[users]]\nname = 'alice'\npassword_hash = '") +
                                     kHash + "'\nrole = 'admin'\n[[users]]\nname = 'bob'\n" +
                                     "password_hash = '" + kHash + "'\nrole = 'read_only'\n");
  auto outcome = Load({"--config", path});
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  ASSERT_EQ(outcome->config.users.size(), 2u);
  EXPECT_EQ(outcome->config.users[1].name, "bob");
  EXPECT_EQ(outcome->config.users[1].role, "read_only");
  EXPECT_TRUE(outcome->config.auth_enabled());
  EXPECT_EQ(DescribeConfig(outcome->config).find(kHash), std::string::npos);
}

TEST(SecurityConfig, BadUsersAreRefused) {
  auto plain = Load({"--config", WriteToml("plain",
                                           "[[users]]\nname = 'a'\npassword = 'x'\n"
                                           "role = 'admin'\n")});
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("plaintext"), std::string::npos);
  auto role =
      Load({"--config", WriteToml("role", std::string("[[users]]\nname = 'a'\n") +
                                              "password_hash = '" + kHash + "'\nrole = 'root'\n")});
  ASSERT_FALSE(role.ok());
  EXPECT_NE(role.status().message().find("root"), std::string::npos);
  EXPECT_FALSE(Load({"--config", WriteToml("missing", "[[users]]\nname = 'a'\n")}).ok());
}

TEST(SecurityConfig, GrantsAndGroupsFromTheFile) {
  auto path =
      WriteToml("grants", std::string("[[users]]\nname = 'ana'\npassword_hash = '") + kHash +
                              "'\nrole = 'read_only'\ngroups = ['analysts', 'ops']\n" +
                              "[[grants]]\nprivilege = 'read'\nobject = 'memory.main.*'\n" +
                              "principal = 'group:analysts'\n");
  auto outcome = Load({"--config", path, "--auth-jwt-groups-claim", "teams"});
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->config.users[0].groups, (std::vector<std::string>{"analysts", "ops"}));
  ASSERT_EQ(outcome->config.grants.size(), 1u);
  EXPECT_EQ(outcome->config.grants[0].object, "memory.main.*");
  EXPECT_EQ(outcome->config.grants[0].principal, "group:analysts");
  EXPECT_EQ(outcome->config.auth_jwt_groups_claim, "teams");
  EXPECT_EQ(Load({}).ValueOrDie().config.auth_jwt_groups_claim, "groups");
  for (const auto& [grant, message] : std::vector<std::pair<std::string, std::string>>{
           {"privilege = 'drop'\nobject = '*'\nprincipal = 'user:a'", "not read or write"},
           {"privilege = 'read'\nobject = '*'\nprincipal = 'a'", "user:NAME or group:NAME"},
           {"privilege = 'read'\nobject = '*'\nprincipal = 'user:a'\nwho = 'x'", "unknown key"},
           {"privilege = 'read'\nobject = 1\nprincipal = 'user:a'", "expected a string"}}) {
    auto bad = Load({"--config", WriteToml("bad_grant", "[[grants]]\n" + grant + "\n")});
    ASSERT_FALSE(bad.ok()) << grant;
    EXPECT_NE(bad.status().message().find(message), std::string::npos) << bad.status().message();
    EXPECT_NE(bad.status().message().find("grants[0]"), std::string::npos);
  }
}

TEST(SecurityConfig, TokenSecretIsNeverAFlagAndNeverDescribed) {
  EXPECT_FALSE(Load({"--auth-token-secret", "x"}).ok());
  auto outcome = Load({}, {{"HYPRSTREAM_AUTH_TOKEN_SECRET", "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"}});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome->config.auth_token_secret, "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t");
  EXPECT_EQ(DescribeConfig(outcome->config).find("s3cr3t"), std::string::npos);
}

TEST(SecurityConfig, ReadonlyAuditAndTokenLifetime) {
  auto outcome = Load({"--readonly", "--audit-log", "/tmp/a.log", "--auth-token-lifetime", "5m"});
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->config.readonly);
  EXPECT_EQ(outcome->config.audit_log, "/tmp/a.log");
  EXPECT_EQ(outcome->config.auth_token_lifetime.count(), 300);
}

TEST(SecurityConfig, HashPasswordIsAnOutcome) {
  auto outcome = Load({"--hash-password"});
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->hash_password);
}

}  // namespace
}  // namespace hyprstream::server
