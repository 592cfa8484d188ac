// The Arrow -> DuckDB SQL type-name mapping used to create ingest tables.
#include "engine/arrow_to_duckdb_type.h"

#include <arrow/api.h>
#include <arrow/extension/uuid.h>
#include <gtest/gtest.h>

namespace hyprstream::engine {
namespace {

std::string Name(const std::shared_ptr<arrow::DataType>& type) {
  auto name = ArrowToDuckDbTypeName(*type);
  EXPECT_TRUE(name.ok()) << type->ToString() << ": " << name.status().ToString();
  return name.ok() ? *name : "";
}

TEST(ArrowToDuckDbType, Scalars) {
  EXPECT_EQ(Name(arrow::int8()), "TINYINT");
  EXPECT_EQ(Name(arrow::int16()), "SMALLINT");
  EXPECT_EQ(Name(arrow::int32()), "INTEGER");
  EXPECT_EQ(Name(arrow::int64()), "BIGINT");
  EXPECT_EQ(Name(arrow::uint8()), "UTINYINT");
  EXPECT_EQ(Name(arrow::uint16()), "USMALLINT");
  EXPECT_EQ(Name(arrow::uint32()), "UINTEGER");
  EXPECT_EQ(Name(arrow::uint64()), "UBIGINT");
  EXPECT_EQ(Name(arrow::float32()), "FLOAT");
  EXPECT_EQ(Name(arrow::float64()), "DOUBLE");
  EXPECT_EQ(Name(arrow::boolean()), "BOOLEAN");
  EXPECT_EQ(Name(arrow::utf8()), "VARCHAR");
  EXPECT_EQ(Name(arrow::large_utf8()), "VARCHAR");
  EXPECT_EQ(Name(arrow::utf8_view()), "VARCHAR");
  EXPECT_EQ(Name(arrow::binary()), "BLOB");
  EXPECT_EQ(Name(arrow::large_binary()), "BLOB");
  EXPECT_EQ(Name(arrow::binary_view()), "BLOB");
  EXPECT_EQ(Name(arrow::fixed_size_binary(4)), "BLOB");
  EXPECT_EQ(Name(arrow::decimal128(18, 3)), "DECIMAL(18,3)");
  EXPECT_EQ(Name(arrow::decimal256(38, 0)), "DECIMAL(38,0)");
  EXPECT_EQ(Name(arrow::date32()), "DATE");
  EXPECT_EQ(Name(arrow::date64()), "DATE");
  EXPECT_EQ(Name(arrow::time32(arrow::TimeUnit::MILLI)), "TIME");
  EXPECT_EQ(Name(arrow::time64(arrow::TimeUnit::NANO)), "TIME");
  EXPECT_EQ(Name(arrow::month_day_nano_interval()), "INTERVAL");
  EXPECT_EQ(Name(arrow::duration(arrow::TimeUnit::SECOND)), "INTERVAL");
  EXPECT_EQ(Name(arrow::null()), "INTEGER");
}

TEST(ArrowToDuckDbType, Timestamps) {
  EXPECT_EQ(Name(arrow::timestamp(arrow::TimeUnit::SECOND)), "TIMESTAMP_S");
  EXPECT_EQ(Name(arrow::timestamp(arrow::TimeUnit::MILLI)), "TIMESTAMP_MS");
  EXPECT_EQ(Name(arrow::timestamp(arrow::TimeUnit::MICRO)), "TIMESTAMP");
  EXPECT_EQ(Name(arrow::timestamp(arrow::TimeUnit::NANO)), "TIMESTAMP_NS");
  EXPECT_EQ(Name(arrow::timestamp(arrow::TimeUnit::SECOND, "UTC")), "TIMESTAMPTZ");
  EXPECT_EQ(Name(arrow::timestamp(arrow::TimeUnit::NANO, "Europe/Paris")), "TIMESTAMPTZ");
}

TEST(ArrowToDuckDbType, Nested) {
  EXPECT_EQ(Name(arrow::list(arrow::int32())), "INTEGER[]");
  EXPECT_EQ(Name(arrow::large_list(arrow::utf8())), "VARCHAR[]");
  EXPECT_EQ(Name(arrow::list(arrow::list(arrow::int8()))), "TINYINT[][]");
  EXPECT_EQ(Name(arrow::fixed_size_list(arrow::float32(), 3)), "FLOAT[3]");
  EXPECT_EQ(Name(arrow::struct_({arrow::field("a", arrow::int32()),
                                 arrow::field("b c", arrow::utf8())})),
            "STRUCT(\"a\" INTEGER, \"b c\" VARCHAR)");
  EXPECT_EQ(Name(arrow::map(arrow::utf8(), arrow::float64())), "MAP(VARCHAR, DOUBLE)");
  EXPECT_EQ(Name(arrow::dictionary(arrow::int16(), arrow::utf8())), "VARCHAR");
  EXPECT_EQ(Name(arrow::extension::uuid()), "UUID");
}

TEST(ArrowToDuckDbType, UuidFromFieldMetadata) {
  auto field = arrow::field("id", arrow::fixed_size_binary(16), true,
                            arrow::key_value_metadata({"ARROW:extension:name"}, {"arrow.uuid"}));
  auto name = ArrowFieldToDuckDbTypeName(*field);
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "UUID");
}

TEST(ArrowToDuckDbType, UnsupportedNamesType) {
  auto name = ArrowToDuckDbTypeName(*arrow::decimal256(50, 2));
  ASSERT_FALSE(name.ok());
  EXPECT_TRUE(name.status().IsNotImplemented());
  EXPECT_NE(name.status().message().find("decimal256(50, 2)"), std::string::npos);
}

TEST(ArrowToDuckDbType, QuotingAndColumns) {
  EXPECT_EQ(QuoteIdentifier("plain"), "\"plain\"");
  EXPECT_EQ(QuoteIdentifier("we\"ird"), "\"we\"\"ird\"");
  EXPECT_EQ(QualifiedName(std::nullopt, std::string("s"), "t"), "\"s\".\"t\"");
  EXPECT_EQ(QualifiedName(std::string("c"), std::string("s"), "t"), "\"c\".\"s\".\"t\"");
  auto schema = arrow::schema({arrow::field("id", arrow::int64(), /*nullable=*/false),
                               arrow::field("name", arrow::utf8())});
  auto columns = ColumnDefinitions(*schema);
  ASSERT_TRUE(columns.ok());
  EXPECT_EQ(*columns, "(\"id\" BIGINT NOT NULL, \"name\" VARCHAR)");
}

}  // namespace
}  // namespace hyprstream::engine
