// SQL names and Flight SQL column metadata for DuckDB types. DuckDbTypeName spells a type the
// way DuckDB's DESCRIBE does ("INTEGER", "DECIMAL(10,2)", "VARCHAR[]", "FLOAT[3]",
// "STRUCT(a INTEGER, b VARCHAR)", "MAP(VARCHAR, INTEGER)", an ENUM's alias when it has one).
// SqlColumnMetadata gives the ARROW:FLIGHT:SQL:* field metadata that JDBC/ODBC clients read.
#pragma once

#include <duckdb.h>

#include <arrow/util/key_value_metadata.h>

#include <memory>
#include <string>

namespace hyprstream::engine {

std::string DuckDbTypeName(duckdb_logical_type type);

// Where a column comes from, when it is a table's column (empty for computed columns).
struct ColumnOrigin {
  std::string catalog;
  std::string schema;
  std::string table;
};

// TYPE_NAME, PRECISION, SCALE, IS_AUTO_INCREMENT, IS_CASE_SENSITIVE, IS_READ_ONLY,
// IS_SEARCHABLE and, given an origin, CATALOG_NAME / SCHEMA_NAME / TABLE_NAME (the keys Arrow's
// Flight SQL clients read).
std::shared_ptr<const arrow::KeyValueMetadata> SqlColumnMetadata(duckdb_logical_type type,
                                                                 const ColumnOrigin& origin = {});

}  // namespace hyprstream::engine
