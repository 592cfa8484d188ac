// Checks on Arrow data crossing the server's boundary. ValidateArrowBatch: full validation of
// data that came from outside (a client's IPC stream) before anything reads it as trusted:
// DuckDB and the window code follow offsets and lengths as they are, so a batch whose buffers
// do not match its lengths would be read out of bounds, and strings that are not UTF-8 would be
// stored as such; decimals must fit their precision. CheckDecimalPrecision: the way DuckDB's
// Arrow export is known to make invalid data (a 39-digit HUGEINT in decimal128(38, 0)), checked
// on every result before it is sent.
// Pure functions; any thread.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/status.h>

namespace hyprstream::engine {

// OK, or Invalid naming the first bad column and what is wrong with it (O(data size)).
arrow::Status ValidateArrowBatch(const arrow::RecordBatch& batch);

// OK, or Invalid naming the column (and its ARROW:FLIGHT:SQL:TYPE_NAME) when a decimal value,
// at any depth (lists, structs, maps, unions, dictionaries), has more digits than its type's
// precision, which full Arrow validation rejects. Reads only decimal columns.
arrow::Status CheckDecimalPrecision(const arrow::RecordBatch& batch);

}  // namespace hyprstream::engine
