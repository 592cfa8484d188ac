#include "engine/duckdb_type_name.h"

#include "engine/duckdb_handle.h"

#include <string_view>

namespace hyprstream::engine {
namespace {

std::string TakeString(char* text) {
  std::string out = text != nullptr ? text : "";
  if (text != nullptr) duckdb_free(text);
  return out;
}

std::string_view SimpleName(duckdb_type id) {
  switch (id) {
    case DUCKDB_TYPE_BOOLEAN:
      return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT:
      return "TINYINT";
    case DUCKDB_TYPE_SMALLINT:
      return "SMALLINT";
    case DUCKDB_TYPE_INTEGER:
      return "INTEGER";
    case DUCKDB_TYPE_BIGINT:
      return "BIGINT";
    case DUCKDB_TYPE_UTINYINT:
      return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT:
      return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER:
      return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT:
      return "UBIGINT";
    case DUCKDB_TYPE_FLOAT:
      return "FLOAT";
    case DUCKDB_TYPE_DOUBLE:
      return "DOUBLE";
    case DUCKDB_TYPE_TIMESTAMP:
      return "TIMESTAMP";
    case DUCKDB_TYPE_DATE:
      return "DATE";
    case DUCKDB_TYPE_TIME:
      return "TIME";
    case DUCKDB_TYPE_INTERVAL:
      return "INTERVAL";
    case DUCKDB_TYPE_HUGEINT:
      return "HUGEINT";
    case DUCKDB_TYPE_UHUGEINT:
      return "UHUGEINT";
    case DUCKDB_TYPE_VARCHAR:
      return "VARCHAR";
    case DUCKDB_TYPE_BLOB:
      return "BLOB";
    case DUCKDB_TYPE_TIMESTAMP_S:
      return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS:
      return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS:
      return "TIMESTAMP_NS";
    case DUCKDB_TYPE_UUID:
      return "UUID";
    case DUCKDB_TYPE_BIT:
      return "BIT";
    case DUCKDB_TYPE_TIME_TZ:
      return "TIME WITH TIME ZONE";
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return "TIMESTAMP WITH TIME ZONE";
    case DUCKDB_TYPE_BIGNUM:
      return "BIGNUM";
    case DUCKDB_TYPE_SQLNULL:
      return "NULL";
    case DUCKDB_TYPE_TIME_NS:
      return "TIME_NS";
    case DUCKDB_TYPE_ENUM:
      return "ENUM";
    default:
      return "";
  }
}

// Decimal digits of precision for numeric types (JDBC's getPrecision); 0 when not numeric.
int NumericPrecision(duckdb_logical_type type) {
  switch (duckdb_get_type_id(type)) {
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_UTINYINT:
      return 3;
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_USMALLINT:
      return 5;
    case DUCKDB_TYPE_INTEGER:
      return 10;
    case DUCKDB_TYPE_UINTEGER:
      return 10;
    case DUCKDB_TYPE_BIGINT:
      return 19;
    case DUCKDB_TYPE_UBIGINT:
      return 20;
    case DUCKDB_TYPE_HUGEINT:
      return 38;  // what its Arrow type, decimal128(38, 0), carries; wider values fail the query
    case DUCKDB_TYPE_UHUGEINT:
      return 39;  // arrow.opaque of 16 bytes: every value
    case DUCKDB_TYPE_FLOAT:
      return 7;
    case DUCKDB_TYPE_DOUBLE:
      return 15;
    case DUCKDB_TYPE_DECIMAL:
      return duckdb_decimal_width(type);
    default:
      return 0;
  }
}

}  // namespace

std::string DuckDbTypeName(duckdb_logical_type type) {
  if (type == nullptr) return "NULL";
  std::string alias = TakeString(duckdb_logical_type_get_alias(type));
  if (!alias.empty()) return alias;
  duckdb_type id = duckdb_get_type_id(type);
  switch (id) {
    case DUCKDB_TYPE_DECIMAL:
      return "DECIMAL(" + std::to_string(duckdb_decimal_width(type)) + "," +
             std::to_string(duckdb_decimal_scale(type)) + ")";
    case DUCKDB_TYPE_LIST: {
      LogicalTypeHandle child(duckdb_list_type_child_type(type));
      return DuckDbTypeName(child.get()) + "[]";
    }
    case DUCKDB_TYPE_ARRAY: {
      LogicalTypeHandle child(duckdb_array_type_child_type(type));
      return DuckDbTypeName(child.get()) + "[" +
             std::to_string(duckdb_array_type_array_size(type)) + "]";
    }
    case DUCKDB_TYPE_MAP: {
      LogicalTypeHandle key(duckdb_map_type_key_type(type));
      LogicalTypeHandle value(duckdb_map_type_value_type(type));
      return "MAP(" + DuckDbTypeName(key.get()) + ", " + DuckDbTypeName(value.get()) + ")";
    }
    case DUCKDB_TYPE_STRUCT:
    case DUCKDB_TYPE_UNION: {
      const bool is_union = id == DUCKDB_TYPE_UNION;
      idx_t count =
          is_union ? duckdb_union_type_member_count(type) : duckdb_struct_type_child_count(type);
      std::string out = is_union ? "UNION(" : "STRUCT(";
      for (idx_t i = 0; i < count; ++i) {
        if (i > 0) out += ", ";
        out += TakeString(is_union ? duckdb_union_type_member_name(type, i)
                                   : duckdb_struct_type_child_name(type, i));
        LogicalTypeHandle child(is_union ? duckdb_union_type_member_type(type, i)
                                         : duckdb_struct_type_child_type(type, i));
        out += ' ';
        out += DuckDbTypeName(child.get());
      }
      return out + ")";
    }
    default: {
      std::string_view name = SimpleName(id);
      return name.empty() ? "UNKNOWN" : std::string(name);
    }
  }
}

std::shared_ptr<const arrow::KeyValueMetadata> SqlColumnMetadata(duckdb_logical_type type,
                                                                 const ColumnOrigin& origin) {
  auto metadata = std::make_shared<arrow::KeyValueMetadata>();
  const std::string prefix = "ARROW:FLIGHT:SQL:";
  auto put = [&](const char* key, std::string value) {
    metadata->Append(prefix + key, std::move(value));
  };
  if (!origin.table.empty()) {
    put("CATALOG_NAME", origin.catalog);
    put("SCHEMA_NAME", origin.schema);
    put("TABLE_NAME", origin.table);
  }
  put("TYPE_NAME", DuckDbTypeName(type));
  duckdb_type id = type != nullptr ? duckdb_get_type_id(type) : DUCKDB_TYPE_INVALID;
  int precision = type != nullptr ? NumericPrecision(type) : 0;
  if (precision > 0) put("PRECISION", std::to_string(precision));
  if (id == DUCKDB_TYPE_DECIMAL) put("SCALE", std::to_string(duckdb_decimal_scale(type)));
  put("IS_AUTO_INCREMENT", "0");
  put("IS_CASE_SENSITIVE", id == DUCKDB_TYPE_VARCHAR || id == DUCKDB_TYPE_ENUM ? "1" : "0");
  put("IS_READ_ONLY", origin.table.empty() ? "1" : "0");
  put("IS_SEARCHABLE", "1");
  return metadata;
}

}  // namespace hyprstream::engine
