#include "flightsql/catalog_metadata.h"

#include <arrow/array/concatenate.h>
#include <arrow/array/util.h>
#include <arrow/builder.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/cast.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/writer.h>
#include <arrow/table.h>
#include <arrow/util/key_value_metadata.h>
#include <spdlog/spdlog.h>

#include <string>
#include <vector>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "flightsql/backend_catalog.h"

namespace hyprstream::flightsql {
namespace {

using arrow::field;
using arrow::utf8;

// --- Result schemas (the spec's, field for field, with the same nullability) -------------

std::shared_ptr<arrow::Schema> CatalogsSchema() {
  return arrow::schema({field("catalog_name", utf8(), false)});
}

std::shared_ptr<arrow::Schema> DbSchemasSchema() {
  return arrow::schema({field("catalog_name", utf8()), field("db_schema_name", utf8(), false)});
}

std::shared_ptr<arrow::Schema> TablesSchema(bool include_schema) {
  arrow::FieldVector fields = {field("catalog_name", utf8()), field("db_schema_name", utf8()),
                               field("table_name", utf8(), false),
                               field("table_type", utf8(), false)};
  if (include_schema) fields.push_back(field("table_schema", arrow::binary(), false));
  return arrow::schema(std::move(fields));
}

std::shared_ptr<arrow::Schema> TableTypesSchema() {
  return arrow::schema({field("table_type", utf8(), false)});
}

std::shared_ptr<arrow::Schema> PrimaryKeysSchema() {
  return arrow::schema({field("catalog_name", utf8()), field("db_schema_name", utf8()),
                        field("table_name", utf8(), false), field("column_name", utf8(), false),
                        field("key_sequence", arrow::int32(), false), field("key_name", utf8())});
}

std::shared_ptr<arrow::Schema> ForeignKeysSchema() {
  return arrow::schema({field("pk_catalog_name", utf8()), field("pk_db_schema_name", utf8()),
                        field("pk_table_name", utf8(), false),
                        field("pk_column_name", utf8(), false), field("fk_catalog_name", utf8()),
                        field("fk_db_schema_name", utf8()), field("fk_table_name", utf8(), false),
                        field("fk_column_name", utf8(), false),
                        field("key_sequence", arrow::int32(), false), field("fk_key_name", utf8()),
                        field("pk_key_name", utf8()), field("update_rule", arrow::uint8(), false),
                        field("delete_rule", arrow::uint8(), false)});
}

// Table types as JDBC tools expect them (DuckDB's information_schema says "BASE TABLE").
const std::vector<std::string>& TableTypes() {
  static const std::vector<std::string> kTypes = {"LOCAL TEMPORARY", "TABLE", "VIEW"};
  return kTypes;
}

constexpr char kTableTypeExpression[] =
    "CASE table_type WHEN 'BASE TABLE' THEN 'TABLE' ELSE table_type END";

// --- SQL text helpers ----------------------------------------------------------------------

// Appends " AND column = 'value'" when the filter is present. An empty catalog or schema
// means "objects without one", which DuckDB does not have: no rows.
void AddEquals(std::string* sql, const char* column, bool present, const std::string& value) {
  if (!present) return;
  if (value.empty()) {
    *sql += " AND false";
    return;
  }
  *sql += std::string(" AND ") + column + " = " + engine::QuoteLiteral(value);
}

void AddLike(std::string* sql, const char* column, bool present, const std::string& pattern) {
  if (!present) return;
  *sql += std::string(" AND ") + column + " LIKE " + engine::QuoteLiteral(pattern) + " ESCAPE '\\'";
}

// --- Running catalog queries ----------------------------------------------------------------

// The query's columns, in order, cast to the exact result schema.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> Conform(
    const arrow::Table& table, const std::shared_ptr<arrow::Schema>& schema) {
  if (table.num_columns() != schema->num_fields()) {
    return arrow::Status::Invalid("catalog query returned ", table.num_columns(),
                                  " columns; expected ", schema->num_fields());
  }
  arrow::ArrayVector columns;
  for (int i = 0; i < schema->num_fields(); ++i) {
    const auto& target = schema->field(i);
    std::shared_ptr<arrow::Array> column;
    if (table.num_rows() == 0) {
      ARROW_ASSIGN_OR_RAISE(column, arrow::MakeEmptyArray(target->type()));
    } else {
      ARROW_ASSIGN_OR_RAISE(column, arrow::Concatenate(table.column(i)->chunks()));
      if (!column->type()->Equals(*target->type())) {
        ARROW_ASSIGN_OR_RAISE(column, arrow::compute::Cast(*column, target->type()));
      }
    }
    if (!target->nullable() && column->null_count() > 0) {
      return arrow::Status::Invalid("catalog query returned nulls in ", target->name());
    }
    columns.push_back(std::move(column));
  }
  return arrow::RecordBatch::Make(schema, table.num_rows(), std::move(columns));
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> Query(
    engine::EngineConnection& connection, const std::string& sql,
    const std::shared_ptr<arrow::Schema>& schema) {
  ARROW_ASSIGN_OR_RAISE(auto table, engine::QueryTable(connection, sql));
  return Conform(*table, schema);
}

std::string StringAt(const arrow::RecordBatch& batch, int column, int64_t row) {
  const auto& array = static_cast<const arrow::StringArray&>(*batch.column(column));
  return array.IsNull(row) ? std::string() : array.GetString(row);
}

// The Arrow schema of one table with Flight SQL column metadata, as a client will read it:
// types from preparing a SELECT of the table, nullability from the table's definition.
arrow::Result<std::string> SerializedTableSchema(engine::EngineConnection& connection,
                                                 const std::string& catalog,
                                                 const std::string& schema,
                                                 const std::string& table) {
  std::string qualified = engine::QualifiedName(catalog, schema, table);
  ARROW_ASSIGN_OR_RAISE(auto statement, connection.Prepare("SELECT * FROM " + qualified));
  auto dataset = statement->dataset_schema();
  if (dataset == nullptr) return arrow::Status::Invalid("no schema for ", qualified);
  std::string sql =
      "SELECT column_name, is_nullable = 'YES' FROM information_schema.columns WHERE "
      "table_catalog = " +
      engine::QuoteLiteral(catalog) + " AND table_schema = " + engine::QuoteLiteral(schema) +
      " AND table_name = " + engine::QuoteLiteral(table) + " ORDER BY ordinal_position";
  ARROW_ASSIGN_OR_RAISE(auto columns, engine::QueryTable(connection, sql));
  ARROW_ASSIGN_OR_RAISE(auto combined, columns->CombineChunksToBatch());
  auto origin =
      arrow::key_value_metadata({"ARROW:FLIGHT:SQL:CATALOG_NAME", "ARROW:FLIGHT:SQL:SCHEMA_NAME",
                                 "ARROW:FLIGHT:SQL:TABLE_NAME", "ARROW:FLIGHT:SQL:IS_READ_ONLY"},
                                {catalog, schema, table, "0"});
  arrow::FieldVector fields;
  for (int i = 0; i < dataset->num_fields(); ++i) {
    auto f = dataset->field(i)->WithMergedMetadata(origin);
    if (i < combined->num_rows()) {
      const auto& nullable = static_cast<const arrow::BooleanArray&>(*combined->column(1));
      if (!nullable.IsNull(i)) f = f->WithNullable(nullable.Value(i));
    }
    fields.push_back(std::move(f));
  }
  ARROW_ASSIGN_OR_RAISE(auto buffer,
                        arrow::ipc::SerializeSchema(*arrow::schema(std::move(fields))));
  return buffer->ToString();
}

// --- The commands -----------------------------------------------------------------------------

arrow::Result<std::shared_ptr<arrow::RecordBatch>> GetCatalogs(
    engine::EngineConnection& connection) {
  return Query(connection,
               "SELECT DISTINCT catalog_name FROM information_schema.schemata "
               "WHERE catalog_name <> 'system' ORDER BY catalog_name",
               CatalogsSchema());
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> GetDbSchemas(
    engine::EngineConnection& connection, const pb::CommandGetDbSchemas& command) {
  std::string sql =
      "SELECT catalog_name, schema_name FROM information_schema.schemata "
      "WHERE catalog_name <> 'system' AND schema_name <> '_hyprstream'";
  AddEquals(&sql, "catalog_name", command.has_catalog(), command.catalog());
  AddLike(&sql, "schema_name", command.has_db_schema_filter_pattern(),
          command.db_schema_filter_pattern());
  sql += " ORDER BY catalog_name, schema_name";
  return Query(connection, sql, DbSchemasSchema());
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> GetTables(engine::EngineConnection& connection,
                                                             const pb::CommandGetTables& command) {
  std::string sql = std::string("SELECT * FROM (SELECT table_catalog, table_schema, table_name, ") +
                    kTableTypeExpression +
                    " AS table_type FROM information_schema.tables "
                    "WHERE table_catalog <> 'system' AND table_schema <> '_hyprstream') "
                    "WHERE true";
  AddEquals(&sql, "table_catalog", command.has_catalog(), command.catalog());
  AddLike(&sql, "table_schema", command.has_db_schema_filter_pattern(),
          command.db_schema_filter_pattern());
  AddLike(&sql, "table_name", command.has_table_name_filter_pattern(),
          command.table_name_filter_pattern());
  if (command.table_types_size() > 0) {
    sql += " AND table_type IN (";
    for (int i = 0; i < command.table_types_size(); ++i) {
      if (i > 0) sql += ", ";
      // DuckDB's own spelling is accepted too.
      const std::string& type = command.table_types(i);
      sql += engine::QuoteLiteral(type == "BASE TABLE" ? "TABLE" : type);
    }
    sql += ")";
  }
  sql += " ORDER BY table_catalog, table_schema, table_name, table_type";
  ARROW_ASSIGN_OR_RAISE(auto tables, Query(connection, sql, TablesSchema(false)));
  if (!command.include_schema()) return tables;

  arrow::BinaryBuilder schemas;
  for (int64_t row = 0; row < tables->num_rows(); ++row) {
    std::string catalog = StringAt(*tables, 0, row);
    std::string schema = StringAt(*tables, 1, row);
    std::string table = StringAt(*tables, 2, row);
    auto serialized = SerializedTableSchema(connection, catalog, schema, table);
    if (!serialized.ok()) {
      // e.g. a view over a dropped table: list it with an empty schema rather than fail.
      spdlog::debug("no schema for {}.{}.{}: {}", catalog, schema, table,
                    serialized.status().ToString());
      ARROW_ASSIGN_OR_RAISE(auto empty, arrow::ipc::SerializeSchema(*arrow::schema({})));
      serialized = empty->ToString();
    }
    ARROW_RETURN_NOT_OK(schemas.Append(*serialized));
  }
  ARROW_ASSIGN_OR_RAISE(auto schema_column, schemas.Finish());
  auto columns = tables->columns();
  columns.push_back(std::move(schema_column));
  return arrow::RecordBatch::Make(TablesSchema(true), tables->num_rows(), std::move(columns));
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> GetTableTypes() {
  arrow::StringBuilder types;
  ARROW_RETURN_NOT_OK(types.AppendValues(TableTypes()));
  ARROW_ASSIGN_OR_RAISE(auto array, types.Finish());
  return arrow::RecordBatch::Make(TableTypesSchema(), array->length(), {array});
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> GetPrimaryKeys(
    engine::EngineConnection& connection, const pb::CommandGetPrimaryKeys& command) {
  std::string sql =
      "SELECT * FROM (SELECT database_name, schema_name, table_name, "
      "UNNEST(constraint_column_names) AS column_name, "
      "UNNEST(range(1, len(constraint_column_names) + 1)) AS key_sequence, "
      "constraint_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'";
  AddEquals(&sql, "database_name", command.has_catalog(), command.catalog());
  AddEquals(&sql, "schema_name", command.has_db_schema(), command.db_schema());
  AddEquals(&sql, "table_name", true, command.table());
  sql += ") ORDER BY database_name, schema_name, table_name, constraint_name, key_sequence";
  return Query(connection, sql, PrimaryKeysSchema());
}

// Foreign keys, one row per column pair. DuckDB's foreign keys reference a table in the same
// schema and only support NO ACTION (3) on update and delete.
constexpr char kForeignKeys[] =
    "SELECT * FROM (SELECT fk.database_name AS pk_catalog_name, "
    "fk.schema_name AS pk_db_schema_name, fk.referenced_table AS pk_table_name, "
    "UNNEST(fk.referenced_column_names) AS pk_column_name, "
    "fk.database_name AS fk_catalog_name, fk.schema_name AS fk_db_schema_name, "
    "fk.table_name AS fk_table_name, UNNEST(fk.constraint_column_names) AS fk_column_name, "
    "UNNEST(range(1, len(fk.constraint_column_names) + 1)) AS key_sequence, "
    "fk.constraint_name AS fk_key_name, rc.unique_constraint_name AS pk_key_name, "
    "3 AS update_rule, 3 AS delete_rule "
    "FROM duckdb_constraints() fk LEFT JOIN information_schema.referential_constraints rc "
    "ON rc.constraint_catalog = fk.database_name AND rc.constraint_schema = fk.schema_name "
    "AND rc.constraint_name = fk.constraint_name "
    "WHERE fk.constraint_type = 'FOREIGN KEY') WHERE true";

constexpr char kByPrimaryKeyTable[] =
    " ORDER BY pk_catalog_name, pk_db_schema_name, pk_table_name, pk_key_name, key_sequence";
constexpr char kByForeignKeyTable[] =
    " ORDER BY fk_catalog_name, fk_db_schema_name, fk_table_name, fk_key_name, key_sequence";

template <typename KeysCommand>
arrow::Result<std::shared_ptr<arrow::RecordBatch>> GetKeysOf(engine::EngineConnection& connection,
                                                             const KeysCommand& command,
                                                             bool imported) {
  std::string sql = kForeignKeys;
  const char* prefix = imported ? "fk_" : "pk_";
  AddEquals(&sql, (std::string(prefix) + "catalog_name").c_str(), command.has_catalog(),
            command.catalog());
  AddEquals(&sql, (std::string(prefix) + "db_schema_name").c_str(), command.has_db_schema(),
            command.db_schema());
  AddEquals(&sql, (std::string(prefix) + "table_name").c_str(), true, command.table());
  // Imported keys are ordered by the referenced table, exported keys by the referencing one.
  sql += imported ? kByPrimaryKeyTable : kByForeignKeyTable;
  return Query(connection, sql, ForeignKeysSchema());
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> GetCrossReference(
    engine::EngineConnection& connection, const pb::CommandGetCrossReference& command) {
  std::string sql = kForeignKeys;
  AddEquals(&sql, "pk_catalog_name", command.has_pk_catalog(), command.pk_catalog());
  AddEquals(&sql, "pk_db_schema_name", command.has_pk_db_schema(), command.pk_db_schema());
  AddEquals(&sql, "pk_table_name", true, command.pk_table());
  AddEquals(&sql, "fk_catalog_name", command.has_fk_catalog(), command.fk_catalog());
  AddEquals(&sql, "fk_db_schema_name", command.has_fk_db_schema(), command.fk_db_schema());
  AddEquals(&sql, "fk_table_name", true, command.fk_table());
  sql += kByForeignKeyTable;
  return Query(connection, sql, ForeignKeysSchema());
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::Schema>> CatalogResultSchema(const Command& command) {
  if (std::holds_alternative<pb::CommandGetCatalogs>(command)) return CatalogsSchema();
  if (std::holds_alternative<pb::CommandGetDbSchemas>(command)) return DbSchemasSchema();
  if (auto* c = std::get_if<pb::CommandGetTables>(&command)) {
    return TablesSchema(c->include_schema());
  }
  if (std::holds_alternative<pb::CommandGetTableTypes>(command)) return TableTypesSchema();
  if (std::holds_alternative<pb::CommandGetPrimaryKeys>(command)) return PrimaryKeysSchema();
  if (std::holds_alternative<pb::CommandGetImportedKeys>(command) ||
      std::holds_alternative<pb::CommandGetExportedKeys>(command) ||
      std::holds_alternative<pb::CommandGetCrossReference>(command)) {
    return ForeignKeysSchema();
  }
  return arrow::Status::Invalid(CommandName(command), " is not a catalog metadata command");
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> QueryCatalog(
    engine::EngineConnection& connection, const Command& command) {
  // Engines that front another database answer from the backend's own catalog.
  auto from_backend = QueryBackendCatalog(connection, command);
  if (!from_backend.status().IsNotImplemented()) return from_backend;
  if (std::holds_alternative<pb::CommandGetCatalogs>(command)) return GetCatalogs(connection);
  if (auto* c = std::get_if<pb::CommandGetDbSchemas>(&command)) return GetDbSchemas(connection, *c);
  if (auto* c = std::get_if<pb::CommandGetTables>(&command)) return GetTables(connection, *c);
  if (std::holds_alternative<pb::CommandGetTableTypes>(command)) return GetTableTypes();
  if (auto* c = std::get_if<pb::CommandGetPrimaryKeys>(&command)) {
    return GetPrimaryKeys(connection, *c);
  }
  if (auto* c = std::get_if<pb::CommandGetImportedKeys>(&command)) {
    return GetKeysOf(connection, *c, /*imported=*/true);
  }
  if (auto* c = std::get_if<pb::CommandGetExportedKeys>(&command)) {
    return GetKeysOf(connection, *c, /*imported=*/false);
  }
  if (auto* c = std::get_if<pb::CommandGetCrossReference>(&command)) {
    return GetCrossReference(connection, *c);
  }
  return arrow::Status::Invalid(CommandName(command), " is not a catalog metadata command");
}

arrow::Result<std::vector<std::string>> ReservedKeywords(engine::EngineConnection& connection) {
  ARROW_ASSIGN_OR_RAISE(auto table,
                        engine::QueryTable(connection,
                                           "SELECT upper(keyword_name) FROM duckdb_keywords() "
                                           "WHERE keyword_category = 'reserved' ORDER BY 1"));
  ARROW_ASSIGN_OR_RAISE(auto batch, table->CombineChunksToBatch());
  std::vector<std::string> keywords;
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    keywords.push_back(StringAt(*batch, 0, row));
  }
  return keywords;
}

}  // namespace hyprstream::flightsql
