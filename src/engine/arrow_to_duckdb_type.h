// Arrow -> DuckDB type mapping, as SQL type names (for CREATE TABLE) and as C API logical types
// (for binding nested parameter values). Strings of any layout -> VARCHAR, binaries -> BLOB,
// timestamps by unit (s/ms/us/ns -> TIMESTAMP_S/_MS/TIMESTAMP/_NS; any tz -> TIMESTAMPTZ),
// lists -> T[], fixed-size lists -> T[n], dictionaries -> their value type, arrow.uuid -> UUID.
// Unsupported types are NotImplemented naming the Arrow type.
#pragma once

#include "engine/duckdb_handle.h"

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyprstream::engine {

// SQL spelling of the DuckDB type for `type`.
arrow::Result<std::string> ArrowToDuckDbTypeName(const arrow::DataType& type);
// Same, honouring an extension name carried only in the field metadata (unregistered types).
arrow::Result<std::string> ArrowFieldToDuckDbTypeName(const arrow::Field& field);

// The C API logical type for `type` (same mapping).
arrow::Result<LogicalTypeHandle> ArrowToDuckDbLogicalType(const arrow::DataType& type);

// "name" with embedded quotes doubled.
std::string QuoteIdentifier(std::string_view name);
// 'text' with embedded quotes doubled: a SQL string literal.
std::string QuoteLiteral(std::string_view text);
// Whether two names are equal ignoring ASCII case (how SQL compares unquoted identifiers).
bool EqualsIgnoringCase(std::string_view a, std::string_view b);
// "catalog"."schema"."table", skipping absent parts.
std::string QualifiedName(const std::optional<std::string>& catalog,
                          const std::optional<std::string>& schema, const std::string& table);

// Column list for CREATE TABLE: ("a" INTEGER NOT NULL, "b" VARCHAR, ...). Non-nullable Arrow
// fields become NOT NULL columns.
arrow::Result<std::string> ColumnDefinitions(const arrow::Schema& schema);

}  // namespace hyprstream::engine
