// Arrow batches with every buffer aligned to the size of its values. Some producers hand out
// buffers at any address (the ADBC PostgreSQL driver: odd ones; Flight: where the transport
// put a DoPut's bytes), and typed reads of their values (ours, Arrow's, DuckDB's) must not meet
// a misaligned one. Only misaligned buffers are copied (Arrow's EnsureAlignment); an aligned
// batch costs a check. Stateless; any thread.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <memory>

namespace hyprstream::engine {

// `batch` aligned (null stays null).
arrow::Result<std::shared_ptr<arrow::RecordBatch>> AlignedBatch(
    std::shared_ptr<arrow::RecordBatch> batch);

// `reader`'s batches, each aligned as it is read.
std::shared_ptr<arrow::RecordBatchReader> AlignedBatches(
    std::shared_ptr<arrow::RecordBatchReader> reader);

}  // namespace hyprstream::engine
