#include "engine/duckdb_arrow_schema.h"

#include "engine/duckdb_status.h"
#include "engine/duckdb_type_name.h"

#include <arrow/c/bridge.h>
#include <arrow/type.h>

namespace hyprstream::engine {

ArrowOptionsHandle ArrowOptionsOf(duckdb_connection connection) {
  duckdb_arrow_options options = nullptr;
  duckdb_connection_get_arrow_options(connection, &options);
  return ArrowOptionsHandle(options);
}

arrow::Result<std::shared_ptr<arrow::Schema>> ArrowSchemaFromDuckDb(
    duckdb_arrow_options options, const std::vector<duckdb_logical_type>& types,
    const std::vector<std::string>& names, const std::vector<ColumnOrigin>& origins) {
  std::vector<const char*> c_names;
  c_names.reserve(names.size());
  for (const auto& name : names) c_names.push_back(name.c_str());
  struct ArrowSchema c_schema {};
  // DuckDB wants non-null arrays even for zero columns.
  duckdb_logical_type dummy_type = nullptr;
  const char* dummy_name = "";
  ErrorDataHandle error(duckdb_to_arrow_schema(
      options, types.empty() ? &dummy_type : const_cast<duckdb_logical_type*>(types.data()),
      c_names.empty() ? &dummy_name : c_names.data(), types.size(), &c_schema));
  ARROW_RETURN_NOT_OK(StatusFromErrorData(error.get(), "converting DuckDB types to Arrow"));
  ARROW_ASSIGN_OR_RAISE(auto schema, arrow::ImportSchema(&c_schema));
  // Flight SQL column metadata (TYPE_NAME, PRECISION, ...) for JDBC/ODBC-style clients.
  arrow::FieldVector fields = schema->fields();
  for (size_t i = 0; i < fields.size() && i < types.size(); ++i) {
    fields[i] = fields[i]->WithMergedMetadata(
        SqlColumnMetadata(types[i], i < origins.size() ? origins[i] : ColumnOrigin{}));
  }
  return arrow::schema(std::move(fields), schema->metadata());
}

arrow::Result<std::shared_ptr<arrow::Schema>> ArrowSchemaOfResult(
    duckdb_arrow_options options, duckdb_result* result, const std::vector<ColumnOrigin>& origins) {
  idx_t count = duckdb_column_count(result);
  std::vector<LogicalTypeHandle> owned;
  std::vector<duckdb_logical_type> types;
  std::vector<std::string> names;
  for (idx_t i = 0; i < count; ++i) {
    owned.emplace_back(duckdb_column_logical_type(result, i));
    types.push_back(owned.back().get());
    const char* name = duckdb_column_name(result, i);
    names.emplace_back(name != nullptr ? name : "");
  }
  return ArrowSchemaFromDuckDb(options, types, names, origins);
}

}  // namespace hyprstream::engine
