#include "sql/grouped_query.h"

#include <nlohmann/json.hpp>

#include "sql/clock_bounds.h"
#include "sql/duckdb_parser.h"
#include "sql/parse_tree.h"

namespace hyprstream::sql {
namespace {

using nlohmann::json;
using tree::ClassOf;
using tree::ColumnName;
using tree::IntegerConstant;
using tree::IsPlainCall;

// Not one of the shapes, and why.
arrow::Status Skip(const char* reason) { return arrow::Status::NotImplemented(reason); }

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

// The SQL text of a width argument, or "" when it is not a query constant.
std::string ConstantSql(const json& node) {
  if (!IsQueryConstant(node)) return "";
  auto text = ExpressionSql(node);
  return text.ok() ? *text : "";
}

// ORDER BY output columns and LIMIT/OFFSET constants; false when a modifier is something else.
bool ReadModifiers(const json& modifiers, GroupedQuery* query) {
  for (const json& modifier : modifiers) {
    const std::string type = modifier.value("type", "");
    if (type == "ORDER_MODIFIER") {
      for (const json& term : modifier.at("orders")) {
        GroupedQuery::OrderTerm out;
        out.column = ColumnName(term.at("expression"));
        out.position = IntegerConstant(term.at("expression"));
        if (out.column.empty() && out.position < 1) return false;
        const std::string direction = term.value("type", "");
        if (direction == "DESCENDING") out.suffix += " DESC";
        if (direction == "ASCENDING") out.suffix += " ASC";
        const std::string nulls = term.value("null_order", "");
        if (nulls == "NULLS FIRST" || nulls == "NULLS_FIRST") out.suffix += " NULLS FIRST";
        if (nulls == "NULLS LAST" || nulls == "NULLS_LAST") out.suffix += " NULLS LAST";
        query->order_by.push_back(std::move(out));
      }
    } else if (type == "LIMIT_MODIFIER") {
      if (!modifier.at("limit").is_null()) {
        query->limit = IntegerConstant(modifier.at("limit"));
        if (*query->limit < 0) return false;
      }
      if (!modifier.at("offset").is_null()) {
        query->offset = IntegerConstant(modifier.at("offset"));
        if (*query->offset < 0) return false;
      }
    } else {
      return false;
    }
  }
  return true;
}

// FROM: a table, or tumble(table, time, width) / hop(table, time, slide, width).
arrow::Status ReadFrom(const json& from, GroupedQuery* query) {
  if (from.value("type", "") == "BASE_TABLE") {
    if (!from.at("sample").is_null() || !from.at("at_clause").is_null() ||
        !from.value("catalog_name", "").empty()) {
      return Skip("FROM a table with a sample, an AT clause or a catalog");
    }
    query->table = from.value("table_name", "");
    query->schema = from.value("schema_name", "");
    return arrow::Status::OK();
  }
  if (from.value("type", "") != "TABLE_FUNCTION" || !from.at("sample").is_null() ||
      !IsPlainCall(from.at("function"))) {
    return Skip("FROM is not one table, tumble() or hop()");
  }
  const json& function = from.at("function");
  const std::string name = function.value("function_name", "");
  const bool hop = name == "hop" && function.at("children").size() == 4;
  if (!hop && !(name == "tumble" && function.at("children").size() == 3)) {
    return Skip("FROM is not one table, tumble() or hop()");
  }
  const json& args = function.at("children");
  auto text = [](const json& arg) {
    if (!ColumnName(arg).empty()) return ColumnName(arg);
    const json& value =
        ClassOf(arg) == "CONSTANT" ? arg.at("value").value("value", json()) : json();
    return value.is_string() ? value.get<std::string>() : std::string();
  };
  query->window_table = text(args.at(0));
  query->window_time = text(args.at(1));
  query->window_width_sql = ConstantSql(args.at(hop ? 3 : 2));
  if (hop) query->window_slide_sql = ConstantSql(args.at(2));
  if (query->window_table.empty() || query->window_time.empty() ||
      query->window_width_sql.empty() || (hop && query->window_slide_sql.empty())) {
    return Skip("a tumble()/hop() call it cannot read (the slide must divide the width)");
  }
  return arrow::Status::OK();
}

// The select list; `bucket` receives the time_bucket() call, if any.
arrow::Status ReadItems(const json& select_list, GroupedQuery* query, json* bucket) {
  for (const json& item : select_list) {
    GroupedQuery::Item out;
    out.alias = item.value("alias", "");
    const std::string column = ColumnName(item);
    if (!column.empty()) {
      out.kind = !query->from_window_function() ? GroupedQuery::Item::kKey
                 : column == "window_start"     ? GroupedQuery::Item::kWindowStart
                 : column == "window_end"       ? GroupedQuery::Item::kWindowEnd
                                                : GroupedQuery::Item::kKey;
      out.column = column;
      query->items.push_back(out);
      continue;
    }
    if (!IsPlainCall(item)) {
      return Skip("a select item that is not a column or a plain aggregate call");
    }
    const std::string function = item.value("function_name", "");
    const json& children = item.at("children");
    if (function == "time_bucket" && !query->from_window_function()) {
      if (!bucket->is_null() || children.size() != 2 || ColumnName(children.at(1)).empty()) {
        return Skip("a time_bucket() it cannot read");
      }
      *bucket = item;
      query->bucket_width_sql = ConstantSql(children.at(0));
      if (query->bucket_width_sql.empty()) return Skip("a bucket width that does not divide a day");
      out.kind = GroupedQuery::Item::kBucket;
      out.column = ColumnName(children.at(1));  // the time column
      query->items.push_back(out);
      continue;
    }
    const bool star = children.empty();
    if (!star && (children.size() != 1 || ColumnName(children.at(0)).empty())) {
      return Skip("an aggregate of an expression");
    }
    out.kind = GroupedQuery::Item::kAggregate;
    out.function = function;
    out.column = star ? "" : ColumnName(children.at(0));
    query->items.push_back(out);
  }
  for (const GroupedQuery::Item& item : query->items) {
    if (item.kind == GroupedQuery::Item::kKey && !query->keys.insert(item.column).second) {
      return Skip("a key column listed twice");
    }
  }
  return arrow::Status::OK();
}

// WHERE: nothing, or one bound on the time column (the trailing shape).
arrow::Status ReadWhere(const json& where, const json& bucket, GroupedQuery* query) {
  if (where.is_null()) {
    if (bucket.is_null() && !query->from_window_function()) {
      return Skip("a GROUP BY over all rows (no window holds every row)");
    }
    return arrow::Status::OK();
  }
  if (!bucket.is_null() || query->from_window_function() || ClassOf(where) != "COMPARISON") {
    return Skip(
        "a WHERE other than one comparison of the time column with a constant, or a WHERE "
        "beside a bucket or tumble()");
  }
  const std::string type = where.value("type", "");
  const json& left = where.at("left");
  const json& right = where.at("right");
  const json* bound = nullptr;
  if (!ColumnName(left).empty() && IsQueryConstant(right) &&
      (type == "COMPARE_GREATERTHAN" || type == "COMPARE_GREATERTHANOREQUALTO")) {
    query->since_column = ColumnName(left);
    bound = &right;
    query->inclusive = type == "COMPARE_GREATERTHANOREQUALTO";
  } else if (!ColumnName(right).empty() && IsQueryConstant(left) &&
             (type == "COMPARE_LESSTHAN" || type == "COMPARE_LESSTHANOREQUALTO")) {
    query->since_column = ColumnName(right);
    bound = &left;
    query->inclusive = type == "COMPARE_LESSTHANOREQUALTO";
  } else {
    return Skip("a WHERE that is not one bound on the time column");
  }
  auto printed = ExpressionSql(*bound);
  if (!printed.ok()) return Skip("a time bound that cannot be printed");
  query->since_sql = *printed;
  return arrow::Status::OK();
}

// GROUP BY ALL, or exactly the keys and the bucket / window columns.
arrow::Status ReadGroupBy(const json& node, const json& bucket, const GroupedQuery& query) {
  using Item = GroupedQuery::Item;
  if (node.value("aggregate_handling", "") != "FORCE_AGGREGATES") {
    if (node.at("group_sets").size() != 1) return Skip("grouping sets");
    std::set<std::string> grouped_keys;
    bool grouped_bucket = false;
    for (const json& group : node.at("group_expressions")) {
      const Item* target = nullptr;
      const std::string name = ColumnName(group);
      const int64_t position = IntegerConstant(group);
      if (position >= 1 && position <= static_cast<int64_t>(query.items.size())) {
        target = &query.items[position - 1];
      } else if (!name.empty()) {
        for (const Item& item : query.items) {
          if (!item.alias.empty() && item.alias == name) target = &item;
        }
        if (target == nullptr) {
          for (const Item& item : query.items) {
            if (item.kind != Item::kAggregate && item.kind != Item::kBucket && item.alias.empty() &&
                item.column == name) {
              target = &item;
            }
          }
        }
      } else if (!bucket.is_null() && Shape(group) == Shape(bucket)) {
        grouped_bucket = true;
        continue;
      }
      if (target == nullptr || target->kind == Item::kAggregate) {
        return Skip("a GROUP BY item that is not a key or the bucket");
      }
      if (target->kind == Item::kKey) grouped_keys.insert(target->column);
      if (target->kind != Item::kKey) grouped_bucket = true;
    }
    if (grouped_keys != query.keys) {
      return Skip("the GROUP BY keys differ from the select list's keys");
    }
    if (query.bucketed() && !grouped_bucket) return Skip("the bucket is not grouped by");
  }
  bool has_window_item = false;
  for (const Item& item : query.items) {
    has_window_item |= item.kind == Item::kBucket || item.kind == Item::kWindowStart ||
                       item.kind == Item::kWindowEnd;
  }
  if (query.bucketed() && !has_window_item) return Skip("no window column in the select list");
  return arrow::Status::OK();
}

arrow::Result<GroupedQuery> Read(const StatementInfo& statement, bool from_only) {
  const StatementReads& reads = statement.reads();
  if (!reads.known || !reads.whole_statement || reads.parsed_statements != 1) {
    return Skip("not one SELECT DuckDB can parse");
  }
  if (reads.has_parameters) return Skip("it has parameters");
  const json& node = reads.tree->at("statements").at(0).at("node");
  if (node.value("type", "") != "SELECT_NODE" || !node.at("cte_map").at("map").empty() ||
      !node.at("having").is_null() || !node.at("qualify").is_null() ||
      !node.at("sample").is_null()) {
    return Skip("not a plain SELECT (a CTE, HAVING, QUALIFY, SAMPLE or a set operation)");
  }
  GroupedQuery query;
  if (!ReadModifiers(node.at("modifiers"), &query)) {
    return Skip("an ORDER BY, LIMIT or DISTINCT it cannot keep");
  }
  ARROW_RETURN_NOT_OK(ReadFrom(node.at("from_table"), &query));
  if (from_only) return query;
  json bucket;
  ARROW_RETURN_NOT_OK(ReadItems(node.at("select_list"), &query, &bucket));
  ARROW_RETURN_NOT_OK(ReadWhere(node.at("where_clause"), bucket, &query));
  ARROW_RETURN_NOT_OK(ReadGroupBy(node, bucket, query));
  return query;
}

}  // namespace

std::string GroupedQuery::time_column() const {
  if (from_window_function()) return window_time;
  for (const Item& item : items) {
    if (item.kind == Item::kBucket) return item.column;
  }
  return since_sql ? since_column : "";
}

arrow::Result<GroupedQuery> ReadGroupedQuery(const StatementInfo& statement, bool from_only) {
  try {
    return Read(statement, from_only);
  } catch (const json::exception& e) {
    return arrow::Status::NotImplemented("a parse tree of an unexpected shape (", e.what(), ")");
  }
}

}  // namespace hyprstream::sql
