#include <arrow/api.h>
#include <gtest/gtest.h>

#include <atomic>

#include "engine_test_util.h"

namespace hyprstream::engine {
namespace {

using testing::OpenMemoryEngine;
using testing::Query;
using testing::QueryInt;

// numbers(n, prefix := 'p'): n rows of (i BIGINT, label VARCHAR, half DOUBLE, even BOOLEAN,
// ts TIMESTAMP); every third label is NULL.
TableFunctionSpec Numbers(std::atomic<int>* executions) {
  auto schema =
      arrow::schema({arrow::field("i", arrow::int64()), arrow::field("label", arrow::utf8()),
                     arrow::field("half", arrow::float64()), arrow::field("even", arrow::boolean()),
                     arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO))});
  TableFunctionSpec spec;
  spec.name = "numbers";
  spec.positional_parameters = 1;
  spec.named_parameters = {"prefix"};
  spec.schema = [schema](const TableFunctionArgs&) { return schema; };
  spec.rows =
      [schema, executions](
          const TableFunctionArgs& args) -> arrow::Result<std::shared_ptr<arrow::RecordBatch>> {
    ++*executions;
    int64_t n = std::stoll(args.positional.at(0));
    if (n < 0) return arrow::Status::Invalid("n must be >= 0");
    std::string prefix = args.named.count("prefix") ? args.named.at("prefix") : "row";
    arrow::Int64Builder i;
    arrow::StringBuilder label;
    arrow::DoubleBuilder half;
    arrow::BooleanBuilder even;
    arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                               arrow::default_memory_pool());
    for (int64_t k = 0; k < n; ++k) {
      ARROW_RETURN_NOT_OK(i.Append(k));
      ARROW_RETURN_NOT_OK(k % 3 == 0 ? label.AppendNull()
                                     : label.Append(prefix + std::to_string(k)));
      ARROW_RETURN_NOT_OK(half.Append(k / 2.0));
      ARROW_RETURN_NOT_OK(even.Append(k % 2 == 0));
      ARROW_RETURN_NOT_OK(ts.Append(k * 1000000));
    }
    arrow::ArrayVector columns(5);
    ARROW_RETURN_NOT_OK(i.Finish(&columns[0]));
    ARROW_RETURN_NOT_OK(label.Finish(&columns[1]));
    ARROW_RETURN_NOT_OK(half.Finish(&columns[2]));
    ARROW_RETURN_NOT_OK(even.Finish(&columns[3]));
    ARROW_RETURN_NOT_OK(ts.Finish(&columns[4]));
    return arrow::RecordBatch::Make(schema, n, columns);
  };
  return spec;
}

TEST(TableFunction, RowsReachSqlFromEveryConnection) {
  auto engine = OpenMemoryEngine();
  std::atomic<int> executions{0};
  HS_ASSERT_OK(engine->RegisterTableFunction(Numbers(&executions)));
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto table, Query(*connection,
                                      "SELECT count(*) AS n, sum(i) AS s, count(label) AS labels, "
                                      "sum(half) AS h, count(*) FILTER (WHERE even) AS evens, "
                                      "max(ts) AS last FROM numbers('5000')"));
  auto row = [&](int c) { return table->column(c)->GetScalar(0).ValueOrDie()->ToString(); };
  EXPECT_EQ(row(0), "5000");
  EXPECT_EQ(row(1), std::to_string(4999LL * 5000 / 2));
  EXPECT_EQ(row(2), std::to_string(5000 - 1667));
  EXPECT_EQ(row(3), "6248750");
  EXPECT_EQ(row(4), "2500");
  EXPECT_EQ(row(5), "1970-01-01 01:23:19.000000");
  EXPECT_EQ(executions.load(), 1);
}

TEST(TableFunction, NamedParametersAndJoins) {
  auto engine = OpenMemoryEngine();
  std::atomic<int> executions{0};
  HS_ASSERT_OK(engine->RegisterTableFunction(Numbers(&executions)));
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto created,
                    Query(*connection, "CREATE TABLE names AS SELECT 4 AS i, 'four' AS name"));
  (void)created;
  HS_ASSIGN_OR_FAIL(auto table, Query(*connection,
                                      "SELECT label, name FROM numbers('10', prefix := 'x') "
                                      "JOIN names USING (i)"));
  ASSERT_EQ(table->num_rows(), 1);
  EXPECT_EQ(table->column(0)->GetScalar(0).ValueOrDie()->ToString(), "x4");
  EXPECT_EQ(table->column(1)->GetScalar(0).ValueOrDie()->ToString(), "four");
}

TEST(TableFunction, StringsOfEveryLengthReachDuckDb) {
  auto engine = OpenMemoryEngine();
  std::atomic<int> executions{0};
  HS_ASSERT_OK(engine->RegisterTableFunction(Numbers(&executions)));
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  // Labels of 1 to 14 bytes around DuckDB's 12-byte inline limit, and NULLs; compared,
  // grouped and measured by DuckDB itself.
  for (const char* prefix : {"", "p", "prefix-", "prefix-10", "a-prefix-long-enough"}) {
    const std::string sql = std::string("SELECT count(label), count(DISTINCT label), ") +
                            "sum(length(label)), min(label), max(label), " +
                            "count(*) FILTER (WHERE label = '" + prefix + "1000') " +
                            "FROM numbers('3000', prefix := '" + prefix + "')";
    HS_ASSIGN_OR_FAIL(auto table, Query(*connection, sql));
    auto value = [&](int c) { return table->column(c)->GetScalar(0).ValueOrDie()->ToString(); };
    const int64_t p = static_cast<int64_t>(std::string(prefix).size());
    int64_t lengths = 0;
    for (int64_t k = 0; k < 3000; ++k) {
      if (k % 3 != 0) lengths += p + static_cast<int64_t>(std::to_string(k).size());
    }
    EXPECT_EQ(value(0), "2000") << prefix;
    EXPECT_EQ(value(1), "2000") << prefix;
    EXPECT_EQ(value(2), std::to_string(lengths)) << prefix;
    EXPECT_EQ(value(3), std::string(prefix) + "1") << prefix;
    EXPECT_EQ(value(4), std::string(prefix) + "998") << prefix;
    EXPECT_EQ(value(5), "1") << prefix;
  }
}

TEST(TableFunction, CallbackErrorsBecomeQueryErrors) {
  auto engine = OpenMemoryEngine();
  std::atomic<int> executions{0};
  HS_ASSERT_OK(engine->RegisterTableFunction(Numbers(&executions)));
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  auto result = Query(*connection, "SELECT * FROM numbers('-1')");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("n must be >= 0"), std::string::npos)
      << result.status().ToString();
  // A second registration under the same name is refused with a clear error.
  EXPECT_FALSE(engine->RegisterTableFunction(Numbers(&executions)).ok());
}

TEST(TableFunction, EmptyResult) {
  auto engine = OpenMemoryEngine();
  std::atomic<int> executions{0};
  HS_ASSERT_OK(engine->RegisterTableFunction(Numbers(&executions)));
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto table, Query(*connection, "SELECT * FROM numbers('0')"));
  EXPECT_EQ(table->num_rows(), 0);
  EXPECT_EQ(table->num_columns(), 5);
}

// A direct-read numbers(): remembers the last batch it made, to tell whether a result is that
// batch itself (served directly) or a copy (run by DuckDB).
TableFunctionSpec DirectNumbers(std::atomic<int>* executions,
                                std::shared_ptr<std::shared_ptr<arrow::RecordBatch>> last) {
  TableFunctionSpec spec = Numbers(executions);
  spec.direct_read = true;
  spec.rows = [rows = spec.rows, last](const TableFunctionArgs& args) {
    auto batch = rows(args);
    if (batch.ok()) *last = *batch;
    return batch;
  };
  return spec;
}

// Whether `table`'s first column starts on the same buffer as `batch`'s (no copy was made).
bool SharesFirstColumn(const arrow::Table& table, const arrow::RecordBatch& batch) {
  return table.column(0)->chunk(0)->data()->buffers[1]->data() ==
         batch.column(0)->data()->buffers[1]->data();
}

TEST(TableFunction, DirectReadServesTheRowsThemselvesWithDuckDbsColumns) {
  EngineOptions options;
  options.connection = ":memory:";
  options.result_batch_rows = 1000;
  HS_ASSIGN_OR_FAIL(auto engine, OpenDuckDbEngine(options));
  std::atomic<int> executions{0};
  auto last = std::make_shared<std::shared_ptr<arrow::RecordBatch>>();
  HS_ASSERT_OK(engine->RegisterTableFunction(DirectNumbers(&executions, last)));
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());

  // Through DuckDB (the WHERE clause keeps it there): the reference.
  HS_ASSIGN_OR_FAIL(auto expected,
                    Query(*connection, "SELECT * FROM numbers('5000', prefix := 'x') WHERE true"));
  EXPECT_FALSE(SharesFirstColumn(*expected, **last));
  EXPECT_EQ(executions.load(), 1);

  HS_ASSIGN_OR_FAIL(auto statement,
                    connection->Prepare("select * from NUMBERS('5000', prefix := 'x');"));
  ASSERT_NE(statement->dataset_schema(), nullptr);
  HS_ASSIGN_OR_FAIL(auto reader, statement->ExecuteQuery());
  EXPECT_TRUE(reader->schema()->Equals(*statement->dataset_schema()));
  HS_ASSIGN_OR_FAIL(auto batches, reader->ToRecordBatches());
  EXPECT_EQ(executions.load(), 2);
  ASSERT_EQ(batches.size(), 5u);  // result_batch_rows rows each
  for (const auto& batch : batches) EXPECT_EQ(batch->num_rows(), 1000);
  HS_ASSIGN_OR_FAIL(auto got, arrow::Table::FromRecordBatches(reader->schema(), batches));
  EXPECT_TRUE(SharesFirstColumn(*got, **last));
  EXPECT_TRUE(got->Equals(*expected)) << got->ToString() << "\n" << expected->ToString();

  // Executed again: new rows each time, as DuckDB would fetch them.
  HS_ASSIGN_OR_FAIL(auto again, statement->ExecuteQuery());
  HS_ASSIGN_OR_FAIL(auto again_table, testing::ReadAll(*again));
  EXPECT_EQ(executions.load(), 3);
  EXPECT_TRUE(again_table->Equals(*expected));

  // No rows: the schema alone, as from DuckDB.
  HS_ASSIGN_OR_FAIL(auto empty, Query(*connection, "SELECT * FROM numbers('0')"));
  EXPECT_EQ(empty->num_rows(), 0);
  EXPECT_TRUE(empty->schema()->Equals(*expected->schema()));
}

TEST(TableFunction, DirectReadOfSomeColumnsKeepsDuckDbsNames) {
  auto engine = OpenMemoryEngine();
  std::atomic<int> executions{0};
  auto last = std::make_shared<std::shared_ptr<arrow::RecordBatch>>();
  HS_ASSERT_OK(engine->RegisterTableFunction(DirectNumbers(&executions, last)));
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  for (const char* columns : {"ts AS \"when\", \"I\", LABEL", "half, half AS again"}) {
    const std::string sql = std::string("SELECT ") + columns + " FROM numbers('300')";
    HS_ASSIGN_OR_FAIL(auto expected, Query(*connection, sql + " WHERE true"));
    HS_ASSIGN_OR_FAIL(auto got, Query(*connection, sql));
    EXPECT_TRUE(got->schema()->Equals(*expected->schema())) << got->schema()->ToString() << "\n"
                                                            << expected->schema()->ToString();
    EXPECT_TRUE(got->Equals(*expected)) << sql;
    const auto& first = *got->column(0)->chunk(0)->data();
    const int source = (*last)->schema()->GetFieldIndex(columns[0] == 't' ? "ts" : "half");
    EXPECT_EQ(first.buffers[1]->data(), (*last)->column(source)->data()->buffers[1]->data())
        << sql << " was not served directly";
  }
  EXPECT_EQ(*QueryInt(*connection, "SELECT count(*) FROM (SELECT i FROM numbers('7'))"), 7);
}

TEST(TableFunction, DirectReadFollowsDuckDbOnErrorsAndAbortedTransactions) {
  auto engine = OpenMemoryEngine();
  std::atomic<int> executions{0};
  auto last = std::make_shared<std::shared_ptr<arrow::RecordBatch>>();
  HS_ASSERT_OK(engine->RegisterTableFunction(DirectNumbers(&executions, last)));
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());

  // A failing call fails as DuckDB reports it.
  auto failed = Query(*connection, "SELECT * FROM numbers('-1')");
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("n must be >= 0"), std::string::npos)
      << failed.status().ToString();

  // In a transaction: served directly while DuckDB would run it; refused as DuckDB refuses
  // every statement once the transaction is aborted.
  HS_ASSIGN_OR_FAIL(auto outside, Query(*connection, "SELECT * FROM numbers('10')"));
  EXPECT_TRUE(SharesFirstColumn(*outside, **last));
  HS_ASSERT_OK(connection->BeginTransaction());
  HS_ASSIGN_OR_FAIL(auto in_transaction, Query(*connection, "SELECT * FROM numbers('10')"));
  EXPECT_TRUE(SharesFirstColumn(*in_transaction, **last));
  EXPECT_TRUE(outside->Equals(*in_transaction));
  HS_ASSIGN_OR_FAIL(auto created,
                    Query(*connection, "CREATE TABLE unique_ids (id INTEGER UNIQUE)"));
  (void)created;
  EXPECT_FALSE(Query(*connection, "INSERT INTO unique_ids VALUES (1), (1)").ok());
  auto aborted = Query(*connection, "SELECT * FROM numbers('10')");
  ASSERT_FALSE(aborted.ok());
  EXPECT_NE(aborted.status().message().find("aborted"), std::string::npos)
      << aborted.status().ToString();
  HS_ASSERT_OK(connection->Rollback());
  HS_ASSIGN_OR_FAIL(auto after, Query(*connection, "SELECT * FROM numbers('10')"));
  EXPECT_TRUE(after->Equals(*outside));

  // Functions without direct_read always run in DuckDB.
  std::atomic<int> plain_executions{0};
  auto plain = Numbers(&plain_executions);
  plain.name = "plain_numbers";
  HS_ASSERT_OK(engine->RegisterTableFunction(std::move(plain)));
  HS_ASSIGN_OR_FAIL(auto from_duckdb, Query(*connection, "SELECT * FROM plain_numbers('10')"));
  EXPECT_TRUE(from_duckdb->Equals(*outside));
  EXPECT_EQ(plain_executions.load(), 1);
}

}  // namespace
}  // namespace hyprstream::engine
