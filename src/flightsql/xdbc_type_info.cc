#include "flightsql/xdbc_type_info.h"

#include <arrow/builder.h>

#include <algorithm>
#include <string>
#include <vector>

namespace hyprstream::flightsql {
namespace {

using arrow::field;

// XDBC data type codes (Flight SQL XdbcDataType; JDBC java.sql.Types for nested types).
enum : int32_t {
  kChar = 1,
  kNumeric = 2,
  kDecimal = 3,
  kInteger = 4,
  kSmallint = 5,
  kReal = 7,
  kDouble = 8,
  kDatetime = 9,
  kInterval = 10,
  kVarchar = 12,
  kDate = 91,
  kTime = 92,
  kTimestamp = 93,
  kVarbinary = -3,
  kBigint = -5,
  kTinyint = -6,
  kBit = -7,
  kStruct = 2002,
  kArray = 2003,
  kJavaObject = 2000,
};

struct TypeRow {
  const char* name;
  int32_t data_type;
  std::optional<int32_t> column_size;
  const char* literal_prefix;  // nullptr: none
  std::vector<std::string> create_params;
  bool case_sensitive;
  std::optional<bool> is_unsigned;  // unset for non-numeric types
  bool fixed_prec_scale;
  std::optional<int32_t> minimum_scale, maximum_scale;
  std::optional<int32_t> datetime_subcode;
  std::optional<int32_t> num_prec_radix;
};

const std::vector<TypeRow>& Rows() {
  static const std::vector<TypeRow> kRows = [] {
    std::vector<TypeRow> rows = {
        {"BOOLEAN", kBit, 1, nullptr, {}, false, std::nullopt, false, {}, {}, {}, {}},
        {"TINYINT", kTinyint, 3, nullptr, {}, false, false, true, 0, 0, {}, 10},
        {"UTINYINT", kTinyint, 3, nullptr, {}, false, true, true, 0, 0, {}, 10},
        {"SMALLINT", kSmallint, 5, nullptr, {}, false, false, true, 0, 0, {}, 10},
        {"USMALLINT", kSmallint, 5, nullptr, {}, false, true, true, 0, 0, {}, 10},
        {"INTEGER", kInteger, 10, nullptr, {}, false, false, true, 0, 0, {}, 10},
        {"UINTEGER", kInteger, 10, nullptr, {}, false, true, true, 0, 0, {}, 10},
        {"BIGINT", kBigint, 19, nullptr, {}, false, false, true, 0, 0, {}, 10},
        {"UBIGINT", kBigint, 20, nullptr, {}, false, true, true, 0, 0, {}, 10},
        // 38 digits: what results carry (decimal128(38, 0)); wider values fail the query.
        {"HUGEINT", kNumeric, 38, nullptr, {}, false, false, true, 0, 0, {}, 10},
        {"UHUGEINT", kNumeric, 39, nullptr, {}, false, true, true, 0, 0, {}, 10},
        {"DECIMAL",
         kDecimal,
         38,
         nullptr,
         {"precision", "scale"},
         false,
         false,
         true,
         0,
         38,
         {},
         10},
        {"FLOAT", kReal, 24, nullptr, {}, false, false, false, {}, {}, {}, 2},
        {"DOUBLE", kDouble, 53, nullptr, {}, false, false, false, {}, {}, {}, 2},
        {"VARCHAR", kVarchar, {}, "'", {}, true, std::nullopt, false, {}, {}, {}, {}},
        {"UUID", kChar, 36, "'", {}, false, std::nullopt, false, {}, {}, {}, {}},
        {"BLOB", kVarbinary, {}, "'", {}, false, std::nullopt, false, {}, {}, {}, {}},
        {"DATE", kDate, 10, "DATE '", {}, false, std::nullopt, false, {}, {}, 1, {}},
        {"TIME", kTime, 15, "TIME '", {}, false, std::nullopt, false, 0, 6, 2, {}},
        {"TIMESTAMP", kTimestamp, 26, "TIMESTAMP '", {}, false, std::nullopt, false, 0, 6, 3, {}},
        {"TIMESTAMP WITH TIME ZONE",
         kTimestamp,
         32,
         "TIMESTAMPTZ '",
         {},
         false,
         std::nullopt,
         false,
         0,
         6,
         3,
         {}},
        {"INTERVAL", kInterval, {}, "INTERVAL '", {}, false, std::nullopt, false, {}, {}, {}, {}},
        {"LIST", kArray, {}, nullptr, {}, false, std::nullopt, false, {}, {}, {}, {}},
        {"ARRAY", kArray, {}, nullptr, {"size"}, false, std::nullopt, false, {}, {}, {}, {}},
        {"STRUCT", kStruct, {}, nullptr, {}, false, std::nullopt, false, {}, {}, {}, {}},
        {"MAP", kJavaObject, {}, nullptr, {}, false, std::nullopt, false, {}, {}, {}, {}},
    };
    std::stable_sort(rows.begin(), rows.end(), [](const TypeRow& a, const TypeRow& b) {
      if (a.data_type != b.data_type) return a.data_type < b.data_type;
      return std::string(a.name) < std::string(b.name);
    });
    return rows;
  }();
  return kRows;
}

template <typename Builder, typename T>
arrow::Status AppendOptional(Builder* builder, const std::optional<T>& value) {
  return value ? builder->Append(*value) : builder->AppendNull();
}

}  // namespace

std::shared_ptr<arrow::Schema> XdbcTypeInfoSchema() {
  return arrow::schema({
      field("type_name", arrow::utf8(), false),
      field("data_type", arrow::int32(), false),
      field("column_size", arrow::int32()),
      field("literal_prefix", arrow::utf8()),
      field("literal_suffix", arrow::utf8()),
      field("create_params", arrow::list(field("item", arrow::utf8(), false))),
      field("nullable", arrow::int32(), false),
      field("case_sensitive", arrow::boolean(), false),
      field("searchable", arrow::int32(), false),
      field("unsigned_attribute", arrow::boolean()),
      field("fixed_prec_scale", arrow::boolean(), false),
      field("auto_increment", arrow::boolean()),
      field("local_type_name", arrow::utf8()),
      field("minimum_scale", arrow::int32()),
      field("maximum_scale", arrow::int32()),
      field("sql_data_type", arrow::int32(), false),
      field("datetime_subcode", arrow::int32()),
      field("num_prec_radix", arrow::int32()),
      field("interval_precision", arrow::int32()),
  });
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> XdbcTypeInfo(std::optional<int32_t> data_type) {
  auto schema = XdbcTypeInfoSchema();
  arrow::StringBuilder type_name, literal_prefix, literal_suffix, local_type_name;
  arrow::Int32Builder data_type_b, column_size, nullable, searchable, minimum_scale, maximum_scale,
      sql_data_type, datetime_subcode, num_prec_radix, interval_precision;
  arrow::BooleanBuilder case_sensitive, unsigned_attribute, fixed_prec_scale, auto_increment;
  auto params_type = schema->GetFieldByName("create_params")->type();
  arrow::ListBuilder create_params(arrow::default_memory_pool(),
                                   std::make_shared<arrow::StringBuilder>(), params_type);
  auto& param_items = static_cast<arrow::StringBuilder&>(*create_params.value_builder());

  constexpr int32_t kNullable = 1;    // XDBC_NULLABILITY_NULLABLE
  constexpr int32_t kSearchable = 3;  // XDBC_SEARCHABLE_FULL
  int64_t rows = 0;
  for (const TypeRow& row : Rows()) {
    if (data_type && row.data_type != *data_type) continue;
    ++rows;
    const bool is_datetime =
        row.data_type == kDate || row.data_type == kTime || row.data_type == kTimestamp;
    ARROW_RETURN_NOT_OK(type_name.Append(row.name));
    ARROW_RETURN_NOT_OK(data_type_b.Append(row.data_type));
    ARROW_RETURN_NOT_OK(AppendOptional(&column_size, row.column_size));
    if (row.literal_prefix != nullptr) {
      ARROW_RETURN_NOT_OK(literal_prefix.Append(row.literal_prefix));
      ARROW_RETURN_NOT_OK(literal_suffix.Append("'"));
    } else {
      ARROW_RETURN_NOT_OK(literal_prefix.AppendNull());
      ARROW_RETURN_NOT_OK(literal_suffix.AppendNull());
    }
    if (row.create_params.empty()) {
      ARROW_RETURN_NOT_OK(create_params.AppendNull());
    } else {
      ARROW_RETURN_NOT_OK(create_params.Append());
      ARROW_RETURN_NOT_OK(param_items.AppendValues(row.create_params));
    }
    ARROW_RETURN_NOT_OK(nullable.Append(kNullable));
    ARROW_RETURN_NOT_OK(case_sensitive.Append(row.case_sensitive));
    ARROW_RETURN_NOT_OK(searchable.Append(kSearchable));
    ARROW_RETURN_NOT_OK(AppendOptional(&unsigned_attribute, row.is_unsigned));
    ARROW_RETURN_NOT_OK(fixed_prec_scale.Append(row.fixed_prec_scale));
    ARROW_RETURN_NOT_OK(auto_increment.Append(false));
    ARROW_RETURN_NOT_OK(local_type_name.Append(row.name));
    ARROW_RETURN_NOT_OK(AppendOptional(&minimum_scale, row.minimum_scale));
    ARROW_RETURN_NOT_OK(AppendOptional(&maximum_scale, row.maximum_scale));
    ARROW_RETURN_NOT_OK(sql_data_type.Append(is_datetime ? kDatetime : row.data_type));
    ARROW_RETURN_NOT_OK(AppendOptional(&datetime_subcode, row.datetime_subcode));
    ARROW_RETURN_NOT_OK(AppendOptional(&num_prec_radix, row.num_prec_radix));
    ARROW_RETURN_NOT_OK(interval_precision.AppendNull());
  }
  arrow::ArrayVector columns(19);
  ARROW_RETURN_NOT_OK(type_name.Finish(&columns[0]));
  ARROW_RETURN_NOT_OK(data_type_b.Finish(&columns[1]));
  ARROW_RETURN_NOT_OK(column_size.Finish(&columns[2]));
  ARROW_RETURN_NOT_OK(literal_prefix.Finish(&columns[3]));
  ARROW_RETURN_NOT_OK(literal_suffix.Finish(&columns[4]));
  ARROW_RETURN_NOT_OK(create_params.Finish(&columns[5]));
  ARROW_RETURN_NOT_OK(nullable.Finish(&columns[6]));
  ARROW_RETURN_NOT_OK(case_sensitive.Finish(&columns[7]));
  ARROW_RETURN_NOT_OK(searchable.Finish(&columns[8]));
  ARROW_RETURN_NOT_OK(unsigned_attribute.Finish(&columns[9]));
  ARROW_RETURN_NOT_OK(fixed_prec_scale.Finish(&columns[10]));
  ARROW_RETURN_NOT_OK(auto_increment.Finish(&columns[11]));
  ARROW_RETURN_NOT_OK(local_type_name.Finish(&columns[12]));
  ARROW_RETURN_NOT_OK(minimum_scale.Finish(&columns[13]));
  ARROW_RETURN_NOT_OK(maximum_scale.Finish(&columns[14]));
  ARROW_RETURN_NOT_OK(sql_data_type.Finish(&columns[15]));
  ARROW_RETURN_NOT_OK(datetime_subcode.Finish(&columns[16]));
  ARROW_RETURN_NOT_OK(num_prec_radix.Finish(&columns[17]));
  ARROW_RETURN_NOT_OK(interval_precision.Finish(&columns[18]));
  return arrow::RecordBatch::Make(schema, rows, std::move(columns));
}

}  // namespace hyprstream::flightsql
