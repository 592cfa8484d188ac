#include "engine/arrow_to_duckdb_value.h"

#include "engine/arrow_to_duckdb_type.h"
#include "engine/duckdb_status.h"

#include <arrow/array.h>
#include <arrow/record_batch.h>
#include <arrow/extension_type.h>
#include <arrow/type.h>
#include <arrow/util/decimal.h>

#include <cstring>
#include <string_view>
#include <vector>

namespace hyprstream::engine {

namespace {

int64_t FloorDiv(int64_t value, int64_t divisor) {
  int64_t q = value / divisor;
  if ((value % divisor != 0) && ((value < 0) != (divisor < 0))) --q;
  return q;
}

// Nanoseconds become microseconds truncated toward zero, the rule of DuckDB's Arrow reader
// (bulk ingest, streaming DoPut) and of its own TIMESTAMP_NS casts, so a value is stored the
// same whichever way it arrives.
int64_t NanosToMicros(int64_t nanos) { return nanos / 1000; }

int64_t ToMicros(int64_t value, arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND: return value * 1000000;
    case arrow::TimeUnit::MILLI: return value * 1000;
    case arrow::TimeUnit::MICRO: return value;
    case arrow::TimeUnit::NANO: return NanosToMicros(value);
  }
  return value;
}

arrow::Result<ValueHandle> Checked(duckdb_value value, const arrow::DataType& type) {
  if (value == nullptr) {
    return arrow::Status::Invalid("DuckDB could not build a value of Arrow type ",
                                  type.ToString());
  }
  return ValueHandle(value);
}

ValueHandle Blob(std::string_view bytes) {
  return ValueHandle(
      duckdb_create_blob(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

ValueHandle Varchar(std::string_view text) {
  return ValueHandle(duckdb_create_varchar_length(text.data(), text.size()));
}

arrow::Result<ValueHandle> Uuid(std::string_view bytes) {
  // DuckDB's uhugeint form of a UUID is its 16 bytes read as one big-endian number.
  duckdb_uhugeint value{0, 0};
  for (int i = 0; i < 8; ++i) value.upper = (value.upper << 8) | static_cast<uint8_t>(bytes[i]);
  for (int i = 8; i < 16; ++i) value.lower = (value.lower << 8) | static_cast<uint8_t>(bytes[i]);
  return ValueHandle(duckdb_create_uuid(value));
}

arrow::Result<ValueHandle> Decimal(const arrow::Array& array, int64_t index) {
  const auto& type = static_cast<const arrow::DecimalType&>(*array.type());
  if (type.precision() > 38) {
    return arrow::Status::NotImplemented("Arrow type ", type.ToString(),
                                         ": DuckDB DECIMAL precision is at most 38");
  }
  duckdb_hugeint value{0, 0};
  switch (array.type_id()) {
    case arrow::Type::DECIMAL32: {
      const uint8_t* raw = static_cast<const arrow::Decimal32Array&>(array).GetValue(index);
      int32_t x;
      std::memcpy(&x, raw, sizeof(x));
      value.lower = static_cast<uint64_t>(static_cast<int64_t>(x));
      value.upper = x < 0 ? -1 : 0;
      break;
    }
    case arrow::Type::DECIMAL64: {
      const uint8_t* raw = static_cast<const arrow::Decimal64Array&>(array).GetValue(index);
      int64_t x;
      std::memcpy(&x, raw, sizeof(x));
      value.lower = static_cast<uint64_t>(x);
      value.upper = x < 0 ? -1 : 0;
      break;
    }
    case arrow::Type::DECIMAL128: {
      arrow::Decimal128 x(static_cast<const arrow::Decimal128Array&>(array).GetValue(index));
      value.lower = x.low_bits();
      value.upper = x.high_bits();
      break;
    }
    case arrow::Type::DECIMAL256: {
      arrow::Decimal256 x(static_cast<const arrow::Decimal256Array&>(array).GetValue(index));
      auto words = x.little_endian_array();
      value.lower = words[0];
      value.upper = static_cast<int64_t>(words[1]);
      break;
    }
    default:
      return arrow::Status::NotImplemented("Arrow type ", type.ToString());
  }
  duckdb_decimal dec{static_cast<uint8_t>(type.precision()), static_cast<uint8_t>(type.scale()),
                     value};
  return Checked(duckdb_create_decimal(dec), type);
}

// Converts `length` slots of `values` starting at `offset`; keeps them alive in `owned`.
arrow::Status Children(const arrow::Array& values, int64_t offset, int64_t length,
                       std::vector<ValueHandle>* owned, std::vector<duckdb_value>* raw) {
  owned->reserve(length);
  raw->reserve(length);
  for (int64_t i = 0; i < length; ++i) {
    ARROW_ASSIGN_OR_RAISE(auto child, ArrowToDuckDbValue(values, offset + i));
    raw->push_back(child.get());
    owned->push_back(std::move(child));
  }
  return arrow::Status::OK();
}

template <typename ListArrayType>
arrow::Result<ValueHandle> List(const arrow::Array& array, int64_t index) {
  const auto& list = static_cast<const ListArrayType&>(array);
  ARROW_ASSIGN_OR_RAISE(auto child_type, ArrowToDuckDbLogicalType(*list.value_type()));
  std::vector<ValueHandle> owned;
  std::vector<duckdb_value> raw;
  ARROW_RETURN_NOT_OK(Children(*list.values(), list.value_offset(index),
                               list.value_length(index), &owned, &raw));
  return Checked(duckdb_create_list_value(child_type.get(), raw.data(), raw.size()),
                 *array.type());
}

}  // namespace

arrow::Result<ValueHandle> ArrowToDuckDbValue(const arrow::Array& array, int64_t index) {
  using arrow::Type;
  if (array.type_id() != Type::SPARSE_UNION && array.type_id() != Type::DENSE_UNION &&
      array.IsNull(index)) {
    return ValueHandle(duckdb_create_null_value());
  }
  const arrow::DataType& type = *array.type();
  switch (type.id()) {
    case Type::NA: return ValueHandle(duckdb_create_null_value());
    case Type::BOOL:
      return ValueHandle(
          duckdb_create_bool(static_cast<const arrow::BooleanArray&>(array).Value(index)));
    case Type::INT8:
      return ValueHandle(
          duckdb_create_int8(static_cast<const arrow::Int8Array&>(array).Value(index)));
    case Type::INT16:
      return ValueHandle(
          duckdb_create_int16(static_cast<const arrow::Int16Array&>(array).Value(index)));
    case Type::INT32:
      return ValueHandle(
          duckdb_create_int32(static_cast<const arrow::Int32Array&>(array).Value(index)));
    case Type::INT64:
      return ValueHandle(
          duckdb_create_int64(static_cast<const arrow::Int64Array&>(array).Value(index)));
    case Type::UINT8:
      return ValueHandle(
          duckdb_create_uint8(static_cast<const arrow::UInt8Array&>(array).Value(index)));
    case Type::UINT16:
      return ValueHandle(
          duckdb_create_uint16(static_cast<const arrow::UInt16Array&>(array).Value(index)));
    case Type::UINT32:
      return ValueHandle(
          duckdb_create_uint32(static_cast<const arrow::UInt32Array&>(array).Value(index)));
    case Type::UINT64:
      return ValueHandle(
          duckdb_create_uint64(static_cast<const arrow::UInt64Array&>(array).Value(index)));
    case Type::FLOAT:
      return ValueHandle(
          duckdb_create_float(static_cast<const arrow::FloatArray&>(array).Value(index)));
    case Type::DOUBLE:
      return ValueHandle(
          duckdb_create_double(static_cast<const arrow::DoubleArray&>(array).Value(index)));
    case Type::STRING:
      return Varchar(static_cast<const arrow::StringArray&>(array).GetView(index));
    case Type::LARGE_STRING:
      return Varchar(static_cast<const arrow::LargeStringArray&>(array).GetView(index));
    case Type::STRING_VIEW:
      return Varchar(static_cast<const arrow::StringViewArray&>(array).GetView(index));
    case Type::BINARY:
      return Blob(static_cast<const arrow::BinaryArray&>(array).GetView(index));
    case Type::LARGE_BINARY:
      return Blob(static_cast<const arrow::LargeBinaryArray&>(array).GetView(index));
    case Type::BINARY_VIEW:
      return Blob(static_cast<const arrow::BinaryViewArray&>(array).GetView(index));
    case Type::FIXED_SIZE_BINARY:
      return Blob(static_cast<const arrow::FixedSizeBinaryArray&>(array).GetView(index));
    case Type::DATE32:
      return ValueHandle(duckdb_create_date(
          duckdb_date{static_cast<const arrow::Date32Array&>(array).Value(index)}));
    case Type::DATE64: {
      int64_t ms = static_cast<const arrow::Date64Array&>(array).Value(index);
      return ValueHandle(
          duckdb_create_date(duckdb_date{static_cast<int32_t>(FloorDiv(ms, 86400000))}));
    }
    case Type::TIME32: {
      const auto& t = static_cast<const arrow::Time32Type&>(type);
      int64_t v = static_cast<const arrow::Time32Array&>(array).Value(index);
      return ValueHandle(duckdb_create_time(duckdb_time{ToMicros(v, t.unit())}));
    }
    case Type::TIME64: {
      const auto& t = static_cast<const arrow::Time64Type&>(type);
      int64_t v = static_cast<const arrow::Time64Array&>(array).Value(index);
      return ValueHandle(duckdb_create_time(duckdb_time{ToMicros(v, t.unit())}));
    }
    case Type::TIMESTAMP: {
      const auto& t = static_cast<const arrow::TimestampType&>(type);
      int64_t v = static_cast<const arrow::TimestampArray&>(array).Value(index);
      if (!t.timezone().empty()) {
        return ValueHandle(duckdb_create_timestamp_tz(duckdb_timestamp{ToMicros(v, t.unit())}));
      }
      switch (t.unit()) {
        case arrow::TimeUnit::SECOND:
          return ValueHandle(duckdb_create_timestamp_s(duckdb_timestamp_s{v}));
        case arrow::TimeUnit::MILLI:
          return ValueHandle(duckdb_create_timestamp_ms(duckdb_timestamp_ms{v}));
        case arrow::TimeUnit::MICRO:
          return ValueHandle(duckdb_create_timestamp(duckdb_timestamp{v}));
        case arrow::TimeUnit::NANO:
          return ValueHandle(duckdb_create_timestamp_ns(duckdb_timestamp_ns{v}));
      }
      break;
    }
    case Type::DURATION: {
      const auto& t = static_cast<const arrow::DurationType&>(type);
      int64_t v = static_cast<const arrow::DurationArray&>(array).Value(index);
      return ValueHandle(duckdb_create_interval(duckdb_interval{0, 0, ToMicros(v, t.unit())}));
    }
    case Type::INTERVAL_MONTHS: {
      int32_t months = static_cast<const arrow::MonthIntervalArray&>(array).Value(index);
      return ValueHandle(duckdb_create_interval(duckdb_interval{months, 0, 0}));
    }
    case Type::INTERVAL_DAY_TIME: {
      auto v = static_cast<const arrow::DayTimeIntervalArray&>(array).Value(index);
      return ValueHandle(duckdb_create_interval(
          duckdb_interval{0, v.days, static_cast<int64_t>(v.milliseconds) * 1000}));
    }
    case Type::INTERVAL_MONTH_DAY_NANO: {
      auto v = static_cast<const arrow::MonthDayNanoIntervalArray&>(array).Value(index);
      return ValueHandle(duckdb_create_interval(
          duckdb_interval{v.months, v.days, NanosToMicros(v.nanoseconds)}));
    }
    case Type::DECIMAL32:
    case Type::DECIMAL64:
    case Type::DECIMAL128:
    case Type::DECIMAL256:
      return Decimal(array, index);
    case Type::LIST: return List<arrow::ListArray>(array, index);
    case Type::LARGE_LIST: return List<arrow::LargeListArray>(array, index);
    case Type::LIST_VIEW: return List<arrow::ListViewArray>(array, index);
    case Type::LARGE_LIST_VIEW: return List<arrow::LargeListViewArray>(array, index);
    case Type::FIXED_SIZE_LIST: {
      const auto& list = static_cast<const arrow::FixedSizeListArray&>(array);
      ARROW_ASSIGN_OR_RAISE(auto child_type, ArrowToDuckDbLogicalType(*list.value_type()));
      std::vector<ValueHandle> owned;
      std::vector<duckdb_value> raw;
      ARROW_RETURN_NOT_OK(Children(*list.values(), list.value_offset(index),
                                   list.value_length(index), &owned, &raw));
      return Checked(duckdb_create_array_value(child_type.get(), raw.data(), raw.size()), type);
    }
    case Type::STRUCT: {
      const auto& st = static_cast<const arrow::StructArray&>(array);
      ARROW_ASSIGN_OR_RAISE(auto struct_type, ArrowToDuckDbLogicalType(type));
      std::vector<ValueHandle> owned;
      std::vector<duckdb_value> raw;
      for (int i = 0; i < st.num_fields(); ++i) {
        // field(i) already accounts for the struct's own offset.
        ARROW_RETURN_NOT_OK(Children(*st.field(i), index, 1, &owned, &raw));
      }
      return Checked(duckdb_create_struct_value(struct_type.get(), raw.data()), type);
    }
    case Type::MAP: {
      const auto& map = static_cast<const arrow::MapArray&>(array);
      ARROW_ASSIGN_OR_RAISE(auto map_type, ArrowToDuckDbLogicalType(type));
      std::vector<ValueHandle> owned_keys, owned_items;
      std::vector<duckdb_value> keys, items;
      int64_t offset = map.value_offset(index), length = map.value_length(index);
      ARROW_RETURN_NOT_OK(Children(*map.keys(), offset, length, &owned_keys, &keys));
      ARROW_RETURN_NOT_OK(Children(*map.items(), offset, length, &owned_items, &items));
      return Checked(
          duckdb_create_map_value(map_type.get(), keys.data(), items.data(), keys.size()), type);
    }
    case Type::DICTIONARY: {
      const auto& dict = static_cast<const arrow::DictionaryArray&>(array);
      return ArrowToDuckDbValue(*dict.dictionary(), dict.GetValueIndex(index));
    }
    case Type::EXTENSION: {
      const auto& ext_type = static_cast<const arrow::ExtensionType&>(type);
      const auto& storage = *static_cast<const arrow::ExtensionArray&>(array).storage();
      if (ext_type.extension_name() == "arrow.uuid" &&
          storage.type_id() == Type::FIXED_SIZE_BINARY) {
        return Uuid(static_cast<const arrow::FixedSizeBinaryArray&>(storage).GetView(index));
      }
      if (ext_type.extension_name() == "arrow.bool8" && storage.type_id() == Type::INT8) {
        return ValueHandle(
            duckdb_create_bool(static_cast<const arrow::Int8Array&>(storage).Value(index) != 0));
      }
      return ArrowToDuckDbValue(storage, index);
    }
    default:
      break;
  }
  return arrow::Status::NotImplemented("binding a parameter of Arrow type ", type.ToString(),
                                       " is not supported");
}

arrow::Status BindParameterRow(duckdb_prepared_statement statement,
                               const arrow::RecordBatch& parameters, int64_t row) {
  idx_t expected = duckdb_nparams(statement);
  if (static_cast<idx_t>(parameters.num_columns()) != expected) {
    return arrow::Status::Invalid("the statement takes ", expected, " parameter(s) but ",
                                  parameters.num_columns(), " were bound");
  }
  if (duckdb_clear_bindings(statement) != DuckDBSuccess) {
    return arrow::Status::IOError("DuckDB: cannot clear parameter bindings");
  }
  for (int i = 0; i < parameters.num_columns(); ++i) {
    auto value = ArrowToDuckDbValue(*parameters.column(i), row);
    if (!value.ok()) {
      return value.status().WithMessage("parameter ", i + 1, " (",
                                        parameters.schema()->field(i)->name(),
                                        "): ", value.status().message());
    }
    if (duckdb_bind_value(statement, static_cast<idx_t>(i + 1), value->get()) != DuckDBSuccess) {
      const char* error = duckdb_prepare_error(statement);
      return StatusFromDuckDbMessage(error != nullptr ? error : "bind failed",
                                     "binding parameter " + std::to_string(i + 1));
    }
  }
  return arrow::Status::OK();
}

}  // namespace hyprstream::engine
