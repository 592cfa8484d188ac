#include "window/window_query_rewriter.h"

#include <arrow/type.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "sql/clock_bounds.h"
#include "sql/duckdb_parser.h"
#include "sql/sql_script.h"
#include "window/window_catalog.h"

namespace hyprstream::window {
namespace {

using nlohmann::json;

constexpr int64_t kMicrosPerDay = 86400LL * 1000000;

// Not answered from windows, and why.
arrow::Status Skip(const char* reason) { return arrow::Status::NotImplemented(reason); }

std::string ClassOf(const json& node) { return node.value("class", ""); }

// The column name of a one-part column reference, or "".
std::string ColumnName(const json& node) {
  if (ClassOf(node) != "COLUMN_REF" || node["column_names"].size() != 1) return "";
  return node["column_names"][0].get<std::string>();
}

// A plain call f(...): no DISTINCT, FILTER, ORDER BY inside or schema.
bool IsPlainCall(const json& node) {
  return ClassOf(node) == "FUNCTION" && !node.value("distinct", false) &&
         node["filter"].is_null() && node["order_bys"]["orders"].empty() &&
         node.value("schema", "").empty();
}

// A constant integer (GROUP BY / ORDER BY position, LIMIT), or -1.
int64_t IntegerConstant(const json& node) {
  if (ClassOf(node) != "CONSTANT") return -1;
  const json& value = node["value"].value("value", json());
  return value.is_number_integer() ? value.get<int64_t>() : -1;
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

// Microseconds of a constant interval expression, evaluated by DuckDB; nullopt if it is not
// one fixed width.
std::optional<int64_t> IntervalMicros(engine::EngineConnection& connection, const json& node) {
  if (!sql::IsQueryConstant(node)) return std::nullopt;
  auto text = sql::ExpressionSql(node);
  if (!text.ok()) return std::nullopt;
  auto micros = engine::QueryValue(
      connection, "SELECT epoch_us(TIMESTAMP '1970-01-01' + CAST((" + *text + ") AS INTERVAL))");
  if (!micros.ok()) return std::nullopt;
  try {
    return std::stoll(*micros);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// ORDER BY output columns and LIMIT/OFFSET constants, printed for the rewritten query; "" if
// there are none; nullopt when a modifier is something else.
std::optional<std::string> Modifiers(const json& modifiers) {
  std::string order, limit;
  for (const json& modifier : modifiers) {
    const std::string type = modifier.value("type", "");
    if (type == "ORDER_MODIFIER") {
      for (const json& term : modifier["orders"]) {
        std::string target = ColumnName(term["expression"]);
        const int64_t position = IntegerConstant(term["expression"]);
        if (target.empty() && position < 1) return std::nullopt;
        order += order.empty() ? " ORDER BY " : ", ";
        // Checked against the output names later: '#<n>' is a position.
        order += target.empty() ? std::to_string(position) : engine::QuoteIdentifier(target);
        const std::string direction = term.value("type", "");
        if (direction == "DESCENDING") order += " DESC";
        if (direction == "ASCENDING") order += " ASC";
        const std::string nulls = term.value("null_order", "");
        if (nulls == "NULLS FIRST" || nulls == "NULLS_FIRST") order += " NULLS FIRST";
        if (nulls == "NULLS LAST" || nulls == "NULLS_LAST") order += " NULLS LAST";
      }
    } else if (type == "LIMIT_MODIFIER") {
      const int64_t count = IntegerConstant(modifier["limit"]);
      if (!modifier["limit"].is_null() && count < 0) return std::nullopt;
      if (!modifier["limit"].is_null()) limit += " LIMIT " + std::to_string(count);
      if (!modifier["offset"].is_null()) {
        const int64_t offset = IntegerConstant(modifier["offset"]);
        if (offset < 0) return std::nullopt;
        limit += " OFFSET " + std::to_string(offset);
      }
    } else {
      return std::nullopt;
    }
  }
  return order + limit;
}

// One select item, classified.
struct Item {
  enum Kind { kKey, kBucket, kWindowStart, kWindowEnd, kAggregate } kind;
  std::string column;         // key / aggregated column ("" for count(*))
  AggregateKind aggregate{};  // kAggregate
  std::string alias;          // as written, may be ""
};

std::optional<AggregateKind> AggregateOf(const std::string& function, bool star) {
  static const std::map<std::string, AggregateKind> kByName = {
      {"count", AggregateKind::kCount},
      {"sum", AggregateKind::kSum},
      {"avg", AggregateKind::kAvg},
      {"mean", AggregateKind::kAvg},
      {"min", AggregateKind::kMin},
      {"max", AggregateKind::kMax},
      {"var_samp", AggregateKind::kVarSamp},
      {"variance", AggregateKind::kVarSamp},
      {"var_pop", AggregateKind::kVarPop},
      {"stddev", AggregateKind::kStddevSamp},
      {"stddev_samp", AggregateKind::kStddevSamp},
      {"stddev_pop", AggregateKind::kStddevPop}};
  if (star)
    return function == "count_star" ? std::optional(AggregateKind::kRowCount) : std::nullopt;
  auto it = kByName.find(function);
  if (it == kByName.end()) return std::nullopt;
  return it->second;
}

// Whether the time column's values compare in DuckDB as the windows saw them (microsecond or
// coarser timestamps); the DuckDB type to cast a bound to.
std::optional<std::string> BoundType(const std::shared_ptr<arrow::DataType>& type) {
  if (type == nullptr || type->id() != arrow::Type::TIMESTAMP) return std::nullopt;
  const auto& timestamp = static_cast<const arrow::TimestampType&>(*type);
  if (timestamp.unit() == arrow::TimeUnit::NANO) return std::nullopt;
  return timestamp.timezone().empty() ? "TIMESTAMP" : "TIMESTAMPTZ";
}

}  // namespace

namespace {

arrow::Result<WindowAnswer> Rewrite(const WindowCatalog& catalog,
                                    engine::EngineConnection& original,
                                    engine::EngineConnection& host, const std::string& sql) {
  const auto script = sql::Analyze(sql);
  const sql::StatementInfo* statement = script->Single();
  if (statement == nullptr) return Skip("not one statement");
  const sql::StatementReads& reads = statement->reads();
  if (!reads.known || !reads.whole_statement || reads.tree == nullptr ||
      reads.tree->at("statements").size() != 1) {
    return Skip("not one SELECT DuckDB can parse");
  }
  if (reads.has_parameters) return Skip("it has parameters");
  const json& node = reads.tree->at("statements").at(0).at("node");
  if (node.value("type", "") != "SELECT_NODE" || !node["cte_map"]["map"].empty() ||
      !node["having"].is_null() || !node["qualify"].is_null() || !node["sample"].is_null()) {
    return Skip("not a plain SELECT (a CTE, HAVING, QUALIFY, SAMPLE or a set operation)");
  }
  auto modifiers = Modifiers(node["modifiers"]);
  if (!modifiers) return Skip("an ORDER BY, LIMIT or DISTINCT it cannot keep");

  // FROM: a table, or tumble(table, time column, width).
  const json& from = node["from_table"];
  std::string table_name, schema_name, tumble_time;
  std::optional<int64_t> tumble_width, hop_slide;  // hop(table, time, slide, width)
  if (from.value("type", "") == "BASE_TABLE") {
    if (!from["sample"].is_null() || !from["at_clause"].is_null() ||
        !from.value("catalog_name", "").empty()) {
      return Skip("FROM a table with a sample, an AT clause or a catalog");
    }
    table_name = from.value("table_name", "");
    schema_name = from.value("schema_name", "");
  } else if (from.value("type", "") == "TABLE_FUNCTION" && from["sample"].is_null() &&
             IsPlainCall(from["function"]) &&
             ((from["function"].value("function_name", "") == "tumble" &&
               from["function"]["children"].size() == 3) ||
              (from["function"].value("function_name", "") == "hop" &&
               from["function"]["children"].size() == 4))) {
    const json& args = from["function"]["children"];
    const bool hop = args.size() == 4;
    auto text = [](const json& arg) {
      if (!ColumnName(arg).empty()) return ColumnName(arg);
      const json& value = ClassOf(arg) == "CONSTANT" ? arg["value"].value("value", json()) : json();
      return value.is_string() ? value.get<std::string>() : std::string();
    };
    TableName parsed = TableName::Parse(text(args[0]));
    table_name = parsed.table;
    schema_name = parsed.schema;
    tumble_time = text(args[1]);
    tumble_width = IntervalMicros(host, args[hop ? 3 : 2]);
    if (hop) {
      hop_slide = IntervalMicros(host, args[2]);
      // The hop macro lists a row in every window from its slide bucket back: the same set
      // as the maintained hopping windows when the slide divides the width.
      if (!hop_slide || *hop_slide <= 0 || !tumble_width || *tumble_width % *hop_slide != 0) {
        return Skip("a tumble()/hop() call it cannot read (the slide must divide the width)");
      }
    }
    if (table_name.empty() || tumble_time.empty() || !tumble_width)
      return Skip("a tumble()/hop() call it cannot read (the slide must divide the width)");
  } else {
    return Skip("FROM is not one table, tumble() or hop()");
  }
  const TableName table =
      TableName::Of(schema_name.empty() ? std::string("main") : schema_name, table_name);
  auto definitions = catalog.DefinitionsOf(table);
  if (definitions.empty()) return Skip("no window definition over that table");

  // The select list.
  std::vector<Item> items;
  json bucket;
  for (const json& item : node["select_list"]) {
    Item out{Item::kKey, "", {}, item.value("alias", "")};
    const std::string column = ColumnName(item);
    if (!column.empty()) {
      out.kind = !tumble_width              ? Item::kKey
                 : column == "window_start" ? Item::kWindowStart
                 : column == "window_end"   ? Item::kWindowEnd
                                            : Item::kKey;
      out.column = column;
      items.push_back(out);
      continue;
    }
    if (!IsPlainCall(item))
      return Skip("a select item that is not a column or a plain aggregate call");
    const std::string function = item.value("function_name", "");
    const json& children = item["children"];
    if (function == "time_bucket" && !tumble_width) {
      if (!bucket.is_null() || children.size() != 2 || ColumnName(children[1]).empty()) {
        return Skip("a time_bucket() it cannot read");
      }
      bucket = item;
      out.kind = Item::kBucket;
      out.column = ColumnName(children[1]);  // the time column
      items.push_back(out);
      continue;
    }
    const bool star = children.empty();
    if (!star && (children.size() != 1 || ColumnName(children[0]).empty()))
      return Skip("an aggregate of an expression");
    auto kind = AggregateOf(function, star);
    if (!kind) return Skip("an aggregate the windows do not keep");
    out.kind = Item::kAggregate;
    out.aggregate = *kind;
    out.column = star ? "" : ColumnName(children[0]);
    items.push_back(out);
  }
  std::set<std::string> keys;
  bool has_window_item = false;
  for (const Item& item : items) {
    if (item.kind == Item::kKey && !keys.insert(item.column).second)
      return Skip("a key column listed twice");
    has_window_item |= item.kind == Item::kBucket || item.kind == Item::kWindowStart ||
                       item.kind == Item::kWindowEnd;
  }

  // WHERE: nothing, or one bound on the time column (the trailing shape).
  const json& where = node["where_clause"];
  std::optional<json> since;
  bool inclusive = false;
  std::string where_time;
  if (!where.is_null()) {
    if (!bucket.is_null() || tumble_width || ClassOf(where) != "COMPARISON") {
      return Skip(
          "a WHERE other than one comparison of the time column with a constant, or a WHERE "
          "beside a bucket or tumble()");
    }
    const std::string type = where.value("type", "");
    const json& left = where["left"];
    const json& right = where["right"];
    if (!ColumnName(left).empty() && sql::IsQueryConstant(right) &&
        (type == "COMPARE_GREATERTHAN" || type == "COMPARE_GREATERTHANOREQUALTO")) {
      where_time = ColumnName(left);
      since = right;
      inclusive = type == "COMPARE_GREATERTHANOREQUALTO";
    } else if (!ColumnName(right).empty() && sql::IsQueryConstant(left) &&
               (type == "COMPARE_LESSTHAN" || type == "COMPARE_LESSTHANOREQUALTO")) {
      where_time = ColumnName(right);
      since = left;
      inclusive = type == "COMPARE_LESSTHANOREQUALTO";
    } else {
      return Skip("a WHERE that is not one bound on the time column");
    }
  } else if (bucket.is_null() && !tumble_width) {
    return Skip(
        "a GROUP BY over all rows (no window holds every row)");  // a GROUP BY over all rows: no
                                                                  // window holds every row
  }

  // GROUP BY ALL, or exactly the keys and the bucket / window columns.
  if (node.value("aggregate_handling", "") != "FORCE_AGGREGATES") {
    if (node["group_sets"].size() != 1) return Skip("grouping sets");
    std::set<std::string> grouped_keys;
    bool grouped_bucket = false;
    for (const json& group : node["group_expressions"]) {
      const Item* target = nullptr;
      const std::string name = ColumnName(group);
      const int64_t position = IntegerConstant(group);
      if (position >= 1 && position <= static_cast<int64_t>(items.size())) {
        target = &items[position - 1];
      } else if (!name.empty()) {
        for (const Item& item : items) {
          if (!item.alias.empty() && item.alias == name) target = &item;
        }
        if (target == nullptr) {
          for (const Item& item : items) {
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
      if (target == nullptr || target->kind == Item::kAggregate)
        return Skip("a GROUP BY item that is not a key or the bucket");
      if (target->kind == Item::kKey) grouped_keys.insert(target->column);
      if (target->kind != Item::kKey) grouped_bucket = true;
    }
    if (grouped_keys != keys) return Skip("the GROUP BY keys differ from the select list's keys");
    if ((!bucket.is_null() || tumble_width) && !grouped_bucket)
      return Skip("the bucket is not grouped by");
  }
  if ((!bucket.is_null() || tumble_width) && !has_window_item)
    return Skip("no window column in the select list");

  // The bucket width.
  std::optional<int64_t> width = tumble_width;
  if (!bucket.is_null()) width = IntervalMicros(host, bucket["children"][0]);
  if ((!bucket.is_null() || tumble_width) &&
      (!width || *width <= 0 || kMicrosPerDay % *width != 0)) {
    return Skip("a bucket width that does not divide a day");
  }

  // A definition that holds this answer.
  for (const auto& definition : definitions) {
    const WindowSpec& spec = definition.spec;
    if (spec.key_columns.empty() ||
        keys != std::set<std::string>(spec.key_columns.begin(), spec.key_columns.end())) {
      continue;
    }
    std::string time = tumble_width ? tumble_time : since ? where_time : "";
    for (const Item& item : items) {
      if (item.kind == Item::kBucket) time = item.column;
    }
    if (time != spec.time_column) continue;
    bool aggregates_kept = true;
    std::vector<std::string> outputs;
    for (const Item& item : items) {
      switch (item.kind) {
        case Item::kKey:
          outputs.push_back(item.column);
          break;
        case Item::kBucket:
        case Item::kWindowStart:
          outputs.push_back("window_start");
          break;
        case Item::kWindowEnd:
          outputs.push_back("window_end");
          break;
        case Item::kAggregate: {
          const bool value_known =
              item.column.empty() ||
              std::count(spec.value_columns.begin(), spec.value_columns.end(), item.column) > 0;
          const bool kept =
              std::count(spec.aggregates.begin(), spec.aggregates.end(), item.aggregate) > 0;
          aggregates_kept &= value_known && kept;
          outputs.push_back(AggregateColumnName(item.column, item.aggregate));
          break;
        }
      }
    }
    if (!aggregates_kept) continue;

    std::string arguments;
    std::optional<WindowDef> exact;  // re-checked at each execution
    if (since) {
      auto bound_type = BoundType(definition.time_type);
      if (!bound_type) continue;
      auto bound_sql = sql::ExpressionSql(*since);
      if (!bound_sql.ok()) return Skip("a time bound that cannot be printed");
      const std::string bound = "epoch_us(CAST((" + *bound_sql + ") AS " + *bound_type + "))";
      auto now_value = engine::QueryValue(host, "SELECT " + bound);
      if (!now_value.ok()) return Skip("a time bound that cannot be evaluated");
      int64_t since_us = 0;
      try {
        since_us = std::stoll(*now_value);
      } catch (const std::exception&) {
        return Skip("a time bound that is not a time");
      }
      auto trailing = catalog.TrailingCovering(definition.name, since_us, inclusive);
      if (!trailing) continue;
      arguments = ", width := " + engine::QuoteLiteral(WindowDef::Trailing(*trailing).ToString()) +
                  ", since := " + bound + (inclusive ? ", inclusive := 'true'" : "");
    } else {
      if (!catalog.AnswersExactly(definition.name, *width, hop_slide)) continue;
      exact = hop_slide ? WindowDef::Hopping(*width, *hop_slide) : WindowDef::Tumbling(*width);
      arguments = ", width := " + engine::QuoteLiteral(exact->ToString());
    }

    // Keep the engine's output names, so the result looks exactly like the original query's.
    auto statement = original.Prepare(sql);
    if (!statement.ok() || (*statement)->dataset_schema() == nullptr)
      return Skip("the engine cannot describe the query's result");
    auto schema = (*statement)->dataset_schema();
    if (schema->num_fields() != static_cast<int>(outputs.size()))
      return Skip("the query's result has other columns");
    std::string rewritten = "SELECT ";
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (i > 0) rewritten += ", ";
      rewritten += engine::QuoteIdentifier(outputs[i]) + " AS " +
                   engine::QuoteIdentifier(schema->field(static_cast<int>(i))->name());
    }
    rewritten +=
        " FROM hyprstream_window(" + engine::QuoteLiteral(definition.name) + arguments + ")";
    if (!modifiers->empty()) {
      rewritten = "SELECT * FROM (" + rewritten + ") AS hyprstream_answer" + *modifiers;
    }
    // Same column names and types as the original, or leave it to the engine.
    auto check = host.Prepare(rewritten);
    if (!check.ok() || (*check)->dataset_schema() == nullptr ||
        !(*check)->dataset_schema()->Equals(*schema, /*check_metadata=*/false)) {
      return Skip("the answer's column names or types would differ from the engine's");
    }
    spdlog::trace("rewritten to read window '{}' when it runs: {}", definition.name, rewritten);
    WindowAnswer answer;
    answer.sql = std::move(rewritten);
    answer.definition = definition.name;
    answer.exact = exact;
    answer.from_windows = std::move(*check);
    answer.original = std::move(*statement);
    return answer;
  }
  return Skip(
      "no definition keeps these keys, aggregates and window exactly (late rows, rows without a "
      "time, or a trailing buffer that no longer covers the bound)");
}

}  // namespace

arrow::Result<WindowAnswer> RewriteFromWindows(const WindowCatalog& catalog,
                                               engine::EngineConnection& original,
                                               engine::EngineConnection& host,
                                               const std::string& sql) {
  auto answer = [&]() -> arrow::Result<WindowAnswer> {
    try {
      return Rewrite(catalog, original, host, sql);
    } catch (const json::exception& e) {
      return arrow::Status::NotImplemented("a parse tree of an unexpected shape (", e.what(), ")");
    }
  }();
  if (!answer.ok()) spdlog::trace("not answered from windows: {}", answer.status().message());
  return answer;
}

}  // namespace hyprstream::window
