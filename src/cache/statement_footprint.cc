#include "cache/statement_footprint.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"

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

// One table read, with the name it goes by in its query (alias or table name).
struct Occurrence {
  TableKey key;
  std::string name;
};

void CollectCteNames(const json& node, std::set<std::string>* names) {
  if (node.is_object()) {
    auto cte = node.find("cte_map");
    if (cte != node.end() && cte->is_object()) {
      for (const auto& entry : cte->value("map", json::array())) {
        if (entry.contains("key") && entry["key"].is_string())
          names->insert(Lower(entry["key"].get<std::string>()));
      }
    }
    for (const auto& [_, child] : node.items()) CollectCteNames(child, names);
  } else if (node.is_array()) {
    for (const auto& child : node) CollectCteNames(child, names);
  }
}

struct Walker {
  const std::set<std::string>& ctes;
  const std::string& default_schema;
  ReadFootprint* out;
  std::vector<Occurrence> all;

  void Walk(const json& node) {
    if (node.is_array()) {
      for (const auto& child : node) Walk(child);
      return;
    }
    if (!node.is_object()) return;
    const std::string type = Str(node, "type");
    const std::string cls = Str(node, "class");
    if (type == "BASE_TABLE" && node.contains("table_name")) {
      std::string schema = Str(node, "schema_name");
      std::string table = Str(node, "table_name");
      if (!(schema.empty() && Str(node, "catalog_name").empty() && ctes.count(Lower(table)))) {
        Occurrence occurrence{KeyOf(Str(node, "catalog_name"), schema, table, default_schema),
                              Lower(Str(node, "alias").empty() ? table : Str(node, "alias"))};
        all.push_back(occurrence);
      }
    } else if (type == "TABLE_FUNCTION") {
      std::string name =
          node.contains("function") ? Lower(Str(node["function"], "function_name")) : "";
      if (name.rfind("hyprstream_", 0) == 0) {
        out->cache_functions = true;
      } else {
        out->foreign_functions = true;
      }
    }
    if (cls == "PARAMETER") out->has_parameters = true;
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
    TopLevelTables(from["left"], ctes, default_schema, out, other_sources);
    TopLevelTables(from["right"], ctes, default_schema, out, other_sources);
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
    for (const auto& child : node["children"]) Conjuncts(child, out);
  } else if (node.is_object()) {
    out->push_back(&node);
  }
}

// A SELECT statement (as DuckDB SQL) computing `expression`, built through DuckDB's own
// deserializer so no SQL is assembled by hand.
arrow::Result<std::string> ExpressionSelect(engine::EngineConnection& duckdb,
                                            const json& expression) {
  ARROW_ASSIGN_OR_RAISE(auto text,
                        engine::QueryValue(duckdb, "SELECT json_serialize_sql('SELECT 1')"));
  json tree = json::parse(text);
  tree["statements"][0]["node"]["select_list"][0] = expression;
  return engine::QueryValue(
      duckdb, "SELECT json_deserialize_sql(" + engine::QuoteLiteral(tree.dump()) + ")");
}

size_t SkipSpaceAndComments(const std::string& sql, size_t i) {
  while (i < sql.size()) {
    if (std::isspace(static_cast<unsigned char>(sql[i]))) {
      ++i;
    } else if (sql.compare(i, 2, "--") == 0) {
      i = sql.find('\n', i);
      if (i == std::string::npos) return sql.size();
    } else if (sql.compare(i, 2, "/*") == 0) {
      i = sql.find("*/", i + 2);
      if (i == std::string::npos) return sql.size();
      i += 2;
    } else {
      break;
    }
  }
  return i;
}

// Leading words and names of a statement: bare words upper-cased, quoted names kept, and "."
// as its own token. Stops at the first other character.
std::vector<std::string> LeadingTokens(const std::string& sql, size_t max_tokens) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (tokens.size() < max_tokens) {
    i = SkipSpaceAndComments(sql, i);
    if (i >= sql.size()) break;
    char c = sql[i];
    if (c == '"') {
      std::string name;
      ++i;
      while (i < sql.size()) {
        if (sql[i] == '"' && i + 1 < sql.size() && sql[i + 1] == '"') {
          name += '"';
          i += 2;
        } else if (sql[i] == '"') {
          ++i;
          break;
        } else {
          name += sql[i++];
        }
      }
      tokens.push_back("\"" + name);  // marked as quoted
    } else if (c == '.') {
      tokens.push_back(".");
      ++i;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      std::string word;
      while (i < sql.size() &&
             (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_' || sql[i] == '$')) {
        word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
      }
      tokens.push_back(word);
    } else {
      break;
    }
  }
  return tokens;
}

// A dotted name starting at tokens[i], lower-cased unless quoted.
std::optional<std::vector<std::string>> NameAt(const std::vector<std::string>& tokens, size_t i) {
  std::vector<std::string> parts;
  while (i < tokens.size() && tokens[i] != ".") {
    const std::string& t = tokens[i];
    parts.push_back(t[0] == '"' ? Lower(t.substr(1)) : Lower(t));
    if (i + 1 < tokens.size() && tokens[i + 1] == ".") {
      i += 2;
    } else {
      break;
    }
  }
  if (parts.empty() || parts.size() > 3) return std::nullopt;
  return parts;
}

}  // namespace

namespace {
ReadFootprint AnalyzeParsed(engine::EngineConnection& duckdb, const std::string& sql,
                            const std::string& default_schema);
}  // namespace

TableKey TableKey::Parse(const std::string& qualified) {
  auto parts = NameAt(LeadingTokens(qualified, 8), 0);
  if (!parts) return TableKey{"", Lower(qualified)};
  if (parts->size() == 1) return TableKey{"", (*parts)[0]};
  if (parts->size() == 2) return TableKey{(*parts)[0], (*parts)[1]};
  return TableKey{(*parts)[0] + "." + (*parts)[1], (*parts)[2]};
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

ReadFootprint AnalyzeRead(engine::EngineConnection& duckdb, const std::string& sql,
                          const std::string& default_schema) {
  try {
    return AnalyzeParsed(duckdb, sql, default_schema);
  } catch (const json::exception&) {
    return ReadFootprint{};  // a parse tree of a shape not expected here: not known
  }
}

namespace {
ReadFootprint AnalyzeParsed(engine::EngineConnection& duckdb, const std::string& sql,
                            const std::string& default_schema) {
  ReadFootprint out;
  auto text =
      engine::QueryValue(duckdb, "SELECT json_serialize_sql(" + engine::QuoteLiteral(sql) + ")");
  if (!text.ok()) return out;
  json tree = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (tree.is_discarded() || tree.value("error", true) || !tree.contains("statements") ||
      tree["statements"].size() != 1) {
    return out;
  }
  const json& node = tree["statements"][0]["node"];
  std::set<std::string> ctes;
  CollectCteNames(node, &ctes);
  Walker walker{ctes, default_schema, &out, {}};
  walker.Walk(node);
  out.parsed = true;
  std::map<TableKey, int> reads;
  for (const auto& o : walker.all) {
    if (reads[o.key]++ == 0) out.tables.push_back(o.key);
  }

  if (Str(node, "type") != "SELECT_NODE") return out;
  std::vector<Occurrence> top;
  bool other_sources = false;
  TopLevelTables(node["from_table"], ctes, default_schema, &top, &other_sources);
  for (const auto& o : top) {
    if (reads[o.key] == 1) out.top_level_tables.push_back(o.key);
  }

  std::vector<const json*> conjuncts;
  if (node.contains("where_clause")) Conjuncts(node["where_clause"], &conjuncts);
  // Which top-level table a column reference names (nullptr when unclear).
  auto owner = [&](const json& ref) -> const Occurrence* {
    if (!ref.is_object() || Str(ref, "class") != "COLUMN_REF") return nullptr;
    const auto& names = ref["column_names"];
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
    return Lower(ref["column_names"].back().get<std::string>());
  };
  auto add = [&](const json& ref, const json& expression) {
    const Occurrence* o = owner(ref);
    if (!o || !IsConstant(expression)) return;
    auto select = ExpressionSelect(duckdb, expression);
    if (select.ok()) out.lower_bounds.push_back({o->key, column(ref), *select});
  };
  for (const json* c : conjuncts) {
    const std::string type = Str(*c, "type");
    if (type == "COMPARE_GREATERTHANOREQUALTO" || type == "COMPARE_GREATERTHAN") {
      add((*c)["left"], (*c)["right"]);
    } else if (type == "COMPARE_LESSTHANOREQUALTO" || type == "COMPARE_LESSTHAN") {
      add((*c)["right"], (*c)["left"]);
    } else if (type == "COMPARE_BETWEEN") {
      add((*c)["input"], (*c)["lower"]);
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
  auto tokens = LeadingTokens(sql, 24);
  if (tokens.empty()) return std::vector<TableKey>{};
  size_t i = 0;
  auto skip = [&](std::initializer_list<const char*> words) {
    while (i < tokens.size() &&
           std::any_of(words.begin(), words.end(), [&](const char* w) { return tokens[i] == w; })) {
      ++i;
    }
  };
  auto table_at = [&](size_t at) -> std::optional<std::vector<TableKey>> {
    auto parts = NameAt(tokens, at);
    if (!parts) return std::nullopt;
    if (parts->size() == 1)
      return std::vector<TableKey>{KeyOf("", "", (*parts)[0], default_schema)};
    if (parts->size() == 2) {
      return std::vector<TableKey>{KeyOf("", (*parts)[0], (*parts)[1], default_schema)};
    }
    return std::vector<TableKey>{KeyOf((*parts)[0], (*parts)[1], (*parts)[2], default_schema)};
  };
  const std::string& first = tokens[0];
  static const std::set<std::string> kReadOnly = {
      "SELECT", "VALUES", "SHOW",    "DESCRIBE",   "EXPLAIN",  "TABLE", "SUMMARIZE",
      "FROM",   "BEGIN",  "START",   "COMMIT",     "ROLLBACK", "END",   "ABORT",
      "SET",    "RESET",  "PREPARE", "DEALLOCATE", "USE"};
  if (first == "WITH") return std::nullopt;  // WITH ... INSERT/UPDATE/DELETE is possible
  if (kReadOnly.count(first)) return std::vector<TableKey>{};
  if (first == "INSERT" || first == "MERGE") {
    i = 1;
    skip({"OR", "REPLACE", "IGNORE", "INTO"});
    return table_at(i);
  }
  if (first == "UPDATE") return table_at(1);
  if (first == "DELETE") {
    i = 1;
    skip({"FROM"});
    return table_at(i);
  }
  if (first == "TRUNCATE") {
    i = 1;
    skip({"TABLE", "ONLY"});
    return table_at(i);
  }
  if (first == "COPY") {
    // COPY t FROM ... writes t; COPY t TO / COPY (query) TO writes no table.
    auto target = table_at(1);
    if (!target) return std::vector<TableKey>{};
    for (size_t k = 2; k < tokens.size(); ++k) {
      if (tokens[k] == "FROM") return target;
      if (tokens[k] == "TO") return std::vector<TableKey>{};
    }
    return std::nullopt;
  }
  if (first == "CREATE" || first == "DROP" || first == "ALTER") {
    i = 1;
    skip({"OR", "REPLACE", "TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL", "LOCAL"});
    if (i < tokens.size() && (tokens[i] == "TABLE" || tokens[i] == "VIEW")) {
      ++i;
      skip({"IF", "NOT", "EXISTS"});
      return table_at(i);
    }
    if (i < tokens.size() &&
        (tokens[i] == "INDEX" || tokens[i] == "SEQUENCE" || tokens[i] == "TYPE" ||
         tokens[i] == "MACRO" || tokens[i] == "FUNCTION")) {
      return std::vector<TableKey>{};  // no table rows change
    }
    return std::nullopt;  // CREATE SCHEMA ... CASCADE, DROP SCHEMA, ...
  }
  return std::nullopt;
}

std::string LeadingKeyword(const std::string& sql) {
  auto tokens = LeadingTokens(sql, 1);
  return tokens.empty() || tokens[0][0] == '"' || tokens[0] == "." ? std::string() : tokens[0];
}

engine::StatementKind ClassifyStatement(const std::string& sql) {
  auto tokens = LeadingTokens(sql, 1);
  if (tokens.empty()) return engine::StatementKind::kOther;
  static const std::set<std::string> kQueries = {"SELECT", "WITH",     "VALUES", "TABLE",
                                                 "SHOW",   "DESCRIBE", "FROM",   "SUMMARIZE"};
  static const std::set<std::string> kUpdates = {"INSERT", "UPDATE",  "DELETE", "MERGE",
                                                 "CREATE", "DROP",    "ALTER",  "TRUNCATE",
                                                 "COPY",   "COMMENT", "GRANT",  "REVOKE"};
  if (kQueries.count(tokens[0])) return engine::StatementKind::kQuery;
  if (kUpdates.count(tokens[0])) return engine::StatementKind::kUpdate;
  return engine::StatementKind::kOther;
}

}  // namespace hyprstream::cache
