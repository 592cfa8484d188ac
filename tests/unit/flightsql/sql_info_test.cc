#include "flightsql/sql_info.h"

#include <arrow/array.h>
#include <gtest/gtest.h>

#include "flight_sql.pb.h"

namespace hyprstream::flightsql {
namespace {
namespace pb = arrow::flight::protocol::sql;

TEST(SqlInfoTest, SchemaHasTheSpecUnionTypeIds) {
  auto schema = SqlInfo::ResultSchema();
  ASSERT_EQ(schema->num_fields(), 2);
  EXPECT_EQ(schema->field(0)->type()->id(), arrow::Type::UINT32);
  EXPECT_FALSE(schema->field(0)->nullable());
  auto& value = static_cast<const arrow::UnionType&>(*schema->field(1)->type());
  ASSERT_EQ(value.num_fields(), 6);
  EXPECT_EQ(value.type_codes(), (std::vector<int8_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(value.field(3)->type()->id(), arrow::Type::INT32);
  EXPECT_EQ(value.field(5)->type()->id(), arrow::Type::MAP);
}

TEST(SqlInfoTest, ReportsTransactionsAsInt32Bitmask) {
  auto batch = SqlInfo::ForServer({"SELECT"}).Build({pb::FLIGHT_SQL_SERVER_TRANSACTION});
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ((*batch)->num_rows(), 1);
  auto names = std::static_pointer_cast<arrow::UInt32Array>((*batch)->column(0));
  auto values = std::static_pointer_cast<arrow::DenseUnionArray>((*batch)->column(1));
  EXPECT_EQ(names->Value(0), static_cast<uint32_t>(pb::FLIGHT_SQL_SERVER_TRANSACTION));
  EXPECT_EQ(values->type_code(0), 3);
  auto ints = std::static_pointer_cast<arrow::Int32Array>(values->field(3));
  EXPECT_EQ(ints->Value(values->value_offset(0)), pb::SQL_SUPPORTED_TRANSACTION_TRANSACTION);
}

TEST(SqlInfoTest, EmptyRequestReturnsEverythingAndUnknownIdsAreSkipped) {
  SqlInfo info = SqlInfo::ForServer({"SELECT"});
  auto all = info.Build({});
  ASSERT_TRUE(all.ok());
  EXPECT_GE((*all)->num_rows(), 10);
  auto some = info.Build({pb::FLIGHT_SQL_SERVER_NAME, 999999, pb::FLIGHT_SQL_SERVER_READ_ONLY});
  ASSERT_TRUE(some.ok());
  ASSERT_EQ((*some)->num_rows(), 2);
  auto values = std::static_pointer_cast<arrow::DenseUnionArray>((*some)->column(1));
  EXPECT_EQ(values->type_code(0), 0);
  auto strings = std::static_pointer_cast<arrow::StringArray>(values->field(0));
  EXPECT_EQ(strings->GetString(values->value_offset(0)), "hyprstream");
  EXPECT_EQ(values->type_code(1), 1);
}

TEST(SqlInfoTest, BuildsListsAndMaps) {
  SqlInfo info;
  info.Set(pb::SQL_KEYWORDS, std::vector<std::string>{"A", "B"});
  info.Set(pb::SQL_SUPPORTS_CONVERT, std::map<int32_t, std::vector<int32_t>>{{1, {2, 3}}});
  auto batch = info.Build({});
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ((*batch)->num_rows(), 2);
  ASSERT_TRUE((*batch)->ValidateFull().ok());
}

}  // namespace
}  // namespace hyprstream::flightsql
