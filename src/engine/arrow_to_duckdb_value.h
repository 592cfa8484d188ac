// Converts one Arrow array slot into a DuckDB value for parameter binding. Covers null,
// booleans, all integer widths, floats, strings and binaries of every layout, dates, times,
// timestamps (any unit; tz -> TIMESTAMP WITH TIME ZONE), decimals, intervals and durations,
// arrow.uuid, dictionaries, and nested lists / fixed-size lists / structs / maps.
// Sub-microsecond parts of times, timestamps with tz and intervals are truncated (DuckDB
// stores microseconds). Anything else is NotImplemented naming the Arrow type.
#pragma once

#include "engine/duckdb_handle.h"

#include <arrow/result.h>
#include <arrow/type_fwd.h>

#include <cstdint>

namespace hyprstream::engine {

arrow::Result<ValueHandle> ArrowToDuckDbValue(const arrow::Array& array, int64_t index);

// Clears the bindings of `statement` and binds column i of `row` of `parameters` to
// parameter i + 1. The column count must equal the statement's parameter count.
arrow::Status BindParameterRow(duckdb_prepared_statement statement,
                               const arrow::RecordBatch& parameters, int64_t row);

}  // namespace hyprstream::engine
