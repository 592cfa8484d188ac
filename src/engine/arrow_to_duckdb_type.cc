#include "engine/arrow_to_duckdb_type.h"

#include <arrow/extension_type.h>
#include <arrow/type.h>
#include <arrow/util/key_value_metadata.h>

#include <algorithm>
#include <cctype>
#include <utility>

namespace hyprstream::engine {

namespace {

constexpr std::string_view kUuidExtension = "arrow.uuid";

bool IsUuid(const arrow::DataType& storage, std::string_view extension_name) {
  return extension_name == kUuidExtension && storage.id() == arrow::Type::FIXED_SIZE_BINARY &&
         static_cast<const arrow::FixedSizeBinaryType&>(storage).byte_width() == 16;
}

arrow::Status Unsupported(const arrow::DataType& type) {
  return arrow::Status::NotImplemented("Arrow type ", type.ToString(), " has no DuckDB equivalent");
}

std::string TimestampName(const arrow::TimestampType& ts) {
  if (!ts.timezone().empty()) return "TIMESTAMPTZ";
  switch (ts.unit()) {
    case arrow::TimeUnit::SECOND:
      return "TIMESTAMP_S";
    case arrow::TimeUnit::MILLI:
      return "TIMESTAMP_MS";
    case arrow::TimeUnit::MICRO:
      return "TIMESTAMP";
    case arrow::TimeUnit::NANO:
      return "TIMESTAMP_NS";
  }
  return "TIMESTAMP";
}

arrow::Result<std::pair<int, int>> DecimalShape(const arrow::DataType& type) {
  const auto& dec = static_cast<const arrow::DecimalType&>(type);
  if (dec.precision() > 38) {
    return arrow::Status::NotImplemented("Arrow type ", type.ToString(),
                                         ": DuckDB DECIMAL precision is at most 38");
  }
  return std::make_pair(dec.precision(), dec.scale());
}

}  // namespace

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string QuoteLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string QualifiedName(const std::optional<std::string>& catalog,
                          const std::optional<std::string>& schema, const std::string& table) {
  std::string out;
  if (catalog) out += QuoteIdentifier(*catalog) + ".";
  if (schema) out += QuoteIdentifier(*schema) + ".";
  out += QuoteIdentifier(table);
  return out;
}

arrow::Result<std::string> ArrowToDuckDbTypeName(const arrow::DataType& type) {
  using arrow::Type;
  switch (type.id()) {
    case Type::NA:
      return "INTEGER";  // what DuckDB itself makes of an all-NULL column
    case Type::BOOL:
      return "BOOLEAN";
    case Type::INT8:
      return "TINYINT";
    case Type::INT16:
      return "SMALLINT";
    case Type::INT32:
      return "INTEGER";
    case Type::INT64:
      return "BIGINT";
    case Type::UINT8:
      return "UTINYINT";
    case Type::UINT16:
      return "USMALLINT";
    case Type::UINT32:
      return "UINTEGER";
    case Type::UINT64:
      return "UBIGINT";
    case Type::HALF_FLOAT:
    case Type::FLOAT:
      return "FLOAT";
    case Type::DOUBLE:
      return "DOUBLE";
    case Type::STRING:
    case Type::LARGE_STRING:
    case Type::STRING_VIEW:
      return "VARCHAR";
    case Type::BINARY:
    case Type::LARGE_BINARY:
    case Type::BINARY_VIEW:
    case Type::FIXED_SIZE_BINARY:
      return "BLOB";
    case Type::DECIMAL32:
    case Type::DECIMAL64:
    case Type::DECIMAL128:
    case Type::DECIMAL256: {
      ARROW_ASSIGN_OR_RAISE(auto shape, DecimalShape(type));
      return "DECIMAL(" + std::to_string(shape.first) + "," + std::to_string(shape.second) + ")";
    }
    case Type::DATE32:
    case Type::DATE64:
      return "DATE";
    case Type::TIME32:
    case Type::TIME64:
      return "TIME";
    case Type::TIMESTAMP:
      return TimestampName(static_cast<const arrow::TimestampType&>(type));
    case Type::INTERVAL_MONTHS:
    case Type::INTERVAL_DAY_TIME:
    case Type::INTERVAL_MONTH_DAY_NANO:
    case Type::DURATION:
      return "INTERVAL";
    case Type::LIST:
    case Type::LARGE_LIST:
    case Type::LIST_VIEW:
    case Type::LARGE_LIST_VIEW: {
      ARROW_ASSIGN_OR_RAISE(auto child, ArrowFieldToDuckDbTypeName(*type.field(0)));
      return child + "[]";
    }
    case Type::FIXED_SIZE_LIST: {
      const auto& fsl = static_cast<const arrow::FixedSizeListType&>(type);
      ARROW_ASSIGN_OR_RAISE(auto child, ArrowFieldToDuckDbTypeName(*fsl.value_field()));
      return child + "[" + std::to_string(fsl.list_size()) + "]";
    }
    case Type::STRUCT: {
      if (type.num_fields() == 0) return Unsupported(type);
      std::string out = "STRUCT(";
      for (int i = 0; i < type.num_fields(); ++i) {
        if (i > 0) out += ", ";
        ARROW_ASSIGN_OR_RAISE(auto child, ArrowFieldToDuckDbTypeName(*type.field(i)));
        out += QuoteIdentifier(type.field(i)->name()) + " " + child;
      }
      return out + ")";
    }
    case Type::MAP: {
      const auto& map = static_cast<const arrow::MapType&>(type);
      ARROW_ASSIGN_OR_RAISE(auto key, ArrowFieldToDuckDbTypeName(*map.key_field()));
      ARROW_ASSIGN_OR_RAISE(auto value, ArrowFieldToDuckDbTypeName(*map.item_field()));
      return "MAP(" + key + ", " + value + ")";
    }
    case Type::SPARSE_UNION:
    case Type::DENSE_UNION: {
      std::string out = "UNION(";
      for (int i = 0; i < type.num_fields(); ++i) {
        if (i > 0) out += ", ";
        ARROW_ASSIGN_OR_RAISE(auto child, ArrowFieldToDuckDbTypeName(*type.field(i)));
        out += QuoteIdentifier(type.field(i)->name()) + " " + child;
      }
      return out + ")";
    }
    case Type::DICTIONARY:
      return ArrowToDuckDbTypeName(*static_cast<const arrow::DictionaryType&>(type).value_type());
    case Type::RUN_END_ENCODED:
      return ArrowToDuckDbTypeName(
          *static_cast<const arrow::RunEndEncodedType&>(type).value_type());
    case Type::EXTENSION: {
      const auto& ext = static_cast<const arrow::ExtensionType&>(type);
      if (IsUuid(*ext.storage_type(), ext.extension_name())) return "UUID";
      if (ext.extension_name() == "arrow.bool8") return "BOOLEAN";
      return ArrowToDuckDbTypeName(*ext.storage_type());
    }
    default:
      return Unsupported(type);
  }
}

arrow::Result<std::string> ArrowFieldToDuckDbTypeName(const arrow::Field& field) {
  if (field.metadata() != nullptr) {
    auto name = field.metadata()->Get("ARROW:extension:name");
    if (name.ok() && IsUuid(*field.type(), *name)) return "UUID";
  }
  return ArrowToDuckDbTypeName(*field.type());
}

arrow::Result<std::string> ColumnDefinitions(const arrow::Schema& schema) {
  if (schema.num_fields() == 0) {
    return arrow::Status::Invalid("cannot create a table without columns");
  }
  std::string out = "(";
  for (int i = 0; i < schema.num_fields(); ++i) {
    const auto& field = *schema.field(i);
    if (i > 0) out += ", ";
    auto type_name = ArrowFieldToDuckDbTypeName(field);
    if (!type_name.ok()) {
      return type_name.status().WithMessage("column ", QuoteIdentifier(field.name()), ": ",
                                            type_name.status().message());
    }
    out += QuoteIdentifier(field.name()) + " " + *type_name;
    if (!field.nullable()) out += " NOT NULL";
  }
  return out + ")";
}

namespace {

LogicalTypeHandle Simple(duckdb_type type) {
  return LogicalTypeHandle(duckdb_create_logical_type(type));
}

duckdb_type TimestampType(const arrow::TimestampType& ts) {
  if (!ts.timezone().empty()) return DUCKDB_TYPE_TIMESTAMP_TZ;
  switch (ts.unit()) {
    case arrow::TimeUnit::SECOND:
      return DUCKDB_TYPE_TIMESTAMP_S;
    case arrow::TimeUnit::MILLI:
      return DUCKDB_TYPE_TIMESTAMP_MS;
    case arrow::TimeUnit::MICRO:
      return DUCKDB_TYPE_TIMESTAMP;
    case arrow::TimeUnit::NANO:
      return DUCKDB_TYPE_TIMESTAMP_NS;
  }
  return DUCKDB_TYPE_TIMESTAMP;
}

arrow::Result<LogicalTypeHandle> StructOrUnion(const arrow::DataType& type, bool is_union) {
  std::vector<LogicalTypeHandle> owned;
  std::vector<duckdb_logical_type> children;
  std::vector<const char*> names;
  for (const auto& field : type.fields()) {
    ARROW_ASSIGN_OR_RAISE(auto child, ArrowToDuckDbLogicalType(*field->type()));
    children.push_back(child.get());
    names.push_back(field->name().c_str());
    owned.push_back(std::move(child));
  }
  if (is_union) {
    return LogicalTypeHandle(
        duckdb_create_union_type(children.data(), names.data(), children.size()));
  }
  return LogicalTypeHandle(
      duckdb_create_struct_type(children.data(), names.data(), children.size()));
}

}  // namespace

arrow::Result<LogicalTypeHandle> ArrowToDuckDbLogicalType(const arrow::DataType& type) {
  using arrow::Type;
  switch (type.id()) {
    case Type::NA:
      return Simple(DUCKDB_TYPE_SQLNULL);
    case Type::BOOL:
      return Simple(DUCKDB_TYPE_BOOLEAN);
    case Type::INT8:
      return Simple(DUCKDB_TYPE_TINYINT);
    case Type::INT16:
      return Simple(DUCKDB_TYPE_SMALLINT);
    case Type::INT32:
      return Simple(DUCKDB_TYPE_INTEGER);
    case Type::INT64:
      return Simple(DUCKDB_TYPE_BIGINT);
    case Type::UINT8:
      return Simple(DUCKDB_TYPE_UTINYINT);
    case Type::UINT16:
      return Simple(DUCKDB_TYPE_USMALLINT);
    case Type::UINT32:
      return Simple(DUCKDB_TYPE_UINTEGER);
    case Type::UINT64:
      return Simple(DUCKDB_TYPE_UBIGINT);
    case Type::HALF_FLOAT:
    case Type::FLOAT:
      return Simple(DUCKDB_TYPE_FLOAT);
    case Type::DOUBLE:
      return Simple(DUCKDB_TYPE_DOUBLE);
    case Type::STRING:
    case Type::LARGE_STRING:
    case Type::STRING_VIEW:
      return Simple(DUCKDB_TYPE_VARCHAR);
    case Type::BINARY:
    case Type::LARGE_BINARY:
    case Type::BINARY_VIEW:
    case Type::FIXED_SIZE_BINARY:
      return Simple(DUCKDB_TYPE_BLOB);
    case Type::DECIMAL32:
    case Type::DECIMAL64:
    case Type::DECIMAL128:
    case Type::DECIMAL256: {
      ARROW_ASSIGN_OR_RAISE(auto shape, DecimalShape(type));
      return LogicalTypeHandle(duckdb_create_decimal_type(static_cast<uint8_t>(shape.first),
                                                          static_cast<uint8_t>(shape.second)));
    }
    case Type::DATE32:
    case Type::DATE64:
      return Simple(DUCKDB_TYPE_DATE);
    case Type::TIME32:
    case Type::TIME64:
      return Simple(DUCKDB_TYPE_TIME);
    case Type::TIMESTAMP:
      return Simple(TimestampType(static_cast<const arrow::TimestampType&>(type)));
    case Type::INTERVAL_MONTHS:
    case Type::INTERVAL_DAY_TIME:
    case Type::INTERVAL_MONTH_DAY_NANO:
    case Type::DURATION:
      return Simple(DUCKDB_TYPE_INTERVAL);
    case Type::LIST:
    case Type::LARGE_LIST:
    case Type::LIST_VIEW:
    case Type::LARGE_LIST_VIEW: {
      ARROW_ASSIGN_OR_RAISE(auto child, ArrowToDuckDbLogicalType(*type.field(0)->type()));
      return LogicalTypeHandle(duckdb_create_list_type(child.get()));
    }
    case Type::FIXED_SIZE_LIST: {
      const auto& fsl = static_cast<const arrow::FixedSizeListType&>(type);
      ARROW_ASSIGN_OR_RAISE(auto child, ArrowToDuckDbLogicalType(*fsl.value_type()));
      return LogicalTypeHandle(duckdb_create_array_type(child.get(), fsl.list_size()));
    }
    case Type::STRUCT:
      if (type.num_fields() == 0) return Unsupported(type);
      return StructOrUnion(type, /*is_union=*/false);
    case Type::SPARSE_UNION:
    case Type::DENSE_UNION:
      return StructOrUnion(type, /*is_union=*/true);
    case Type::MAP: {
      const auto& map = static_cast<const arrow::MapType&>(type);
      ARROW_ASSIGN_OR_RAISE(auto key, ArrowToDuckDbLogicalType(*map.key_type()));
      ARROW_ASSIGN_OR_RAISE(auto value, ArrowToDuckDbLogicalType(*map.item_type()));
      return LogicalTypeHandle(duckdb_create_map_type(key.get(), value.get()));
    }
    case Type::DICTIONARY:
      return ArrowToDuckDbLogicalType(
          *static_cast<const arrow::DictionaryType&>(type).value_type());
    case Type::RUN_END_ENCODED:
      return ArrowToDuckDbLogicalType(
          *static_cast<const arrow::RunEndEncodedType&>(type).value_type());
    case Type::EXTENSION: {
      const auto& ext = static_cast<const arrow::ExtensionType&>(type);
      if (IsUuid(*ext.storage_type(), ext.extension_name())) return Simple(DUCKDB_TYPE_UUID);
      if (ext.extension_name() == "arrow.bool8") return Simple(DUCKDB_TYPE_BOOLEAN);
      return ArrowToDuckDbLogicalType(*ext.storage_type());
    }
    default:
      return Unsupported(type);
  }
}

}  // namespace hyprstream::engine
