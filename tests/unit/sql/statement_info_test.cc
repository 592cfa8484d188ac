// Statement in, classification out: kinds, writes, INSERT facts, parameters and reads.
#include "sql/statement_info.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

#include "sql/duckdb_parser.h"
#include "sql/sql_script.h"

namespace hyprstream::sql {
namespace {

// The writes of a one-statement text as "mode table, ..." ("?" when not known).
std::string Writes(const StatementInfo& info) {
  if (!info.writes_known) return "?";
  std::string out;
  for (const auto& write : info.writes) {
    if (!out.empty()) out += ", ";
    out += std::string(WriteModeName(write.mode)) + " " + write.table.ToString();
  }
  return out;
}

const StatementInfo& Only(const std::string& sql) {
  static std::vector<std::shared_ptr<const Script>> kept;  // keeps the infos alive
  kept.push_back(Analyze(sql));
  EXPECT_EQ(kept.back()->statements.size(), 1u) << sql;
  static const StatementInfo kEmpty;
  return kept.back()->statements.empty() ? kEmpty : kept.back()->statements[0];
}

struct Case {
  const char* sql;
  StatementKind kind;
  const char* writes;
};

void Check(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    const StatementInfo& info = Only(c.sql);
    EXPECT_EQ(StatementKindName(info.kind), StatementKindName(c.kind)) << c.sql;
    EXPECT_EQ(Writes(info), c.writes) << c.sql;
  }
}

using K = StatementKind;

TEST(StatementInfoTest, Queries) {
  Check({
      {"SELECT 1", K::kQuery, ""},
      {"  select * from t where a = 1", K::kQuery, ""},
      {"(SELECT 1) UNION (SELECT 2)", K::kQuery, ""},
      {"WITH x AS (SELECT 1) SELECT * FROM x", K::kQuery, ""},
      {"VALUES (1), (2)", K::kQuery, ""},
      {"TABLE t", K::kQuery, ""},
      {"FROM t SELECT a", K::kQuery, ""},
      {"SHOW TABLES", K::kQuery, ""},
      {"DESCRIBE t", K::kQuery, ""},
      {"SUMMARIZE t", K::kQuery, ""},
      {"EXPLAIN SELECT 1", K::kQuery, ""},
      {"PIVOT t ON x USING sum(y)", K::kQuery, ""},
  });
}

TEST(StatementInfoTest, WritesInCtes) {
  Check({
      // DuckDB: a WITH clause before INSERT.
      {"WITH x AS (SELECT 1 AS a) INSERT INTO t SELECT * FROM x", K::kInsert, "append t"},
      {"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
       "INSERT INTO t SELECT n FROM r",
       K::kInsert, "append t"},
      // PostgreSQL: data-modifying CTEs.
      {"WITH d AS (DELETE FROM t WHERE a < 0 RETURNING *) SELECT count(*) FROM d", K::kQuery,
       "delete t"},
      {"WITH moved AS (DELETE FROM inbox RETURNING *), u AS (UPDATE stats SET n = n + 1) "
       "INSERT INTO archive SELECT * FROM moved",
       K::kInsert, "delete inbox, update stats, append archive"},
      {"WITH x AS MATERIALIZED (INSERT INTO a VALUES (1) RETURNING id) SELECT * FROM x", K::kQuery,
       "append a"},
      {"WITH x AS (SELECT 1) SELECT * FROM x, (SELECT 2) y", K::kQuery, ""},
  });
}

TEST(StatementInfoTest, InsertForms) {
  Check({
      {"INSERT INTO t VALUES (1)", K::kInsert, "append t"},
      {"insert into S.T (a, b) select 1, 2", K::kInsert, "append s.t"},
      {"INSERT INTO t BY NAME SELECT 1 AS a", K::kInsert, "append t"},
      {"INSERT OR REPLACE INTO t VALUES (1)", K::kInsert, "upsert t"},
      {"INSERT OR IGNORE INTO t VALUES (1)", K::kInsert, "insert_ignore t"},
      {"INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", K::kInsert, "insert_ignore t"},
      {"INSERT INTO t VALUES (1) ON CONFLICT (id) DO NOTHING RETURNING *", K::kInsert,
       "insert_ignore t"},
      {"INSERT INTO t AS x VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET v = excluded.v", K::kInsert,
       "upsert t"},
      {"INSERT INTO t VALUES (1) ON CONFLICT ON CONSTRAINT pk DO UPDATE SET v = 2", K::kInsert,
       "upsert t"},
      {"INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE v = 2", K::kInsert, "upsert t"},
      {"REPLACE INTO t VALUES (1)", K::kInsert, "upsert t"},
      {"INSERT INTO t DEFAULT VALUES", K::kInsert, "append t"},
      {"INSERT INTO t SELECT * FROM a JOIN b ON a.id = b.id", K::kInsert, "append t"},
      {"INSERT INTO", K::kInsert, "?"},
  });
}

TEST(StatementInfoTest, OtherWrites) {
  Check({
      {"UPDATE t SET a = 1", K::kUpdate, "update t"},
      {"UPDATE ONLY s.t AS x SET a = y.a FROM y WHERE x.id = y.id", K::kUpdate, "update s.t"},
      {"DELETE FROM t USING u WHERE t.id = u.id", K::kDelete, "delete t"},
      {"DELETE FROM \"Odd Name\" WHERE 1", K::kDelete, "delete Odd Name"},
      {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v", K::kMerge,
       "merge t"},
      {"TRUNCATE t", K::kTruncate, "truncate t"},
      {"TRUNCATE TABLE a, ONLY b", K::kTruncate, "truncate a, truncate b"},
      {"TRUNCATE a CASCADE", K::kTruncate, "?"},
      {"COPY t FROM 'x.csv'", K::kCopyFrom, "copy_from t"},
      {"COPY \"t\" (a, b) FROM STDIN", K::kCopyFrom, "copy_from t"},
      {"COPY t TO 'x.csv'", K::kCopyTo, ""},
      {"COPY (SELECT * FROM t) TO 'x.parquet' (FORMAT parquet)", K::kCopyTo, ""},
      {"COPY FROM DATABASE a TO b", K::kCopyFrom, "?"},
      {"SELECT * INTO TEMP new_t FROM t", K::kQuery, "ddl new_t"},
      {"SELECT * FROM (UNPIVOT t ON a, b INTO NAME k VALUE v)", K::kQuery, ""},
      {"UPDATE OR REPLACE t SET a = 1", K::kUpdate, "update t"},
      {"EXPLAIN ANALYZE DELETE FROM t", K::kQuery, "delete t"},
  });
}

TEST(StatementInfoTest, Ddl) {
  Check({
      {"CREATE TABLE t (a INT)", K::kCreate, "ddl t"},
      {"CREATE OR REPLACE TEMP TABLE t AS SELECT 1", K::kCreate, "ddl t"},
      {"CREATE TABLE IF NOT EXISTS s.t AS SELECT * FROM u WITH NO DATA", K::kCreate, "ddl s.t"},
      {"CREATE VIEW v AS SELECT 1", K::kCreate, "ddl v"},
      {"CREATE MATERIALIZED VIEW mv AS SELECT 1", K::kCreate, "ddl mv"},
      {"CREATE UNIQUE INDEX i ON t (a)", K::kCreate, ""},
      {"CREATE SEQUENCE s", K::kCreate, ""},
      {"CREATE MACRO m(x) AS x + 1", K::kCreate, ""},
      {"CREATE SCHEMA s", K::kCreate, "?"},
      {"CREATE SECRET (TYPE s3)", K::kCreate, "?"},
      {"DROP TABLE IF EXISTS t, u", K::kDrop, "ddl t, ddl u"},
      {"DROP VIEW v", K::kDrop, "ddl v"},
      {"DROP TABLE t CASCADE", K::kDrop, "?"},
      {"DROP SCHEMA s CASCADE", K::kDrop, "?"},
      {"DROP SCHEMA s", K::kDrop, "?"},
      {"DROP INDEX i", K::kDrop, ""},
      {"ALTER TABLE t ADD COLUMN b INT", K::kAlter, "ddl t"},
      {"ALTER TABLE s.t RENAME TO u", K::kAlter, "ddl s.t, ddl s.u"},
      {"ALTER SEQUENCE s RESTART", K::kAlter, ""},
  });
}

TEST(StatementInfoTest, TransactionControl) {
  Check({
      {"BEGIN", K::kBegin, ""},
      {"begin transaction", K::kBegin, ""},
      {"BEGIN WORK", K::kBegin, ""},
      {"BEGIN ISOLATION LEVEL SERIALIZABLE", K::kBegin, ""},
      {"START TRANSACTION", K::kBegin, ""},
      {"START TRANSACTION READ ONLY", K::kBegin, ""},
      {"COMMIT", K::kCommit, ""},
      {"COMMIT WORK", K::kCommit, ""},
      {"END", K::kCommit, ""},
      {"END TRANSACTION", K::kCommit, ""},
      {"ROLLBACK", K::kRollback, ""},
      {"ROLLBACK TRANSACTION", K::kRollback, ""},
      {"ABORT", K::kRollback, ""},
      {"ROLLBACK TO SAVEPOINT a", K::kSavepoint, ""},
      {"SAVEPOINT a", K::kSavepoint, ""},
      {"RELEASE SAVEPOINT a", K::kSavepoint, ""},
      {"COMMIT PREPARED 'x'", K::kOther, "?"},
      {"BEGIN ATOMIC", K::kOther, "?"},
  });
}

TEST(StatementInfoTest, EverythingElse) {
  Check({
      {"SET search_path = 'x'", K::kSetting, ""},
      {"RESET threads", K::kSetting, ""},
      {"USE memory", K::kSetting, ""},
      {"PRAGMA table_info('t')", K::kPragma, "?"},
      {"CALL f()", K::kCall, "?"},
      {"ATTACH 'x.db' AS x", K::kAttach, "?"},
      {"DETACH x", K::kAttach, "?"},
      {"INSTALL json", K::kExtension, "?"},
      {"LOAD json", K::kExtension, "?"},
      {"CHECKPOINT", K::kCheckpoint, ""},
      {"FORCE CHECKPOINT", K::kCheckpoint, ""},
      {"PREPARE p AS INSERT INTO t VALUES (1)", K::kPrepare, ""},
      {"EXECUTE p", K::kExecute, "?"},
      {"DEALLOCATE p", K::kDeallocate, ""},
      {"VACUUM", K::kOther, "?"},
      {"SELEC 1", K::kOther, "?"},
      {"SELECT 'unterminated", K::kOther, "?"},
  });
}

TEST(StatementInfoTest, LeadingKeywordAndCommentsEverywhere) {
  const auto& info = Only("/* a */ -- b\n  insert /* c */ into -- d\n t /* e */ values (1) -- f");
  EXPECT_EQ(info.keyword, "INSERT");
  EXPECT_EQ(Writes(info), "append t");
  EXPECT_EQ(Only("(select 1)").keyword, "SELECT");
  EXPECT_EQ(Only("with x as (select 1) select 1").keyword, "WITH");
  EXPECT_EQ(Only("'str'").keyword, "");
}

TEST(StatementInfoTest, QuotedAndQualifiedNames) {
  Check({
      {"INSERT INTO \"My.Table\" VALUES (1)", K::kInsert, "append My.Table"},
      {"INSERT INTO \"a\"\"b\" VALUES (1)", K::kInsert, "append a\"b"},
      {"UPDATE Cat.\"Sch\".Tab SET a = 1", K::kUpdate, "update cat.Sch.tab"},
      {"DELETE FROM a.b.c.d", K::kDelete, "?"},
  });
  const auto& info = Only("INSERT INTO Cat.\"Sch\".Tab VALUES (1)");
  ASSERT_TRUE(info.insert.has_value());
  EXPECT_EQ(info.insert->target.catalog, "cat");
  EXPECT_EQ(info.insert->target.schema, "Sch");
  EXPECT_EQ(info.insert->target.table, "tab");
  EXPECT_FALSE(Only("INSERT INTO t VALUES (1)").insert->target.schema.has_value());
}

TEST(StatementInfoTest, InsertFacts) {
  const std::string sql = "INSERT INTO t (a, \"B\") BY NAME SELECT 1 AS a, 2 AS \"B\";";
  const auto& info = Only(sql);
  ASSERT_TRUE(info.insert.has_value());
  const InsertFacts& facts = *info.insert;
  EXPECT_EQ(facts.columns, (std::vector<std::string>{"a", "B"}));
  EXPECT_TRUE(facts.by_name);
  EXPECT_EQ(facts.source.In(sql), "SELECT 1 AS a, 2 AS \"B\"");
  EXPECT_FALSE(facts.returning);
  EXPECT_EQ(facts.conflict, ConflictAction::kNone);
  EXPECT_EQ(facts.returning_offset, sql.size() - 1);

  const std::string upsert = "INSERT INTO t VALUES (1, 2) ON CONFLICT (a) DO UPDATE SET b = 3";
  const auto& u = *Only(upsert).insert;
  EXPECT_EQ(u.source.In(upsert), "VALUES (1, 2)");
  EXPECT_EQ(u.conflict, ConflictAction::kDoUpdate);

  const std::string cte = "WITH x AS (SELECT 1 AS a) INSERT INTO t SELECT * FROM x";
  const auto& c = *Only(cte).insert;
  EXPECT_EQ(c.with_clause.In(cte), "WITH x AS (SELECT 1 AS a)");
  EXPECT_EQ(c.SourceQuery(cte), "WITH x AS (SELECT 1 AS a) SELECT * FROM x");

  const auto& d = *Only("INSERT INTO t DEFAULT VALUES").insert;
  EXPECT_TRUE(d.default_values);
  EXPECT_TRUE(Only("INSERT INTO t VALUES (1) RETURNING id").insert->returning);
  EXPECT_EQ(Only("INSERT OR IGNORE INTO t VALUES (1)").insert->conflict, ConflictAction::kOrIgnore);
  EXPECT_EQ(Only("INSERT OR REPLACE INTO t VALUES (1)").insert->conflict,
            ConflictAction::kOrReplace);
  EXPECT_EQ(Only("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING").insert->conflict,
            ConflictAction::kDoNothing);
}

// " RETURNING *" spliced in at returning_offset gives SQL DuckDB parses as one INSERT.
TEST(StatementInfoTest, ReturningOffsetMakesValidSql) {
  for (const std::string sql :
       {"INSERT INTO t VALUES (1);", "INSERT INTO t VALUES (1) -- the end",
        "INSERT INTO t VALUES (1) /* c */ ;  -- x\n", "insert into t select 1 ; ",
        "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x;\n",
        "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING; -- note"}) {
    const auto& info = Only(sql);
    ASSERT_TRUE(info.insert.has_value()) << sql;
    const size_t at = info.insert->returning_offset;
    const std::string with = sql.substr(0, at) + " RETURNING *" + sql.substr(at);
    const auto& again = Only(with);
    ASSERT_TRUE(again.insert.has_value()) << with;
    EXPECT_TRUE(again.insert->returning) << with;
    EXPECT_EQ(Analyze(with)->statements.size(), 1u) << with;
  }
}

TEST(StatementInfoTest, Parameters) {
  auto p = Only("SELECT * FROM t WHERE a = ? AND b = ? AND c = '?' -- ?\n /* ? */").parameters;
  EXPECT_EQ(p.positional, 2);
  EXPECT_EQ(p.highest_numbered, 0);
  p = Only("SELECT $1, $3, $2").parameters;
  EXPECT_EQ(p.highest_numbered, 3);
  EXPECT_EQ(p.positional, 0);
  p = Only("SELECT $name, $other, $name").parameters;
  EXPECT_EQ(p.named, (std::vector<std::string>{"name", "other"}));
  p = Only("SELECT $$ ? $1 $$, $tag$ $x $tag$").parameters;
  EXPECT_FALSE(p.any());
  EXPECT_TRUE(Only("INSERT INTO t VALUES (?, ?)").parameters.any());
  EXPECT_TRUE(Only("SELECT * FROM t WHERE a = ?").reads().has_parameters);
}

TEST(StatementInfoTest, ReadsFromDuckDbsParse) {
  const auto& query = Only(
      "WITH recent AS (SELECT * FROM public.Sales WHERE x > 1) "
      "SELECT upper(h.name) FROM recent JOIN \"Hosts\" h USING (id), read_csv('f.csv') "
      "WHERE id IN (SELECT id FROM other.blocked)");
  const StatementReads& reads = query.reads();
  ASSERT_TRUE(reads.known) << reads.error;
  EXPECT_TRUE(reads.whole_statement);
  std::vector<std::string> tables;
  for (const auto& t : reads.tables) tables.push_back(t.ToString());
  EXPECT_EQ(tables, (std::vector<std::string>{"public.sales", "Hosts", "other.blocked"}));
  EXPECT_EQ(reads.cte_names, (std::vector<std::string>{"recent"}));
  EXPECT_EQ(reads.table_functions, (std::vector<std::string>{"read_csv"}));
  EXPECT_NE(std::find(reads.scalar_functions.begin(), reads.scalar_functions.end(), "upper"),
            reads.scalar_functions.end());
  ASSERT_NE(reads.tree, nullptr);
  EXPECT_EQ((*reads.tree)["statements"].size(), 1u);
  EXPECT_EQ(reads.parsed_statements, 1u);
  // Names as the parse gives them (the CTE's reference too); every call with its arguments.
  EXPECT_EQ(reads.parsed_table_names,
            (std::vector<std::string>{"Sales", "recent", "Hosts", "blocked"}));
  ASSERT_EQ(reads.table_function_calls.size(), 1u);
  EXPECT_EQ(reads.table_function_calls[0].name, "read_csv");
  EXPECT_EQ(reads.table_function_calls[0].text_arguments,
            (std::vector<std::optional<std::string>>{"f.csv"}));
  EXPECT_EQ(&query.reads(), &reads);  // parsed once

  // hyprstream's tumble()/hop() read the table their first argument names.
  const StatementReads& macros =
      Only("SELECT * FROM tumble('s.Ticks', 'ts', INTERVAL 1 MINUTE) JOIN "
           "hop(\"quotes\", 'ts', INTERVAL 5 MINUTE, INTERVAL 1 MINUTE) USING (sym), "
           "tumble(?, 'ts', INTERVAL 1 MINUTE), range(3)")
          .reads();
  ASSERT_TRUE(macros.known) << macros.error;
  tables.clear();
  for (const auto& t : macros.tables) tables.push_back(t.ToString());
  EXPECT_EQ(tables, (std::vector<std::string>{"s.ticks"}));  // not a column, a parameter
  EXPECT_EQ(macros.table_functions, (std::vector<std::string>{"tumble", "hop", "range"}));
  ASSERT_EQ(macros.table_function_calls.size(), 4u);  // each call, tumble twice
  EXPECT_EQ(macros.table_function_calls[2].name, "tumble");
  EXPECT_EQ(macros.table_function_calls[2].text_arguments.size(), 3u);
  EXPECT_EQ(macros.table_function_calls[2].text_arguments[0], std::nullopt);  // a parameter
  EXPECT_EQ(macros.table_function_calls[2].text_arguments[1], "ts");
  EXPECT_EQ(macros.table_function_calls[3].text_arguments,
            (std::vector<std::optional<std::string>>{std::nullopt}));  // range(3): no text

  // INSERT ... SELECT: the embedded query, its CTE included.
  const auto& insert = Only("WITH x AS (SELECT * FROM src) INSERT INTO t SELECT * FROM x, y");
  ASSERT_TRUE(insert.reads().known) << insert.reads().error;
  EXPECT_FALSE(insert.reads().whole_statement);
  ASSERT_EQ(insert.reads().tables.size(), 2u);
  EXPECT_EQ(insert.reads().tables[0].table, "src");
  EXPECT_EQ(insert.reads().tables[1].table, "y");

  // CREATE TABLE AS: reads and a ddl write.
  const auto& ctas = Only("CREATE TABLE t AS SELECT * FROM s.u");
  ASSERT_TRUE(ctas.reads().known);
  ASSERT_EQ(ctas.reads().tables.size(), 1u);
  EXPECT_EQ(ctas.reads().tables[0].ToString(), "s.u");

  // COPY (query) TO reads the query; COPY t FROM reads no table DuckDB can tell.
  const auto& copy = Only("COPY (SELECT a FROM t) TO '/tmp/x.csv'");
  ASSERT_TRUE(copy.reads().known);
  EXPECT_EQ(copy.reads().tables[0].table, "t");

  EXPECT_TRUE(Only("BEGIN").reads().known);
  EXPECT_TRUE(Only("INSERT INTO t DEFAULT VALUES").reads().known);
  EXPECT_FALSE(Only("UPDATE t SET a = 1").reads().known);
  EXPECT_FALSE(Only("SELEC 1").reads().known);
  EXPECT_FALSE(Only("EXPLAIN SELECT 1").reads().known);
}

TEST(StatementInfoTest, DeparseExpressions) {
  const auto& info = Only("SELECT now() - INTERVAL '1 hour'");
  ASSERT_TRUE(info.reads().known);
  const auto& expression = (*info.reads().tree)["statements"][0]["node"]["select_list"][0];
  auto sql = ExpressionSql(expression);
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  EXPECT_EQ(*sql, "(now() - CAST('1 hour' AS INTERVAL))");
  auto whole = Deparse(*info.reads().tree);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(*whole, "SELECT " + *sql);
}

TEST(ScriptTest, MemoisedByText) {
  auto a = Analyze("SELECT 1; SELECT 2");
  auto b = Analyze(std::string("SELECT 1; ") + "SELECT 2");
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(a->statements.size(), 2u);
  EXPECT_NE(Analyze("SELECT 3").get(), a.get());
  const std::string huge = "SELECT '" + std::string(100000, 'x') + "'";
  EXPECT_NE(Analyze(huge).get(), Analyze(huge).get());  // too large to keep
  EXPECT_EQ(Analyze(huge)->statements.size(), 1u);
}

TEST(ScriptTest, ManyThreadsAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string table = "t";
        table += std::to_string((i + t) % 17);
        const auto script = Analyze("SELECT a FROM " + table);
        const auto& reads = script->statements.at(0).reads();
        if (!reads.known || reads.tables.size() != 1 || reads.tables[0].table != table) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ScriptTest, EachStatementOnItsOwn) {
  auto script = Analyze("BEGIN; INSERT INTO t VALUES (1); ROLLBACK;");
  ASSERT_EQ(script->statements.size(), 3u);
  EXPECT_EQ(script->statements[0].kind, K::kBegin);
  EXPECT_EQ(script->statements[1].kind, K::kInsert);
  EXPECT_EQ(script->statements[1].text(), "INSERT INTO t VALUES (1)");
  EXPECT_EQ(script->statements[2].kind, K::kRollback);
  EXPECT_TRUE(script->WritesKnown());
  EXPECT_EQ(script->Writes().size(), 1u);
  EXPECT_EQ(script->Single(), nullptr);
  EXPECT_TRUE(Analyze("  -- nothing\n ; ;")->statements.empty());
}

}  // namespace
}  // namespace hyprstream::sql
