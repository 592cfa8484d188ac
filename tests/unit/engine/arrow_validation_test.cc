// CheckDecimalPrecision finds a decimal value wider than its type's precision wherever it sits
// (top level, lists, structs, dictionaries), ignores null slots, and names the column;
// ValidateArrowBatch refuses such client data too.
#include "engine/arrow_validation.h"

#include "engine_test_util.h"

#include <arrow/util/key_value_metadata.h>

#include <limits>

namespace hyprstream::engine {
namespace {

using testing::ArrayFromJson;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const arrow::Decimal128 kTenTo38 = arrow::Decimal128::GetScaleMultiplier(38);

// decimal128(38, 0) holding `values` as is (the builder does not check precision);
// nullopt is a null slot whose bytes hold 10^38.
std::shared_ptr<arrow::Array> Wide(const std::vector<std::optional<arrow::Decimal128>>& values) {
  arrow::Decimal128Builder builder(arrow::decimal128(38, 0));
  for (const auto& value : values) {
    EXPECT_TRUE(builder.Append(value.value_or(kTenTo38)).ok());
  }
  auto array = builder.Finish().ValueOrDie();
  if (std::none_of(values.begin(), values.end(), [](const auto& v) { return !v; })) return array;
  arrow::TypedBufferBuilder<bool> validity;
  for (const auto& value : values) EXPECT_TRUE(validity.Append(value.has_value()).ok());
  auto data = array->data()->Copy();
  data->buffers[0] = validity.Finish().ValueOrDie();
  data->null_count = arrow::kUnknownNullCount;
  return arrow::MakeArray(data);
}

std::shared_ptr<arrow::RecordBatch> OneColumn(std::shared_ptr<arrow::Array> column,
                                              std::string type_name = "") {
  auto field = arrow::field("v", column->type());
  if (!type_name.empty()) {
    field = field->WithMetadata(
        arrow::key_value_metadata({"ARROW:FLIGHT:SQL:TYPE_NAME"}, {std::move(type_name)}));
  }
  int64_t rows = column->length();
  return arrow::RecordBatch::Make(arrow::schema({field}), rows, {std::move(column)});
}

TEST(CheckDecimalPrecision, AcceptsThirtyEightDigitsAndNullSlots) {
  auto batch = OneColumn(Wide({kTenTo38 - 1, -(kTenTo38 - 1), std::nullopt, 0}));
  EXPECT_TRUE(CheckDecimalPrecision(*batch).ok());
  // The same as full validation says: null slots are not values.
  EXPECT_TRUE(batch->ValidateFull().ok());
}

TEST(CheckDecimalPrecision, RefusesThirtyNineDigitsNamingColumnTypeAndValue) {
  auto batch = OneColumn(Wide({1, kTenTo38}), "HUGEINT");
  ASSERT_FALSE(batch->ValidateFull().ok());  // what a client's validation would say
  arrow::Status status = CheckDecimalPrecision(*batch);
  ASSERT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_TRUE(Contains(status.message(),
                       "column \"v\" (HUGEINT) holds the value "
                       "100000000000000000000000000000000000000, which has more digits than its "
                       "Arrow type decimal128(38, 0) can carry"))
      << status.message();
  EXPECT_TRUE(Contains(status.message(), "CAST the column to VARCHAR")) << status.message();
  EXPECT_TRUE(CheckDecimalPrecision(*OneColumn(Wide({-kTenTo38}))).IsInvalid());
}

// -2^127 (HUGEINT's minimum, 39 digits) passes Arrow's own ValidateFull, whose absolute value
// overflows; it does not fit decimal128(38, 0) all the same.
TEST(CheckDecimalPrecision, RefusesTheInt128Minimum) {
  const arrow::Decimal128 minimum(std::numeric_limits<int64_t>::min(), 0);
  EXPECT_EQ(minimum.ToString(0), "-170141183460469231731687303715884105728");
  arrow::Status status = CheckDecimalPrecision(*OneColumn(Wide({minimum})));
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "-170141183460469231731687303715884105728"));
  // Client data (ingest, parameters) is refused too, though ValidateFull passes it.
  auto batch = OneColumn(Wide({minimum}));
  EXPECT_TRUE(batch->ValidateFull().ok());
  status = ValidateArrowBatch(*batch);
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_TRUE(Contains(status.message(),
                       "column \"v\" of the Arrow data is invalid: the decimal "
                       "value -170141183460469231731687303715884105728 does not "
                       "fit in the precision of decimal128(38, 0)"))
      << status.message();
}

TEST(CheckDecimalPrecision, LooksInsideListsStructsAndDictionaries) {
  auto values = Wide({1, kTenTo38});
  auto offsets = ArrayFromJson(arrow::int32(), "[0, 1, 2]");
  auto list = arrow::ListArray::FromArrays(*offsets, *values).ValueOrDie();
  EXPECT_TRUE(CheckDecimalPrecision(*OneColumn(list)).IsInvalid());

  auto structs = arrow::StructArray::Make({values}, {"a"}).ValueOrDie();
  EXPECT_TRUE(CheckDecimalPrecision(*OneColumn(structs)).IsInvalid());

  auto indices = ArrayFromJson(arrow::int8(), "[1, 0]");
  auto dict = arrow::DictionaryArray::FromArrays(arrow::dictionary(arrow::int8(), values->type()),
                                                 indices, values)
                  .ValueOrDie();
  EXPECT_TRUE(CheckDecimalPrecision(*OneColumn(dict)).IsInvalid());

  auto fine = arrow::StructArray::Make({Wide({1, 2})}, {"a"}).ValueOrDie();
  EXPECT_TRUE(CheckDecimalPrecision(*OneColumn(fine)).ok());
}

TEST(CheckDecimalPrecision, ReadsOnlyTheSliceOfATopLevelColumn) {
  auto values = Wide({kTenTo38, 1, std::nullopt, 2, kTenTo38});
  EXPECT_TRUE(CheckDecimalPrecision(*OneColumn(values->Slice(1, 3))).ok());
  EXPECT_TRUE(CheckDecimalPrecision(*OneColumn(values->Slice(1, 4))).IsInvalid());
  EXPECT_TRUE(CheckDecimalPrecision(*OneColumn(values->Slice(0, 2))).IsInvalid());
}

TEST(CheckDecimalPrecision, IgnoresColumnsWithoutDecimals) {
  auto strings = ArrayFromJson(arrow::utf8(), R"(["a", null])");
  EXPECT_TRUE(CheckDecimalPrecision(*OneColumn(strings)).ok());
}

}  // namespace
}  // namespace hyprstream::engine
