// ChunkBatchBuilder writes exactly what DuckDB's own converter (duckdb_data_chunk_to_arrow, one
// chunk at a time, then concatenated) writes, for every type it takes; it declines the others.
#include "engine/chunk_batch_builder.h"
#include "engine/duckdb_arrow_schema.h"
#include "engine/duckdb_handle.h"
#include "engine_test_util.h"

#include <arrow/c/bridge.h>

namespace hyprstream::engine {
namespace {

class ChunkBatchBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(duckdb_open(nullptr, &database_), DuckDBSuccess);
    ASSERT_EQ(duckdb_connect(database_, &connection_), DuckDBSuccess);
  }
  void TearDown() override {
    duckdb_disconnect(&connection_);
    duckdb_close(&database_);
  }

  void Run(const std::string& sql) {
    ResultHandle result;
    ASSERT_EQ(duckdb_query(connection_, sql.c_str(), result.out()), DuckDBSuccess)
        << duckdb_result_error(result.get());
  }

  struct Both {
    std::unique_ptr<ChunkBatchBuilder> builder;  // null when it declines the schema
    std::shared_ptr<arrow::Schema> schema;
    std::vector<std::shared_ptr<arrow::RecordBatch>> built;  // one batch per `rows_per_batch`
    std::shared_ptr<arrow::RecordBatch> reference;           // DuckDB's, concatenated
  };

  // Streams `sql`, feeding every chunk to both converters.
  Both Convert(const std::string& sql, int64_t rows_per_batch = 1 << 20) {
    Both out;
    ArrowOptionsHandle options = ArrowOptionsOf(connection_);
    PreparedHandle prepared;
    {
      duckdb_prepared_statement raw = nullptr;
      EXPECT_EQ(duckdb_prepare(connection_, sql.c_str(), &raw), DuckDBSuccess)
          << duckdb_prepare_error(raw);
      prepared.reset(raw);
    }
    duckdb_pending_result pending_raw = nullptr;
    EXPECT_EQ(duckdb_pending_prepared_streaming(prepared.get(), &pending_raw), DuckDBSuccess);
    PendingHandle pending(pending_raw);
    ResultHandle result;
    EXPECT_EQ(duckdb_execute_pending(pending.get(), result.out()), DuckDBSuccess)
        << duckdb_result_error(result.get());
    auto schema = ArrowSchemaOfResult(options.get(), result.get());
    EXPECT_TRUE(schema.ok()) << schema.status().ToString();
    out.schema = *schema;
    std::vector<duckdb_type> types;
    for (idx_t i = 0; i < duckdb_column_count(result.get()); ++i) {
      types.push_back(duckdb_column_type(result.get(), i));
    }
    out.builder = ChunkBatchBuilder::Make(out.schema, types, rows_per_batch);
    arrow::RecordBatchVector parts;
    while (true) {
      DataChunkHandle chunk(duckdb_fetch_chunk(*result.get()));
      if (chunk == nullptr || duckdb_data_chunk_get_size(chunk.get()) == 0) break;
      struct ArrowArray c_array {};
      ErrorDataHandle error(duckdb_data_chunk_to_arrow(options.get(), chunk.get(), &c_array));
      EXPECT_EQ(error, nullptr);
      auto part = arrow::ImportRecordBatch(&c_array, out.schema);
      EXPECT_TRUE(part.ok()) << part.status().ToString();
      parts.push_back(*part);
      if (out.builder == nullptr) continue;
      if (out.builder->num_rows() >= rows_per_batch) Finish(out);
      auto appended = out.builder->Append(chunk.get());
      EXPECT_TRUE(appended.ok() && *appended) << appended.status().ToString();
    }
    if (out.builder != nullptr) Finish(out);
    auto reference = arrow::ConcatenateRecordBatches(parts);
    EXPECT_TRUE(reference.ok()) << reference.status().ToString();
    out.reference = *reference;
    return out;
  }

  static void Finish(Both& out) {
    auto batch = out.builder->Finish();
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    ASSERT_NE(*batch, nullptr);
    HS_ASSERT_OK((*batch)->ValidateFull());
    EXPECT_TRUE((*batch)->schema()->Equals(*out.schema, /*check_metadata=*/true));
    out.built.push_back(*batch);
  }

  static void ExpectSame(const Both& both) {
    ASSERT_NE(both.builder, nullptr) << both.schema->ToString();
    auto built = arrow::ConcatenateRecordBatches(both.built);
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    ASSERT_EQ((*built)->num_columns(), both.reference->num_columns());
    for (int c = 0; c < both.reference->num_columns(); ++c) {
      EXPECT_EQ((*built)->column(c)->null_count(), both.reference->column(c)->null_count())
          << both.schema->field(c)->ToString();
      EXPECT_TRUE((*built)->column(c)->Equals(*both.reference->column(c)))
          << both.schema->field(c)->ToString() << "\nbuilt: " << (*built)->column(c)->ToString()
          << "\nDuckDB: " << both.reference->column(c)->ToString();
    }
  }

  duckdb_database database_ = nullptr;
  duckdb_connection connection_ = nullptr;
};

// Every type the builder takes, with nulls in some chunks and not in others, across chunks.
constexpr const char* kAllTakenTypes = R"(
  SELECT
    CASE WHEN i % 7 = 3 THEN NULL ELSE i % 3 = 0 END AS b,
    (i % 200 - 100)::TINYINT AS i8,
    CASE WHEN i > 3000 AND i % 5 = 0 THEN NULL ELSE (i * 5)::SMALLINT END AS i16,
    (i * 1000)::INTEGER AS i32,
    i * 1000000007 AS i64,
    (i % 256)::UTINYINT AS u8, (i % 60000)::USMALLINT AS u16, (i * 7)::UINTEGER AS u32,
    (i * 1000000007)::UBIGINT AS u64,
    (i / 3)::FLOAT AS f32,
    CASE WHEN i % 11 = 0 THEN NULL ELSE i / 7 END AS f64,
    CASE WHEN i = 1 THEN 'infinity'::DATE ELSE DATE '2020-01-01' + i::INTEGER END AS d,
    TIME '00:00:00' + INTERVAL (i) SECOND AS t,
    CASE WHEN i = 2 THEN '-infinity'::TIMESTAMP
         ELSE TIMESTAMP '2026-01-01' + INTERVAL (i) MICROSECOND END AS ts,
    (TIMESTAMP '2026-01-01' + INTERVAL (i) SECOND)::TIMESTAMP_S AS ts_s,
    (TIMESTAMP '2026-01-01' + INTERVAL (i) MILLISECOND)::TIMESTAMP_MS AS ts_ms,
    (TIMESTAMP '2026-01-01' + INTERVAL (i) MICROSECOND)::TIMESTAMP_NS AS ts_ns,
    TIMESTAMPTZ '2026-01-01 00:00:00+00' + INTERVAL (i) MINUTE AS tstz,
    CASE WHEN i % 13 = 0 THEN NULL WHEN i % 17 = 0 THEN ''
         WHEN i % 2 = 0 THEN 'short-' || i ELSE repeat('long string ', i % 9) || i END AS s,
    CASE WHEN i < 4100 THEN NULL ELSE ('bytes' || i)::BLOB END AS blob,
    CASE WHEN i < 5000 THEN 'never null' END AS late_null
  FROM range(6000) t(i) ORDER BY i)";

TEST_F(ChunkBatchBuilderTest, WritesWhatDuckDbsConverterWritesInOneBatch) {
  ExpectSame(Convert(kAllTakenTypes));
}

TEST_F(ChunkBatchBuilderTest, WritesWhatDuckDbsConverterWritesAcrossBatches) {
  auto both = Convert(kAllTakenTypes, 2048 * 2);
  EXPECT_EQ(both.built.size(), 2u);
  ExpectSame(both);
}

TEST_F(ChunkBatchBuilderTest, LargeStringsWhenTheSessionAsksForThem) {
  Run("SET arrow_large_buffer_size = true");
  auto both = Convert(kAllTakenTypes);
  EXPECT_EQ(both.schema->GetFieldByName("s")->type()->id(), arrow::Type::LARGE_STRING);
  EXPECT_EQ(both.schema->GetFieldByName("blob")->type()->id(), arrow::Type::LARGE_BINARY);
  ExpectSame(both);
}

TEST_F(ChunkBatchBuilderTest, EmptyAndAllNullColumns) {
  ExpectSame(
      Convert("SELECT NULL::VARCHAR AS s, NULL::BIGINT AS n, ''::VARCHAR AS e, "
              "NULL::BOOLEAN AS b FROM range(3000)"));
  ExpectSame(Convert("SELECT 'one row' AS s, 1 AS n"));
}

TEST_F(ChunkBatchBuilderTest, DeclinesTypesItDoesNotLayOut) {
  for (const char* sql :
       {"SELECT 1.5::DECIMAL(10, 2) AS v", "SELECT 1::HUGEINT AS v", "SELECT [1, 2] AS v",
        "SELECT {'a': 1} AS v", "SELECT uuid() AS v", "SELECT INTERVAL 1 DAY AS v",
        "SELECT 'a'::ENUM('a', 'b') AS v", "SELECT TIMETZ '12:00:00+01' AS v",
        "SELECT 1::BIGINT AS ok, 1::HUGEINT AS not_ok"}) {
    EXPECT_EQ(Convert(sql).builder, nullptr) << sql;
  }
  Run("SET arrow_output_version = '1.4'");
  Run("SET produce_arrow_string_view = true");
  auto views = Convert("SELECT 'a' AS v");
  EXPECT_EQ(views.schema->field(0)->type()->id(), arrow::Type::STRING_VIEW);
  EXPECT_EQ(views.builder, nullptr);
  Run("SET produce_arrow_string_view = false");
  Run("SET arrow_lossless_conversion = true");
  EXPECT_EQ(Convert("SELECT true AS v").builder, nullptr);
}

}  // namespace
}  // namespace hyprstream::engine
