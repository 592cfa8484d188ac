// The ADBC engine against a real SQLite database through the SQLite ADBC driver: queries,
// parameters, updates, ingest modes, transactions, appenders, error mapping, metadata.
#include "engine/adbc_engine.h"

#include <gtest/gtest.h>

#include "adbc_test_util.h"
#include "engine/adbc_engine_connection.h"
#include "engine/adbc_engine_statement.h"

namespace hyprstream::engine {
namespace {

using namespace testing;  // NOLINT

class AdbcEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto engine = OpenSqliteEngine(file_.path());
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = *engine;
    auto connection = engine_->Connect();
    ASSERT_TRUE(connection.ok());
    connection_ = *connection;
  }

  TempSqliteFile file_;
  std::shared_ptr<Engine> engine_;
  std::shared_ptr<EngineConnection> connection_;
};

TEST(AdbcStatementKindTest, LeadingKeyword) {
  EXPECT_EQ(ClassifyStatement("SELECT 1"), StatementKind::kQuery);
  EXPECT_EQ(ClassifyStatement("  -- c\n /* x */ (select 1)"), StatementKind::kQuery);
  EXPECT_EQ(ClassifyStatement("with t as (select 1) select * from t"), StatementKind::kQuery);
  EXPECT_EQ(ClassifyStatement("VALUES (1)"), StatementKind::kQuery);
  EXPECT_EQ(ClassifyStatement("explain select 1"), StatementKind::kQuery);
  EXPECT_EQ(ClassifyStatement("insert into t values (1)"), StatementKind::kUpdate);
  EXPECT_EQ(ClassifyStatement("CREATE TABLE t (a int)"), StatementKind::kUpdate);
  EXPECT_EQ(ClassifyStatement("TRUNCATE t"), StatementKind::kUpdate);
  EXPECT_EQ(ClassifyStatement("SET x = 1"), StatementKind::kOther);
  EXPECT_EQ(ClassifyStatement("BEGIN"), StatementKind::kOther);
  // Every statement counts, not only the first keyword.
  EXPECT_EQ(ClassifyStatement("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"),
            StatementKind::kUpdate);
  EXPECT_EQ(ClassifyStatement("SELECT 1; DELETE FROM t"), StatementKind::kOther);
}

TEST(AdbcConnectionSpecTest, PoolOptionsLeaveTheUri) {
  auto spec = ParseAdbcConnection(
      "postgresql://localhost:5432/"
      "metrics?pool_max=10&pool_min=1&connect_timeout=30&sslmode=disable",
      "postgresql");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->pool_max, 10);
  EXPECT_EQ(spec->pool_min, 1);
  EXPECT_EQ(spec->connect_timeout_s, 30);
  EXPECT_EQ(spec->driver_uri,
            "postgresql://localhost:5432/metrics?connect_timeout=30&sslmode=disable");
  EXPECT_EQ(spec->backend, "localhost:5432");
  EXPECT_EQ(spec->pool_check_idle_ms, 1000);
  EXPECT_EQ(spec->pool_idle_timeout_s, 600);
  EXPECT_EQ(spec->pool_max_lifetime_s, 1800);
  auto sqlite = ParseAdbcConnection(
      "/tmp/a.db?pool_max=2&connect_timeout=5&pool_check_idle_ms=250&pool_idle_timeout=0&"
      "pool_max_lifetime=60",
      "sqlite");
  ASSERT_TRUE(sqlite.ok());
  EXPECT_EQ(sqlite->driver_uri, "/tmp/a.db");
  EXPECT_EQ(sqlite->pool_max, 2);
  EXPECT_EQ(sqlite->pool_check_idle_ms, 250);
  EXPECT_EQ(sqlite->pool_idle_timeout_s, 0);
  EXPECT_EQ(sqlite->pool_max_lifetime_s, 60);
  EXPECT_TRUE(
      ParseAdbcConnection("/tmp/a.db?pool_check_idle_ms=-1", "sqlite").status().IsInvalid());
  EXPECT_TRUE(ParseAdbcConnection("/tmp/a.db?pool_max=x", "sqlite").status().IsInvalid());
  EXPECT_TRUE(
      ParseAdbcConnection("/tmp/a.db?pool_max=1&pool_min=2", "sqlite").status().IsInvalid());
}

TEST(AdbcConnectionSpecTest, CredentialsArePercentEncoded) {
  EXPECT_EQ(AddUriCredentials("postgresql://h:5432/db", "postgres", std::string("p@ss:w/rd")),
            "postgresql://postgres:p%40ss%3Aw%2Frd@h:5432/db");
  EXPECT_EQ(AddUriCredentials("postgresql://old:x@h/db", "u", std::nullopt), "postgresql://u@h/db");
}

TEST_F(AdbcEngineTest, QueryStreamsTypedRows) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE t (a INTEGER, b TEXT, c REAL)"));
  HS_ASSIGN_OR_FAIL(auto inserted,
                    Update(*connection_, "INSERT INTO t VALUES (1, 'x', 1.5), (2, 'y', 2.5)"));
  EXPECT_EQ(inserted, 2);
  HS_ASSIGN_OR_FAIL(auto table, Query(*connection_, "SELECT a, b, c FROM t ORDER BY a"));
  ASSERT_EQ(table->num_rows(), 2);
  EXPECT_EQ(table->schema()->field(0)->type()->id(), arrow::Type::INT64);
  EXPECT_EQ(table->schema()->field(1)->type()->id(), arrow::Type::STRING);
  EXPECT_EQ(table->schema()->field(2)->type()->id(), arrow::Type::DOUBLE);
  HS_ASSIGN_OR_FAIL(auto total, QueryInt(*connection_, "SELECT sum(a) FROM t"));
  EXPECT_EQ(total, 3);
  HS_ASSIGN_OR_FAIL(auto updated, Update(*connection_, "UPDATE t SET a = a + 10"));
  EXPECT_EQ(updated, 2);
}

TEST_F(AdbcEngineTest, ParametersExecuteOncePerRow) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE p (a INTEGER, b TEXT)"));
  HS_ASSIGN_OR_FAIL(auto insert, connection_->Prepare("INSERT INTO p VALUES (?, ?)"));
  EXPECT_EQ(insert->kind(), StatementKind::kUpdate);
  EXPECT_EQ(insert->parameter_schema()->num_fields(), 2);
  auto schema =
      arrow::schema({arrow::field("a", arrow::int64()), arrow::field("b", arrow::utf8())});
  HS_ASSERT_OK(insert->Bind(BatchFromJson(schema, {"[1, 2, 3]", R"(["a", "b", "c"])"})));
  HS_ASSIGN_OR_FAIL(auto rows, insert->ExecuteUpdate());
  EXPECT_EQ(rows, 3);

  HS_ASSIGN_OR_FAIL(auto select, connection_->Prepare("SELECT b FROM p WHERE a = ?"));
  auto key = arrow::schema({arrow::field("a", arrow::int64())});
  HS_ASSERT_OK(select->Bind(BatchFromJson(key, {"[3, 1, 7]"})));
  HS_ASSIGN_OR_FAIL(auto reader, select->ExecuteQuery());
  HS_ASSIGN_OR_FAIL(auto table, ReadAll(*reader));
  ASSERT_EQ(table->num_rows(), 2);
  EXPECT_EQ(table->column(0)->GetScalar(0).ValueOrDie()->ToString(), "c");
  EXPECT_EQ(table->column(0)->GetScalar(1).ValueOrDie()->ToString(), "a");
  // The prepared statement survives other work on the session (it re-prepares per execution).
  HS_ASSERT_OK(Update(*connection_, "INSERT INTO p VALUES (7, 'g')"));
  HS_ASSIGN_OR_FAIL(reader, select->ExecuteQuery());
  HS_ASSIGN_OR_FAIL(table, ReadAll(*reader));
  EXPECT_EQ(table->num_rows(), 3);
}

TEST_F(AdbcEngineTest, IngestModes) {
  auto schema =
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("v", arrow::utf8())});
  auto batch = BatchFromJson(schema, {"[1, 2]", R"(["a", "b"])"});
  IngestRequest create;
  create.table = "ing";
  HS_ASSIGN_OR_FAIL(auto rows, connection_->Ingest(create, ReaderOf(schema, {batch, batch}).get()));
  EXPECT_EQ(rows, 4);
  // create + fail when it exists
  auto again = connection_->Ingest(create, ReaderOf(schema, {batch}).get());
  EXPECT_FALSE(again.ok());
  IngestRequest append = create;
  append.if_exists = IngestRequest::IfExists::kAppend;
  HS_ASSIGN_OR_FAIL(rows, connection_->Ingest(append, ReaderOf(schema, {batch}).get()));
  EXPECT_EQ(rows, 2);
  HS_ASSIGN_OR_FAIL(auto count, QueryInt(*connection_, "SELECT count(*) FROM ing"));
  EXPECT_EQ(count, 6);
  IngestRequest replace = create;
  replace.if_exists = IngestRequest::IfExists::kReplace;
  HS_ASSIGN_OR_FAIL(rows, connection_->Ingest(replace, ReaderOf(schema, {batch}).get()));
  HS_ASSIGN_OR_FAIL(count, QueryInt(*connection_, "SELECT count(*) FROM ing"));
  EXPECT_EQ(count, 2);
  IngestRequest must_exist;
  must_exist.table = "missing_table";
  must_exist.if_not_exists = IngestRequest::IfNotExists::kFail;
  must_exist.if_exists = IngestRequest::IfExists::kAppend;
  auto missing = connection_->Ingest(must_exist, ReaderOf(schema, {batch}).get());
  EXPECT_TRUE(missing.status().IsKeyError()) << missing.status().ToString();
}

TEST_F(AdbcEngineTest, IngestIsAllOrNothing) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE strict (id INTEGER PRIMARY KEY)"));
  auto schema = arrow::schema({arrow::field("id", arrow::int64())});
  IngestRequest append;
  append.table = "strict";
  append.if_not_exists = IngestRequest::IfNotExists::kFail;
  append.if_exists = IngestRequest::IfExists::kAppend;
  auto rows = connection_->Ingest(
      append, ReaderOf(schema, {BatchFromJson(schema, {"[1, 2]"}),
                                BatchFromJson(schema, {"[3, 1]"})})  // duplicate key
                  .get());
  EXPECT_FALSE(rows.ok());
  HS_ASSIGN_OR_FAIL(auto count, QueryInt(*connection_, "SELECT count(*) FROM strict"));
  EXPECT_EQ(count, 0);
}

// Batches larger than the driver is given at once (the ingest slices them) still write every
// row once, in order, and stay all-or-nothing when a row of a later slice is refused.
TEST_F(AdbcEngineTest, IngestOfLargeBatchesWritesEveryRowOnce) {
  auto schema =
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("v", arrow::utf8())});
  auto rows_from = [&](int64_t first, int64_t count) {
    arrow::Int64Builder ids;
    arrow::StringBuilder texts;
    for (int64_t i = first; i < first + count; ++i) {
      EXPECT_TRUE(ids.Append(i).ok());
      std::string text = "v";
      text += std::to_string(i);  // (not "v" + ...: g++ 12 warns falsely of overlap)
      EXPECT_TRUE(texts.Append(text).ok());
    }
    return arrow::RecordBatch::Make(schema, count, {*ids.Finish(), *texts.Finish()});
  };
  IngestRequest create;
  create.table = "big";
  // 40,000 rows in one batch, an empty batch, 3 rows, then 70,000 rows.
  auto batches = ReaderOf(schema, {rows_from(0, 40000), rows_from(40000, 0), rows_from(40000, 3),
                                   rows_from(40003, 70000)});
  HS_ASSIGN_OR_FAIL(auto rows, connection_->Ingest(create, batches.get()));
  EXPECT_EQ(rows, 110003);
  const std::pair<const char*, int64_t> checks[] = {
      {"SELECT count(*) FROM big", 110003},
      {"SELECT count(DISTINCT id) FROM big", 110003},
      {"SELECT sum(id) FROM big", 110003LL * 110002 / 2},
      {"SELECT count(*) FROM big WHERE v = 'v' || id", 110003},
      // in order
      {"SELECT count(*) FROM big WHERE id <> rowid - (SELECT min(rowid) FROM big)", 0}};
  for (const auto& [sql, want] : checks) {
    HS_ASSIGN_OR_FAIL(auto got, QueryInt(*connection_, sql));
    EXPECT_EQ(got, want) << sql;
  }
  // Row 40000 of a 50,000-row batch is in its third slice and breaks a key: none is written.
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE strict (id INTEGER PRIMARY KEY, v TEXT)"));
  HS_ASSERT_OK(Update(*connection_, "INSERT INTO strict VALUES (40000, 'before')"));
  IngestRequest append;
  append.table = "strict";
  append.if_not_exists = IngestRequest::IfNotExists::kFail;
  append.if_exists = IngestRequest::IfExists::kAppend;
  auto refused = connection_->Ingest(append, ReaderOf(schema, {rows_from(0, 50000)}).get());
  EXPECT_FALSE(refused.ok());
  HS_ASSIGN_OR_FAIL(auto count, QueryInt(*connection_, "SELECT count(*) FROM strict"));
  EXPECT_EQ(count, 1);
}

TEST_F(AdbcEngineTest, TransactionsCommitAndRollback) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE tx (a INTEGER)"));
  HS_ASSIGN_OR_FAIL(auto other, engine_->Connect());
  HS_ASSERT_OK(connection_->BeginTransaction());
  EXPECT_TRUE(connection_->InTransaction());
  HS_ASSERT_OK(Update(*connection_, "INSERT INTO tx VALUES (1)"));
  HS_ASSIGN_OR_FAIL(auto inside, QueryInt(*connection_, "SELECT count(*) FROM tx"));
  EXPECT_EQ(inside, 1);
  HS_ASSERT_OK(connection_->Rollback());
  EXPECT_FALSE(connection_->InTransaction());
  HS_ASSIGN_OR_FAIL(auto after, QueryInt(*other, "SELECT count(*) FROM tx"));
  EXPECT_EQ(after, 0);

  HS_ASSERT_OK(connection_->BeginTransaction());
  HS_ASSERT_OK(Update(*connection_, "INSERT INTO tx VALUES (2)"));
  HS_ASSERT_OK(connection_->Commit());
  HS_ASSIGN_OR_FAIL(after, QueryInt(*other, "SELECT count(*) FROM tx"));
  EXPECT_EQ(after, 1);
  EXPECT_TRUE(connection_->Commit().IsInvalid());
  // Transaction control as SQL drives the same transaction.
  HS_ASSERT_OK(Update(*connection_, "BEGIN"));
  EXPECT_TRUE(connection_->InTransaction());
  HS_ASSERT_OK(Update(*connection_, "INSERT INTO tx VALUES (3)"));
  HS_ASSERT_OK(Update(*connection_, "ROLLBACK"));
  EXPECT_FALSE(connection_->InTransaction());
  HS_ASSIGN_OR_FAIL(after, QueryInt(*other, "SELECT count(*) FROM tx"));
  EXPECT_EQ(after, 1);
}

TEST_F(AdbcEngineTest, StreamingResultInATransactionSurvivesTheNextStatement) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE s (a INTEGER)"));
  HS_ASSERT_OK(Update(*connection_, "INSERT INTO s VALUES (1), (2), (3)"));
  HS_ASSERT_OK(connection_->BeginTransaction());
  HS_ASSIGN_OR_FAIL(auto statement, connection_->Prepare("SELECT a FROM s ORDER BY a"));
  HS_ASSIGN_OR_FAIL(auto reader, statement->ExecuteQuery());
  HS_ASSERT_OK(Update(*connection_, "INSERT INTO s VALUES (4)"));
  HS_ASSIGN_OR_FAIL(auto table, ReadAll(*reader));
  EXPECT_EQ(table->num_rows(), 3);
  HS_ASSERT_OK(connection_->Commit());
}

TEST_F(AdbcEngineTest, ErrorsFollowTheEngineContract) {
  auto missing = Query(*connection_, "SELECT * FROM no_such_table");
  EXPECT_TRUE(missing.status().IsKeyError()) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("no_such_table"), std::string::npos);
  auto syntax = Query(*connection_, "SELEC 1");
  EXPECT_TRUE(syntax.status().IsInvalid()) << syntax.status().ToString();
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE u (a INTEGER PRIMARY KEY)"));
  HS_ASSERT_OK(Update(*connection_, "INSERT INTO u VALUES (1)"));
  auto duplicate = Update(*connection_, "INSERT INTO u VALUES (1)");
  EXPECT_TRUE(duplicate.status().IsInvalid()) << duplicate.status().ToString();
}

TEST_F(AdbcEngineTest, AppenderCommitsEachBatch) {
  auto schema =
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("v", arrow::float64())});
  HS_ASSIGN_OR_FAIL(auto appender, engine_->OpenAppender({"app"}, schema));
  HS_ASSIGN_OR_FAIL(auto rows,
                    appender->Append(*BatchFromJson(schema, {"[1, 2, 3]", "[0.5, 1.5, 2.5]"})));
  EXPECT_EQ(rows, 3);
  HS_ASSIGN_OR_FAIL(auto count, QueryInt(*connection_, "SELECT count(*) FROM app"));
  EXPECT_EQ(count, 3);
  HS_ASSIGN_OR_FAIL(rows, appender->Append(*BatchFromJson(schema, {"[4]", "[3.5]"})));
  HS_ASSIGN_OR_FAIL(count, QueryInt(*connection_, "SELECT count(*) FROM app"));
  EXPECT_EQ(count, 4);
}

TEST_F(AdbcEngineTest, CatalogObjectsFromTheBackend) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT)"));
  HS_ASSERT_OK(
      Update(*connection_, "CREATE TABLE child (id INTEGER, pid INTEGER REFERENCES parent(id))"));
  CatalogObjectsRequest request;
  request.table_pattern = "%";
  HS_ASSIGN_OR_FAIL(auto objects, connection_->GetCatalogObjects(request));
  bool found_parent = false;
  for (const auto& table : objects.tables) {
    if (table.name != "parent") continue;
    found_parent = true;
    EXPECT_EQ(table.columns, (std::vector<std::string>{"id", "name"}));
    ASSERT_FALSE(table.constraints.empty());
  }
  EXPECT_TRUE(found_parent);
  HS_ASSIGN_OR_FAIL(auto types, connection_->GetTableTypes());
  EXPECT_FALSE(types.empty());
  HS_ASSIGN_OR_FAIL(auto schema, connection_->GetTableSchema(std::nullopt, std::nullopt, "parent"));
  EXPECT_EQ(schema->num_fields(), 2);
  HS_ASSIGN_OR_FAIL(auto info, connection_->GetBackendInfo());
  EXPECT_EQ(info.vendor_name, "SQLite");
}

TEST(AdbcEnginePoolTest, StreamingResultPinsItsConnectionUntilDrained) {
  TempSqliteFile file;
  HS_ASSIGN_OR_FAIL(auto engine, OpenSqliteEngine(file.path(), "?pool_max=1&connect_timeout=1"));
  HS_ASSIGN_OR_FAIL(auto first, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto second, engine->Connect());
  HS_ASSERT_OK(Update(*first,
                      "CREATE TABLE big AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL "
                      "SELECT i + 1 FROM r WHERE i < 200000) SELECT i FROM r"));
  HS_ASSIGN_OR_FAIL(auto statement, first->Prepare("SELECT i FROM big"));
  HS_ASSIGN_OR_FAIL(auto reader, statement->ExecuteQuery());
  std::shared_ptr<arrow::RecordBatch> batch;
  HS_ASSERT_OK(reader->ReadNext(&batch));
  ASSERT_NE(batch, nullptr);
  // The only connection streams for `first`: `second` waits, then is told to retry.
  auto busy = Query(*second, "SELECT 1");
  ASSERT_TRUE(IsBackendUnavailable(busy.status())) << busy.status().ToString();
  EXPECT_NE(busy.status().message().find("all 1 backend connections are busy"), std::string::npos);
  int64_t rows = batch->num_rows();
  while (true) {
    HS_ASSERT_OK(reader->ReadNext(&batch));
    if (!batch) break;
    rows += batch->num_rows();
  }
  EXPECT_EQ(rows, 200000);
  // Drained: the connection went back to the pool.
  HS_ASSIGN_OR_FAIL(auto one, QueryInt(*second, "SELECT 1"));
  EXPECT_EQ(one, 1);
}

// A session reserves its backend connection waiting only a moment (the pool's own wait is 10
// minutes here); its next operations and its transaction use it, and the transaction's end (or
// Unreserve) gives it back.
TEST(AdbcEnginePoolTest, AReservedConnectionIsTheTransactionsAndIsGivenBackAfterIt) {
  TempSqliteFile file;
  HS_ASSIGN_OR_FAIL(auto engine, OpenSqliteEngine(file.path(), "?pool_max=1&connect_timeout=600"));
  HS_ASSIGN_OR_FAIL(auto opened_first, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto opened_second, engine->Connect());
  auto& first = dynamic_cast<AdbcEngineConnection&>(*opened_first);
  auto& second = dynamic_cast<AdbcEngineConnection&>(*opened_second);
  HS_ASSERT_OK(first.Reserve(std::chrono::milliseconds(50)));
  auto busy = second.Reserve(std::chrono::milliseconds(50));
  ASSERT_TRUE(IsBackendUnavailable(busy)) << busy.ToString();
  EXPECT_NE(busy.message().find("(waited 50 ms)"), std::string::npos) << busy.ToString();
  // (With one connection, these would wait 10 minutes if they asked the pool for another.)
  HS_ASSERT_OK(Update(first, "CREATE TABLE t (a INTEGER)"));
  HS_ASSERT_OK(first.BeginTransaction());
  HS_ASSERT_OK(Update(first, "INSERT INTO t VALUES (1)"));
  HS_ASSERT_OK(first.Commit());
  HS_ASSERT_OK(second.Reserve(std::chrono::milliseconds(50)));
  HS_ASSIGN_OR_FAIL(auto rows, QueryInt(second, "SELECT count(*) FROM t"));
  EXPECT_EQ(rows, 1);
  second.Unreserve();
  HS_ASSERT_OK(first.Reserve(std::chrono::milliseconds(50)));
  first.Unreserve();
}

}  // namespace
}  // namespace hyprstream::engine
