// Reading a DuckDB table as of one moment while writes go on. DuckDB gives a transaction its
// snapshot at its first read, so ReadInSnapshot begins a transaction on `connection`, runs
// `pin` (a cheap read of the table, e.g. a count) and prepares the query before it returns;
// the query runs when the reader is first read. Rows committed after the call are not in its
// rows, however late the reader is read.
//
// Ownership: the reader owns `connection`'s transaction and ends it (rolls back) when it is
// destroyed; nobody else may use the connection meanwhile. Threading: the reader may be read
// from any thread, one at a time. Errors: a failed step rolls back and is returned.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <memory>
#include <string>

#include "engine/engine.h"

namespace hyprstream::engine {

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ReadInSnapshot(
    std::shared_ptr<EngineConnection> connection, const std::string& pin, const std::string& query);

}  // namespace hyprstream::engine
