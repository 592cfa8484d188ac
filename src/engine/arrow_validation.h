// Full validation of Arrow data that came from outside (a client's IPC stream) before
// anything reads it as trusted: DuckDB and the window code follow offsets and lengths as they
// are, so a batch whose buffers do not match its lengths would be read out of bounds, and
// strings that are not UTF-8 would be stored as such. Pure function; any thread.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/status.h>

namespace hyprstream::engine {

// OK, or Invalid naming the first bad column and what is wrong with it (O(data size)).
arrow::Status ValidateArrowBatch(const arrow::RecordBatch& batch);

}  // namespace hyprstream::engine
