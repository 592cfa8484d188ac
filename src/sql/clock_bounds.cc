#include "sql/clock_bounds.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

#include "sql/duckdb_parser.h"
#include "sql/parse_tree.h"
#include "sql/sql_script.h"
#include "sql/text_memo.h"

namespace hyprstream::sql {
namespace {

using nlohmann::json;
using tree::ClassOf;
using tree::IsPlainCall;

// Functions giving the time of the query (a TIMESTAMPTZ, or a DATE for current_date).
const std::set<std::string>& ClockFunctions() {
  static const std::set<std::string> kClock = {"now", "current_timestamp", "get_current_timestamp",
                                               "transaction_timestamp"};
  return kClock;
}

// Functions whose value is fixed for a query when their arguments are.
bool IsQueryConstantFunction(const std::string& name) {
  static const std::set<std::string> kFunctions = {"now",
                                                   "current_timestamp",
                                                   "get_current_timestamp",
                                                   "transaction_timestamp",
                                                   "current_date",
                                                   "today",
                                                   "+",
                                                   "-",
                                                   "*",
                                                   "to_timestamp",
                                                   "make_timestamp",
                                                   "make_timestamptz",
                                                   "date_trunc",
                                                   "time_bucket",
                                                   "strptime",
                                                   "epoch_ms",
                                                   "trunc",
                                                   "to_weeks",
                                                   "to_days",
                                                   "to_hours",
                                                   "to_minutes",
                                                   "to_seconds",
                                                   "to_milliseconds",
                                                   "to_microseconds"};
  return kFunctions.count(name) != 0;
}

// `current_timestamp` written without parentheses: DuckDB parses it as a column name that the
// binder turns into the clock unless a column has that name. Either way it is compared exactly
// like the clock (a rewrite casting it is exact for a TIMESTAMPTZ column as well).
bool IsBareClock(const json& node) {
  return ClassOf(node) == "COLUMN_REF" && node.at("column_names").size() == 1 &&
         node.at("column_names").at(0) == "current_timestamp";
}

// One value per query: constants, casts and the allowed functions over them. For a clock side
// (`clock_side`) also parameters and the bare current_timestamp; `reads_clock` is set when the
// expression reads the clock.
bool IsOneValue(const json& node, bool clock_side, bool& reads_clock) {
  const std::string kind = ClassOf(node);
  if (kind == "CONSTANT") return true;
  if (clock_side && kind == "PARAMETER") return true;
  if (clock_side && IsBareClock(node)) return reads_clock = true;
  if (kind == "CAST") return IsOneValue(node.at("child"), clock_side, reads_clock);
  if (kind == "FUNCTION") {
    if (!IsPlainCall(node) || !IsQueryConstantFunction(node.value("function_name", ""))) {
      return false;
    }
    if (ClockFunctions().count(node.value("function_name", "")) != 0) reads_clock = true;
    for (const json& child : node.at("children")) {
      if (!IsOneValue(child, clock_side, reads_clock)) return false;
    }
    return true;
  }
  return false;
}

// The clock side of a comparison: one value per query that reads the clock.
bool IsClockValue(const json& node) {
  bool reads_clock = false;
  return IsOneValue(node, /*clock_side=*/true, reads_clock) && reads_clock;
}

// `expression` cast to TIMESTAMP, as DuckDB's parser would have it for CAST(... AS TIMESTAMP).
json CastToTimestamp(const json& expression) {
  return json{{"class", "CAST"},     {"type", "OPERATOR_CAST"},
              {"alias", ""},         {"query_location", expression.value("query_location", json())},
              {"child", expression}, {"cast_type", {{"id", "TIMESTAMP"}, {"type_info", nullptr}}},
              {"try_cast", false}};
}

bool IsColumn(const json& node) { return ClassOf(node) == "COLUMN_REF" && !IsBareClock(node); }

bool IsComparison(const std::string& type) {
  static const std::set<std::string> kTypes = {
      "COMPARE_EQUAL",         "COMPARE_NOTEQUAL",          "COMPARE_LESSTHAN",
      "COMPARE_GREATERTHAN",   "COMPARE_LESSTHANOREQUALTO", "COMPARE_GREATERTHANOREQUALTO",
      "COMPARE_DISTINCT_FROM", "COMPARE_NOT_DISTINCT_FROM"};
  return kTypes.count(type) != 0;
}

// Casts the clock side of every column-vs-clock comparison under ANDs and ORs of `node`;
// collects the columns so compared.
void CastClockSides(json& node, std::vector<json>& columns) {
  const std::string kind = ClassOf(node);
  if (kind == "CONJUNCTION") {
    for (json& child : node["children"]) CastClockSides(child, columns);
  } else if (kind == "COMPARISON" && IsComparison(node.value("type", ""))) {
    json& left = node["left"];
    json& right = node["right"];
    if (IsColumn(left) && IsClockValue(right)) {
      columns.push_back(left);
      right = CastToTimestamp(right);
    } else if (IsColumn(right) && IsClockValue(left)) {
      columns.push_back(right);
      left = CastToTimestamp(left);
    }
  } else if (kind == "BETWEEN" && IsColumn(node["input"]) && IsClockValue(node["lower"]) &&
             IsClockValue(node["upper"])) {
    columns.push_back(node["input"]);
    node["lower"] = CastToTimestamp(node["lower"]);
    node["upper"] = CastToTimestamp(node["upper"]);
  }
}

// Whether printing the select list again keeps every result column's name: columns keep
// theirs, a plain `*` expands the same, an alias is the name.
bool NamesSurvivePrinting(const json& select_list) {
  for (const json& item : select_list) {
    if (!item.value("alias", "").empty() || IsColumn(item)) continue;
    if (ClassOf(item) == "STAR" && !item.value("columns", false) && item.at("expr").is_null()) {
      continue;
    }
    return false;
  }
  return true;
}

// The rewrite of one parsed statement (its json_serialize_sql document), or nullptr. Throws
// json::exception for a tree of a shape not expected here.
std::shared_ptr<const ClockBoundRewrite> RewriteOf(const json& tree) {
  const json& statements = tree.at("statements");
  if (statements.size() != 1) return nullptr;
  const json& node = statements.at(0).at("node");
  if (node.value("type", "") != "SELECT_NODE" || node.at("where_clause").is_null()) return nullptr;
  const bool names_may_differ = !NamesSurvivePrinting(node.at("select_list"));
  json rewritten = tree;
  json& rewritten_node = rewritten["statements"][0]["node"];
  std::vector<json> columns;
  CastClockSides(rewritten_node["where_clause"], columns);
  if (columns.empty()) return nullptr;
  json probe = rewritten;
  json& probe_node = probe["statements"][0]["node"];
  for (json& column : columns) column["alias"] = "";
  probe_node["select_list"] = columns;
  probe_node["where_clause"] = nullptr;
  probe_node["group_expressions"] = json::array();
  probe_node["group_sets"] = json::array();
  probe_node["aggregate_handling"] = "STANDARD_HANDLING";
  probe_node["having"] = nullptr;
  probe_node["qualify"] = nullptr;
  probe_node["sample"] = nullptr;
  probe_node["modifiers"] = json::array();
  auto rewritten_sql = Deparse(rewritten);
  auto probe_sql = Deparse(probe);
  if (!rewritten_sql.ok() || !probe_sql.ok()) return nullptr;
  return std::make_shared<const ClockBoundRewrite>(
      ClockBoundRewrite{std::move(*rewritten_sql), std::move(*probe_sql), names_may_differ});
}

std::shared_ptr<const ClockBoundRewrite> Build(std::string_view sql) {
  const auto script = Analyze(sql);  // owns the statement read below
  const StatementInfo* statement = script->Single();
  if (statement == nullptr) return nullptr;
  // Cheap before looking at the tree: the text names the clock.
  std::string lower(statement->text());
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool clock =
      std::any_of(ClockFunctions().begin(), ClockFunctions().end(),
                  [&](const std::string& name) { return lower.find(name) != std::string::npos; });
  if (!clock) return nullptr;
  const StatementReads& reads = statement->reads();
  if (!reads.whole_statement || reads.tree == nullptr) return nullptr;
  try {
    return RewriteOf(*reads.tree);
  } catch (const json::exception&) {
    return nullptr;  // a parse tree of another shape than expected: leave the query alone
  }
}

}  // namespace

bool IsQueryConstant(const json& node) {
  bool reads_clock = false;
  try {
    return IsOneValue(node, /*clock_side=*/false, reads_clock);
  } catch (const json::exception&) {
    return false;  // a node of a shape not expected here
  }
}

std::shared_ptr<const ClockBoundRewrite> ClockBoundRewriteOf(std::string_view sql) {
  struct Entry {
    std::shared_ptr<const ClockBoundRewrite> rewrite;  // null: none
  };
  static TextMemo<Entry> memo(/*max_entries=*/4096, /*max_bytes=*/32 << 20,
                              /*max_text_bytes=*/64 << 10);
  if (auto known = memo.Find(sql)) return known->rewrite;
  auto entry = std::make_shared<const Entry>(Entry{Build(sql)});
  const size_t cost = sql.size() + (entry->rewrite != nullptr ? entry->rewrite->sql.size() +
                                                                    entry->rewrite->probe_sql.size()
                                                              : 0);
  memo.Add(sql, entry, 2 * cost + 64);
  return entry->rewrite;
}

}  // namespace hyprstream::sql
