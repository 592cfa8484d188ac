#include "engine/duckdb_batch_appender.h"

#include "engine/arrow_to_duckdb_type.h"
#include "engine/arrow_validation.h"
#include "engine/duckdb_status.h"

#include <arrow/c/bridge.h>
#include <arrow/type.h>

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

namespace hyprstream::engine {

namespace {

// DuckDB 1.4 hands ownership of an imported ArrowArray to the vector of its first column only,
// which may not keep it (e.g. when that column is copied), leaving the other columns dangling.
// So DuckDB gets a borrowed view whose release does nothing, and we release the real export
// after the chunk (which the appender copies) is gone.
void ReleaseBorrowed(struct ArrowArray* array) { array->release = nullptr; }

// The names of the table's first `count` columns as the table spells them (empty if the
// table cannot be described).
std::vector<std::string> TableColumnNames(duckdb_connection connection,
                                          const std::optional<std::string>& catalog,
                                          const std::optional<std::string>& schema,
                                          const std::string& table, idx_t count) {
  std::vector<std::string> names;
  duckdb_table_description raw = nullptr;
  duckdb_state state =
      duckdb_table_description_create_ext(connection, catalog ? catalog->c_str() : nullptr,
                                          schema ? schema->c_str() : nullptr, table.c_str(), &raw);
  TableDescriptionHandle description(raw);
  if (state != DuckDBSuccess) return names;
  for (idx_t i = 0; i < count; ++i) {
    char* name = duckdb_table_description_get_column_name(raw, i);
    if (name == nullptr) break;
    names.emplace_back(name);
    duckdb_free(name);
  }
  return names;
}

// The table's spelling of `name`: SQL identifiers ignore case, the appender's column lookup
// does not. `name` itself when the table has no such column.
const std::string& TableSpelling(const std::vector<std::string>& table_columns,
                                 const std::string& name) {
  for (const auto& column : table_columns) {
    if (column == name) return column;
  }
  for (const auto& column : table_columns) {
    if (EqualsIgnoringCase(column, name)) return column;
  }
  return name;
}

}  // namespace

bool IsColumnMismatch(const arrow::Status& status) {
  return status.detail() &&
         status.detail()->type_id() == std::string_view(ColumnMismatchDetail::kTypeId);
}

arrow::Result<std::unique_ptr<DuckDbBatchAppender>> DuckDbBatchAppender::Open(
    duckdb_connection connection, const std::optional<std::string>& catalog,
    const std::optional<std::string>& schema, const std::string& table,
    const arrow::Schema& arrow_schema) {
  std::string table_name = QualifiedName(catalog, schema, table);
  std::unique_ptr<DuckDbBatchAppender> out(new DuckDbBatchAppender(
      connection, table_name, std::make_shared<arrow::Schema>(arrow_schema.fields())));

  duckdb_appender raw = nullptr;
  duckdb_state state =
      duckdb_appender_create_ext(connection, catalog ? catalog->c_str() : nullptr,
                                 schema ? schema->c_str() : nullptr, table.c_str(), &raw);
  out->appender_.reset(raw);
  if (state != DuckDBSuccess) {
    if (raw == nullptr) return arrow::Status::IOError("cannot append to ", table_name);
    return StatusFromAppender(raw, "appending to " + table_name);
  }
  std::vector<std::string> table_columns =
      TableColumnNames(connection, catalog, schema, table, duckdb_appender_column_count(raw));
  for (const auto& field : arrow_schema.fields()) {
    const std::string& column = TableSpelling(table_columns, field->name());
    if (duckdb_appender_add_column(raw, column.c_str()) != DuckDBSuccess) {
      arrow::Status cause = StatusFromAppender(raw, "");
      return arrow::Status(arrow::StatusCode::Invalid,
                           "column " + QuoteIdentifier(field->name()) +
                               " of the data does not exist in table " + table_name + " (" +
                               cause.message() + ")",
                           std::make_shared<ColumnMismatchDetail>());
    }
  }

  struct ArrowSchema c_schema {};
  ARROW_RETURN_NOT_OK(arrow::ExportSchema(*out->arrow_schema_, &c_schema));
  duckdb_arrow_converted_schema converted = nullptr;
  ErrorDataHandle error(duckdb_schema_from_arrow(connection, &c_schema, &converted));
  if (c_schema.release != nullptr) c_schema.release(&c_schema);
  out->converted_.reset(converted);
  ARROW_RETURN_NOT_OK(StatusFromErrorData(error.get(), "converting the Arrow schema for DuckDB"));
  return out;
}

arrow::Status DuckDbBatchAppender::Append(const arrow::RecordBatch& batch) {
  if (!batch.schema()->Equals(*arrow_schema_, /*check_metadata=*/false)) {
    return arrow::Status::Invalid("batch schema ", batch.schema()->ToString(),
                                  " differs from the ingest schema ", arrow_schema_->ToString());
  }
  // DuckDB trusts Arrow buffers as they are: check offsets, lengths and UTF-8 first.
  ARROW_RETURN_NOT_OK(ValidateArrowBatch(batch));
  const int64_t slice_rows = static_cast<int64_t>(duckdb_vector_size());
  for (int64_t offset = 0; offset < batch.num_rows(); offset += slice_rows) {
    int64_t length = std::min(slice_rows, batch.num_rows() - offset);
    std::shared_ptr<arrow::RecordBatch> slice = batch.Slice(offset, length);
    struct ArrowArray exported {};
    ARROW_RETURN_NOT_OK(arrow::ExportRecordBatch(*slice, &exported));
    struct ArrowArray borrowed = exported;
    borrowed.release = ReleaseBorrowed;
    borrowed.private_data = nullptr;

    duckdb_data_chunk raw_chunk = nullptr;
    arrow::Status status;
    {
      ErrorDataHandle error(
          duckdb_data_chunk_from_arrow(connection_, &borrowed, converted_.get(), &raw_chunk));
      DataChunkHandle chunk(raw_chunk);
      status = StatusFromErrorData(error.get(), "converting Arrow data for " + table_name_);
      if (status.ok() && duckdb_append_data_chunk(appender_.get(), chunk.get()) != DuckDBSuccess) {
        status = StatusFromAppender(appender_.get(), "appending to " + table_name_);
      }
    }  // the chunk is destroyed here, before the Arrow data it may point into
    exported.release(&exported);
    ARROW_RETURN_NOT_OK(status);
  }
  return arrow::Status::OK();
}

arrow::Status DuckDbBatchAppender::Flush() {
  if (duckdb_appender_flush(appender_.get()) != DuckDBSuccess) {
    return StatusFromAppender(appender_.get(), "appending to " + table_name_);
  }
  return arrow::Status::OK();
}

}  // namespace hyprstream::engine
