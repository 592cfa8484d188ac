// Binding Arrow parameter values of every supported type: each value goes in as a parameter
// and comes back as DuckDB's type and text for it.
#include "engine_test_util.h"

#include <arrow/extension/uuid.h>

namespace hyprstream::engine {
namespace {

using testing::OpenMemoryEngine;

struct BindCase {
  std::string name;
  std::shared_ptr<arrow::Array> value;  // one element
  std::string duckdb_type;              // typeof($1)
  std::string text;                     // CAST($1 AS VARCHAR); "NULL" for null
};

void PrintTo(const BindCase& c, std::ostream* os) { *os << c.name; }

std::shared_ptr<arrow::Array> J(const std::shared_ptr<arrow::DataType>& type,
                                const std::string& json) {
  return testing::ArrayFromJson(type, json);
}

std::shared_ptr<arrow::Array> Dictionary() {
  auto dict = arrow::json::DictArrayFromJSONString(arrow::dictionary(arrow::int8(), arrow::utf8()),
                                                   "[1]", R"(["a", "b"])");
  return *dict;
}

std::shared_ptr<arrow::Array> Uuid() {
  auto storage = J(arrow::fixed_size_binary(16), R"(["\u0012\u0034\u0056\u0078\u0012\u0034\u0056\u0078\u0012\u0034\u0056\u0078\u0012\u0034\u0056\u0078"])");
  return arrow::ExtensionType::WrapArray(arrow::extension::uuid(), storage);
}

class ParameterBindingTest : public ::testing::TestWithParam<BindCase> {};

TEST_P(ParameterBindingTest, RoundTrips) {
  const BindCase& c = GetParam();
  auto engine = OpenMemoryEngine();
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  // Two parameters, not $1 twice: DuckDB 1.4.4 fails internally (and invalidates the
  // database) for "SELECT typeof($1), CAST($1 AS VARCHAR)" with a VARCHAR bound to $1.
  HS_ASSIGN_OR_FAIL(auto statement,
                    connection->Prepare("SELECT typeof(?) AS t, CAST(? AS VARCHAR) AS v"));
  auto schema = arrow::schema(
      {arrow::field("p1", c.value->type()), arrow::field("p2", c.value->type())});
  HS_ASSERT_OK(statement->Bind(arrow::RecordBatch::Make(schema, 1, {c.value, c.value})));
  HS_ASSIGN_OR_FAIL(auto reader, statement->ExecuteQuery());
  HS_ASSIGN_OR_FAIL(auto table, testing::ReadAll(*reader));
  ASSERT_EQ(table->num_rows(), 1);
  HS_ASSIGN_OR_FAIL(auto type, table->column(0)->GetScalar(0));
  HS_ASSIGN_OR_FAIL(auto text, table->column(1)->GetScalar(0));
  EXPECT_EQ(type->ToString(), c.duckdb_type);
  EXPECT_EQ(text->is_valid ? text->ToString() : "NULL", c.text);
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, ParameterBindingTest,
    ::testing::Values(
        BindCase{"null", J(arrow::null(), "[null]"), "\"NULL\"", "NULL"},
        // Nulls bind as untyped NULL; DuckDB casts them to the parameter's type where known.
        BindCase{"null_int", J(arrow::int32(), "[null]"), "\"NULL\"", "NULL"},
        BindCase{"bool", J(arrow::boolean(), "[true]"), "BOOLEAN", "true"},
        BindCase{"int8", J(arrow::int8(), "[-128]"), "TINYINT", "-128"},
        BindCase{"int16", J(arrow::int16(), "[-32768]"), "SMALLINT", "-32768"},
        BindCase{"int32", J(arrow::int32(), "[-2147483648]"), "INTEGER", "-2147483648"},
        BindCase{"int64", J(arrow::int64(), "[-9223372036854775808]"), "BIGINT",
                 "-9223372036854775808"},
        BindCase{"uint8", J(arrow::uint8(), "[255]"), "UTINYINT", "255"},
        BindCase{"uint16", J(arrow::uint16(), "[65535]"), "USMALLINT", "65535"},
        BindCase{"uint32", J(arrow::uint32(), "[4294967295]"), "UINTEGER", "4294967295"},
        BindCase{"uint64", J(arrow::uint64(), "[18446744073709551615]"), "UBIGINT",
                 "18446744073709551615"},
        BindCase{"float", J(arrow::float32(), "[1.5]"), "FLOAT", "1.5"},
        BindCase{"double", J(arrow::float64(), "[-2.25]"), "DOUBLE", "-2.25"},
        BindCase{"utf8", J(arrow::utf8(), R"(["héllo"])"), "VARCHAR", "héllo"},
        BindCase{"large_utf8", J(arrow::large_utf8(), R"(["large"])"), "VARCHAR", "large"},
        BindCase{"utf8_view", J(arrow::utf8_view(), R"(["a view longer than twelve"])"),
                 "VARCHAR", "a view longer than twelve"},
        BindCase{"binary", J(arrow::binary(), R"(["ab"])"), "BLOB", "ab"},
        BindCase{"large_binary", J(arrow::large_binary(), R"(["cd"])"), "BLOB", "cd"},
        BindCase{"binary_view", J(arrow::binary_view(), R"(["ef"])"), "BLOB", "ef"},
        BindCase{"fixed_binary", J(arrow::fixed_size_binary(2), R"(["gh"])"), "BLOB", "gh"},
        BindCase{"date32", J(arrow::date32(), "[19782]"), "DATE", "2024-02-29"},
        BindCase{"date64", J(arrow::date64(), "[1709164800000]"), "DATE", "2024-02-29"},
        BindCase{"time32_s", J(arrow::time32(arrow::TimeUnit::SECOND), "[3723]"), "TIME",
                 "01:02:03"},
        BindCase{"time32_ms", J(arrow::time32(arrow::TimeUnit::MILLI), "[3723500]"), "TIME",
                 "01:02:03.5"},
        BindCase{"time64_us", J(arrow::time64(arrow::TimeUnit::MICRO), "[3723000001]"), "TIME",
                 "01:02:03.000001"},
        BindCase{"time64_ns", J(arrow::time64(arrow::TimeUnit::NANO), "[3723000001000]"),
                 "TIME", "01:02:03.000001"},
        BindCase{"timestamp_s", J(arrow::timestamp(arrow::TimeUnit::SECOND), "[1709208000]"),
                 "TIMESTAMP_S", "2024-02-29 12:00:00"},
        BindCase{"timestamp_ms", J(arrow::timestamp(arrow::TimeUnit::MILLI), "[1709208000123]"),
                 "TIMESTAMP_MS", "2024-02-29 12:00:00.123"},
        BindCase{"timestamp_us",
                 J(arrow::timestamp(arrow::TimeUnit::MICRO), "[1709208000123456]"), "TIMESTAMP",
                 "2024-02-29 12:00:00.123456"},
        BindCase{"timestamp_ns",
                 J(arrow::timestamp(arrow::TimeUnit::NANO), "[1709208000123456789]"),
                 "TIMESTAMP_NS", "2024-02-29 12:00:00.123456789"},
        BindCase{"decimal128", J(arrow::decimal128(10, 2), R"(["-123.45"])"), "DECIMAL(10,2)",
                 "-123.45"},
        BindCase{"decimal128_wide", J(arrow::decimal128(38, 3), R"(["12345678901234567890123.456"])"),
                 "DECIMAL(38,3)", "12345678901234567890123.456"},
        BindCase{"decimal256", J(arrow::decimal256(20, 1), R"(["-1.5"])"), "DECIMAL(20,1)",
                 "-1.5"},
        BindCase{"month_day_nano", J(arrow::month_day_nano_interval(), "[[1, 2, 3000]]"),
                 "INTERVAL", "1 month 2 days 00:00:00.000003"},
        BindCase{"day_time", J(arrow::day_time_interval(), "[[2, 1500]]"), "INTERVAL",
                 "2 days 00:00:01.5"},
        BindCase{"month", J(arrow::month_interval(), "[14]"), "INTERVAL", "1 year 2 months"},
        BindCase{"duration", J(arrow::duration(arrow::TimeUnit::MILLI), "[61000]"), "INTERVAL",
                 "00:01:01"},
        BindCase{"list", J(arrow::list(arrow::int32()), "[[1, null, 3]]"), "INTEGER[]",
                 "[1, NULL, 3]"},
        BindCase{"large_list", J(arrow::large_list(arrow::utf8()), R"([["a", "b"]])"),
                 "VARCHAR[]", "[a, b]"},
        BindCase{"fixed_size_list", J(arrow::fixed_size_list(arrow::int64(), 2), "[[7, 8]]"),
                 "BIGINT[2]", "[7, 8]"},
        BindCase{"struct",
                 J(arrow::struct_({arrow::field("a", arrow::int32()),
                                   arrow::field("b", arrow::utf8())}),
                   R"([{"a": 1, "b": "x"}])"),
                 "STRUCT(a INTEGER, b VARCHAR)", "{'a': 1, 'b': x}"},
        BindCase{"map", J(arrow::map(arrow::utf8(), arrow::int32()), R"([[["k", 1], ["l", 2]]])"),
                 "MAP(VARCHAR, INTEGER)", "{k=1, l=2}"},
        BindCase{"dictionary", Dictionary(), "VARCHAR", "b"},
        BindCase{"uuid", Uuid(), "UUID", "12345678-1234-5678-1234-567812345678"}),
    [](const ::testing::TestParamInfo<BindCase>& info) { return info.param.name; });

TEST(ParameterBinding, TimestampWithTimeZone) {
  auto engine = OpenMemoryEngine();
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto statement,
                    connection->Prepare("SELECT typeof($1), epoch_us($1)"));
  auto value = J(arrow::timestamp(arrow::TimeUnit::NANO, "Europe/Paris"), "[1709208000123456789]");
  auto schema = arrow::schema({arrow::field("p", value->type())});
  HS_ASSERT_OK(statement->Bind(arrow::RecordBatch::Make(schema, 1, {value})));
  HS_ASSIGN_OR_FAIL(auto reader, statement->ExecuteQuery());
  HS_ASSIGN_OR_FAIL(auto table, testing::ReadAll(*reader));
  EXPECT_EQ(table->column(0)->GetScalar(0).ValueOrDie()->ToString(), "TIMESTAMP WITH TIME ZONE");
  EXPECT_EQ(table->column(1)->GetScalar(0).ValueOrDie()->ToString(), "1709208000123456");
}

TEST(ParameterBinding, UnsupportedTypeNamesIt) {
  auto engine = OpenMemoryEngine();
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto statement, connection->Prepare("SELECT $1"));
  auto value = J(arrow::sparse_union({arrow::field("i", arrow::int32())}, {0}), "[[0, 5]]");
  auto schema = arrow::schema({arrow::field("p", value->type())});
  HS_ASSERT_OK(statement->Bind(arrow::RecordBatch::Make(schema, 1, {value})));
  auto result = statement->ExecuteQuery();
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status().IsNotImplemented()) << result.status().ToString();
  EXPECT_NE(result.status().message().find("sparse_union"), std::string::npos)
      << result.status().ToString();
}

TEST(ParameterBinding, TypedParameterCastsBoundValue) {
  auto engine = OpenMemoryEngine();
  HS_ASSIGN_OR_FAIL(auto connection, engine->Connect());
  HS_ASSIGN_OR_FAIL(auto statement, connection->Prepare("SELECT ?::BIGINT + 1"));
  auto value = J(arrow::utf8(), R"(["41"])");
  auto schema = arrow::schema({arrow::field("p", value->type())});
  HS_ASSERT_OK(statement->Bind(arrow::RecordBatch::Make(schema, 1, {value})));
  HS_ASSIGN_OR_FAIL(auto reader, statement->ExecuteQuery());
  HS_ASSIGN_OR_FAIL(auto table, testing::ReadAll(*reader));
  EXPECT_EQ(table->column(0)->GetScalar(0).ValueOrDie()->ToString(), "42");
}

}  // namespace
}  // namespace hyprstream::engine
