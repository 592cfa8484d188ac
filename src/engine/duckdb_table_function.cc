#include "engine/duckdb_table_function.h"

#include <arrow/array.h>
#include <arrow/type.h>
#include <arrow/type_traits.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/duckdb_handle.h"

namespace hyprstream::engine {
namespace {

struct BindData {
  TableFunctionArgs args;
  std::shared_ptr<arrow::Schema> schema;
};

struct InitData {
  std::shared_ptr<arrow::RecordBatch> rows;
  int64_t offset = 0;
};

std::string TakeVarchar(duckdb_value value) {
  if (value == nullptr) return "";
  char* text = duckdb_get_varchar(value);
  std::string out = text != nullptr ? text : "";
  if (text != nullptr) duckdb_free(text);
  return out;
}

bool Supported(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::BOOL:
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::INT64:
    case arrow::Type::UINT8:
    case arrow::Type::UINT16:
    case arrow::Type::UINT32:
    case arrow::Type::UINT64:
    case arrow::Type::FLOAT:
    case arrow::Type::DOUBLE:
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::TIMESTAMP:
    case arrow::Type::DATE32:
      return true;
    default:
      return false;
  }
}

// Strings of up to 12 bytes live inside DuckDB's 16-byte string header (duckdb_string_t, the
// rest zeroed as DuckDB compares whole headers): written in place. Longer ones are copied
// into the vector's string heap by DuckDB.
template <typename ArrayType>
void CopyStrings(const ArrayType& array, int64_t offset, idx_t count, duckdb_vector vector) {
  auto* out = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vector));
  constexpr size_t kInlined = sizeof(out->value.inlined.inlined);
  const bool nulls = array.null_count() > 0;
  for (idx_t i = 0; i < count; ++i) {
    int64_t row = offset + static_cast<int64_t>(i);
    if (nulls && array.IsNull(row)) continue;
    auto view = array.GetView(row);
    if (view.size() <= kInlined) {
      std::memset(&out[i], 0, sizeof(duckdb_string_t));
      out[i].value.inlined.length = static_cast<uint32_t>(view.size());
      std::memcpy(out[i].value.inlined.inlined, view.data(), view.size());
    } else {
      duckdb_vector_assign_string_element_len(vector, i, view.data(), view.size());
    }
  }
}

// Copies rows [offset, offset + count) of `array` into `vector`.
void CopyColumn(const arrow::Array& array, int64_t offset, idx_t count, duckdb_vector vector) {
  if (array.null_count() > 0) {
    duckdb_vector_ensure_validity_writable(vector);
    uint64_t* validity = duckdb_vector_get_validity(vector);
    for (idx_t i = 0; i < count; ++i) {
      if (array.IsNull(offset + static_cast<int64_t>(i)))
        duckdb_validity_set_row_invalid(validity, i);
    }
  }
  const arrow::DataType& type = *array.type();
  if (type.id() == arrow::Type::STRING) {
    CopyStrings(static_cast<const arrow::StringArray&>(array), offset, count, vector);
  } else if (type.id() == arrow::Type::LARGE_STRING) {
    CopyStrings(static_cast<const arrow::LargeStringArray&>(array), offset, count, vector);
  } else if (type.id() == arrow::Type::BOOL) {
    auto* out = static_cast<bool*>(duckdb_vector_get_data(vector));
    const auto& bools = static_cast<const arrow::BooleanArray&>(array);
    for (idx_t i = 0; i < count; ++i) out[i] = bools.Value(offset + static_cast<int64_t>(i));
  } else {
    // Fixed width with the same in-memory representation in Arrow and DuckDB.
    int width = type.byte_width();
    const uint8_t* values = array.data()->GetValues<uint8_t>(1, 0);
    std::memcpy(duckdb_vector_get_data(vector), values + (array.offset() + offset) * width,
                count * width);
  }
}

void Bind(duckdb_bind_info info) {
  auto* spec = static_cast<TableFunctionSpec*>(duckdb_bind_get_extra_info(info));
  auto data = std::make_unique<BindData>();
  for (idx_t i = 0; i < duckdb_bind_get_parameter_count(info); ++i) {
    duckdb_value value = duckdb_bind_get_parameter(info, i);
    data->args.positional.push_back(TakeVarchar(value));
    duckdb_destroy_value(&value);
  }
  for (const auto& name : spec->named_parameters) {
    duckdb_value value = duckdb_bind_get_named_parameter(info, name.c_str());
    if (value != nullptr) {
      data->args.named[name] = TakeVarchar(value);
      duckdb_destroy_value(&value);
    }
  }
  auto schema = spec->schema(data->args);
  if (!schema.ok()) {
    duckdb_bind_set_error(info, schema.status().message().c_str());
    return;
  }
  for (const auto& field : (*schema)->fields()) {
    auto type = ArrowToDuckDbLogicalType(*field->type());
    if (!Supported(*field->type()) || !type.ok()) {
      std::string error = spec->name + ": column " + field->name() + " has unsupported type " +
                          field->type()->ToString();
      duckdb_bind_set_error(info, error.c_str());
      return;
    }
    duckdb_bind_add_result_column(info, field->name().c_str(), type->get());
  }
  data->schema = std::move(*schema);
  duckdb_bind_set_bind_data(info, data.release(),
                            [](void* p) { delete static_cast<BindData*>(p); });
}

void Init(duckdb_init_info info) {
  auto* spec = static_cast<TableFunctionSpec*>(duckdb_init_get_extra_info(info));
  auto* bind = static_cast<BindData*>(duckdb_init_get_bind_data(info));
  auto rows = spec->rows(bind->args);
  if (!rows.ok()) {
    duckdb_init_set_error(info, rows.status().message().c_str());
    return;
  }
  if (!(*rows)->schema()->Equals(*bind->schema, /*check_metadata=*/false)) {
    std::string error =
        spec->name + ": the rows changed shape since the query was bound; run it again";
    duckdb_init_set_error(info, error.c_str());
    return;
  }
  auto data = std::make_unique<InitData>();
  data->rows = std::move(*rows);
  duckdb_init_set_max_threads(info, 1);
  duckdb_init_set_init_data(info, data.release(),
                            [](void* p) { delete static_cast<InitData*>(p); });
}

void Produce(duckdb_function_info info, duckdb_data_chunk output) {
  auto* data = static_cast<InitData*>(duckdb_function_get_init_data(info));
  int64_t remaining = data->rows->num_rows() - data->offset;
  idx_t count = static_cast<idx_t>(std::min<int64_t>(remaining, duckdb_vector_size()));
  for (int c = 0; c < data->rows->num_columns(); ++c) {
    CopyColumn(*data->rows->column(c), data->offset, count,
               duckdb_data_chunk_get_vector(output, c));
  }
  data->offset += static_cast<int64_t>(count);
  duckdb_data_chunk_set_size(output, count);
}

}  // namespace

arrow::Status RegisterDuckDbTableFunction(duckdb_connection connection, TableFunctionSpec spec) {
  if (!spec.schema || !spec.rows) {
    return arrow::Status::Invalid("table function ", spec.name, " needs schema and rows");
  }
  duckdb_table_function function = duckdb_create_table_function();
  duckdb_table_function_set_name(function, spec.name.c_str());
  LogicalTypeHandle varchar(duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR));
  for (int i = 0; i < spec.positional_parameters; ++i) {
    duckdb_table_function_add_parameter(function, varchar.get());
  }
  for (const auto& name : spec.named_parameters) {
    duckdb_table_function_add_named_parameter(function, name.c_str(), varchar.get());
  }
  std::string name = spec.name;
  duckdb_table_function_set_extra_info(function, new TableFunctionSpec(std::move(spec)),
                                       [](void* p) { delete static_cast<TableFunctionSpec*>(p); });
  duckdb_table_function_set_bind(function, Bind);
  duckdb_table_function_set_init(function, Init);
  duckdb_table_function_set_function(function, Produce);
  duckdb_state state = duckdb_register_table_function(connection, function);
  duckdb_destroy_table_function(&function);
  if (state != DuckDBSuccess) {
    return arrow::Status::Invalid("DuckDB refused table function ", name,
                                  " (a function of that name may exist)");
  }
  return arrow::Status::OK();
}

}  // namespace hyprstream::engine
