#include "flightsql/backend_catalog.h"

#include <arrow/builder.h>
#include <arrow/ipc/writer.h>
#include <arrow/util/key_value_metadata.h>

#include <algorithm>
#include <string_view>
#include <tuple>

#include "flightsql/catalog_metadata.h"

namespace hyprstream::flightsql {
namespace {

using Depth = engine::CatalogObjectsRequest::Depth;

// An exact name as an ADBC (LIKE) pattern.
std::string EscapeLike(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// SQL LIKE: % any run, _ any one character, backslash escapes the next character.
bool Like(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  char p = pattern[0];
  if (p == '%') {
    for (size_t i = 0; i <= text.size(); ++i) {
      if (Like(pattern.substr(1), text.substr(i))) return true;
    }
    return false;
  }
  if (text.empty()) return false;
  if (p == '\\' && pattern.size() > 1) {
    return pattern[1] == text[0] && Like(pattern.substr(2), text.substr(1));
  }
  return (p == '_' || p == text[0]) && Like(pattern.substr(1), text.substr(1));
}

bool HasWildcard(const std::string& pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;
    } else if (pattern[i] == '%' || pattern[i] == '_') {
      return true;
    }
  }
  return false;
}

// Builds one record batch column by column; nullopt strings become nulls.
class RowsBuilder {
 public:
  explicit RowsBuilder(std::shared_ptr<arrow::Schema> schema) : schema_(std::move(schema)) {
    for (const auto& f : schema_->fields()) {
      std::unique_ptr<arrow::ArrayBuilder> builder;
      (void)arrow::MakeBuilder(arrow::default_memory_pool(), f->type(), &builder);
      builders_.push_back(std::move(builder));
    }
  }
  arrow::Status String(int column, const std::optional<std::string>& value) {
    auto* b = static_cast<arrow::StringBuilder*>(builders_[column].get());
    return value ? b->Append(*value) : b->AppendNull();
  }
  arrow::Status Binary(int column, const std::string& value) {
    return static_cast<arrow::BinaryBuilder*>(builders_[column].get())->Append(value);
  }
  arrow::Status Int32(int column, int32_t value) {
    return static_cast<arrow::Int32Builder*>(builders_[column].get())->Append(value);
  }
  arrow::Status UInt8(int column, uint8_t value) {
    return static_cast<arrow::UInt8Builder*>(builders_[column].get())->Append(value);
  }
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Finish() {
    arrow::ArrayVector columns;
    for (auto& b : builders_) {
      ARROW_ASSIGN_OR_RAISE(auto array, b->Finish());
      columns.push_back(std::move(array));
    }
    int64_t rows = columns.empty() ? 0 : columns[0]->length();
    return arrow::RecordBatch::Make(schema_, rows, std::move(columns));
  }

 private:
  std::shared_ptr<arrow::Schema> schema_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders_;
};

// Objects at `depth` with an exact catalog (empty: none matches), `schema` pattern or exact.
arrow::Result<engine::CatalogObjects> Objects(engine::EngineConnection& connection, Depth depth,
                                              bool has_catalog, const std::string& catalog,
                                              std::optional<std::string> schema_pattern,
                                              std::optional<std::string> table_pattern,
                                              std::vector<std::string> table_types = {}) {
  engine::CatalogObjectsRequest request;
  request.depth = depth;
  if (has_catalog) request.catalog = EscapeLike(catalog);
  // Some drivers (PostgreSQL's) match the schema filter exactly: send only a pattern without
  // wildcards and apply every pattern here as well.
  if (schema_pattern && !HasWildcard(*schema_pattern)) request.schema_pattern = schema_pattern;
  request.table_pattern = table_pattern;
  request.table_types = std::move(table_types);
  ARROW_ASSIGN_OR_RAISE(auto objects, connection.GetCatalogObjects(request));
  if (schema_pattern) {
    std::erase_if(objects.schemas, [&](const auto& s) { return !Like(*schema_pattern, s.second); });
    std::erase_if(objects.tables,
                  [&](const auto& t) { return !Like(*schema_pattern, t.schema.value_or("")); });
  }
  if (table_pattern) {
    std::erase_if(objects.tables, [&](const auto& t) { return !Like(*table_pattern, t.name); });
  }
  if (has_catalog) {
    // The backend matched a pattern; keep exact matches only.
    std::erase_if(objects.catalogs, [&](const auto& c) { return c != catalog; });
    std::erase_if(objects.schemas, [&](const auto& s) { return s.first != catalog; });
    std::erase_if(objects.tables, [&](const auto& t) { return t.catalog.value_or("") != catalog; });
  }
  return objects;
}

arrow::Result<std::string> SerializedTableSchema(engine::EngineConnection& connection,
                                                 const engine::CatalogTable& table) {
  auto schema = connection.GetTableSchema(table.catalog, table.schema, table.name);
  if (!schema.ok()) schema = arrow::schema({});
  auto origin = arrow::key_value_metadata(
      {"ARROW:FLIGHT:SQL:CATALOG_NAME", "ARROW:FLIGHT:SQL:SCHEMA_NAME",
       "ARROW:FLIGHT:SQL:TABLE_NAME", "ARROW:FLIGHT:SQL:IS_READ_ONLY"},
      {table.catalog.value_or(""), table.schema.value_or(""), table.name, "0"});
  arrow::FieldVector fields;
  for (const auto& f : (*schema)->fields()) fields.push_back(f->WithMergedMetadata(origin));
  ARROW_ASSIGN_OR_RAISE(auto buffer,
                        arrow::ipc::SerializeSchema(*arrow::schema(std::move(fields))));
  return buffer->ToString();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> Catalogs(engine::EngineConnection& connection,
                                                            const Command& command) {
  ARROW_ASSIGN_OR_RAISE(auto objects, Objects(connection, Depth::kCatalogs, false, "", {}, {}));
  std::sort(objects.catalogs.begin(), objects.catalogs.end());
  objects.catalogs.erase(std::unique(objects.catalogs.begin(), objects.catalogs.end()),
                         objects.catalogs.end());
  ARROW_ASSIGN_OR_RAISE(auto schema, CatalogResultSchema(command));
  RowsBuilder rows(schema);
  for (const auto& c : objects.catalogs) ARROW_RETURN_NOT_OK(rows.String(0, c));
  return rows.Finish();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> DbSchemas(engine::EngineConnection& connection,
                                                             const Command& command,
                                                             const pb::CommandGetDbSchemas& c) {
  std::optional<std::string> pattern;
  if (c.has_db_schema_filter_pattern()) pattern = c.db_schema_filter_pattern();
  ARROW_ASSIGN_OR_RAISE(auto objects, Objects(connection, Depth::kSchemas, c.has_catalog(),
                                              c.catalog(), pattern, {}));
  std::sort(objects.schemas.begin(), objects.schemas.end());
  ARROW_ASSIGN_OR_RAISE(auto schema, CatalogResultSchema(command));
  RowsBuilder rows(schema);
  for (const auto& [catalog, db_schema] : objects.schemas) {
    ARROW_RETURN_NOT_OK(rows.String(0, catalog));
    ARROW_RETURN_NOT_OK(rows.String(1, db_schema));
  }
  return rows.Finish();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> Tables(engine::EngineConnection& connection,
                                                          const Command& command,
                                                          const pb::CommandGetTables& c) {
  std::optional<std::string> schema_pattern, table_pattern;
  if (c.has_db_schema_filter_pattern()) schema_pattern = c.db_schema_filter_pattern();
  if (c.has_table_name_filter_pattern()) table_pattern = c.table_name_filter_pattern();
  std::vector<std::string> types(c.table_types().begin(), c.table_types().end());
  ARROW_ASSIGN_OR_RAISE(auto objects, Objects(connection, Depth::kTables, c.has_catalog(),
                                              c.catalog(), schema_pattern, table_pattern, types));
  auto key = [](const engine::CatalogTable& t) {
    return std::make_tuple(t.catalog.value_or(""), t.schema.value_or(""), t.name, t.type);
  };
  std::sort(objects.tables.begin(), objects.tables.end(),
            [&](const auto& a, const auto& b) { return key(a) < key(b); });
  ARROW_ASSIGN_OR_RAISE(auto schema, CatalogResultSchema(command));
  RowsBuilder rows(schema);
  for (const auto& t : objects.tables) {
    ARROW_RETURN_NOT_OK(rows.String(0, t.catalog));
    ARROW_RETURN_NOT_OK(rows.String(1, t.schema));
    ARROW_RETURN_NOT_OK(rows.String(2, t.name));
    ARROW_RETURN_NOT_OK(rows.String(3, t.type));
    if (c.include_schema()) {
      ARROW_ASSIGN_OR_RAISE(auto serialized, SerializedTableSchema(connection, t));
      ARROW_RETURN_NOT_OK(rows.Binary(4, serialized));
    }
  }
  return rows.Finish();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> TableTypes(engine::EngineConnection& connection,
                                                              const Command& command) {
  ARROW_ASSIGN_OR_RAISE(auto types, connection.GetTableTypes());
  std::sort(types.begin(), types.end());
  ARROW_ASSIGN_OR_RAISE(auto schema, CatalogResultSchema(command));
  RowsBuilder rows(schema);
  for (const auto& t : types) ARROW_RETURN_NOT_OK(rows.String(0, t));
  return rows.Finish();
}

// Tables (with constraints) matching an exact catalog/schema/table; any when not given.
arrow::Result<std::vector<engine::CatalogTable>> TablesWithKeys(
    engine::EngineConnection& connection, bool has_catalog, const std::string& catalog,
    bool has_schema, const std::string& schema, const std::optional<std::string>& table) {
  std::optional<std::string> schema_pattern, table_pattern;
  if (has_schema) schema_pattern = EscapeLike(schema);
  if (table) table_pattern = EscapeLike(*table);
  ARROW_ASSIGN_OR_RAISE(auto objects, Objects(connection, Depth::kColumns, has_catalog, catalog,
                                              schema_pattern, table_pattern));
  std::erase_if(objects.tables, [&](const engine::CatalogTable& t) {
    return (has_schema && t.schema.value_or("") != schema) || (table && t.name != *table);
  });
  return objects.tables;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> PrimaryKeys(engine::EngineConnection& connection,
                                                               const Command& command,
                                                               const pb::CommandGetPrimaryKeys& c) {
  ARROW_ASSIGN_OR_RAISE(auto tables, TablesWithKeys(connection, c.has_catalog(), c.catalog(),
                                                    c.has_db_schema(), c.db_schema(), c.table()));
  struct Row {
    std::optional<std::string> catalog, schema;
    std::string table, column;
    int32_t sequence;
    std::string key;
  };
  std::vector<Row> found;
  for (const auto& t : tables) {
    for (const auto& k : t.constraints) {
      if (k.type != "PRIMARY KEY") continue;
      for (size_t i = 0; i < k.columns.size(); ++i) {
        found.push_back(
            {t.catalog, t.schema, t.name, k.columns[i], static_cast<int32_t>(i + 1), k.name});
      }
    }
  }
  std::sort(found.begin(), found.end(), [](const Row& a, const Row& b) {
    return std::tie(a.catalog, a.schema, a.table, a.key, a.sequence) <
           std::tie(b.catalog, b.schema, b.table, b.key, b.sequence);
  });
  ARROW_ASSIGN_OR_RAISE(auto schema, CatalogResultSchema(command));
  RowsBuilder rows(schema);
  for (const auto& r : found) {
    ARROW_RETURN_NOT_OK(rows.String(0, r.catalog));
    ARROW_RETURN_NOT_OK(rows.String(1, r.schema));
    ARROW_RETURN_NOT_OK(rows.String(2, r.table));
    ARROW_RETURN_NOT_OK(rows.String(3, r.column));
    ARROW_RETURN_NOT_OK(rows.Int32(4, r.sequence));
    ARROW_RETURN_NOT_OK(
        rows.String(5, r.key.empty() ? std::nullopt : std::optional<std::string>(r.key)));
  }
  return rows.Finish();
}

struct ForeignKeyRow {
  std::optional<std::string> pk_catalog, pk_schema;
  std::string pk_table, pk_column;
  std::optional<std::string> fk_catalog, fk_schema;
  std::string fk_table, fk_column;
  int32_t sequence;
  std::string fk_key;
};

// Every foreign-key column pair of the backend's tables that `keep` accepts, ordered the way
// the command wants (by the referenced or the referencing table).
template <typename Keep>
arrow::Result<std::shared_ptr<arrow::RecordBatch>> ForeignKeys(engine::EngineConnection& connection,
                                                               const Command& command, Keep keep,
                                                               bool by_primary_key_table) {
  ARROW_ASSIGN_OR_RAISE(auto tables, TablesWithKeys(connection, false, "", false, "", {}));
  std::vector<ForeignKeyRow> found;
  for (const auto& t : tables) {
    for (const auto& k : t.constraints) {
      if (k.type != "FOREIGN KEY") continue;
      for (size_t i = 0; i < k.columns.size() && i < k.references.size(); ++i) {
        const auto& ref = k.references[i];
        ForeignKeyRow row{ref.catalog, ref.schema,   ref.table,
                          ref.column,  t.catalog,    t.schema,
                          t.name,      k.columns[i], static_cast<int32_t>(i + 1),
                          k.name};
        if (keep(row)) found.push_back(std::move(row));
      }
    }
  }
  std::sort(found.begin(), found.end(), [&](const ForeignKeyRow& a, const ForeignKeyRow& b) {
    if (by_primary_key_table) {
      return std::tie(a.pk_catalog, a.pk_schema, a.pk_table, a.fk_key, a.sequence) <
             std::tie(b.pk_catalog, b.pk_schema, b.pk_table, b.fk_key, b.sequence);
    }
    return std::tie(a.fk_catalog, a.fk_schema, a.fk_table, a.fk_key, a.sequence) <
           std::tie(b.fk_catalog, b.fk_schema, b.fk_table, b.fk_key, b.sequence);
  });
  ARROW_ASSIGN_OR_RAISE(auto schema, CatalogResultSchema(command));
  RowsBuilder rows(schema);
  for (const auto& r : found) {
    ARROW_RETURN_NOT_OK(rows.String(0, r.pk_catalog));
    ARROW_RETURN_NOT_OK(rows.String(1, r.pk_schema));
    ARROW_RETURN_NOT_OK(rows.String(2, r.pk_table));
    ARROW_RETURN_NOT_OK(rows.String(3, r.pk_column));
    ARROW_RETURN_NOT_OK(rows.String(4, r.fk_catalog));
    ARROW_RETURN_NOT_OK(rows.String(5, r.fk_schema));
    ARROW_RETURN_NOT_OK(rows.String(6, r.fk_table));
    ARROW_RETURN_NOT_OK(rows.String(7, r.fk_column));
    ARROW_RETURN_NOT_OK(rows.Int32(8, r.sequence));
    ARROW_RETURN_NOT_OK(rows.String(9, r.fk_key));
    ARROW_RETURN_NOT_OK(rows.String(10, std::nullopt));  // the backend does not say
    ARROW_RETURN_NOT_OK(rows.UInt8(11, 3));              // NO ACTION (not reported by ADBC)
    ARROW_RETURN_NOT_OK(rows.UInt8(12, 3));
  }
  return rows.Finish();
}

// Whether `value` passes an optional exact filter.
bool Matches(bool present, const std::string& wanted, const std::optional<std::string>& value) {
  return !present || value.value_or("") == wanted;
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::RecordBatch>> QueryBackendCatalog(
    engine::EngineConnection& connection, const Command& command) {
  if (std::holds_alternative<pb::CommandGetCatalogs>(command)) {
    return Catalogs(connection, command);
  }
  if (auto* c = std::get_if<pb::CommandGetDbSchemas>(&command)) {
    return DbSchemas(connection, command, *c);
  }
  if (auto* c = std::get_if<pb::CommandGetTables>(&command)) {
    return Tables(connection, command, *c);
  }
  if (std::holds_alternative<pb::CommandGetTableTypes>(command)) {
    return TableTypes(connection, command);
  }
  if (auto* c = std::get_if<pb::CommandGetPrimaryKeys>(&command)) {
    return PrimaryKeys(connection, command, *c);
  }
  if (auto* c = std::get_if<pb::CommandGetImportedKeys>(&command)) {
    auto keep = [&](const ForeignKeyRow& r) {
      return r.fk_table == c->table() && Matches(c->has_catalog(), c->catalog(), r.fk_catalog) &&
             Matches(c->has_db_schema(), c->db_schema(), r.fk_schema);
    };
    return ForeignKeys(connection, command, keep, /*by_primary_key_table=*/true);
  }
  if (auto* c = std::get_if<pb::CommandGetExportedKeys>(&command)) {
    auto keep = [&](const ForeignKeyRow& r) {
      return r.pk_table == c->table() && Matches(c->has_catalog(), c->catalog(), r.pk_catalog) &&
             Matches(c->has_db_schema(), c->db_schema(), r.pk_schema);
    };
    return ForeignKeys(connection, command, keep, /*by_primary_key_table=*/false);
  }
  if (auto* c = std::get_if<pb::CommandGetCrossReference>(&command)) {
    auto keep = [&](const ForeignKeyRow& r) {
      return r.pk_table == c->pk_table() && r.fk_table == c->fk_table() &&
             Matches(c->has_pk_catalog(), c->pk_catalog(), r.pk_catalog) &&
             Matches(c->has_pk_db_schema(), c->pk_db_schema(), r.pk_schema) &&
             Matches(c->has_fk_catalog(), c->fk_catalog(), r.fk_catalog) &&
             Matches(c->has_fk_db_schema(), c->fk_db_schema(), r.fk_schema);
    };
    return ForeignKeys(connection, command, keep, /*by_primary_key_table=*/false);
  }
  return arrow::Status::Invalid(CommandName(command), " is not a catalog metadata command");
}

}  // namespace hyprstream::flightsql
