#include "access/statement_needs.h"

#include <gtest/gtest.h>

#include "../engine/engine_test_util.h"
#include "engine/duckdb_engine.h"
#include "engine/engine_sql.h"

namespace hyprstream::access {
namespace {

class StatementNeedsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = engine::testing::OpenMemoryEngine();
    ASSERT_NE(engine_, nullptr);
    auto connection = engine_->Connect();
    ASSERT_TRUE(connection.ok());
    connection_ = *connection;
    for (const char* sql : {
             "CREATE TABLE t (a INT)",
             "CREATE TABLE secret (a INT)",
             "CREATE SCHEMA s2",
             "CREATE TABLE s2.t (a INT)",
             "CREATE VIEW v AS SELECT a FROM secret",
             "CREATE VIEW vv (x) AS SELECT a FROM v",
             "CREATE MACRO m() AS TABLE SELECT * FROM secret",
             "CREATE MACRO sm() AS (SELECT max(a) FROM secret)",
         }) {
      ASSERT_TRUE(engine::ExecuteStatement(*connection_, sql).ok()) << sql;
    }
  }

  // "read memory.main.t" lines, or "untellable".
  std::vector<std::string> Needs(const std::string& sql) {
    auto needs = NeedsOfSql(*connection_, sql);
    EXPECT_TRUE(needs.ok()) << sql << ": " << needs.status().ToString();
    if (!needs.ok()) return {"error"};
    if (needs->untellable) return {"untellable"};
    std::vector<std::string> out;
    for (const auto& need : needs->needs) {
      out.push_back(std::string(PrivilegeName(need.privilege)) + " " + need.table.ToString());
    }
    return out;
  }

  std::shared_ptr<engine::Engine> engine_;
  std::shared_ptr<engine::EngineConnection> connection_;
};

using Lines = std::vector<std::string>;

TEST_F(StatementNeedsTest, QueriesNeedReadOnEveryTableTheyName) {
  EXPECT_EQ(Needs("SELECT 1"), Lines{});
  EXPECT_EQ(Needs("SELECT * FROM T"), Lines{"read memory.main.t"});
  EXPECT_EQ(Needs("SELECT * FROM t JOIN s2.t USING (a)"),
            (Lines{"read memory.main.t", "read memory.s2.t"}));
  EXPECT_EQ(Needs("WITH secret AS (SELECT 1) SELECT * FROM secret"), Lines{});
  EXPECT_EQ(Needs("SELECT * FROM information_schema.tables"),
            Lines{"read system.information_schema.tables"});
  EXPECT_EQ(Needs("SELECT * FROM memory.t"), Lines{"read memory.main.t"});
  EXPECT_EQ(Needs("SELECT * FROM t WHERE a IN (SELECT a FROM memory.main.secret)"),
            (Lines{"read memory.main.t", "read memory.main.secret"}));
}

TEST_F(StatementNeedsTest, ViewsAndMacrosNeedWhatTheyRead) {
  EXPECT_EQ(Needs("SELECT * FROM v"), (Lines{"read memory.main.v", "read memory.main.secret"}));
  EXPECT_EQ(Needs("SELECT * FROM vv"),
            (Lines{"read memory.main.vv", "read memory.main.v", "read memory.main.secret"}));
  EXPECT_EQ(Needs("SELECT * FROM m()"), Lines{"read memory.main.secret"});
  EXPECT_EQ(Needs("SELECT sm()"), Lines{"read memory.main.secret"});
  EXPECT_EQ(Needs("SELECT * FROM query_table('secret')"), Lines{"read memory.main.secret"});
  EXPECT_EQ(Needs("SELECT * FROM query_table('sec' || 'ret')"), Lines{"untellable"});
  EXPECT_EQ(Needs("SELECT * FROM query('SELECT * FROM secret')"), Lines{"read memory.main.secret"});
  // Macros of one name in two schemas: either may be the one called.
  ASSERT_TRUE(
      engine::ExecuteStatement(*connection_, "CREATE MACRO s2.m() AS TABLE SELECT * FROM s2.t")
          .ok());
  EXPECT_EQ(Needs("SELECT * FROM m()"), (Lines{"read memory.main.secret", "read memory.s2.t"}));
}

TEST_F(StatementNeedsTest, WritesNeedWriteAndChangesOfRowsNeedReadToo) {
  EXPECT_EQ(Needs("INSERT INTO t VALUES (1)"), Lines{"write memory.main.t"});
  EXPECT_EQ(Needs("INSERT INTO t SELECT a FROM secret"),
            (Lines{"write memory.main.t", "read memory.main.secret"}));
  EXPECT_EQ(Needs("UPDATE t SET a = 2 WHERE a = 1"),
            (Lines{"write memory.main.t", "read memory.main.t"}));
  EXPECT_EQ(Needs("DELETE FROM s2.t"), (Lines{"write memory.s2.t", "read memory.s2.t"}));
  EXPECT_EQ(Needs("DELETE FROM t WHERE a IN (SELECT a FROM secret)"), Lines{"untellable"});
  EXPECT_EQ(Needs("UPDATE t SET a = sm()"), Lines{"untellable"});
  EXPECT_EQ(Needs("CREATE TABLE n AS SELECT * FROM secret"),
            (Lines{"write memory.main.n", "read memory.main.secret"}));
  EXPECT_EQ(Needs("CREATE VIEW w AS SELECT * FROM secret"), Lines{"write memory.main.w"});
  EXPECT_EQ(Needs("DROP TABLE t"), Lines{"write memory.main.t"});
  EXPECT_EQ(Needs("COPY t FROM 'rows.csv'"), Lines{"write memory.main.t"});
  EXPECT_EQ(Needs("COPY (SELECT * FROM secret) TO 'out.csv'"), Lines{"read memory.main.secret"});
  EXPECT_EQ(Needs("ALTER TABLE t RENAME TO u"),
            (Lines{"write memory.main.t", "write memory.main.u"}));
  EXPECT_EQ(Needs("INSERT OR REPLACE INTO t VALUES (1)"),
            (Lines{"write memory.main.t", "read memory.main.t"}));
  EXPECT_EQ(Needs("BEGIN"), Lines{});
}

TEST_F(StatementNeedsTest, WhatCannotBeToldIsUntellable) {
  EXPECT_EQ(Needs("PRAGMA table_info('secret')"), Lines{"untellable"});
  EXPECT_EQ(Needs("EXECUTE p"), Lines{"untellable"});
  EXPECT_EQ(Needs("CREATE SCHEMA s3"), Lines{"untellable"});
  // A CREATE TABLE ... AS reads its query's tables (a PIVOT with its values listed too).
  EXPECT_EQ(Needs("CREATE TABLE x AS PIVOT secret ON a IN (1, 2) USING count(*)"),
            (Lines{"write memory.main.x", "read memory.main.secret"}));
  // A macro could replace tumble() or one a view calls; an index reads its table.
  EXPECT_EQ(Needs("CREATE OR REPLACE MACRO main.tumble(t, c, w) AS TABLE SELECT * FROM secret"),
            Lines{"untellable"});
  EXPECT_EQ(Needs("DROP MACRO sm"), Lines{"untellable"});
  EXPECT_EQ(Needs("CREATE INDEX i ON secret (a)"), Lines{"untellable"});
  EXPECT_EQ(Needs("SET schema = 's2'; SELECT * FROM t"), Lines{"untellable"});
}

TEST_F(StatementNeedsTest, NamesFollowTheConnectionsSchemaAndSearchPath) {
  ASSERT_TRUE(engine::ExecuteStatement(*connection_, "SET schema = 's2'").ok());
  EXPECT_EQ(Needs("SELECT * FROM t"), Lines{"read memory.s2.t"});
  ASSERT_TRUE(engine::ExecuteStatement(*connection_, "SET search_path = 's2,main'").ok());
  // Either could be meant: both are needed.
  EXPECT_EQ(Needs("SELECT * FROM t"), (Lines{"read memory.main.t", "read memory.s2.t"}));
  auto written = ResolveTable(*connection_, {"memory", "s2", "t"});
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(written->size(), 1u);
  EXPECT_EQ(written->front().ToString(), "memory.s2.t");
}

}  // namespace
}  // namespace hyprstream::access
