// DuckDB column types -> Arrow schema with DuckDB's own converter (duckdb_to_arrow_schema), so
// a schema always matches the arrays duckdb_data_chunk_to_arrow produces with the same options.
//
// Output types: DuckDB's default Arrow options (arrow_lossless_conversion=false), chosen because
// they are plain Arrow types every client (pyarrow, pandas, ADBC) reads without extensions:
// integers/floats as is, DECIMAL and HUGEINT -> decimal128 (HUGEINT as decimal128(38, 0), which
// cannot carry its 39-digit values: DuckDbResultReader fails on those), VARCHAR -> utf8 (not
// large/view), BLOB/BIT -> binary, DATE -> date32, TIME/TIMETZ -> time64[us], TIMESTAMP[_S/_MS/_NS]
// -> timestamp[us/s/ms/ns], TIMESTAMPTZ -> timestamp[us, tz=<session TimeZone>], INTERVAL ->
// month_day_nano, UUID -> utf8 (lossless mode would give arrow.uuid but also turns BOOLEAN into
// arrow.bool8 and HUGEINT into an opaque extension), LIST -> list, ARRAY -> fixed_size_list,
// STRUCT -> struct, MAP -> map, UNION -> sparse_union, ENUM -> dictionary<uint8|16|32, utf8>,
// UHUGEINT/BIGNUM -> arrow.opaque. A session's SET arrow_* settings still apply.
// Each top-level field carries the ARROW:FLIGHT:SQL:* column metadata (duckdb_type_name.h).
#pragma once

#include "engine/duckdb_handle.h"
#include "engine/duckdb_type_name.h"

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <memory>
#include <string>
#include <vector>

namespace hyprstream::engine {

// The connection's current Arrow output options (they follow its SET arrow_* settings).
ArrowOptionsHandle ArrowOptionsOf(duckdb_connection connection);

// `origins` (empty, or one per column): the table each column comes from, if known.
arrow::Result<std::shared_ptr<arrow::Schema>> ArrowSchemaFromDuckDb(
    duckdb_arrow_options options, const std::vector<duckdb_logical_type>& types,
    const std::vector<std::string>& names, const std::vector<ColumnOrigin>& origins = {});

// The schema of a (successful) result.
arrow::Result<std::shared_ptr<arrow::Schema>> ArrowSchemaOfResult(
    duckdb_arrow_options options, duckdb_result* result,
    const std::vector<ColumnOrigin>& origins = {});

}  // namespace hyprstream::engine
