// Reading DuckDB's JSON parse tree (json_serialize_sql): the node tests the sql module's readers
// share. Internal to src/sql; other modules ask those readers, never the tree. Pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace hyprstream::sql::tree {

// node[key] when it is a string, else "" (DuckDB's JSON reuses keys such as "type" with
// values of other types).
inline std::string Str(const nlohmann::json& node, const char* key) {
  if (!node.is_object()) return "";
  auto it = node.find(key);
  return it != node.end() && it->is_string() ? it->get<std::string>() : "";
}

// The node's class ("FUNCTION", "COLUMN_REF", "CONSTANT", ...), or "".
inline std::string ClassOf(const nlohmann::json& node) { return Str(node, "class"); }

// A plain call f(...): no DISTINCT, FILTER, ORDER BY inside or schema.
inline bool IsPlainCall(const nlohmann::json& node) {
  return ClassOf(node) == "FUNCTION" && !node.value("distinct", false) &&
         node["filter"].is_null() && node["order_bys"]["orders"].empty() &&
         node.value("schema", "").empty();
}

// The column name of a one-part column reference, or "".
inline std::string ColumnName(const nlohmann::json& node) {
  if (ClassOf(node) != "COLUMN_REF" || node["column_names"].size() != 1) return "";
  return node["column_names"][0].get<std::string>();
}

// A constant non-negative integer (GROUP BY / ORDER BY position, LIMIT), or -1.
inline int64_t IntegerConstant(const nlohmann::json& node) {
  if (ClassOf(node) != "CONSTANT") return -1;
  const nlohmann::json& value = node["value"].value("value", nlohmann::json());
  return value.is_number_integer() ? value.get<int64_t>() : -1;
}

}  // namespace hyprstream::sql::tree
