#include "cache/statement_footprint.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "sql/query_tables.h"
#include "sql/sql_script.h"

namespace hyprstream::cache {
namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

TableKey KeyOf(std::string catalog, std::string schema, std::string table,
               const std::string& default_schema) {
  TableKey key;
  key.table = Lower(std::move(table));
  schema = Lower(std::move(schema));
  if (schema == Lower(default_schema)) schema.clear();
  catalog = Lower(std::move(catalog));
  if (!catalog.empty()) schema = catalog + "." + (schema.empty() ? default_schema : schema);
  key.schema = std::move(schema);
  return key;
}

TableKey KeyOf(const sql::TableRef& ref, const std::string& default_schema) {
  return KeyOf(ref.catalog.value_or(""), ref.schema.value_or(""), ref.table, default_schema);
}

}  // namespace

TableKey TableKey::Parse(const std::string& qualified) {
  auto ref = sql::ParseTableRef(qualified);
  if (!ref) return TableKey{"", Lower(qualified)};
  TableKey key{Lower(ref->schema.value_or("")), Lower(ref->table)};
  if (ref->catalog) key.schema = Lower(*ref->catalog) + "." + key.schema;
  return key;
}

std::string TableKey::Quoted() const {
  std::string out;
  if (!schema.empty()) {
    size_t dot = schema.find('.');
    if (dot == std::string::npos) {
      out = engine::QuoteIdentifier(schema) + ".";
    } else {
      out = engine::QuoteIdentifier(schema.substr(0, dot)) + "." +
            engine::QuoteIdentifier(schema.substr(dot + 1)) + ".";
    }
  }
  return out + engine::QuoteIdentifier(table);
}

ReadFootprint AnalyzeRead(const std::string& sql, const std::string& default_schema) {
  const auto script = sql::Analyze(sql);
  const sql::StatementInfo* statement = script->Single();
  if (statement == nullptr) return ReadFootprint{};
  auto tables = sql::ReadQueryTables(*statement);
  if (!tables.ok()) return ReadFootprint{};  // not one query DuckDB parses: not known
  const sql::StatementReads& reads = statement->reads();
  ReadFootprint out;
  out.parsed = true;
  for (const std::string& function : reads.table_functions) {
    // hyprstream's functions exist in the cache's DuckDB only; tumble()/hop() there read the
    // mirror of the table they name.
    const bool ours = function.rfind("hyprstream_", 0) == 0 || sql::IsTableReadingMacro(function);
    (ours ? out.cache_functions : out.foreign_functions) = true;
  }
  out.has_parameters = reads.has_parameters;
  auto key_of = [&](const sql::TableRead& read) {
    return KeyOf(read.catalog, read.schema, read.table, default_schema);
  };
  std::map<TableKey, int> occurrences;
  for (const auto& read : reads.table_reads) {
    TableKey key = key_of(read);
    if (occurrences[key]++ == 0) out.tables.push_back(std::move(key));
  }
  if (!tables->select) return out;
  for (const auto& read : tables->top_level) {
    TableKey key = key_of(read);
    if (occurrences[key] == 1) out.top_level_tables.push_back(std::move(key));
  }
  for (const auto& bound : tables->lower_bounds) {
    out.lower_bounds.push_back(
        {key_of(tables->top_level[bound.table]), bound.column, "SELECT " + bound.expression_sql});
  }
  return out;
}

arrow::Result<int64_t> EvaluateBound(engine::EngineConnection& duckdb, const LowerBound& bound) {
  ARROW_ASSIGN_OR_RAISE(
      auto text,
      engine::QueryValue(duckdb, "SELECT epoch_us(CAST((" + bound.expression + ") AS TIMESTAMP))"));
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    return arrow::Status::Invalid("bound ", bound.expression, " is not a time: ", text);
  }
}

std::optional<std::vector<TableKey>> WrittenTables(const std::string& sql,
                                                   const std::string& default_schema) {
  const auto script = sql::Analyze(sql);
  if (!script->WritesKnown()) return std::nullopt;
  std::vector<TableKey> out;
  for (const sql::TableWrite& write : script->Writes()) {
    TableKey key = KeyOf(write.table, default_schema);
    if (std::find(out.begin(), out.end(), key) == out.end()) out.push_back(std::move(key));
  }
  return out;
}

std::optional<TableKey> DeletesOnlyFrom(const std::string& sql, const std::string& default_schema) {
  const auto script = sql::Analyze(sql);
  const sql::StatementInfo* statement = script->Single();
  if (statement == nullptr || statement->kind != sql::StatementKind::kDelete ||
      !script->WritesKnown()) {
    return std::nullopt;
  }
  const std::vector<sql::TableWrite> writes = script->Writes();
  if (writes.size() != 1 || writes[0].mode != sql::WriteMode::kDelete) return std::nullopt;
  return KeyOf(writes[0].table, default_schema);
}

}  // namespace hyprstream::cache
