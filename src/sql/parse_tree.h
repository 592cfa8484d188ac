// Reading DuckDB's JSON parse tree (json_serialize_sql): the node tests the sql module's readers
// share. Internal to src/sql; other modules ask those readers, never the tree. Pure functions.
// Readers use .at() (or value()) on the tree, never a const operator[], which is undefined for a
// key the node lacks: a tree of an unexpected shape then throws json::exception, which each
// reader's entry point turns into "not known".
#pragma once

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdint>
#include <string>

#include "sql/statement_info.h"

namespace hyprstream::sql::tree {

// node[key] when it is a string, else "" (DuckDB's JSON reuses keys such as "type" with
// values of other types).
inline std::string Str(const nlohmann::json& node, const char* key) {
  if (!node.is_object()) return "";
  auto it = node.find(key);
  return it != node.end() && it->is_string() ? it->get<std::string>() : "";
}

// DuckDB's names compare without case: the form they are compared in.
inline std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A read of table `catalog.schema.table` at `node` (a BASE_TABLE or TABLE_FUNCTION node), named
// as the query calls it: the node's alias, else the table.
inline TableRead ReadAt(const nlohmann::json& node, std::string catalog, std::string schema,
                        std::string table) {
  const std::string alias = Str(node, "alias");
  std::string name = Lower(alias.empty() ? table : alias);
  return TableRead{std::move(catalog), std::move(schema), std::move(table), std::move(name)};
}

// The read a BASE_TABLE node is.
inline TableRead BaseTableRead(const nlohmann::json& node) {
  return ReadAt(node, Str(node, "catalog_name"), Str(node, "schema_name"), Str(node, "table_name"));
}

// The node's class ("FUNCTION", "COLUMN_REF", "CONSTANT", ...), or "".
inline std::string ClassOf(const nlohmann::json& node) { return Str(node, "class"); }

// A plain call f(...): no DISTINCT, FILTER, ORDER BY inside or schema.
inline bool IsPlainCall(const nlohmann::json& node) {
  return ClassOf(node) == "FUNCTION" && !node.value("distinct", false) &&
         node.at("filter").is_null() && node.at("order_bys").at("orders").empty() &&
         node.value("schema", "").empty();
}

// The column name of a one-part column reference, or "".
inline std::string ColumnName(const nlohmann::json& node) {
  if (ClassOf(node) != "COLUMN_REF" || node.at("column_names").size() != 1) return "";
  return node.at("column_names").at(0).get<std::string>();
}

// A constant non-negative integer (GROUP BY / ORDER BY position, LIMIT), or -1.
inline int64_t IntegerConstant(const nlohmann::json& node) {
  if (ClassOf(node) != "CONSTANT") return -1;
  const nlohmann::json& value = node.at("value").value("value", nlohmann::json());
  return value.is_number_integer() ? value.get<int64_t>() : -1;
}

}  // namespace hyprstream::sql::tree
