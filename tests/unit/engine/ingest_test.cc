// Bulk ingest and the streaming TableAppender against a real in-memory DuckDB.
#include "engine_test_util.h"

#include <arrow/extension/uuid.h>

namespace hyprstream::engine {
namespace {

using testing::BatchFromJson;
using testing::Query;
using testing::QueryInt;
using testing::ReaderOf;
using testing::Update;

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = testing::OpenMemoryEngine();
    ASSERT_NE(engine_, nullptr);
    connection_ = *engine_->Connect();
  }

  std::shared_ptr<arrow::Schema> schema_ = arrow::schema(
      {arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8())});

  std::shared_ptr<arrow::RecordBatch> Batch(const std::string& ids, const std::string& names) {
    return BatchFromJson(schema_, {ids, names});
  }

  arrow::Result<int64_t> Ingest(const IngestRequest& request,
                                std::vector<std::shared_ptr<arrow::RecordBatch>> batches,
                                std::shared_ptr<arrow::Schema> schema = nullptr) {
    auto reader = ReaderOf(schema ? schema : schema_, std::move(batches));
    return connection_->Ingest(request, reader.get());
  }

  int64_t Count(const std::string& table) {
    auto count = QueryInt(*connection_, "SELECT count(*) FROM " + table);
    EXPECT_TRUE(count.ok()) << count.status().ToString();
    return count.ok() ? *count : -1;
  }

  std::shared_ptr<Engine> engine_;
  std::shared_ptr<EngineConnection> connection_;
};

IngestRequest Request(const std::string& table, IngestRequest::IfNotExists if_not_exists,
                      IngestRequest::IfExists if_exists) {
  IngestRequest request;
  request.table = table;
  request.if_not_exists = if_not_exists;
  request.if_exists = if_exists;
  return request;
}

using INE = IngestRequest::IfNotExists;
using IE = IngestRequest::IfExists;

TEST_F(IngestTest, CreatesMissingTable) {
  HS_ASSIGN_OR_FAIL(int64_t rows, Ingest(Request("t", INE::kCreate, IE::kFail),
                                         {Batch("[1, 2]", R"(["a", "b"])"),
                                          Batch("[3]", R"([null])")}));
  EXPECT_EQ(rows, 3);
  HS_ASSIGN_OR_FAIL(auto table, Query(*connection_, "SELECT id, name FROM t ORDER BY id"));
  EXPECT_TRUE(table->schema()->Equals(*schema_)) << table->schema()->ToString();
  HS_ASSIGN_OR_FAIL(auto combined, table->CombineChunks());
  auto expected = arrow::Table::Make(
      schema_, {testing::ArrayFromJson(arrow::int64(), "[1, 2, 3]"),
                testing::ArrayFromJson(arrow::utf8(), R"(["a", "b", null])")});
  EXPECT_TRUE(combined->Equals(*expected)) << combined->ToString();
}

TEST_F(IngestTest, MissingTableWithFailIsKeyError) {
  auto rows = Ingest(Request("t", INE::kFail, IE::kAppend), {Batch("[1]", R"(["a"])")});
  ASSERT_FALSE(rows.ok());
  EXPECT_TRUE(rows.status().IsKeyError()) << rows.status().ToString();
  EXPECT_FALSE(Query(*connection_, "SELECT * FROM t").ok());
}

TEST_F(IngestTest, ExistingTableWithFailIsAlreadyExists) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE t (id BIGINT, name VARCHAR)").status());
  auto rows = Ingest(Request("t", INE::kCreate, IE::kFail), {Batch("[1]", R"(["a"])")});
  ASSERT_FALSE(rows.ok());
  EXPECT_TRUE(rows.status().IsAlreadyExists()) << rows.status().ToString();
  EXPECT_EQ(Count("t"), 0);
}

TEST_F(IngestTest, AppendsToExistingTable) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE t (name VARCHAR, id BIGINT, extra INTEGER DEFAULT 7)")
                   .status());
  HS_ASSERT_OK(Update(*connection_, "INSERT INTO t VALUES ('z', 0, 0)").status());
  for (INE if_not_exists : {INE::kCreate, INE::kFail}) {
    HS_ASSIGN_OR_FAIL(int64_t rows, Ingest(Request("t", if_not_exists, IE::kAppend),
                                           {Batch("[1, 2]", R"(["a", "b"])")}));
    EXPECT_EQ(rows, 2);
  }
  EXPECT_EQ(Count("t"), 5);
  // Columns are matched by name; missing ones take their default.
  HS_ASSIGN_OR_FAIL(int64_t sum, QueryInt(*connection_, "SELECT sum(id + extra)::BIGINT FROM t WHERE name = 'b'"));
  EXPECT_EQ(sum, 2 * (2 + 7));
}

TEST_F(IngestTest, DataWithTheTablesColumnsLandsInThemInOrder) {
  // Exactly the table's columns, names differing only in case: each value in its column.
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE t (ID BIGINT, Name VARCHAR)").status());
  HS_ASSIGN_OR_FAIL(int64_t rows, Ingest(Request("t", INE::kFail, IE::kAppend),
                                         {Batch("[1, 2]", R"(["a", "b"])"),
                                          Batch("[3, 4, 5]", R"(["c", null, "e"])")}));
  EXPECT_EQ(rows, 5);
  HS_ASSIGN_OR_FAIL(auto table, Query(*connection_,
                                      "SELECT string_agg(ID || ':' || coalesce(Name, '-'), ',' "
                                      "ORDER BY rowid) FROM t"));
  EXPECT_EQ(table->column(0)->GetScalar(0).ValueOrDie()->ToString(), "1:a,2:b,3:c,4:-,5:e");

  // The same columns in another order are matched by name.
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE swapped (name VARCHAR, id BIGINT)").status());
  HS_ASSIGN_OR_FAIL(rows, Ingest(Request("swapped", INE::kFail, IE::kAppend),
                                 {Batch("[7, 8]", R"(["g", "h"])")}));
  EXPECT_EQ(rows, 2);
  HS_ASSIGN_OR_FAIL(table, Query(*connection_,
                                 "SELECT string_agg(name || id, ',' ORDER BY rowid) FROM swapped"));
  EXPECT_EQ(table->column(0)->GetScalar(0).ValueOrDie()->ToString(), "g7,h8");

  // So does the streaming appender.
  HS_ASSIGN_OR_FAIL(auto appender, engine_->OpenAppender({"swapped"}, schema_));
  HS_ASSIGN_OR_FAIL(rows, appender->Append(*Batch("[9]", R"(["i"])")));
  EXPECT_EQ(rows, 1);
  HS_ASSIGN_OR_FAIL(auto appended, engine_->OpenAppender({"t"}, schema_));
  HS_ASSIGN_OR_FAIL(rows, appended->Append(*Batch("[6]", R"(["f"])")));
  HS_ASSIGN_OR_FAIL(table, Query(*connection_,
                                 "SELECT (SELECT string_agg(name || id, ',' ORDER BY rowid) FROM "
                                 "swapped) || '|' || (SELECT string_agg(ID || Name, ',' ORDER BY "
                                 "rowid) FROM t WHERE ID > 5)"));
  EXPECT_EQ(table->column(0)->GetScalar(0).ValueOrDie()->ToString(), "g7,h8,i9|6f");
}

TEST_F(IngestTest, ReplacesExistingTable) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE t (other DOUBLE)").status());
  HS_ASSERT_OK(Update(*connection_, "INSERT INTO t VALUES (1.5)").status());
  HS_ASSIGN_OR_FAIL(int64_t rows, Ingest(Request("t", INE::kFail, IE::kReplace),
                                         {Batch("[5]", R"(["e"])")}));
  EXPECT_EQ(rows, 1);
  HS_ASSIGN_OR_FAIL(auto table, Query(*connection_, "SELECT * FROM t"));
  EXPECT_TRUE(table->schema()->Equals(*schema_)) << table->schema()->ToString();
  EXPECT_EQ(table->num_rows(), 1);
  // Replace on a missing table creates it.
  HS_ASSIGN_OR_FAIL(rows, Ingest(Request("u", INE::kCreate, IE::kReplace),
                                 {Batch("[5, 6]", R"(["e", "f"])")}));
  EXPECT_EQ(Count("u"), 2);
}

TEST_F(IngestTest, TemporaryTableIsSessionLocal) {
  IngestRequest request = Request("tmp", INE::kCreate, IE::kFail);
  request.temporary = true;
  HS_ASSIGN_OR_FAIL(int64_t rows, Ingest(request, {Batch("[1, 2]", R"(["a", "b"])")}));
  EXPECT_EQ(rows, 2);
  EXPECT_EQ(Count("temp.main.tmp"), 2);
  HS_ASSIGN_OR_FAIL(auto other, engine_->Connect());
  EXPECT_FALSE(Query(*other, "SELECT * FROM tmp").ok());
  // Appending to the temp table finds it in catalog "temp".
  request.if_exists = IE::kAppend;
  HS_ASSIGN_OR_FAIL(rows, Ingest(request, {Batch("[3]", R"(["c"])")}));
  EXPECT_EQ(Count("tmp"), 3);
}

TEST_F(IngestTest, SchemaAndCatalog) {
  HS_ASSERT_OK(Update(*connection_, "CREATE SCHEMA s").status());
  IngestRequest request = Request("t", INE::kCreate, IE::kFail);
  request.schema = "s";
  request.catalog = "memory";
  HS_ASSIGN_OR_FAIL(int64_t rows, Ingest(request, {Batch("[1]", R"(["a"])")}));
  EXPECT_EQ(rows, 1);
  EXPECT_EQ(Count("memory.s.t"), 1);
  request.schema = "no_such_schema";
  auto missing = Ingest(request, {Batch("[1]", R"(["a"])")});
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsKeyError()) << missing.status().ToString();
}

TEST_F(IngestTest, FailingBatchLeavesNewTableAbsent) {
  auto strict = arrow::schema({arrow::field("id", arrow::int64(), /*nullable=*/false)});
  auto rows = Ingest(Request("t", INE::kCreate, IE::kFail),
                     {BatchFromJson(strict, {"[1, 2]"}), BatchFromJson(strict, {"[3, null]"})},
                     strict);
  ASSERT_FALSE(rows.ok());
  EXPECT_TRUE(rows.status().IsInvalid()) << rows.status().ToString();
  EXPECT_FALSE(Query(*connection_, "SELECT * FROM t").ok());
  EXPECT_FALSE(connection_->InTransaction());
}

TEST_F(IngestTest, NotNullViolationLeavesTableUnchanged) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE t (id BIGINT, name VARCHAR NOT NULL)").status());
  HS_ASSERT_OK(Update(*connection_, "INSERT INTO t VALUES (0, 'keep')").status());
  auto rows = Ingest(Request("t", INE::kFail, IE::kAppend),
                     {Batch("[1, 2]", R"(["a", "b"])"), Batch("[3]", R"([null])")});
  ASSERT_FALSE(rows.ok());
  EXPECT_TRUE(rows.status().IsInvalid()) << rows.status().ToString();
  EXPECT_EQ(Count("t"), 1);
}

TEST_F(IngestTest, ConversionFailureLeavesTableUnchanged) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE t (id INTEGER, name VARCHAR)").status());
  auto text_ids = arrow::schema({arrow::field("id", arrow::utf8()), arrow::field("name", arrow::utf8())});
  auto rows = Ingest(Request("t", INE::kFail, IE::kAppend),
                     {BatchFromJson(text_ids, {R"(["1", "2"])", R"(["a", "b"])"}),
                      BatchFromJson(text_ids, {R"(["x"])", R"(["c"])"})},
                     text_ids);
  ASSERT_FALSE(rows.ok());
  EXPECT_TRUE(rows.status().IsInvalid()) << rows.status().ToString();
  EXPECT_EQ(Count("t"), 0);
  // Convertible text goes in with a cast.
  HS_ASSIGN_OR_FAIL(int64_t ok_rows,
                    Ingest(Request("t", INE::kFail, IE::kAppend),
                           {BatchFromJson(text_ids, {R"(["41"])", R"(["a"])"})}, text_ids));
  EXPECT_EQ(ok_rows, 1);
  HS_ASSIGN_OR_FAIL(int64_t id, QueryInt(*connection_, "SELECT id + 1 FROM t"));
  EXPECT_EQ(id, 42);
}

// ADBC: appending data whose columns do not match the table is ALREADY_EXISTS.
TEST_F(IngestTest, UnknownColumnIsAlreadyExistsNamingIt) {
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE t (id BIGINT)").status());
  auto rows = Ingest(Request("t", INE::kFail, IE::kAppend), {Batch("[1]", R"(["a"])")});
  ASSERT_FALSE(rows.ok());
  EXPECT_TRUE(rows.status().IsAlreadyExists()) << rows.status().ToString();
  EXPECT_NE(rows.status().message().find("\"name\""), std::string::npos)
      << rows.status().ToString();
  EXPECT_EQ(Count("t"), 0);
}

TEST_F(IngestTest, InsideTransactionFollowsIt) {
  HS_ASSERT_OK(connection_->BeginTransaction());
  HS_ASSIGN_OR_FAIL(int64_t rows, Ingest(Request("t", INE::kCreate, IE::kFail),
                                         {Batch("[1]", R"(["a"])")}));
  EXPECT_EQ(rows, 1);
  EXPECT_TRUE(connection_->InTransaction());
  EXPECT_EQ(Count("t"), 1);
  HS_ASSERT_OK(connection_->Rollback());
  EXPECT_FALSE(Query(*connection_, "SELECT * FROM t").ok());

  // A failing ingest inside a transaction cannot be committed partially.
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE u (id BIGINT, name VARCHAR NOT NULL)").status());
  HS_ASSERT_OK(connection_->BeginTransaction());
  auto failed = Ingest(Request("u", INE::kFail, IE::kAppend),
                       {Batch("[1, 2]", R"(["a", "b"])"), Batch("[3]", R"([null])")});
  ASSERT_FALSE(failed.ok());
  (void)connection_->Commit();
  EXPECT_FALSE(connection_->InTransaction());
  EXPECT_EQ(Count("u"), 0);
}

TEST_F(IngestTest, LargeAndSlicedBatches) {
  auto schema = arrow::schema({arrow::field("x", arrow::int64()), arrow::field("b", arrow::boolean()),
                               arrow::field("s", arrow::utf8())});
  arrow::Int64Builder xs;
  arrow::BooleanBuilder bs;
  arrow::StringBuilder ss;
  for (int64_t i = 0; i < 10000; ++i) {
    ASSERT_TRUE(xs.Append(i).ok());
    ASSERT_TRUE(bs.Append(i % 3 == 0).ok());
    ASSERT_TRUE(ss.Append("value number " + std::to_string(i)).ok());
  }
  auto batch = arrow::RecordBatch::Make(schema, 10000,
                                        {*xs.Finish(), *bs.Finish(), *ss.Finish()});
  // Non-zero offsets on the way in: a slice in the middle, then the rest.
  auto first = batch->Slice(3, 5000);
  auto second = batch->Slice(5003);
  HS_ASSIGN_OR_FAIL(int64_t rows, Ingest(Request("t", INE::kCreate, IE::kFail),
                                         {first, second}, schema));
  EXPECT_EQ(rows, 9997);
  HS_ASSIGN_OR_FAIL(int64_t sum, QueryInt(*connection_, "SELECT sum(x)::BIGINT FROM t"));
  EXPECT_EQ(sum, 10000LL * 9999 / 2 - 3);
  HS_ASSIGN_OR_FAIL(int64_t trues, QueryInt(*connection_, "SELECT count(*) FROM t WHERE b"));
  EXPECT_EQ(trues, 3333);  // multiples of 3 in [3, 9999]
  HS_ASSIGN_OR_FAIL(int64_t matching,
                    QueryInt(*connection_, "SELECT count(*) FROM t WHERE s = 'value number ' || x"));
  EXPECT_EQ(matching, 9997);
}

TEST_F(IngestTest, CreatesTypedColumnsAndReadsThemBack) {
  auto uuid_storage = testing::ArrayFromJson(arrow::fixed_size_binary(16),
      R"(["\u0012\u0034\u0056\u0078\u0012\u0034\u0056\u0078\u0012\u0034\u0056\u0078\u0012\u0034\u0056\u0078"])");
  auto schema = arrow::schema({
      arrow::field("u8", arrow::uint8()),
      arrow::field("dec", arrow::decimal128(10, 2)),
      arrow::field("ts", arrow::timestamp(arrow::TimeUnit::NANO)),
      arrow::field("tz", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
      arrow::field("d", arrow::date32()),
      arrow::field("l", arrow::list(arrow::int32())),
      arrow::field("st", arrow::struct_({arrow::field("a", arrow::int32())})),
      arrow::field("m", arrow::map(arrow::utf8(), arrow::int32())),
      arrow::field("fsl", arrow::fixed_size_list(arrow::int16(), 2)),
      arrow::field("dict", arrow::dictionary(arrow::int32(), arrow::utf8())),
      arrow::field("id", arrow::extension::uuid()),
  });
  auto dict = *arrow::json::DictArrayFromJSONString(
      arrow::dictionary(arrow::int32(), arrow::utf8()), "[1]", R"(["p", "q"])");
  auto batch = arrow::RecordBatch::Make(
      schema, 1,
      {testing::ArrayFromJson(arrow::uint8(), "[200]"),
       testing::ArrayFromJson(arrow::decimal128(10, 2), R"(["12.34"])"),
       testing::ArrayFromJson(arrow::timestamp(arrow::TimeUnit::NANO), "[1000000001]"),
       testing::ArrayFromJson(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), "[5]"),
       testing::ArrayFromJson(arrow::date32(), "[1]"),
       testing::ArrayFromJson(arrow::list(arrow::int32()), "[[1, 2]]"),
       testing::ArrayFromJson(arrow::struct_({arrow::field("a", arrow::int32())}), R"([{"a": 9}])"),
       testing::ArrayFromJson(arrow::map(arrow::utf8(), arrow::int32()), R"([[["k", 1]]])"),
       testing::ArrayFromJson(arrow::fixed_size_list(arrow::int16(), 2), "[[3, 4]]"),
       dict,
       arrow::ExtensionType::WrapArray(arrow::extension::uuid(), uuid_storage)});
  HS_ASSIGN_OR_FAIL(int64_t rows, Ingest(Request("t", INE::kCreate, IE::kFail), {batch}, schema));
  EXPECT_EQ(rows, 1);
  HS_ASSIGN_OR_FAIL(auto types, Query(*connection_,
      "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) "
      "FROM information_schema.columns WHERE table_name = 't'"));
  EXPECT_EQ(types->column(0)->GetScalar(0).ValueOrDie()->ToString(),
            "u8 UTINYINT, dec DECIMAL(10,2), ts TIMESTAMP_NS, tz TIMESTAMP WITH TIME ZONE, "
            "d DATE, l INTEGER[], st STRUCT(a INTEGER), m MAP(VARCHAR, INTEGER), "
            "fsl SMALLINT[2], dict VARCHAR, id UUID");
  HS_ASSIGN_OR_FAIL(auto values, Query(*connection_,
      "SELECT u8::VARCHAR || '|' || dec::VARCHAR || '|' || epoch_ns(ts)::VARCHAR || '|' || "
      "epoch_us(tz)::VARCHAR || '|' || d::VARCHAR || '|' || l::VARCHAR || '|' || st::VARCHAR || "
      "'|' || m::VARCHAR || '|' || fsl::VARCHAR || '|' || dict || '|' || id::VARCHAR FROM t"));
  EXPECT_EQ(values->column(0)->GetScalar(0).ValueOrDie()->ToString(),
            "200|12.34|1000000001|5|1970-01-02|[1, 2]|{'a': 9}|{k=1}|[3, 4]|q|"
            "12345678-1234-5678-1234-567812345678");
}

TEST_F(IngestTest, TableAppenderCommitsEachBatchVisibly) {
  HS_ASSIGN_OR_FAIL(auto appender, engine_->OpenAppender({"events"}, schema_));
  EXPECT_TRUE(appender->schema()->Equals(*schema_));
  HS_ASSIGN_OR_FAIL(int64_t rows, appender->Append(*Batch("[1, 2]", R"(["a", "b"])")));
  EXPECT_EQ(rows, 2);
  HS_ASSIGN_OR_FAIL(auto reader_connection, engine_->Connect());
  HS_ASSIGN_OR_FAIL(int64_t count, QueryInt(*reader_connection, "SELECT count(*) FROM events"));
  EXPECT_EQ(count, 2);
  HS_ASSIGN_OR_FAIL(rows, appender->Append(*Batch("[3]", R"(["c"])")));
  HS_ASSIGN_OR_FAIL(count, QueryInt(*reader_connection, "SELECT sum(id)::BIGINT FROM events"));
  EXPECT_EQ(count, 6);

  // A failing batch leaves nothing behind and the appender keeps working.
  HS_ASSERT_OK(Update(*reader_connection, "CREATE TABLE strict (id BIGINT, name VARCHAR NOT NULL)").status());
  HS_ASSIGN_OR_FAIL(auto strict, engine_->OpenAppender({"memory", "main", "strict"}, schema_));
  EXPECT_FALSE(strict->Append(*Batch("[1, 2]", R"(["a", null])")).ok());
  HS_ASSIGN_OR_FAIL(count, QueryInt(*reader_connection, "SELECT count(*) FROM strict"));
  EXPECT_EQ(count, 0);
  HS_ASSIGN_OR_FAIL(rows, strict->Append(*Batch("[1, 2]", R"(["a", "b"])")));
  EXPECT_EQ(rows, 2);
  HS_ASSIGN_OR_FAIL(count, QueryInt(*reader_connection, "SELECT count(*) FROM strict"));
  EXPECT_EQ(count, 2);
}

TEST_F(IngestTest, TableAppenderSchemaMismatch) {
  HS_ASSIGN_OR_FAIL(auto appender, engine_->OpenAppender({"main", "events"}, schema_));
  auto other = arrow::schema({arrow::field("id", arrow::int32()), arrow::field("extra", arrow::utf8())});
  auto result = appender->Append(*BatchFromJson(other, {"[1]", R"(["x"])"}));
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status().IsInvalid());
  EXPECT_NE(result.status().message().find("\"id\""), std::string::npos) << result.status().ToString();
  EXPECT_NE(result.status().message().find("\"extra\""), std::string::npos);
  EXPECT_NE(result.status().message().find("\"name\""), std::string::npos);

  // An existing table lacking a column of the schema is rejected at open, naming it.
  HS_ASSERT_OK(Update(*connection_, "CREATE TABLE narrow (id BIGINT)").status());
  auto narrow = engine_->OpenAppender({"narrow"}, schema_);
  ASSERT_FALSE(narrow.ok());
  EXPECT_TRUE(narrow.status().IsInvalid());
  EXPECT_NE(narrow.status().message().find("\"name\""), std::string::npos);

  EXPECT_TRUE(engine_->OpenAppender({}, schema_).status().IsInvalid());
  EXPECT_TRUE(engine_->OpenAppender({"a", "b", "c", "d"}, schema_).status().IsInvalid());
}

}  // namespace
}  // namespace hyprstream::engine
