// XdbcTypeInfo: the CommandGetXdbcTypeInfo result (ODBC SQLGetTypeInfo / JDBC getTypeInfo) for
// every DuckDB type, with the spec's exact schema, ordered by data_type then type_name, and
// optionally only the rows of one data_type. Static data; thread-safe.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <optional>

namespace hyprstream::flightsql {

std::shared_ptr<arrow::Schema> XdbcTypeInfoSchema();

arrow::Result<std::shared_ptr<arrow::RecordBatch>> XdbcTypeInfo(std::optional<int32_t> data_type);

}  // namespace hyprstream::flightsql
