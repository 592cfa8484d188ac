// Builds one Arrow record batch from consecutive DuckDB result chunks, copying each flat vector
// straight into the batch's buffers: no Arrow array per 2048-row chunk and no concatenation.
// It writes only columns whose bytes it can lay out exactly as duckdb_data_chunk_to_arrow would
// (booleans, integers, floats, DATE, TIME, TIMESTAMP[_S/_MS/_NS/_TZ], VARCHAR and BLOB as
// utf8/binary or their large forms); Make returns null for any other schema and the caller
// converts with DuckDB. Not thread-safe; one builder per result stream.
#pragma once

#include "engine/duckdb_handle.h"

#include <arrow/buffer.h>
#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace hyprstream::engine {

class ChunkBatchBuilder {
 public:
  // `types`: the result's DuckDB column types, one per field of `schema` (DuckDB's Arrow schema of
  // them). `expected_rows`: rows a full batch holds, reserved once a second chunk arrives.
  static std::unique_ptr<ChunkBatchBuilder> Make(std::shared_ptr<arrow::Schema> schema,
                                                 const std::vector<duckdb_type>& types,
                                                 int64_t expected_rows);

  // Appends every row of a flattened chunk (as duckdb_fetch_chunk returns them). Returns false,
  // appending nothing, when the chunk's strings would overflow a utf8/binary column's 32-bit
  // offsets: finish this batch and append the chunk to the next.
  arrow::Result<bool> Append(duckdb_data_chunk chunk);

  int64_t num_rows() const { return length_; }
  // Bytes the batch's buffers hold so far.
  int64_t num_bytes() const;

  // The rows appended since the last Finish (possibly none); the builder starts over empty.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Finish();

  enum class Layout { kBoolean, kFixedWidth, kString32, kString64 };

 private:
  struct Column {
    Layout layout;
    int byte_width = 0;                                // kFixedWidth
    std::shared_ptr<arrow::ResizableBuffer> validity;  // null while every row is valid
    std::shared_ptr<arrow::ResizableBuffer> values;    // values, bits or offsets
    std::shared_ptr<arrow::ResizableBuffer> data;      // string bytes
    int64_t data_size = 0;
  };

  ChunkBatchBuilder(std::shared_ptr<arrow::Schema> schema, std::vector<Column> columns,
                    int64_t expected_rows)
      : schema_(std::move(schema)), columns_(std::move(columns)), expected_rows_(expected_rows) {}

  arrow::Status Reserve(int64_t rows);
  arrow::Status StartColumns();
  arrow::Status AppendValidity(Column& column, const uint64_t* validity, int64_t rows);
  template <typename Offset>
  void AppendStrings(Column& column, const duckdb_string_t* strings, const uint64_t* validity,
                     int64_t rows);

  std::shared_ptr<arrow::Schema> schema_;
  std::vector<Column> columns_;
  int64_t expected_rows_;
  int64_t length_ = 0;
  int64_t capacity_ = 0;  // rows every column has room for
};

}  // namespace hyprstream::engine
