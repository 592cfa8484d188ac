// AdbcEngineConnection's metadata pass-through: AdbcConnectionGetObjects / GetTableTypes /
// GetTableSchema / GetInfo, read into the engine.h catalog structures.
#include <arrow/array.h>
#include <arrow/c/bridge.h>
#include <arrow/table.h>

#include "engine/adbc_engine_connection.h"
#include "engine/adbc_ingest.h"
#include "engine/adbc_statement_handle.h"
#include "engine/adbc_status.h"

namespace hyprstream::engine {
namespace {

using arrow::ListArray;
using arrow::StringArray;
using arrow::StructArray;

std::optional<std::string> OptionalString(const arrow::Array* array, int64_t i) {
  if (array == nullptr || array->IsNull(i)) return std::nullopt;
  return static_cast<const StringArray*>(array)->GetString(i);
}

const arrow::Array* Field(const StructArray& s, const char* name) {
  auto field = s.GetFieldByName(name);
  return field ? field.get() : nullptr;
}

arrow::Result<std::shared_ptr<arrow::Table>> ReadAll(ArrowArrayStream* stream) {
  ARROW_ASSIGN_OR_RAISE(auto reader, ImportDriverStream(stream));
  ARROW_ASSIGN_OR_RAISE(auto table, reader->ToTable());
  return table->CombineChunks();
}

void ReadConstraints(const ListArray& constraints, int64_t row, CatalogTable* table) {
  if (constraints.IsNull(row)) return;
  auto values = std::static_pointer_cast<StructArray>(constraints.values());
  auto* name = Field(*values, "constraint_name");
  auto* type = Field(*values, "constraint_type");
  auto* column_names = static_cast<const ListArray*>(Field(*values, "constraint_column_names"));
  auto* usage = static_cast<const ListArray*>(Field(*values, "constraint_column_usage"));
  for (int64_t c = constraints.value_offset(row); c < constraints.value_offset(row + 1); ++c) {
    CatalogConstraint constraint;
    constraint.name = OptionalString(name, c).value_or("");
    constraint.type = OptionalString(type, c).value_or("");
    if (column_names && !column_names->IsNull(c)) {
      auto* names = static_cast<const StringArray*>(column_names->values().get());
      for (int64_t k = column_names->value_offset(c); k < column_names->value_offset(c + 1); ++k) {
        constraint.columns.push_back(names->GetString(k));
      }
    }
    if (usage && !usage->IsNull(c)) {
      auto refs = std::static_pointer_cast<StructArray>(usage->values());
      for (int64_t k = usage->value_offset(c); k < usage->value_offset(c + 1); ++k) {
        CatalogConstraint::Reference ref;
        ref.catalog = OptionalString(Field(*refs, "fk_catalog"), k);
        ref.schema = OptionalString(Field(*refs, "fk_db_schema"), k);
        ref.table = OptionalString(Field(*refs, "fk_table"), k).value_or("");
        ref.column = OptionalString(Field(*refs, "fk_column_name"), k).value_or("");
        constraint.references.push_back(std::move(ref));
      }
    }
    table->constraints.push_back(std::move(constraint));
  }
}

arrow::Result<CatalogObjects> ParseObjects(const arrow::Table& table) {
  CatalogObjects objects;
  if (table.num_rows() == 0) return objects;
  auto catalogs = table.GetColumnByName("catalog_name");
  auto schemas = table.GetColumnByName("catalog_db_schemas");
  if (!catalogs || !schemas) return arrow::Status::IOError("unexpected GetObjects result shape");
  auto* catalog_names = catalogs->chunk(0).get();
  auto* schema_lists = static_cast<const ListArray*>(schemas->chunk(0).get());
  auto schema_values = std::static_pointer_cast<StructArray>(schema_lists->values());
  auto* schema_names = Field(*schema_values, "db_schema_name");
  auto* table_lists = static_cast<const ListArray*>(Field(*schema_values, "db_schema_tables"));
  std::shared_ptr<StructArray> table_values;
  const arrow::Array *table_names = nullptr, *table_types = nullptr;
  const ListArray *column_lists = nullptr, *constraint_lists = nullptr;
  const arrow::Array* column_names = nullptr;
  if (table_lists) {
    table_values = std::static_pointer_cast<StructArray>(table_lists->values());
    table_names = Field(*table_values, "table_name");
    table_types = Field(*table_values, "table_type");
    column_lists = static_cast<const ListArray*>(Field(*table_values, "table_columns"));
    constraint_lists = static_cast<const ListArray*>(Field(*table_values, "table_constraints"));
    if (column_lists) {
      column_names =
          Field(*std::static_pointer_cast<StructArray>(column_lists->values()), "column_name");
    }
  }
  for (int64_t c = 0; c < table.num_rows(); ++c) {
    std::string catalog = OptionalString(catalog_names, c).value_or("");
    objects.catalogs.push_back(catalog);
    if (schema_lists->IsNull(c)) continue;
    for (int64_t s = schema_lists->value_offset(c); s < schema_lists->value_offset(c + 1); ++s) {
      std::string schema = OptionalString(schema_names, s).value_or("");
      objects.schemas.emplace_back(catalog, schema);
      if (!table_lists || table_lists->IsNull(s)) continue;
      for (int64_t t = table_lists->value_offset(s); t < table_lists->value_offset(s + 1); ++t) {
        CatalogTable entry;
        entry.catalog = catalog;
        entry.schema = schema;
        entry.name = OptionalString(table_names, t).value_or("");
        entry.type = OptionalString(table_types, t).value_or("");
        if (column_lists && !column_lists->IsNull(t)) {
          for (int64_t k = column_lists->value_offset(t); k < column_lists->value_offset(t + 1);
               ++k) {
            entry.columns.push_back(OptionalString(column_names, k).value_or(""));
          }
        }
        if (constraint_lists) ReadConstraints(*constraint_lists, t, &entry);
        objects.tables.push_back(std::move(entry));
      }
    }
  }
  return objects;
}

}  // namespace

arrow::Result<CatalogObjects> AdbcEngineConnection::GetCatalogObjects(
    const CatalogObjectsRequest& request) {
  int depth = ADBC_OBJECT_DEPTH_ALL;
  switch (request.depth) {
    case CatalogObjectsRequest::Depth::kCatalogs:
      depth = ADBC_OBJECT_DEPTH_CATALOGS;
      break;
    case CatalogObjectsRequest::Depth::kSchemas:
      depth = ADBC_OBJECT_DEPTH_DB_SCHEMAS;
      break;
    case CatalogObjectsRequest::Depth::kTables:
      depth = ADBC_OBJECT_DEPTH_TABLES;
      break;
    case CatalogObjectsRequest::Depth::kColumns:
      depth = ADBC_OBJECT_DEPTH_COLUMNS;
      break;
  }
  std::vector<const char*> types;
  for (const auto& type : request.table_types) types.push_back(type.c_str());
  types.push_back(nullptr);
  CatalogObjects objects;
  ARROW_RETURN_NOT_OK(Run([&](const std::shared_ptr<AdbcConnectionLease>& lease) {
    ArrowArrayStream stream{};
    AdbcErrorHolder error;
    auto code = lease->driver()->ConnectionGetObjects(
        lease->get(), depth, request.catalog ? request.catalog->c_str() : nullptr,
        request.schema_pattern ? request.schema_pattern->c_str() : nullptr,
        request.table_pattern ? request.table_pattern->c_str() : nullptr,
        request.table_types.empty() ? nullptr : types.data(), nullptr, &stream, error.get());
    ARROW_RETURN_NOT_OK(
        lease->Check(AdbcStatusToArrow(code, error.get(), "reading the backend catalog")));
    ARROW_ASSIGN_OR_RAISE(auto table, ReadAll(&stream));
    ARROW_ASSIGN_OR_RAISE(objects, ParseObjects(*table));
    return arrow::Status::OK();
  }));
  return objects;
}

arrow::Result<std::vector<std::string>> AdbcEngineConnection::GetTableTypes() {
  std::vector<std::string> types;
  ARROW_RETURN_NOT_OK(Run([&](const std::shared_ptr<AdbcConnectionLease>& lease) {
    ArrowArrayStream stream{};
    AdbcErrorHolder error;
    auto code = lease->driver()->ConnectionGetTableTypes(lease->get(), &stream, error.get());
    ARROW_RETURN_NOT_OK(
        lease->Check(AdbcStatusToArrow(code, error.get(), "reading the backend table types")));
    ARROW_ASSIGN_OR_RAISE(auto table, ReadAll(&stream));
    if (table->num_rows() == 0) return arrow::Status::OK();
    auto* column = table->column(0)->chunk(0).get();
    for (int64_t i = 0; i < table->num_rows(); ++i) {
      if (auto value = OptionalString(column, i)) types.push_back(*value);
    }
    return arrow::Status::OK();
  }));
  return types;
}

arrow::Result<std::shared_ptr<arrow::Schema>> AdbcEngineConnection::GetTableSchema(
    const std::optional<std::string>& catalog, const std::optional<std::string>& schema,
    const std::string& table) {
  std::shared_ptr<arrow::Schema> result;
  ARROW_RETURN_NOT_OK(Run([&](const std::shared_ptr<AdbcConnectionLease>& lease) {
    ARROW_ASSIGN_OR_RAISE(result, ReadTableSchema(*lease, catalog, schema, table));
    return arrow::Status::OK();
  }));
  return result;
}

arrow::Result<BackendInfo> AdbcEngineConnection::GetBackendInfo() {
  BackendInfo info;
  ARROW_RETURN_NOT_OK(Run([&](const std::shared_ptr<AdbcConnectionLease>& lease) {
    uint32_t codes[] = {ADBC_INFO_VENDOR_NAME, ADBC_INFO_VENDOR_VERSION};
    ArrowArrayStream stream{};
    AdbcErrorHolder error;
    auto code = lease->driver()->ConnectionGetInfo(lease->get(), codes, 2, &stream, error.get());
    ARROW_RETURN_NOT_OK(
        lease->Check(AdbcStatusToArrow(code, error.get(), "reading the backend's info")));
    ARROW_ASSIGN_OR_RAISE(auto table, ReadAll(&stream));
    if (table->num_rows() == 0) return arrow::Status::OK();
    auto names = std::static_pointer_cast<arrow::UInt32Array>(table->column(0)->chunk(0));
    auto values = std::static_pointer_cast<arrow::DenseUnionArray>(table->column(1)->chunk(0));
    for (int64_t i = 0; i < table->num_rows(); ++i) {
      // Child 0 of the info value union is string_value.
      if (values->child_id(i) != 0) continue;
      auto strings = std::static_pointer_cast<StringArray>(values->field(0));
      std::string text = strings->GetString(values->value_offset(i));
      if (names->Value(i) == ADBC_INFO_VENDOR_NAME) info.vendor_name = text;
      if (names->Value(i) == ADBC_INFO_VENDOR_VERSION) info.vendor_version = text;
    }
    return arrow::Status::OK();
  }));
  return info;
}

}  // namespace hyprstream::engine
