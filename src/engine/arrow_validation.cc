#include "engine/arrow_validation.h"

#include <arrow/array.h>
#include <arrow/extension_type.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/decimal.h>
#include <arrow/util/endian.h>
#include <arrow/util/key_value_metadata.h>

#include <cstring>
#include <optional>
#include <string>

#include "engine/arrow_to_duckdb_type.h"

namespace hyprstream::engine {
namespace {

constexpr char kTypeNameKey[] = "ARROW:FLIGHT:SQL:TYPE_NAME";

const arrow::DataType& StorageType(const arrow::DataType& type) {
  if (type.id() != arrow::Type::EXTENSION) return type;
  return *static_cast<const arrow::ExtensionType&>(type).storage_type();
}

bool HasDecimal(const arrow::DataType& type) {
  const arrow::DataType& storage = StorageType(type);
  if (arrow::is_decimal(storage.id())) return true;
  if (storage.id() == arrow::Type::DICTIONARY) {
    return HasDecimal(*static_cast<const arrow::DictionaryType&>(storage).value_type());
  }
  for (const auto& child : storage.fields()) {
    if (HasDecimal(*child->type())) return true;
  }
  return false;
}

// A decimal value with more digits than its type's precision.
struct TooWide {
  std::string value;
  std::string type;
};

// The first value of a decimal array with more digits than its precision, if any.
template <typename ArrayType, typename ValueType>
std::optional<TooWide> FirstTooWide(const std::shared_ptr<arrow::ArrayData>& data,
                                    const arrow::DecimalType& type) {
  ArrayType array(data);
  // Not FitsInPrecision: its absolute value of the type's minimum (-2^127 for decimal128, a
  // HUGEINT's minimum) overflows to itself and passes, as it does in Arrow's ValidateFull.
  const ValueType limit = ValueType::GetScaleMultiplier(type.precision());
  const ValueType negative_limit = -limit;
  for (int64_t i = 0; i < array.length(); ++i) {
    if (array.IsNull(i)) continue;
    ValueType value(array.GetValue(i));
    if (!(negative_limit < value && value < limit)) {
      return TooWide{value.ToString(type.scale()), type.ToString()};
    }
  }
  return std::nullopt;
}

// The same for decimal128, the type of every DuckDB DECIMAL and HUGEINT: a tight loop over the
// buffer (values are little-endian two's-complement 128-bit integers), since it runs on every
// result.
std::optional<TooWide> FirstTooWide128(const std::shared_ptr<arrow::ArrayData>& data,
                                       const arrow::DecimalType& type) {
#if !ARROW_LITTLE_ENDIAN
  return FirstTooWide<arrow::Decimal128Array, arrow::Decimal128>(data, type);
#else
  if (data->length == 0 || data->buffers.size() < 2 || data->buffers[1] == nullptr) {
    return std::nullopt;
  }
  __int128 limit = 1;  // 10^precision; precision <= 38 < log10(2^127)
  for (int i = 0; i < type.precision(); ++i) limit *= 10;
  const uint8_t* values = data->buffers[1]->data() + data->offset * 16;
  const uint8_t* validity =
      data->buffers[0] != nullptr && data->null_count != 0 ? data->buffers[0]->data() : nullptr;
  for (int64_t i = 0; i < data->length; ++i) {
    __int128 value;
    std::memcpy(&value, values + i * 16, sizeof(value));
    if (value > -limit && value < limit) continue;
    if (validity != nullptr && !arrow::bit_util::GetBit(validity, data->offset + i)) continue;
    return TooWide{arrow::Decimal128(values + i * 16).ToString(type.scale()), type.ToString()};
  }
  return std::nullopt;
#endif
}

// Reads `data`'s own slice and its children whole: a child value outside the parent's slice is
// not a row of the result, but its buffers are sent, and full validation reads them.
std::optional<TooWide> FindTooWide(const std::shared_ptr<arrow::ArrayData>& data,
                                   const arrow::DataType& type) {
  const arrow::DataType& storage = StorageType(type);
  if (!HasDecimal(storage)) return std::nullopt;
  auto with_storage_type = [&] {
    if (&storage == &type) return data;
    auto copy = data->Copy();
    copy->type = static_cast<const arrow::ExtensionType&>(type).storage_type();
    return copy;
  };
  switch (storage.id()) {
    case arrow::Type::DECIMAL128:
      return FirstTooWide128(with_storage_type(), static_cast<const arrow::DecimalType&>(storage));
    case arrow::Type::DECIMAL256:
      return FirstTooWide<arrow::Decimal256Array, arrow::Decimal256>(
          with_storage_type(), static_cast<const arrow::DecimalType&>(storage));
    case arrow::Type::DECIMAL32:
      return FirstTooWide<arrow::Decimal32Array, arrow::Decimal32>(
          with_storage_type(), static_cast<const arrow::DecimalType&>(storage));
    case arrow::Type::DECIMAL64:
      return FirstTooWide<arrow::Decimal64Array, arrow::Decimal64>(
          with_storage_type(), static_cast<const arrow::DecimalType&>(storage));
    case arrow::Type::DICTIONARY:
      if (data->dictionary == nullptr) return std::nullopt;
      return FindTooWide(data->dictionary,
                         *static_cast<const arrow::DictionaryType&>(storage).value_type());
    default:
      break;
  }
  for (int i = 0; i < storage.num_fields() && i < static_cast<int>(data->child_data.size()); ++i) {
    auto found = FindTooWide(data->child_data[i], *storage.field(i)->type());
    if (found) return found;
  }
  return std::nullopt;
}

}  // namespace

arrow::Status ValidateArrowBatch(const arrow::RecordBatch& batch) {
  for (int i = 0; i < batch.num_columns(); ++i) {
    const std::shared_ptr<arrow::ArrayData>& column = batch.column_data(i);
    arrow::Status status = column->length != batch.num_rows()
                               ? arrow::Status::Invalid("it has ", column->length, " values for ",
                                                        batch.num_rows(), " rows")
                               : arrow::MakeArray(column)->ValidateFull();
    if (status.ok()) {
      // ValidateFull lets a decimal128's -2^127 through (see FirstTooWide).
      if (auto too_wide = FindTooWide(column, *batch.schema()->field(i)->type())) {
        status = arrow::Status::Invalid("the decimal value ", too_wide->value,
                                        " does not fit in the precision of ", too_wide->type);
      }
    }
    if (!status.ok()) {
      return arrow::Status::Invalid("column ", QuoteIdentifier(batch.schema()->field(i)->name()),
                                    " of the Arrow data is invalid: ", status.message());
    }
  }
  return arrow::Status::OK();
}

arrow::Status CheckDecimalPrecision(const arrow::RecordBatch& batch) {
  for (int i = 0; i < batch.num_columns(); ++i) {
    const auto& field = batch.schema()->field(i);
    auto too_wide = FindTooWide(batch.column_data(i), *field->type());
    if (!too_wide) continue;
    std::string sql_type;
    if (field->metadata() != nullptr) {
      auto name = field->metadata()->Get(kTypeNameKey);
      if (name.ok()) sql_type = " (" + *name + ")";
    }
    return arrow::Status::Invalid(
        "column ", QuoteIdentifier(field->name()), sql_type, " holds the value ", too_wide->value,
        ", which has more digits than its Arrow type ", too_wide->type,
        " can carry; CAST the column to VARCHAR for the exact value, or to DOUBLE");
  }
  return arrow::Status::OK();
}

}  // namespace hyprstream::engine
