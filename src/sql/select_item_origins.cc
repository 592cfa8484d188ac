#include "sql/select_item_origins.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <string>

#include "sql/parse_tree.h"

namespace hyprstream::sql {
namespace {

using nlohmann::json;

bool SameName(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// A base table of the FROM clause and the name it goes by in the query.
struct FromTable {
  TableRef table;
  std::string name;  // alias, else the table name
};

// The base tables of a FROM join tree; false when it holds anything else (subquery,
// table function, CTE name...).
bool CollectTables(const json& from, const std::vector<std::string>& cte_names,
                   std::vector<FromTable>* out) {
  const std::string type = tree::Str(from, "type");
  if (type == "JOIN") {
    return CollectTables(from.at("left"), cte_names, out) &&
           CollectTables(from.at("right"), cte_names, out);
  }
  if (type != "BASE_TABLE" || !from.at("sample").is_null() || !from.at("at_clause").is_null() ||
      !from.at("column_name_alias").empty()) {
    return false;
  }
  TableRef table;
  table.table = tree::Str(from, "table_name");
  if (!tree::Str(from, "schema_name").empty()) table.schema = tree::Str(from, "schema_name");
  if (!tree::Str(from, "catalog_name").empty()) table.catalog = tree::Str(from, "catalog_name");
  if (!table.schema && std::any_of(cte_names.begin(), cte_names.end(),
                                   [&](const auto& cte) { return SameName(cte, table.table); })) {
    return false;
  }
  const std::string alias = tree::Str(from, "alias");
  out->push_back({table, alias.empty() ? table.table : alias});
  return true;
}

// The table a qualifier (alias or table name) names, if exactly one.
std::optional<TableRef> Qualified(const std::vector<FromTable>& tables, const std::string& name) {
  std::optional<TableRef> found;
  for (const auto& t : tables) {
    if (!SameName(t.name, name)) continue;
    if (found) return std::nullopt;
    found = t.table;
  }
  return found;
}

SelectItemOrigin OriginOf(const json& item, const std::vector<FromTable>& tables) {
  const std::string cls = tree::Str(item, "class");
  if (cls == "COLUMN_REF") {
    const auto& names = item.at("column_names");
    if (names.size() == 1 && tables.size() == 1) return {tables[0].table, false};
    if (names.size() == 2 && names.at(0).is_string()) {
      return {Qualified(tables, names.at(0).get<std::string>()), false};
    }
    return {};
  }
  if (cls == "STAR") {
    const bool plain = item.at("exclude_list").empty() && item.at("replace_list").empty() &&
                       item.at("rename_list").empty() &&
                       item.at("qualified_exclude_list").empty() && !item.value("columns", false) &&
                       item.at("expr").is_null();
    if (!plain) return {std::nullopt, true};  // still one item for several columns
    const std::string relation = tree::Str(item, "relation_name");
    if (relation.empty()) {
      if (tables.size() == 1) return {tables[0].table, true};
      return {std::nullopt, true};  // columns of several tables: no one origin
    }
    return {Qualified(tables, relation), true};
  }
  return {};
}

}  // namespace

std::vector<SelectItemOrigin> SelectItemOrigins(const StatementInfo& statement) {
  if (statement.kind != StatementKind::kQuery) return {};
  const StatementReads& reads = statement.reads();
  if (!reads.known || !reads.whole_statement || reads.tree == nullptr) return {};
  try {
    const json& statements = (*reads.tree).at("statements");
    if (!statements.is_array() || statements.size() != 1) return {};
    const json& node = statements.at(0).at("node");
    if (tree::Str(node, "type") != "SELECT_NODE") return {};
    std::vector<FromTable> tables;
    if (!CollectTables(node.at("from_table"), reads.cte_names, &tables) || tables.empty())
      return {};
    std::vector<SelectItemOrigin> out;
    for (const json& item : node.at("select_list")) out.push_back(OriginOf(item, tables));
    return out;
  } catch (const json::exception&) {
    return {};  // a parse tree of a shape not expected here: no origins
  }
}

std::vector<std::optional<TableRef>> ResultColumnTables(const std::vector<SelectItemOrigin>& items,
                                                        size_t result_columns) {
  const auto stars =
      std::count_if(items.begin(), items.end(), [](const auto& i) { return i.star; });
  if (items.empty() || stars > 1 || items.size() - stars > result_columns) return {};
  if (stars == 0 && items.size() != result_columns) return {};
  std::vector<std::optional<TableRef>> out;
  for (const auto& item : items) {
    const size_t span = item.star ? result_columns - (items.size() - 1) : 1;
    for (size_t i = 0; i < span; ++i) out.push_back(item.table);
  }
  return out;
}

}  // namespace hyprstream::sql
