// Appends Arrow record batches to one DuckDB table, columnar: each batch is cut into slices of
// at most duckdb_vector_size() rows, exported through the Arrow C data interface, turned into a
// DuckDB data chunk (duckdb_data_chunk_from_arrow) and appended (DuckDB casts when the column
// types differ). Arrow columns are matched to table columns by name, ignoring case as SQL
// does; table columns the data lacks get their defaults. Uses the caller's connection; not
// thread-safe on its own.
#pragma once

#include "engine/duckdb_handle.h"

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <memory>
#include <optional>
#include <string>

namespace hyprstream::engine {

// Marks Open's failure when a column of the data is not in the table (ingest reports it as
// ALREADY_EXISTS, as ADBC specifies for a schema mismatch on append).
class ColumnMismatchDetail : public arrow::StatusDetail {
 public:
  static constexpr const char* kTypeId = "hyprstream::engine::ColumnMismatch";
  const char* type_id() const override { return kTypeId; }
  std::string ToString() const override { return "data columns do not match the table"; }
};
bool IsColumnMismatch(const arrow::Status& status);

class DuckDbBatchAppender {
 public:
  static arrow::Result<std::unique_ptr<DuckDbBatchAppender>> Open(
      duckdb_connection connection, const std::optional<std::string>& catalog,
      const std::optional<std::string>& schema, const std::string& table,
      const arrow::Schema& arrow_schema);

  // Appends all rows of `batch` (its schema must equal the one given to Open). Rows may stay
  // buffered in the appender until Flush.
  arrow::Status Append(const arrow::RecordBatch& batch);
  // Writes buffered rows to the table (in the connection's transaction, or committed at once
  // in auto-commit mode). After a failed flush the appender is unusable.
  arrow::Status Flush();

 private:
  DuckDbBatchAppender(duckdb_connection connection, std::string table_name,
                      std::shared_ptr<arrow::Schema> arrow_schema)
      : connection_(connection),
        table_name_(std::move(table_name)),
        arrow_schema_(std::move(arrow_schema)) {}

  duckdb_connection connection_;
  std::string table_name_;
  std::shared_ptr<arrow::Schema> arrow_schema_;
  AppenderHandle appender_;
  ConvertedSchemaHandle converted_;
};

}  // namespace hyprstream::engine
