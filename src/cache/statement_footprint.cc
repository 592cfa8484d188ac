#include "cache/statement_footprint.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "sql/duckdb_parser.h"
#include "sql/sql_script.h"

namespace hyprstream::cache {
namespace {

using nlohmann::json;

// node[key] when it is a string, else "" (DuckDB's JSON reuses keys such as "type" for objects).
std::string Str(const json& node, const char* key) {
  if (!node.is_object()) return "";
  auto it = node.find(key);
  return it != node.end() && it->is_string() ? it->get<std::string>() : "";
}

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

// One table read, with the name it goes by in its query (alias or table name).
struct Occurrence {
  TableKey key;
  std::string name;
};

// Every base table read in a parse tree (CTE names excluded), with its alias.
struct Walker {
  const std::set<std::string>& ctes;
  const std::string& default_schema;
  std::vector<Occurrence> all;

  void Walk(const json& node) {
    if (node.is_array()) {
      for (const auto& child : node) Walk(child);
      return;
    }
    if (!node.is_object()) return;
    if (Str(node, "type") == "BASE_TABLE" && node.contains("table_name")) {
      std::string schema = Str(node, "schema_name");
      std::string table = Str(node, "table_name");
      if (!(schema.empty() && Str(node, "catalog_name").empty() && ctes.count(Lower(table)))) {
        all.push_back({KeyOf(Str(node, "catalog_name"), schema, table, default_schema),
                       Lower(Str(node, "alias").empty() ? table : Str(node, "alias"))});
      }
    }
    if (auto read = sql::TableReadByMacro(node)) {  // tumble('t', ...): a read of t
      all.push_back({KeyOf(*read, default_schema),
                     Lower(Str(node, "alias").empty() ? read->table : Str(node, "alias"))});
    }
    for (const auto& [_, child] : node.items()) Walk(child);
  }
};

// The base tables of a FROM clause's join tree (not inside subqueries).
void TopLevelTables(const json& from, const std::set<std::string>& ctes,
                    const std::string& default_schema, std::vector<Occurrence>* out,
                    bool* other_sources) {
  if (!from.is_object()) return;
  const std::string type = Str(from, "type");
  if (type == "JOIN") {
    TopLevelTables(from.at("left"), ctes, default_schema, out, other_sources);
    TopLevelTables(from.at("right"), ctes, default_schema, out, other_sources);
  } else if (type == "BASE_TABLE") {
    std::string table = Str(from, "table_name");
    if (Str(from, "schema_name").empty() && ctes.count(Lower(table))) {
      *other_sources = true;
      return;
    }
    out->push_back(
        {KeyOf(Str(from, "catalog_name"), Str(from, "schema_name"), table, default_schema),
         Lower(Str(from, "alias").empty() ? table : Str(from, "alias"))});
  } else if (type != "EMPTY") {
    *other_sources = true;
  }
}

bool IsConstant(const json& node) {
  if (node.is_array()) {
    return std::all_of(node.begin(), node.end(), [](const json& c) { return IsConstant(c); });
  }
  if (!node.is_object()) return true;
  const std::string cls = Str(node, "class");
  if (cls == "COLUMN_REF" || cls == "SUBQUERY" || cls == "PARAMETER" || cls == "STAR" ||
      cls == "WINDOW" || cls == "LAMBDA") {
    return false;
  }
  for (const auto& [_, child] : node.items()) {
    if (!IsConstant(child)) return false;
  }
  return true;
}

void Conjuncts(const json& node, std::vector<const json*>* out) {
  if (node.is_object() && Str(node, "type") == "CONJUNCTION_AND") {
    for (const auto& child : node.at("children")) Conjuncts(child, out);
  } else if (node.is_object()) {
    out->push_back(&node);
  }
}

// A SELECT statement (as DuckDB SQL) computing `expression`, printed by DuckDB's own
// deserializer so no SQL is assembled by hand.
arrow::Result<std::string> ExpressionSelect(const json& expression) {
  ARROW_ASSIGN_OR_RAISE(auto text, sql::ExpressionSql(expression));
  return "SELECT " + text;
}

}  // namespace

namespace {
ReadFootprint FootprintOf(const sql::StatementReads& reads, const std::string& default_schema);
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
  const sql::StatementReads& reads = statement->reads();
  if (!reads.known || !reads.whole_statement || reads.tree == nullptr) return ReadFootprint{};
  try {
    return FootprintOf(reads, default_schema);
  } catch (const json::exception&) {
    return ReadFootprint{};  // a parse tree of a shape not expected here: not known
  }
}

namespace {
ReadFootprint FootprintOf(const sql::StatementReads& reads, const std::string& default_schema) {
  ReadFootprint out;
  const json& statements = reads.tree->at("statements");
  if (statements.size() != 1) return out;
  const json& node = statements.at(0).at("node");
  const std::set<std::string> ctes(reads.cte_names.begin(), reads.cte_names.end());
  Walker walker{ctes, default_schema, {}};
  walker.Walk(node);
  out.parsed = true;
  for (const std::string& function : reads.table_functions) {
    // hyprstream's functions exist in the cache's DuckDB only; tumble()/hop() there read the
    // mirror of the table they name.
    const bool ours = function.rfind("hyprstream_", 0) == 0 || sql::IsTableReadingMacro(function);
    (ours ? out.cache_functions : out.foreign_functions) = true;
  }
  out.has_parameters = reads.has_parameters;
  std::map<TableKey, int> occurrences;
  for (const auto& o : walker.all) {
    if (occurrences[o.key]++ == 0) out.tables.push_back(o.key);
  }

  if (Str(node, "type") != "SELECT_NODE") return out;
  std::vector<Occurrence> top;
  bool other_sources = false;
  TopLevelTables(node.at("from_table"), ctes, default_schema, &top, &other_sources);
  for (const auto& o : top) {
    if (occurrences[o.key] == 1) out.top_level_tables.push_back(o.key);
  }

  std::vector<const json*> conjuncts;
  if (node.contains("where_clause")) Conjuncts(node.at("where_clause"), &conjuncts);
  // Which top-level table a column reference names (nullptr when unclear).
  auto owner = [&](const json& ref) -> const Occurrence* {
    if (!ref.is_object() || Str(ref, "class") != "COLUMN_REF") return nullptr;
    const auto& names = ref.at("column_names");
    if (names.size() == 1) {
      return (top.size() == 1 && !other_sources) ? &top[0] : nullptr;
    }
    if (names.size() == 2) {
      std::string qualifier = Lower(names[0].get<std::string>());
      const Occurrence* found = nullptr;
      for (const auto& o : top) {
        if (o.name == qualifier) {
          if (found) return nullptr;
          found = &o;
        }
      }
      return found;
    }
    return nullptr;
  };
  auto column = [](const json& ref) {
    return Lower(ref.at("column_names").back().get<std::string>());
  };
  auto add = [&](const json& ref, const json& expression) {
    const Occurrence* o = owner(ref);
    if (!o || !IsConstant(expression)) return;
    auto select = ExpressionSelect(expression);
    if (select.ok()) out.lower_bounds.push_back({o->key, column(ref), *select});
  };
  for (const json* c : conjuncts) {
    const std::string type = Str(*c, "type");
    if (type == "COMPARE_GREATERTHANOREQUALTO" || type == "COMPARE_GREATERTHAN") {
      add(c->at("left"), c->at("right"));
    } else if (type == "COMPARE_LESSTHANOREQUALTO" || type == "COMPARE_LESSTHAN") {
      add(c->at("right"), c->at("left"));
    } else if (type == "COMPARE_BETWEEN") {
      add(c->at("input"), c->at("lower"));
    }
  }
  return out;
}
}  // namespace

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

}  // namespace hyprstream::cache
