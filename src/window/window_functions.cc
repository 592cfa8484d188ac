#include "window/window_functions.h"

#include <arrow/builder.h>
#include <arrow/compute/cast.h>
#include <arrow/scalar.h>

#include <algorithm>
#include <cctype>

namespace hyprstream::window {
namespace {

// A `since :=` bound: epoch microseconds, or a timestamp as text (ISO 8601, UTC unless it
// carries an offset).
arrow::Result<int64_t> ParseSince(const std::string& text) {
  const std::string trimmed = Trim(text);
  if (!trimmed.empty() && std::all_of(trimmed.begin() + (trimmed[0] == '-' ? 1 : 0), trimmed.end(),
                                      [](unsigned char c) { return std::isdigit(c); })) {
    try {
      return std::stoll(trimmed);
    } catch (const std::exception&) {
    }
  }
  auto parsed = arrow::compute::Cast(arrow::StringScalar(trimmed),
                                     arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"));
  if (!parsed.ok()) {
    return arrow::Status::Invalid("since := '", text,
                                  "' is not a time: give epoch microseconds or a timestamp such "
                                  "as '2026-11-25 10:00:00' (UTC) or with an offset (+02:00)");
  }
  return std::static_pointer_cast<arrow::TimestampScalar>(parsed->scalar())->value;
}

}  // namespace

arrow::Status RegisterWindowFunctions(WindowCatalog* self, engine::Engine& host) {
  engine::TableFunctionSpec results;
  results.name = "hyprstream_window";
  results.positional_parameters = 1;
  results.named_parameters = {"width", "current", "key", "since", "inclusive"};
  results.direct_read = true;  // reads memory and history, not the caller's transaction
  results.schema = [self](const engine::TableFunctionArgs& args) {
    return self->ResultSchema(args.positional.at(0));
  };
  results.rows = [self](const engine::TableFunctionArgs& args)
      -> arrow::Result<std::shared_ptr<arrow::RecordBatch>> {
    auto window = args.named.count("width") ? args.named.at("width") : "";
    bool current = args.named.count("current") && Lower(args.named.at("current")) == "true";
    std::vector<std::string> keys;
    if (args.named.count("key")) keys = SplitList(args.named.at("key"));
    if (args.named.count("since")) {
      ARROW_ASSIGN_OR_RAISE(int64_t since, ParseSince(args.named.at("since")));
      bool inclusive = args.named.count("inclusive") && Lower(args.named.at("inclusive")) == "true";
      return self->TrailingResults(args.positional.at(0), window, since, inclusive, keys);
    }
    return self->Results(args.positional.at(0), window, current, keys);
  };
  ARROW_RETURN_NOT_OK(host.RegisterTableFunction(std::move(results)));

  auto created_schema = arrow::schema(
      {arrow::field("name", arrow::utf8()), arrow::field("table", arrow::utf8()),
       arrow::field("spec", arrow::utf8()), arrow::field("backfilled_rows", arrow::int64())});
  engine::TableFunctionSpec create;
  create.name = "hyprstream_create_window";
  create.positional_parameters = 2;
  create.named_parameters = {"keys",       "time_column", "value_columns", "windows",
                             "aggregates", "lateness",    "time_unit"};
  create.schema = [created_schema](const engine::TableFunctionArgs&) { return created_schema; };
  create.rows = [self, created_schema](const engine::TableFunctionArgs& args)
      -> arrow::Result<std::shared_ptr<arrow::RecordBatch>> {
    auto arguments = WindowArguments::FromMap(args.named);
    TableName table = TableName::Parse(args.positional.at(1));
    ARROW_ASSIGN_OR_RAISE(int64_t rows, self->Create(args.positional.at(0), table, arguments));
    ARROW_ASSIGN_OR_RAISE(auto created, self->Describe(args.positional.at(0)));
    arrow::StringBuilder name, table_b, spec;
    arrow::Int64Builder backfilled;
    ARROW_RETURN_NOT_OK(name.Append(created.name));
    ARROW_RETURN_NOT_OK(table_b.Append(created.table.key()));
    ARROW_RETURN_NOT_OK(spec.Append(created.spec));
    ARROW_RETURN_NOT_OK(backfilled.Append(rows));
    arrow::ArrayVector columns(4);
    ARROW_RETURN_NOT_OK(name.Finish(&columns[0]));
    ARROW_RETURN_NOT_OK(table_b.Finish(&columns[1]));
    ARROW_RETURN_NOT_OK(spec.Finish(&columns[2]));
    ARROW_RETURN_NOT_OK(backfilled.Finish(&columns[3]));
    return arrow::RecordBatch::Make(created_schema, 1, std::move(columns));
  };
  ARROW_RETURN_NOT_OK(host.RegisterTableFunction(std::move(create)));

  auto dropped_schema = arrow::schema(
      {arrow::field("name", arrow::utf8()), arrow::field("dropped", arrow::boolean())});
  engine::TableFunctionSpec drop;
  drop.name = "hyprstream_drop_window";
  drop.positional_parameters = 1;
  drop.schema = [dropped_schema](const engine::TableFunctionArgs&) { return dropped_schema; };
  drop.rows = [self, dropped_schema](const engine::TableFunctionArgs& args)
      -> arrow::Result<std::shared_ptr<arrow::RecordBatch>> {
    ARROW_RETURN_NOT_OK(self->Drop(args.positional.at(0)));
    arrow::StringBuilder name;
    arrow::BooleanBuilder dropped;
    ARROW_RETURN_NOT_OK(name.Append(Lower(args.positional.at(0))));
    ARROW_RETURN_NOT_OK(dropped.Append(true));
    arrow::ArrayVector columns(2);
    ARROW_RETURN_NOT_OK(name.Finish(&columns[0]));
    ARROW_RETURN_NOT_OK(dropped.Finish(&columns[1]));
    return arrow::RecordBatch::Make(dropped_schema, 1, std::move(columns));
  };
  ARROW_RETURN_NOT_OK(host.RegisterTableFunction(std::move(drop)));

  engine::TableFunctionSpec list;
  list.name = "hyprstream_windows";
  list.schema =
      [self](const engine::TableFunctionArgs&) -> arrow::Result<std::shared_ptr<arrow::Schema>> {
    ARROW_ASSIGN_OR_RAISE(auto batch, self->List());
    return batch->schema();
  };
  list.rows = [self](const engine::TableFunctionArgs&) { return self->List(); };
  ARROW_RETURN_NOT_OK(host.RegisterTableFunction(std::move(list)));

  // Flink/RisingWave-style window table functions over any table, computed by DuckDB:
  //   SELECT * FROM tumble('metrics', 'timestamp', INTERVAL '5 minutes')
  //   SELECT * FROM hop('metrics', 'timestamp', INTERVAL '1 minute', INTERVAL '5 minutes')
  // Windows align to the Unix epoch, like the maintained windows.
  ARROW_RETURN_NOT_OK(host.DefineMacro(
      "CREATE OR REPLACE MACRO main.tumble(t, c, w) AS TABLE SELECT *, "
      "time_bucket(w, COLUMNS(c)::TIMESTAMP, TIMESTAMP '1970-01-01') AS window_start, "
      "time_bucket(w, COLUMNS(c)::TIMESTAMP, TIMESTAMP '1970-01-01') + w AS window_end "
      "FROM query_table(t)"));
  ARROW_RETURN_NOT_OK(host.DefineMacro(
      "CREATE OR REPLACE MACRO main.hop(t, c, slide, w) AS TABLE SELECT * EXCLUDE (hs_ws), "
      "hs_ws AS window_start, hs_ws + w AS window_end FROM (SELECT *, unnest(generate_series("
      "time_bucket(slide, COLUMNS(c)::TIMESTAMP, TIMESTAMP '1970-01-01') - w + slide, "
      "time_bucket(slide, COLUMNS(c)::TIMESTAMP, TIMESTAMP '1970-01-01'), slide)) AS hs_ws "
      "FROM query_table(t)) WHERE hs_ws + w > COLUMNS(c)::TIMESTAMP"));
  return arrow::Status::OK();
}

}  // namespace hyprstream::window
