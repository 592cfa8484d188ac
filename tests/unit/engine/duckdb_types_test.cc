// Every DuckDB type read back through the engine arrives as the documented Arrow type with the
// right value.
#include "engine_test_util.h"

namespace hyprstream::engine {
namespace {

using testing::OpenMemoryEngine;
using testing::Query;

struct TypeCase {
  std::string expression;
  std::shared_ptr<arrow::DataType> arrow_type;
  std::string value;  // Arrow's ToString of the scalar
};

void PrintTo(const TypeCase& c, std::ostream* os) { *os << c.expression; }

class DuckDbTypesTest : public ::testing::TestWithParam<TypeCase> {};

TEST_P(DuckDbTypesTest, ReadsBackAsArrowType) {
  const TypeCase& c = GetParam();
  auto engine = OpenMemoryEngine();
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto statement, connection->Prepare("SELECT " + c.expression + " AS v"));
  // The prepared description and the streamed result agree.
  ASSERT_NE(statement->dataset_schema(), nullptr);
  EXPECT_TRUE(statement->dataset_schema()->field(0)->type()->Equals(*c.arrow_type))
      << statement->dataset_schema()->ToString();
  HS_ASSIGN_OR_FAIL(auto reader, statement->ExecuteQuery());
  HS_ASSIGN_OR_FAIL(auto table, testing::ReadAll(*reader));
  ASSERT_EQ(table->num_rows(), 1);
  EXPECT_TRUE(table->schema()->field(0)->type()->Equals(*c.arrow_type))
      << c.expression << " -> " << table->schema()->field(0)->type()->ToString();
  HS_ASSIGN_OR_FAIL(auto scalar, table->column(0)->GetScalar(0));
  EXPECT_EQ(scalar->ToString(), c.value) << c.expression;
}

std::shared_ptr<arrow::DataType> Dict(std::shared_ptr<arrow::DataType> index) {
  return arrow::dictionary(std::move(index), arrow::utf8());
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, DuckDbTypesTest,
    ::testing::Values(
        TypeCase{"-8::TINYINT", arrow::int8(), "-8"},
        TypeCase{"-16::SMALLINT", arrow::int16(), "-16"},
        TypeCase{"-32::INTEGER", arrow::int32(), "-32"},
        TypeCase{"-64::BIGINT", arrow::int64(), "-64"},
        TypeCase{"255::UTINYINT", arrow::uint8(), "255"},
        TypeCase{"65535::USMALLINT", arrow::uint16(), "65535"},
        TypeCase{"4294967295::UINTEGER", arrow::uint32(), "4294967295"},
        TypeCase{"18446744073709551615::UBIGINT", arrow::uint64(), "18446744073709551615"},
        TypeCase{"99999999999999999999999999999999999999::HUGEINT", arrow::decimal128(38, 0),
                 "99999999999999999999999999999999999999"},
        TypeCase{"-99999999999999999999999999999999999999::HUGEINT", arrow::decimal128(38, 0),
                 "-99999999999999999999999999999999999999"},
        TypeCase{"1.5::FLOAT", arrow::float32(), "1.5"},
        TypeCase{"2.25::DOUBLE", arrow::float64(), "2.25"},
        TypeCase{"123.45::DECIMAL(10,2)", arrow::decimal128(10, 2), "123.45"},
        TypeCase{"-1.5::DECIMAL(4,1)", arrow::decimal128(4, 1), "-1.5"},
        TypeCase{"12345678901234567890.123::DECIMAL(30,3)", arrow::decimal128(30, 3),
                 "12345678901234567890.123"},
        TypeCase{"'héllo'::VARCHAR", arrow::utf8(), "héllo"},
        TypeCase{"'\\xAA\\x00'::BLOB", arrow::binary(), std::string("\xAA\x00", 2)},
        TypeCase{"true", arrow::boolean(), "true"},
        TypeCase{"DATE '2024-02-29'", arrow::date32(), "2024-02-29"},
        TypeCase{"TIME '12:34:56.789'", arrow::time64(arrow::TimeUnit::MICRO), "12:34:56.789000"},
        TypeCase{"TIMESTAMP '2024-02-29 12:34:56.123456'", arrow::timestamp(arrow::TimeUnit::MICRO),
                 "2024-02-29 12:34:56.123456"},
        TypeCase{"'2024-02-29 12:34:56'::TIMESTAMP_S", arrow::timestamp(arrow::TimeUnit::SECOND),
                 "2024-02-29 12:34:56"},
        TypeCase{"'2024-02-29 12:34:56.123'::TIMESTAMP_MS",
                 arrow::timestamp(arrow::TimeUnit::MILLI), "2024-02-29 12:34:56.123"},
        TypeCase{"'2024-02-29 12:34:56.123456789'::TIMESTAMP_NS",
                 arrow::timestamp(arrow::TimeUnit::NANO), "2024-02-29 12:34:56.123456789"},
        TypeCase{"INTERVAL '1 month 2 days 3 seconds'", arrow::month_day_nano_interval(),
                 "1M2d3000000000ns"},
        TypeCase{"'12345678-1234-5678-1234-567812345678'::UUID", arrow::utf8(),
                 "12345678-1234-5678-1234-567812345678"},
        TypeCase{"[1, 2, NULL]::INTEGER[]", arrow::list(arrow::field("l", arrow::int32())),
                 "list<l: int32>[1, 2, null]"},
        TypeCase{
            "{'a': 1, 'b': 'x'}",
            arrow::struct_({arrow::field("a", arrow::int32()), arrow::field("b", arrow::utf8())}),
            "{a:int32 = 1, b:string = x}"},
        TypeCase{"MAP {'k': 1}", arrow::map(arrow::utf8(), arrow::int32()),
                 "map<string, int32>[{key:string = k, value:int32 = 1}]"},
        TypeCase{"[1, 2, 3]::INTEGER[3]",
                 arrow::fixed_size_list(arrow::field("", arrow::int32()), 3),
                 "fixed_size_list<: int32>[3][1, 2, 3]"},
        TypeCase{"'b'::ENUM('a', 'b')", Dict(arrow::uint8()), "[\n  \"a\",\n  \"b\"\n][1]"},
        TypeCase{"NULL::INTEGER", arrow::int32(), "null"}));

// decimal128(38, 0) carries 38 digits; HUGEINT has 39. A value that does not fit fails the
// query, naming the column, instead of arriving as data that full validation rejects.
TEST(DuckDbTypes, HugeintBeyondThirtyEightDigitsFailsNamingTheColumn) {
  auto engine = OpenMemoryEngine();
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  for (const char* sql :
       {"SELECT 170141183460469231731687303715884105727::HUGEINT AS v",
        "SELECT '-170141183460469231731687303715884105728'::HUGEINT AS v",
        "SELECT 100000000000000000000000000000000000000::HUGEINT AS v",
        "SELECT [1, 170141183460469231731687303715884105727]::HUGEINT[] AS v",
        "SELECT {'a': 170141183460469231731687303715884105727::HUGEINT} AS v"}) {
    auto table = Query(*connection, sql);
    ASSERT_FALSE(table.ok()) << sql;
    EXPECT_TRUE(table.status().IsInvalid()) << table.status().ToString();
    EXPECT_NE(table.status().message().find("column \"v\""), std::string::npos)
        << table.status().ToString();
    EXPECT_NE(table.status().message().find("CAST the column to VARCHAR"), std::string::npos)
        << table.status().ToString();
  }
  // The advice works: the exact value as text.
  HS_ASSIGN_OR_FAIL(auto text, testing::QueryScalar(*connection,
                                                    "SELECT 170141183460469231731687303715884105727"
                                                    "::HUGEINT::VARCHAR AS v"));
  EXPECT_EQ(text->ToString(), "170141183460469231731687303715884105727");
}

// JDBC's getPrecision (ARROW:FLIGHT:SQL:PRECISION) agrees with the Arrow type HUGEINT has.
TEST(DuckDbTypes, HugeintPrecisionMetadataIsItsArrowPrecision) {
  auto engine = OpenMemoryEngine();
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto statement, connection->Prepare("SELECT 1::HUGEINT AS v"));
  auto field = statement->dataset_schema()->field(0);
  ASSERT_TRUE(field->type()->Equals(*arrow::decimal128(38, 0))) << field->type()->ToString();
  ASSERT_NE(field->metadata(), nullptr);
  EXPECT_EQ(field->metadata()->Get("ARROW:FLIGHT:SQL:PRECISION").ValueOr(""), "38");
}

// UHUGEINT is DuckDB 1.4's arrow.opaque over 16 little-endian bytes, which holds every value.
// DuckDB 1.5 turns it into decimal128(38, 0) of the raw bits (duckdb/duckdb#20840), where values
// from 2^127 read as negative numbers that CheckDecimalPrecision cannot tell from real ones:
// this test is what stops an upgrade from bringing that in unnoticed.
TEST(DuckDbTypes, UhugeintArrivesAsOpaqueBytesHoldingEveryValue) {
  auto engine = OpenMemoryEngine();
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto table, Query(*connection,
                                      "SELECT * FROM (VALUES (1, 0::UHUGEINT), "
                                      "(2, 340282366920938463463374607431768211455::UHUGEINT), "
                                      "(3, NULL)) t(k, v) ORDER BY k"));
  auto type = table->schema()->field(1)->type();
  ASSERT_EQ(type->id(), arrow::Type::EXTENSION) << type->ToString();
  const auto& extension = static_cast<const arrow::ExtensionType&>(*type);
  EXPECT_EQ(extension.extension_name(), "arrow.opaque");
  ASSERT_TRUE(extension.storage_type()->Equals(*arrow::fixed_size_binary(16)));
  auto column = std::static_pointer_cast<arrow::ExtensionArray>(table->column(1)->chunk(0));
  const auto& bytes = static_cast<const arrow::FixedSizeBinaryArray&>(*column->storage());
  EXPECT_EQ(bytes.GetString(0), std::string(16, '\0'));
  EXPECT_EQ(bytes.GetString(1), std::string(16, '\xFF'));
  EXPECT_TRUE(bytes.IsNull(2));
}

// Rows before the first value that does not fit arrive; the error comes after them.
TEST(DuckDbTypes, HugeintOverflowAfterRowsDeliversThemFirst) {
  auto engine = OpenMemoryEngine();
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto statement,
                    connection->Prepare("SELECT CASE WHEN x < 5000 THEN x::HUGEINT ELSE "
                                        "170141183460469231731687303715884105727 END AS v "
                                        "FROM range(6000) t(x) ORDER BY x"));
  HS_ASSIGN_OR_FAIL(auto reader, statement->ExecuteQuery());
  int64_t rows = 0;
  arrow::Status status;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    status = reader->ReadNext(&batch);
    if (!status.ok() || batch == nullptr) break;
    HS_ASSERT_OK(batch->ValidateFull());
    rows += batch->num_rows();
  }
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_GT(rows, 0);
  EXPECT_LE(rows, 5000);
}

TEST(DuckDbTypes, TimestampWithTimeZone) {
  auto engine = OpenMemoryEngine();
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto table,
                    Query(*connection, "SELECT TIMESTAMPTZ '2024-02-29 12:00:00+00' AS v"));
  auto type = table->schema()->field(0)->type();
  ASSERT_EQ(type->id(), arrow::Type::TIMESTAMP) << type->ToString();
  const auto& ts = static_cast<const arrow::TimestampType&>(*type);
  EXPECT_EQ(ts.unit(), arrow::TimeUnit::MICRO);
  EXPECT_FALSE(ts.timezone().empty());
  auto value = std::static_pointer_cast<arrow::TimestampArray>(table->column(0)->chunk(0));
  EXPECT_EQ(value->Value(0), 1709208000000000LL);
}

TEST(DuckDbTypes, EnumDictionaryHasAllMembers) {
  auto engine = OpenMemoryEngine();
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto table, Query(*connection, "SELECT 'b'::ENUM('a', 'b', 'c') AS v"));
  auto dict = std::static_pointer_cast<arrow::DictionaryArray>(table->column(0)->chunk(0));
  EXPECT_EQ(dict->dictionary()->length(), 3);
  EXPECT_EQ(dict->GetValueIndex(0), 1);
}

}  // namespace
}  // namespace hyprstream::engine
