// The access policy against real DuckDB: statements of every kind and what role they need.
#include "flightsql/access_policy.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdio>
#include <fstream>

#include "../engine/engine_test_util.h"
#include "engine/duckdb_engine.h"
#include "engine/engine_sql.h"

namespace hyprstream::flightsql {
namespace {

class AccessPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = engine::testing::OpenMemoryEngine();
    ASSERT_NE(engine_, nullptr);
    auto connection = engine_->Connect();
    ASSERT_TRUE(connection.ok());
    connection_ = *connection;
    csv_ = "/tmp/hyprstream_policy_" + std::to_string(::getpid()) + ".csv";
    std::ofstream(csv_) << "a,b\n1,x\n";
    for (const char* sql : {"CREATE TABLE t (a INTEGER, b VARCHAR)", "CREATE SEQUENCE s",
                            "CREATE MACRO tumble(t, c, w) AS TABLE SELECT * FROM query_table(t)"}) {
      auto status = engine::ExecuteStatement(*connection_, sql);
      ASSERT_TRUE(status.ok()) << sql << ": " << status.ToString();
    }
  }

  Role Needs(const std::string& sql) {
    auto requirement = ClassifySql(*connection_, sql);
    EXPECT_TRUE(requirement.ok()) << sql << ": " << requirement.status().ToString();
    return requirement.ok() ? requirement->role() : Role::kAdmin;
  }
  std::string What(const std::string& sql) {
    auto requirement = ClassifySql(*connection_, sql);
    return requirement.ok() ? requirement->what : requirement.status().ToString();
  }

  void TearDown() override { std::remove(csv_.c_str()); }
  // Replaces {csv} with the path of a small CSV file that exists.
  std::string WithCsv(std::string sql) {
    for (size_t at; (at = sql.find("{csv}")) != std::string::npos;) sql.replace(at, 5, csv_);
    return sql;
  }

  std::string csv_;
  std::shared_ptr<engine::Engine> engine_;
  std::shared_ptr<engine::EngineConnection> connection_;
};

TEST_F(AccessPolicyTest, PlainReadsNeedReadOnly) {
  for (const char* sql : {"SELECT 1",
                          "SELECT * FROM t",
                          "FROM t",
                          "VALUES (1), (2)",
                          "WITH x AS (SELECT a FROM t) SELECT * FROM x",
                          "SELECT * FROM range(10)",
                          "SELECT * FROM duckdb_tables()",
                          "DESCRIBE t",
                          "SHOW TABLES",
                          "PRAGMA table_info('t')",
                          "SELECT count(*) FROM t WHERE b LIKE 'x%'",
                          "EXPLAIN SELECT * FROM t",
                          "SELECT * FROM tumble('t', 'a', 1)",
                          "SELECT currval('s')",
                          "SET search_path = 'main'",
                          "SET TimeZone = 'UTC'",
                          "USE memory",
                          "CALL pragma_table_info('t')",
                          "SUMMARIZE t",
                          "SELECT * FROM (SELECT * FROM range(3)) r JOIN t ON r.range = t.a"}) {
    EXPECT_EQ(Needs(sql), Role::kReadOnly) << sql << " -> " << What(sql);
  }
}

TEST_F(AccessPolicyTest, TransactionControlNeedsReadOnlyAlsoOnTheUpdateRoutes) {
  // Opening, committing or rolling back changes nothing by itself; what runs inside is
  // classified statement by statement.
  for (const char* sql : {"BEGIN", "BEGIN TRANSACTION", "START TRANSACTION", "COMMIT", "END",
                          "ROLLBACK", "ABORT", "begin; commit"}) {
    auto requirement = ClassifySql(*connection_, sql);
    ASSERT_TRUE(requirement.ok()) << sql << ": " << requirement.status().ToString();
    EXPECT_EQ(requirement->statement_class, StatementClass::kTransaction) << sql;
    EXPECT_EQ(requirement->role(), Role::kReadOnly) << sql;
    EXPECT_EQ(RequiredRoleForUpdate(requirement->statement_class), Role::kReadOnly) << sql;
    EXPECT_TRUE(LooksLikeTransactionControl(sql)) << sql;
  }
  // A write next to transaction control is a write.
  EXPECT_EQ(Needs("BEGIN; INSERT INTO t VALUES (1, 'x'); COMMIT"), Role::kReadWrite);
  EXPECT_FALSE(LooksLikeTransactionControl("BEGIN; INSERT INTO t VALUES (1, 'x'); COMMIT"));
  EXPECT_FALSE(LooksLikeTransactionControl("SELECT 1"));
  EXPECT_FALSE(LooksLikeTransactionControl(""));
  // The update routes need read_write for anything else, however harmless.
  EXPECT_EQ(RequiredRoleForUpdate(StatementClass::kQuery), Role::kReadWrite);
  EXPECT_EQ(RequiredRoleForUpdate(StatementClass::kSessionSetting), Role::kReadWrite);
  EXPECT_EQ(RequiredRoleForUpdate(StatementClass::kWrite), Role::kReadWrite);
  EXPECT_EQ(RequiredRoleForUpdate(StatementClass::kAttach), Role::kAdmin);
}

TEST_F(AccessPolicyTest, WritesAndDdlNeedReadWrite) {
  for (const char* sql : {"INSERT INTO t VALUES (1, 'x')",
                          "UPDATE t SET a = 2",
                          "DELETE FROM t",
                          "CREATE TABLE u (x INT)",
                          "ALTER TABLE t ADD COLUMN c INT",
                          "DROP TABLE t",
                          "CREATE VIEW v AS SELECT 1",
                          "CREATE MACRO m(x) AS x + 1",
                          "SELECT nextval('s')",
                          "SELECT * FROM read_csv('{csv}')",
                          "SELECT * FROM '{csv}'",
                          "COPY t FROM '{csv}'",
                          "EXPLAIN ANALYZE INSERT INTO t VALUES (1, 'x')",
                          "PREPARE p AS INSERT INTO t VALUES (1, 'x')",
                          "CHECKPOINT",
                          "VACUUM",
                          "SELECT * FROM tumble('{csv}', 'a', 1)",
                          "SELECT * FROM glob('/tmp/*')",
                          "INSERT INTO t SELECT 1, 'a'; SELECT 1",
                          "SET enable_progress_bar = true"}) {
    // Anything unknown is admin-only: these must be exactly read_write.
    EXPECT_EQ(Needs(WithCsv(sql)), Role::kReadWrite) << sql << " -> " << What(WithCsv(sql));
  }
}

TEST_F(AccessPolicyTest, FileSystemSettingsAndExtensionsNeedAdmin) {
  for (const char* sql :
       {"ATTACH ':memory:' AS other", "DETACH memory", "INSTALL json", "LOAD json",
        "SET GLOBAL threads = 4", "SET threads = 4", "SET memory_limit = '1GB'",
        "RESET GLOBAL threads", "COPY t TO '/tmp/out.csv'",
        "COPY (SELECT * FROM t) TO '/tmp/out.parquet'", "EXPORT DATABASE '/tmp/exp'",
        "PRAGMA enable_profiling", "PRAGMA memory_limit = '1GB'",
        "SET profiling_output = '/tmp/profile.json'", "SET log_query_path = '/tmp/q.log'",
        "EXPLAIN ANALYZE COPY t TO '/tmp/o.csv'", "SET enable_external_access = false"}) {
    EXPECT_EQ(Needs(sql), Role::kAdmin) << sql << " -> " << What(sql);
  }
}

TEST_F(AccessPolicyTest, CommentsAndCaseDoNotHideAStatement) {
  EXPECT_EQ(Needs("/* harmless */ insert into t values (1, 'x')"), Role::kReadWrite);
  EXPECT_EQ(Needs("-- copy\ncopy t to '/tmp/y.csv'"), Role::kAdmin);
  EXPECT_EQ(Needs(WithCsv("cOpY \"t\" (a) FrOm '{csv}'")), Role::kReadWrite);
  EXPECT_EQ(Needs("set  global threads=2"), Role::kAdmin);
}

TEST_F(AccessPolicyTest, DescribesWhatNeedsTheRole) {
  EXPECT_EQ(What(WithCsv("SELECT * FROM read_csv('{csv}')")), "table function read_csv");
  EXPECT_EQ(What("COPY t TO '/tmp/o.csv'"), "COPY ... TO");
  EXPECT_EQ(What("INSERT INTO t VALUES (1, 'x')"), "INSERT");
}

TEST_F(AccessPolicyTest, SqlThatDoesNotPrepareIsTheEnginesError) {
  auto missing = ClassifySql(*connection_, "INSERT INTO nowhere VALUES (1)");
  EXPECT_FALSE(missing.ok());
  auto syntax = ClassifySql(*connection_, "SELEC 1");
  EXPECT_TRUE(syntax.status().IsInvalid()) << syntax.status().ToString();
}

TEST_F(AccessPolicyTest, EachStatementOfAScriptByItsOwnText) {
  EXPECT_EQ(Needs("PRAGMA table_info('t'); SELECT 1"), Role::kReadOnly);
  EXPECT_EQ(Needs("SELECT 1; DELETE FROM t"), Role::kReadWrite);
  EXPECT_EQ(What("SELECT 1; DELETE FROM t"), "DELETE");
  EXPECT_EQ(Needs("INSERT INTO t VALUES (1, 'x'); COPY t TO '/tmp/o.csv'"), Role::kAdmin);
  EXPECT_EQ(What("INSERT INTO t VALUES (1, 'x'); COPY t TO '/tmp/o.csv'"), "COPY ... TO");
  EXPECT_EQ(Needs("SET TimeZone = 'UTC'; SET threads = 2"), Role::kAdmin);
  // A semicolon in a string or comment ends nothing.
  EXPECT_EQ(Needs("SELECT ';'; -- ; COPY t TO '/tmp/o.csv'\n SELECT 2"), Role::kReadOnly);
}

TEST_F(AccessPolicyTest, SettingsByScope) {
  EXPECT_EQ(*ClassifySetting(*connection_, "TimeZone"), StatementClass::kSessionSetting);
  EXPECT_EQ(*ClassifySetting(*connection_, "threads"), StatementClass::kGlobalSetting);
  EXPECT_EQ(*ClassifySetting(*connection_, "enable_progress_bar"), StatementClass::kLocalSetting);
  EXPECT_EQ(*ClassifySetting(*connection_, "profiling_output"), StatementClass::kGlobalSetting);
  EXPECT_EQ(*ClassifySetting(*connection_, "no_such_setting"), StatementClass::kGlobalSetting);
}

TEST(RoleTest, NamesRoundTrip) {
  for (Role role : {Role::kReadOnly, Role::kReadWrite, Role::kAdmin}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_EQ(ParseRole("ADMIN"), Role::kAdmin);
  EXPECT_FALSE(ParseRole("root").has_value());
  EXPECT_EQ(RequiredRole(StatementClass::kUnknown), Role::kAdmin);
  EXPECT_NE(DenialMessage("bob", Role::kReadOnly, "INSERT", Role::kReadWrite).find("read_only"),
            std::string::npos);
}

}  // namespace
}  // namespace hyprstream::flightsql
