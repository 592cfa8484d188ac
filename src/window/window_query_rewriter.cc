#include "window/window_query_rewriter.h"

#include <arrow/array.h>
#include <arrow/scalar.h>
#include <arrow/table.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <set>
#include <vector>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "window/window_catalog.h"

namespace hyprstream::window {
namespace {

using nlohmann::json;

constexpr int64_t kMicrosPerDay = 86400LL * 1000000;

bool IsColumn(const json& node, const char* name) {
  return node.value("class", "") == "COLUMN_REF" && node["column_names"].size() == 1 &&
         node["column_names"][0] == name;
}

// A plain call f(value): no DISTINCT, FILTER or ORDER BY inside.
bool IsPlainCall(const json& node) {
  return node.value("class", "") == "FUNCTION" && !node.value("distinct", false) &&
         node["filter"].is_null() && node["order_bys"]["orders"].empty() &&
         node.value("schema", "").empty();
}

// The same expression, ignoring where it was written.
json Shape(json node) {
  if (node.is_object()) {
    node.erase("query_location");
    node.erase("alias");
    for (auto& [key, value] : node.items()) value = Shape(value);
  } else if (node.is_array()) {
    for (auto& value : node) value = Shape(value);
  }
  return node;
}

// Not rewritten; the reason (a place in this file) at trace level.
std::optional<std::string> Skip(int reason) {
  spdlog::trace("window rewrite skipped (reason {})", reason);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> RewriteFromWindows(const WindowCatalog& catalog,
                                              engine::EngineConnection& connection,
                                              const std::string& sql) {
  if (connection.InTransaction()) return Skip(1);  // it may see its own uncommitted rows
  auto serialized = engine::QueryValue(
      connection, "SELECT json_serialize_sql(" + engine::QuoteLiteral(sql) + ")");
  if (!serialized.ok()) return Skip(2);
  json tree = json::parse(*serialized, nullptr, /*allow_exceptions=*/false);
  if (tree.is_discarded() || tree.value("error", true) || tree["statements"].size() != 1) {
    return Skip(3);
  }
  if (serialized->find("\"PARAMETER\"") != std::string::npos) return Skip(4);
  const json& node = tree["statements"][0]["node"];
  if (node.value("type", "") != "SELECT_NODE" || !node["modifiers"].empty() ||
      !node["cte_map"]["map"].empty() || !node["where_clause"].is_null() ||
      !node["having"].is_null() || !node["qualify"].is_null() || !node["sample"].is_null()) {
    return Skip(5);
  }
  const json& from = node["from_table"];
  if (from.value("type", "") != "BASE_TABLE" || from.value("table_name", "") != "metrics" ||
      !from["sample"].is_null() || !from["at_clause"].is_null() ||
      !(from.value("schema_name", "").empty() || from.value("schema_name", "") == "main") ||
      !from.value("catalog_name", "").empty()) {
    return Skip(6);
  }

  // The select list: the key, one time bucket, aggregates of value.
  std::vector<std::string> outputs;  // window result column per select item
  json bucket;
  std::string bucket_alias;
  bool has_key = false;
  for (const json& item : node["select_list"]) {
    if (IsColumn(item, "metric_id")) {
      if (has_key) return Skip(7);
      has_key = true;
      outputs.push_back("metric_id");
      continue;
    }
    if (!IsPlainCall(item)) return Skip(8);
    const std::string function = item.value("function_name", "");
    const json& children = item["children"];
    if (function == "time_bucket") {
      if (!bucket.is_null() || children.size() != 2 || !IsColumn(children[1], "timestamp")) {
        return Skip(9);
      }
      bucket = item;
      bucket_alias = item.value("alias", "");
      outputs.push_back("window_start");
      continue;
    }
    static const std::set<std::string> kAggregates = {"count", "sum", "avg", "min", "max"};
    if (kAggregates.count(function) == 0 || children.size() != 1 ||
        !IsColumn(children[0], "value")) {
      return Skip(10);
    }
    outputs.push_back("value_" + function);
  }
  if (!has_key || bucket.is_null()) return Skip(11);

  // GROUP BY ALL, or exactly the key and the bucket (by expression, alias or position).
  if (node.value("aggregate_handling", "") != "FORCE_AGGREGATES") {
    if (node["group_sets"].size() != 1) return Skip(12);
    bool grouped_key = false, grouped_bucket = false;
    for (const json& group : node["group_expressions"]) {
      if (IsColumn(group, "metric_id")) {
        grouped_key = true;
      } else if ((!bucket_alias.empty() && IsColumn(group, bucket_alias.c_str())) ||
                 Shape(group) == Shape(bucket)) {
        grouped_bucket = true;
      } else if (group.value("class", "") == "CONSTANT") {
        auto position = group["value"].value("value", json()).is_number_integer()
                            ? group["value"]["value"].get<int64_t>()
                            : -1;
        if (position < 1 || position > static_cast<int64_t>(outputs.size())) return Skip(13);
        const std::string& output = outputs[position - 1];
        if (output == "metric_id")
          grouped_key = true;
        else if (output == "window_start")
          grouped_bucket = true;
        else
          return Skip(14);
      } else {
        return Skip(15);
      }
    }
    if (!grouped_key || !grouped_bucket || node["group_expressions"].size() != 2) {
      return Skip(16);
    }
  }

  // The width, evaluated by DuckDB (it parsed the literal).
  const json& width_node = bucket["children"][0];
  std::string width_text;
  if (width_node.value("class", "") == "CAST" &&
      width_node["child"].value("class", "") == "CONSTANT") {
    width_text = width_node["child"]["value"].value("value", json("")).dump();
  } else if (width_node.value("class", "") == "CONSTANT") {
    width_text = width_node["value"].value("value", json("")).dump();
  } else {
    return Skip(17);
  }
  if (width_text.size() < 2 || width_text.front() != '"') return Skip(18);
  width_text = width_text.substr(1, width_text.size() - 2);
  auto micros =
      engine::QueryValue(connection, "SELECT epoch_us(TIMESTAMP '1970-01-01' + CAST(" +
                                         engine::QuoteLiteral(width_text) + " AS INTERVAL))");
  if (!micros.ok()) return Skip(19);
  int64_t width_us = std::stoll(*micros);
  if (width_us <= 0 || kMicrosPerDay % width_us != 0) return Skip(20);
  if (!catalog.AnswersExactly("metrics", width_us)) return Skip(21);

  // Keep DuckDB's output names, so the result looks exactly like the original query's.
  auto statement = connection.Prepare(sql);
  if (!statement.ok() || (*statement)->dataset_schema() == nullptr) return Skip(22);
  auto schema = (*statement)->dataset_schema();
  if (schema->num_fields() != static_cast<int>(outputs.size())) return Skip(23);
  std::string rewritten = "SELECT ";
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (i > 0) rewritten += ", ";
    rewritten += engine::QuoteIdentifier(outputs[i]) + " AS " +
                 engine::QuoteIdentifier(schema->field(static_cast<int>(i))->name());
  }
  rewritten +=
      " FROM hyprstream_window('metrics', width := '" + std::to_string(width_us / 1000000) + "s')";
  // Same column types as the original, or leave it to DuckDB.
  auto check = connection.Prepare(rewritten);
  if (!check.ok() || (*check)->dataset_schema() == nullptr ||
      !(*check)->dataset_schema()->Equals(*schema, /*check_metadata=*/false)) {
    return Skip(24);
  }
  spdlog::debug("answered from the maintained metrics windows: {}", rewritten);
  return rewritten;
}

}  // namespace hyprstream::window
