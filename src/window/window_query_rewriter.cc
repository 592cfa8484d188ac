#include "window/window_query_rewriter.h"

#include <arrow/type.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "sql/grouped_query.h"
#include "sql/sql_script.h"
#include "window/window_catalog.h"

namespace hyprstream::window {
namespace {

using Item = sql::GroupedQuery::Item;

constexpr int64_t kMicrosPerDay = 86400LL * 1000000;

// Not answered from windows, and why.
arrow::Status Skip(const char* reason) { return arrow::Status::NotImplemented(reason); }

// Microseconds of a constant interval (SQL text), evaluated by DuckDB; nullopt if it is not
// one fixed width.
std::optional<int64_t> IntervalMicros(engine::EngineConnection& connection,
                                      const std::string& interval_sql) {
  auto micros = engine::QueryValue(connection, "SELECT epoch_us(TIMESTAMP '1970-01-01' + CAST((" +
                                                   interval_sql + ") AS INTERVAL))");
  if (!micros.ok()) return std::nullopt;
  try {
    return std::stoll(*micros);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The query's ORDER BY, LIMIT and OFFSET, printed over the answer's output columns; "" if none.
std::string ModifiersSql(const sql::GroupedQuery& query) {
  std::string out;
  for (const auto& term : query.order_by) {
    out += out.empty() ? " ORDER BY " : ", ";
    // Checked against the output names later: a number is a position.
    out +=
        term.column.empty() ? std::to_string(term.position) : engine::QuoteIdentifier(term.column);
    out += term.suffix;
  }
  if (query.limit) out += " LIMIT " + std::to_string(*query.limit);
  if (query.offset) out += " OFFSET " + std::to_string(*query.offset);
  return out;
}

// The aggregate a select item calls (count(*) has no column, every other one has one).
std::optional<AggregateKind> AggregateOf(const Item& item) {
  const std::string& function = item.function;
  if (item.column.empty() != (function == "count_star")) return std::nullopt;
  static const std::map<std::string, AggregateKind> kByName = {
      {"count_star", AggregateKind::kRowCount},
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

arrow::Result<WindowAnswer> Rewrite(const WindowCatalog& catalog,
                                    engine::EngineConnection& original,
                                    engine::EngineConnection& host, const std::string& sql) {
  const auto script = sql::Analyze(sql);
  const sql::StatementInfo* statement = script->Single();
  if (statement == nullptr) return Skip("not one statement");
  ARROW_ASSIGN_OR_RAISE(const sql::GroupedQuery from,
                        sql::ReadGroupedQuery(*statement, /*from_only=*/true));
  std::string schema_name = from.schema, table_name = from.table;
  if (from.from_window_function()) {
    TableName parsed = TableName::Parse(from.window_table);
    schema_name = parsed.schema;
    table_name = parsed.table;
  }
  const TableName table =
      TableName::Of(schema_name.empty() ? std::string("main") : schema_name, table_name);
  auto definitions = catalog.DefinitionsOf(table);
  if (definitions.empty()) return Skip("no window definition over that table");
  ARROW_ASSIGN_OR_RAISE(const sql::GroupedQuery query, sql::ReadGroupedQuery(*statement));
  for (const Item& item : query.items) {
    if (item.kind == Item::kAggregate && !AggregateOf(item)) {
      return Skip("an aggregate the windows do not keep");
    }
  }

  // The bucket width (and a hop's slide), evaluated by DuckDB.
  std::optional<int64_t> width, hop_slide;
  if (query.from_window_function()) {
    width = IntervalMicros(host, query.window_width_sql);
    if (!query.window_slide_sql.empty()) {
      hop_slide = IntervalMicros(host, query.window_slide_sql);
      // The hop macro lists a row in every window from its slide bucket back: the same set
      // as the maintained hopping windows when the slide divides the width.
      if (!hop_slide || *hop_slide <= 0 || !width || *width % *hop_slide != 0) {
        return Skip("a tumble()/hop() call it cannot read (the slide must divide the width)");
      }
    }
    if (!width)
      return Skip("a tumble()/hop() call it cannot read (the slide must divide the width)");
  } else if (!query.bucket_width_sql.empty()) {
    width = IntervalMicros(host, query.bucket_width_sql);
  }
  if (query.bucketed() && (!width || *width <= 0 || kMicrosPerDay % *width != 0)) {
    return Skip("a bucket width that does not divide a day");
  }
  const std::string modifiers = ModifiersSql(query);

  // A definition that holds this answer.
  for (const auto& definition : definitions) {
    const WindowSpec& spec = definition.spec;
    if (spec.key_columns.empty() ||
        query.keys != std::set<std::string>(spec.key_columns.begin(), spec.key_columns.end())) {
      continue;
    }
    if (query.time_column() != spec.time_column) continue;
    bool aggregates_kept = true;
    std::vector<std::string> outputs;
    for (const Item& item : query.items) {
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
          const AggregateKind aggregate = *AggregateOf(item);
          const bool kept =
              std::count(spec.aggregates.begin(), spec.aggregates.end(), aggregate) > 0;
          aggregates_kept &= value_known && kept;
          outputs.push_back(AggregateColumnName(item.column, aggregate));
          break;
        }
      }
    }
    if (!aggregates_kept) continue;

    std::string arguments;
    std::optional<WindowDef> exact;  // re-checked at each execution
    if (query.since_sql) {
      auto bound_type = BoundType(definition.time_type);
      if (!bound_type) continue;
      const std::string bound = "epoch_us(CAST((" + *query.since_sql + ") AS " + *bound_type + "))";
      auto now_value = engine::QueryValue(host, "SELECT " + bound);
      if (!now_value.ok()) return Skip("a time bound that cannot be evaluated");
      int64_t since_us = 0;
      try {
        since_us = std::stoll(*now_value);
      } catch (const std::exception&) {
        return Skip("a time bound that is not a time");
      }
      // (A definition that answers nothing now may by the time the statement runs: each
      // execution checks.)
      auto trailing = catalog.TrailingCovering(definition.name, since_us, query.inclusive,
                                               WindowCatalog::When::kAtPrepare);
      if (!trailing) continue;
      arguments = ", width := " + engine::QuoteLiteral(WindowDef::Trailing(*trailing).ToString()) +
                  ", since := " + bound + (query.inclusive ? ", inclusive := 'true'" : "");
    } else {
      if (!catalog.AnswersExactly(definition.name, *width, hop_slide,
                                  WindowCatalog::When::kAtPrepare)) {
        continue;
      }
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
    if (!modifiers.empty()) {
      rewritten = "SELECT * FROM (" + rewritten + ") AS hyprstream_answer" + modifiers;
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
  auto answer = Rewrite(catalog, original, host, sql);
  if (!answer.ok()) spdlog::trace("not answered from windows: {}", answer.status().message());
  return answer;
}

}  // namespace hyprstream::window
