#include "sql/query_tables.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>

#include "sql/duckdb_parser.h"
#include "sql/parse_tree.h"

namespace hyprstream::sql {
namespace {

using nlohmann::json;
using tree::Lower;
using tree::Str;

// The base tables of a FROM clause's join tree (not inside subqueries).
void TopLevelTables(const json& from, const std::set<std::string>& ctes, QueryTables* out) {
  if (!from.is_object()) return;
  const std::string type = Str(from, "type");
  if (type == "JOIN") {
    TopLevelTables(from.at("left"), ctes, out);
    TopLevelTables(from.at("right"), ctes, out);
  } else if (type == "BASE_TABLE") {
    if (Str(from, "schema_name").empty() && ctes.count(Lower(Str(from, "table_name")))) {
      out->other_sources = true;
      return;
    }
    out->top_level.push_back(tree::BaseTableRead(from));
  } else if (type != "EMPTY") {
    out->other_sources = true;
  }
}

// No column, subquery, parameter, star, window or lambda anywhere in it.
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

// Which top-level table a column reference names (its index; -1 when unclear).
int64_t OwnerOf(const json& ref, const QueryTables& tables) {
  if (tree::ClassOf(ref) != "COLUMN_REF") return -1;
  const auto& names = ref.at("column_names");
  if (names.size() == 1) return tables.top_level.size() == 1 && !tables.other_sources ? 0 : -1;
  if (names.size() != 2) return -1;
  const std::string qualifier = Lower(names[0].get<std::string>());
  int64_t found = -1;
  for (size_t i = 0; i < tables.top_level.size(); ++i) {
    if (tables.top_level[i].name != qualifier) continue;
    if (found >= 0) return -1;
    found = static_cast<int64_t>(i);
  }
  return found;
}

void LowerBounds(const json& where, QueryTables* out) {
  std::vector<const json*> conjuncts;
  Conjuncts(where, &conjuncts);
  auto add = [&](const json& ref, const json& expression) {
    const int64_t owner = OwnerOf(ref, *out);
    if (owner < 0 || !IsConstant(expression)) return;
    auto printed = ExpressionSql(expression);
    if (!printed.ok()) return;
    out->lower_bounds.push_back({static_cast<size_t>(owner),
                                 Lower(ref.at("column_names").back().get<std::string>()),
                                 *printed});
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
}

arrow::Result<QueryTables> Read(const StatementInfo& statement) {
  const StatementReads& reads = statement.reads();
  if (!reads.known || !reads.whole_statement || reads.parsed_statements != 1) {
    return arrow::Status::NotImplemented("not one query DuckDB can parse");
  }
  const json& node = reads.tree->at("statements").at(0).at("node");
  const std::set<std::string> ctes(reads.cte_names.begin(), reads.cte_names.end());
  QueryTables out;
  if (Str(node, "type") != "SELECT_NODE") return out;
  out.select = true;
  TopLevelTables(node.at("from_table"), ctes, &out);
  if (node.contains("where_clause")) LowerBounds(node.at("where_clause"), &out);
  return out;
}

}  // namespace

arrow::Result<QueryTables> ReadQueryTables(const StatementInfo& statement) {
  try {
    return Read(statement);
  } catch (const json::exception& e) {
    return arrow::Status::NotImplemented("a parse tree of an unexpected shape (", e.what(), ")");
  }
}

}  // namespace hyprstream::sql
