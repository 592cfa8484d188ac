#include "window/window_catalog.h"

#include <arrow/array.h>
#include <arrow/array/util.h>
#include <arrow/builder.h>
#include <arrow/compute/cast.h>
#include <arrow/scalar.h>
#include <arrow/table.h>
#include <arrow/type.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <limits>
#include <sstream>

#include <spdlog/spdlog.h>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/arrow_validation.h"
#include "engine/engine_sql.h"
#include "window/duration.h"
#include "window/event_time.h"

namespace hyprstream::window {
namespace {

constexpr char kMetrics[] = "metrics";
constexpr char kInternalSchema[] = "_hyprstream";

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    part = Trim(part);
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

bool IsMetrics(const TableName& table) { return table.schema == "main" && table.table == kMetrics; }

// The metrics columns a client supplies, normalised: metric_id utf8, timestamp
// timestamp[us], value double. Integer epochs only with a configured unit.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> NormaliseMetrics(
    const arrow::RecordBatch& batch, std::optional<arrow::TimeUnit::type> integer_unit) {
  static const auto kSchema =
      arrow::schema({arrow::field("metric_id", arrow::utf8()),
                     arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO)),
                     arrow::field("value", arrow::float64())});
  arrow::ArrayVector columns;
  for (const auto& target : kSchema->fields()) {
    auto column = batch.GetColumnByName(target->name());
    if (column == nullptr) {
      return arrow::Status::Invalid(
          "metrics rows need the columns metric_id, timestamp and "
          "value; '",
          target->name(), "' is missing");
    }
    if (target->name() == "timestamp" && arrow::is_integer(column->type_id())) {
      if (!integer_unit) {
        return arrow::Status::Invalid(
            "metrics.timestamp is an integer (", column->type()->ToString(),
            ") but its unit is unknown: send an Arrow timestamp, or set "
            "metrics_integer_time_unit (s, ms, us or ns) in the configuration");
      }
      ARROW_ASSIGN_OR_RAISE(auto as_int64, arrow::compute::Cast(*column, arrow::int64()));
      ARROW_ASSIGN_OR_RAISE(column, as_int64->View(arrow::timestamp(*integer_unit)));
    }
    if (!column->type()->Equals(*target->type())) {
      auto cast = arrow::compute::Cast(*column, target->type());
      if (!cast.ok()) {
        return arrow::Status::Invalid("metrics.", target->name(), " must be ",
                                      target->type()->ToString(), "-compatible; got ",
                                      column->type()->ToString(), ": ", cast.status().message());
      }
      column = *cast;
    }
    columns.push_back(std::move(column));
  }
  return arrow::RecordBatch::Make(kSchema, batch.num_rows(), std::move(columns));
}

// Late rows (and rows without time) get running values of null; their count is 0 so that a
// stored row always has a count (SQL-written rows are recognised by a null count).
arrow::Result<std::shared_ptr<arrow::Array>> ZeroNullCounts(
    const std::shared_ptr<arrow::Array>& counts) {
  if (counts->null_count() == 0) return counts;
  const auto& typed = static_cast<const arrow::Int64Array&>(*counts);
  arrow::Int64Builder out;
  ARROW_RETURN_NOT_OK(out.Reserve(typed.length()));
  for (int64_t i = 0; i < typed.length(); ++i) {
    out.UnsafeAppend(typed.IsNull(i) ? 0 : typed.Value(i));
  }
  return out.Finish();
}

// The window_spec column: the window's spec text on every row.
// Trailing buffers keep this much beyond their width, so a read "since now - width" made while
// rows keep arriving still finds every row it needs.
constexpr int64_t kTrailingSlackUs = 60LL * 1000000;

int64_t WallClockMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

arrow::Result<std::shared_ptr<arrow::Array>> SpecColumn(const WindowDef& window, int64_t rows) {
  // The same text on every row, built in bulk (offsets step by its length, the text doubled
  // into place): a window read of every key pays this once per key.
  const std::string text = window.ToString();
  const int64_t size = static_cast<int64_t>(text.size());
  if (rows <= 0 || size == 0 || rows * size > std::numeric_limits<int32_t>::max()) {
    return arrow::MakeArrayFromScalar(arrow::StringScalar(text), rows);
  }
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> offsets,
                        arrow::AllocateBuffer((rows + 1) * sizeof(int32_t)));
  auto* offset = reinterpret_cast<int32_t*>(offsets->mutable_data());
  for (int64_t i = 0; i <= rows; ++i) offset[i] = static_cast<int32_t>(i * size);
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> data, arrow::AllocateBuffer(rows * size));
  uint8_t* bytes = data->mutable_data();
  std::memcpy(bytes, text.data(), size);
  for (int64_t filled = size; filled < rows * size;) {
    const int64_t n = std::min(filled, rows * size - filled);
    std::memcpy(bytes + filled, bytes, n);
    filled += n;
  }
  return std::make_shared<arrow::StringArray>(rows, std::move(offsets), std::move(data));
}

}  // namespace

arrow::Result<std::optional<arrow::TimeUnit::type>> ParseTimeUnit(const std::string& text) {
  std::string unit = Lower(Trim(text));
  if (unit.empty()) return std::nullopt;
  if (unit == "s") return arrow::TimeUnit::SECOND;
  if (unit == "ms") return arrow::TimeUnit::MILLI;
  if (unit == "us") return arrow::TimeUnit::MICRO;
  if (unit == "ns") return arrow::TimeUnit::NANO;
  return arrow::Status::Invalid("time_unit must be s, ms, us or ns; got '", text, "'");
}

WindowArguments WindowArguments::FromMap(const std::map<std::string, std::string>& values) {
  WindowArguments arguments;
  auto set = [&](const char* key, std::string* field) {
    auto it = values.find(key);
    if (it != values.end()) *field = it->second;
  };
  set("keys", &arguments.keys);
  set("time_column", &arguments.time);
  set("value_columns", &arguments.values);
  set("windows", &arguments.windows);
  set("aggregates", &arguments.aggregates);
  set("lateness", &arguments.lateness);
  set("time_unit", &arguments.time_unit);
  return arguments;
}

// --- TableName --------------------------------------------------------------------------------

TableName TableName::Of(const std::optional<std::string>& schema, const std::string& table) {
  TableName name;
  if (schema && !schema->empty()) name.schema = Lower(*schema);
  name.table = Lower(table);
  return name;
}

TableName TableName::Parse(const std::string& text) {
  auto dot = text.find('.');
  if (dot == std::string::npos) return Of(std::nullopt, text);
  return Of(text.substr(0, dot), text.substr(dot + 1));
}

TableName TableName::OfPath(const std::vector<std::string>& path) {
  if (path.empty()) return {};
  if (path.size() == 1) return Of(std::nullopt, path[0]);
  return Of(path[path.size() - 2], path.back());
}

// --- Entries ----------------------------------------------------------------------------------

struct WindowCatalog::Entry {
  std::string name;
  TableName table;
  WindowArguments arguments;
  WindowSpec spec;
  std::shared_ptr<arrow::Schema> input_schema;  // the table's columns
  std::unique_ptr<WindowStore> store;
  std::shared_ptr<arrow::Schema> result_schema;  // "window" + store output
  std::vector<std::string> history_path;         // _hyprstream."<name>_history"

  std::mutex write_mutex;  // one writer: Update, closing, history appends
  std::unique_ptr<engine::TableAppender> history;
  // Rows of the table were changed or removed (metrics UPDATE/DELETE): its windows no longer
  // equal a GROUP BY over the table, so queries are not answered from them.
  std::atomic<bool> diverged{false};
};

WindowCatalog::WindowCatalog(std::shared_ptr<engine::Engine> engine, WindowCatalogOptions options)
    : engine_(std::move(engine)), options_(std::move(options)) {}

WindowCatalog::~WindowCatalog() = default;

arrow::Result<std::shared_ptr<WindowCatalog>> WindowCatalog::Open(
    std::shared_ptr<engine::Engine> engine, WindowCatalogOptions options) {
  std::shared_ptr<WindowCatalog> catalog(new WindowCatalog(std::move(engine), std::move(options)));
  ARROW_RETURN_NOT_OK(catalog->Start());
  return catalog;
}

arrow::Status WindowCatalog::RunSql(const std::string& sql) const {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  return engine::ExecuteStatement(*connection, sql);
}

arrow::Status WindowCatalog::Start() {
  ARROW_RETURN_NOT_OK(RunSql(std::string("CREATE SCHEMA IF NOT EXISTS ") + kInternalSchema));
  ARROW_RETURN_NOT_OK(RunSql(
      std::string("CREATE TABLE IF NOT EXISTS ") + kInternalSchema +
      ".window_definitions (name VARCHAR PRIMARY KEY, table_schema VARCHAR NOT NULL, "
      "table_name VARCHAR NOT NULL, keys VARCHAR, time_column VARCHAR, value_columns VARCHAR, "
      "windows VARCHAR, aggregates VARCHAR, lateness VARCHAR, time_unit VARCHAR, "
      "created_at TIMESTAMP DEFAULT current_timestamp)"));
  ARROW_RETURN_NOT_OK(RegisterFunctions());

  if (options_.metrics_table) {
    ARROW_RETURN_NOT_OK(CreateMetricsTable());
    WindowArguments metrics;
    metrics.keys = "metric_id";
    metrics.time = "timestamp";
    metrics.values = "value";
    metrics.windows.clear();
    for (const auto& window : options_.metrics_windows) {
      if (!metrics.windows.empty()) metrics.windows += ",";
      metrics.windows += window.ToString();
    }
    metrics.lateness = FormatDuration(options_.allowed_lateness_us);
    ARROW_ASSIGN_OR_RAISE(auto entry, MakeEntry(kMetrics, TableName::Of("main", kMetrics), metrics,
                                                /*persist_history=*/true));
    ARROW_RETURN_NOT_OK(Backfill(*entry).status());
    std::unique_lock<std::shared_mutex> lock(mutex_);
    entries_[kMetrics] = std::move(entry);
  }

  // Definitions made earlier (persisted): rebuild their state from the stored rows.
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  ARROW_ASSIGN_OR_RAISE(
      auto stored,
      engine::QueryTable(*connection, std::string("SELECT name, table_schema, table_name, keys, "
                                                  "time_column, value_columns, windows, "
                                                  "aggregates, lateness, time_unit FROM ") +
                                          kInternalSchema + ".window_definitions ORDER BY name"));
  ARROW_ASSIGN_OR_RAISE(auto rows, stored->CombineChunksToBatch());
  auto text = [&](int column, int64_t row) {
    const auto& array = static_cast<const arrow::StringArray&>(*rows->column(column));
    return array.IsNull(row) ? std::string() : array.GetString(row);
  };
  for (int64_t row = 0; row < rows->num_rows(); ++row) {
    WindowArguments arguments{text(3, row), text(4, row), text(5, row), text(6, row),
                              text(7, row), text(8, row), text(9, row)};
    TableName table = TableName::Of(text(1, row), text(2, row));
    auto entry = MakeEntry(text(0, row), table, arguments, true);
    if (!entry.ok())
      return entry.status().WithMessage("rebuilding window '", text(0, row),
                                        "': ", entry.status().message());
    ARROW_RETURN_NOT_OK(Backfill(**entry).status());
    std::unique_lock<std::shared_mutex> lock(mutex_);
    entries_[Lower(text(0, row))] = std::move(*entry);
  }
  return arrow::Status::OK();
}

arrow::Result<std::unique_ptr<WindowStore>> WindowCatalog::MakeMetricsRunningStore() const {
  WindowSpec running;
  running.key_columns = {"metric_id"};
  running.time_column = "timestamp";
  running.value_columns = {"value"};
  running.aggregates = {AggregateKind::kSum, AggregateKind::kAvg, AggregateKind::kCount};
  running.windows = {WindowDef::Trailing(options_.metrics_running_width_us)};
  running.allowed_lateness_us = options_.allowed_lateness_us;
  auto schema = arrow::schema({arrow::field("metric_id", arrow::utf8()),
                               arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO)),
                               arrow::field("value", arrow::float64())});
  return WindowStore::Make(running, schema);
}

arrow::Status WindowCatalog::ReplayMetricsRunning(engine::EngineConnection& connection,
                                                  const std::string& since_sql,
                                                  WindowStore& store) const {
  // Rows whose running columns are still NULL were committed by a SQL write whose completion
  // (the second step of AfterSqlWrite) has not run: they are left out here.
  ARROW_ASSIGN_OR_RAISE(auto statement,
                        connection.Prepare("SELECT metric_id, timestamp, value FROM main.metrics "
                                           "WHERE value_running_window_count IS NOT NULL" +
                                           since_sql + " ORDER BY timestamp"));
  ARROW_ASSIGN_OR_RAISE(auto reader, statement->ExecuteQuery());
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    ARROW_RETURN_NOT_OK(reader->ReadNext(&batch));
    if (!batch) break;
    ARROW_ASSIGN_OR_RAISE(auto normalised, NormaliseMetrics(*batch, std::nullopt));
    ARROW_RETURN_NOT_OK(store.Update(*normalised).status());
  }
  return arrow::Status::OK();
}

arrow::Status WindowCatalog::CreateMetricsTable() {
  ARROW_RETURN_NOT_OK(
      RunSql("CREATE TABLE IF NOT EXISTS main.metrics (metric_id VARCHAR, timestamp TIMESTAMP, "
             "value DOUBLE, value_running_window_sum DOUBLE, value_running_window_avg DOUBLE, "
             "value_running_window_count BIGINT)"));
  ARROW_ASSIGN_OR_RAISE(metrics_running_, MakeMetricsRunningStore());
  // Rebuild the running state from the stored rows, in time order. Rows left incomplete by a
  // server that died between a SQL write's commit and its completion are completed below, as
  // if they had just arrived, so no row is counted twice.
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  ARROW_RETURN_NOT_OK(ReplayMetricsRunning(*connection, "", *metrics_running_));
  // The windows are rebuilt from all stored rows after this, so the completed rows are not
  // handed to Committed.
  return CompleteMetricsRows(*connection).status();
}

void WindowCatalog::Diverged(const TableName& table) {
  std::shared_lock lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (entry->table == table && !entry->diverged.exchange(true)) {
      spdlog::info(
          "rows of {} were changed or removed: queries are no longer answered from "
          "window '{}' (rebuilt from the stored rows at the next start)",
          table.key(), name);
    }
  }
}

void WindowCatalog::Abandoned(const TableName& table) {
  if (!(options_.metrics_table && IsMetrics(table))) return;
  // Only the last running width + lateness of rows can still be in a later row's window.
  auto rebuild = [&]() -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
    ARROW_ASSIGN_OR_RAISE(auto store, MakeMetricsRunningStore());
    const int64_t keep_us = options_.metrics_running_width_us + options_.allowed_lateness_us;
    std::lock_guard<std::mutex> lock(running_mutex_);
    ARROW_RETURN_NOT_OK(ReplayMetricsRunning(
        *connection,
        " AND timestamp >= (SELECT max(timestamp) FROM main.metrics) - to_microseconds(" +
            std::to_string(keep_us) + ")",
        *store));
    metrics_running_ = std::move(store);
    return arrow::Status::OK();
  };
  arrow::Status status = rebuild();
  if (!status.ok()) {
    spdlog::error("metrics running state kept rows that were not stored (rebuild failed: {})",
                  status.ToString());
  } else {
    spdlog::debug("metrics running state rebuilt from committed rows after a rollback");
  }
}

arrow::Result<std::shared_ptr<WindowCatalog::Entry>> WindowCatalog::MakeEntry(
    const std::string& name, const TableName& table, const WindowArguments& arguments,
    bool persist_history) const {
  if (name.empty()) return arrow::Status::Invalid("a window needs a name");
  auto entry = std::make_shared<Entry>();
  entry->name = Lower(name);
  entry->table = table;
  entry->arguments = arguments;

  WindowSpec& spec = entry->spec;
  spec.key_columns = SplitList(arguments.keys);
  spec.time_column = Trim(arguments.time);
  if (spec.time_column.empty()) {
    return arrow::Status::Invalid("window '", name, "' needs time_column := '<column>'");
  }
  spec.value_columns = SplitList(arguments.values);
  for (const auto& text : SplitList(arguments.aggregates)) {
    ARROW_ASSIGN_OR_RAISE(auto kind, ParseAggregate(text));
    spec.aggregates.push_back(kind);
  }
  for (const auto& text : SplitList(arguments.windows)) {
    ARROW_ASSIGN_OR_RAISE(auto def, WindowDef::Parse(text));
    spec.windows.push_back(def);
  }
  ARROW_ASSIGN_OR_RAISE(spec.allowed_lateness_us,
                        ParseDuration(arguments.lateness.empty() ? "0s" : arguments.lateness));
  spec.retention_us = 0;  // closed windows leave memory at once; history keeps them
  ARROW_ASSIGN_OR_RAISE(spec.integer_time_unit, ParseTimeUnit(arguments.time_unit));
  ARROW_RETURN_NOT_OK(spec.Validate());

  // The table's columns, as DuckDB returns them.
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  auto statement = connection->Prepare(
      "SELECT * FROM " + engine::QualifiedName(std::nullopt, table.schema, table.table));
  if (!statement.ok()) {
    return arrow::Status::KeyError("window '", name, "': table ", table.key(),
                                   " does not exist; create it first");
  }
  entry->input_schema = (*statement)->dataset_schema();
  if (IsMetrics(table)) {
    entry->input_schema =
        arrow::schema({arrow::field("metric_id", arrow::utf8()),
                       arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO)),
                       arrow::field("value", arrow::float64())});
  }
  // Trailing windows keep their rows for "the last N as of now" reads (TrailingResults).
  WindowStoreOptions store_options;
  store_options.trailing_as_buffers = true;
  store_options.trailing_slack_us = std::max<int64_t>(kTrailingSlackUs, spec.allowed_lateness_us);
  store_options.wall_clock = WallClockMicros;
  ARROW_ASSIGN_OR_RAISE(entry->store,
                        WindowStore::Make(spec, entry->input_schema, std::move(store_options)));
  arrow::FieldVector fields = {arrow::field("window_spec", arrow::utf8(), false)};
  for (const auto& f : entry->store->OutputSchema()->fields()) fields.push_back(f);
  entry->result_schema = arrow::schema(std::move(fields));
  if (persist_history) entry->history_path = {kInternalSchema, entry->name + "_history"};
  return entry;
}

arrow::Result<int64_t> WindowCatalog::Backfill(Entry& entry) {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  std::string sql = "SELECT * FROM " +
                    engine::QualifiedName(std::nullopt, entry.table.schema, entry.table.table) +
                    " ORDER BY " + engine::QuoteIdentifier(entry.spec.time_column);
  ARROW_ASSIGN_OR_RAISE(auto statement, connection->Prepare(sql));
  ARROW_ASSIGN_OR_RAISE(auto reader, statement->ExecuteQuery());
  // Windows that closed before a restart are already in the history table: rebuild quietly,
  // then drop what the history already holds.
  std::lock_guard<std::mutex> lock(entry.write_mutex);
  int64_t rows = 0;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    ARROW_RETURN_NOT_OK(reader->ReadNext(&batch));
    if (!batch) break;
    if (IsMetrics(entry.table)) {
      ARROW_ASSIGN_OR_RAISE(batch, NormaliseMetrics(*batch, std::nullopt));
    }
    ARROW_RETURN_NOT_OK(entry.store->Update(*batch).status());
    rows += batch->num_rows();
  }
  // The rebuilt state closed the same windows the history already holds, and maybe some it
  // lacks (a crash between a commit and its history append): rewrite the history whole.
  if (!entry.history_path.empty()) {
    entry.history.reset();
    ARROW_RETURN_NOT_OK(
        RunSql("DROP TABLE IF EXISTS " +
               engine::QualifiedName(std::nullopt, entry.history_path[0], entry.history_path[1])));
  }
  ARROW_RETURN_NOT_OK(WriteClosed(entry, entry.store->TakeClosed()));
  return rows;
}

// Folds committed rows into one definition and writes windows that closed to its history.
// Caller holds entry.write_mutex.
arrow::Status WindowCatalog::Fold(Entry& entry, const arrow::RecordBatch& batch) {
  if (batch.num_rows() == 0) return arrow::Status::OK();
  ARROW_RETURN_NOT_OK(entry.store->Update(batch).status());
  return WriteClosed(entry, entry.store->TakeClosed());
}

// Appends closed windows to the history table in one append (one commit), labelled with
// their window spec. Caller holds entry.write_mutex.
arrow::Status WindowCatalog::WriteClosed(Entry& entry, const std::vector<ClosedWindow>& closed) {
  if (entry.history_path.empty()) return arrow::Status::OK();
  arrow::RecordBatchVector batches;
  for (const ClosedWindow& window : closed) {
    if (window.rows->num_rows() == 0) continue;
    ARROW_ASSIGN_OR_RAISE(auto labels,
                          SpecColumn(entry.spec.windows[window.window], window.rows->num_rows()));
    arrow::ArrayVector columns = {labels};
    for (const auto& c : window.rows->columns()) columns.push_back(c);
    batches.push_back(
        arrow::RecordBatch::Make(entry.result_schema, window.rows->num_rows(), std::move(columns)));
  }
  if (entry.history == nullptr) {
    ARROW_ASSIGN_OR_RAISE(entry.history,
                          engine_->OpenAppender(entry.history_path, entry.result_schema));
  }
  if (batches.empty()) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches(entry.result_schema, batches));
  ARROW_ASSIGN_OR_RAISE(auto combined, table->CombineChunksToBatch());
  return entry.history->Append(*combined).status();
}

std::shared_ptr<WindowCatalog::Entry> WindowCatalog::Find(const std::string& name) const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  auto it = entries_.find(Lower(name));
  return it == entries_.end() ? nullptr : it->second;
}

// --- Ingest -----------------------------------------------------------------------------------

bool WindowCatalog::Watches(const TableName& table) const {
  if (options_.metrics_table && IsMetrics(table)) return true;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (entry->table == table) return true;
  }
  return false;
}

arrow::Result<std::shared_ptr<arrow::Schema>> WindowCatalog::AppendSchema(
    const TableName& table, const std::shared_ptr<arrow::Schema>& incoming) const {
  if (!(options_.metrics_table && IsMetrics(table))) return incoming;
  arrow::FieldVector fields;
  for (const char* name : {"metric_id", "timestamp", "value"}) {
    if (incoming->GetFieldByName(name) == nullptr) {
      return arrow::Status::Invalid(
          "metrics rows need the columns metric_id, timestamp and "
          "value; '",
          name, "' is missing");
    }
  }
  fields = {arrow::field("metric_id", arrow::utf8()),
            arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO)),
            arrow::field("value", arrow::float64())};
  for (const auto& f : metrics_running_->TrailingSchema()->fields()) fields.push_back(f);
  return arrow::schema(std::move(fields));
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowCatalog::PrepareAppend(
    const TableName& table, const std::shared_ptr<arrow::RecordBatch>& batch) {
  if (!(options_.metrics_table && IsMetrics(table))) return batch;
  // Client data: sound buffers before the running state reads it (DuckDB checks it again).
  ARROW_RETURN_NOT_OK(engine::ValidateArrowBatch(*batch));
  ARROW_ASSIGN_OR_RAISE(auto rows, NormaliseMetrics(*batch, options_.metrics_integer_time_unit));
  std::lock_guard<std::mutex> lock(running_mutex_);
  ARROW_ASSIGN_OR_RAISE(auto result, metrics_running_->Update(*rows));
  ARROW_ASSIGN_OR_RAISE(auto with_running, WindowStore::WithTrailingColumns(rows, result));
  int count_index = with_running->schema()->GetFieldIndex("value_running_window_count");
  if (count_index >= 0) {
    ARROW_ASSIGN_OR_RAISE(auto counts, ZeroNullCounts(with_running->column(count_index)));
    ARROW_ASSIGN_OR_RAISE(
        with_running,
        with_running->SetColumn(count_index, with_running->schema()->field(count_index), counts));
  }
  return with_running;
}

arrow::Status WindowCatalog::Committed(const TableName& table,
                                       const arrow::RecordBatchVector& batches) {
  std::vector<std::shared_ptr<Entry>> targets;
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    for (const auto& [name, entry] : entries_) {
      if (entry->table == table) targets.push_back(entry);
    }
  }
  for (const auto& entry : targets) {
    std::lock_guard<std::mutex> lock(entry->write_mutex);
    for (const auto& batch : batches) {
      std::shared_ptr<arrow::RecordBatch> rows = batch;
      if (IsMetrics(table)) {
        ARROW_ASSIGN_OR_RAISE(rows, NormaliseMetrics(*batch, options_.metrics_integer_time_unit));
      }
      ARROW_RETURN_NOT_OK(Fold(*entry, *rows));
    }
  }
  return arrow::Status::OK();
}

arrow::Result<arrow::RecordBatchVector> WindowCatalog::CompleteMetricsRows(
    engine::EngineConnection& connection) {
  if (!options_.metrics_table) return arrow::RecordBatchVector{};
  ARROW_ASSIGN_OR_RAISE(
      auto pending,
      engine::QueryTable(connection,
                         "SELECT rowid AS rid, metric_id, timestamp, value FROM main.metrics "
                         "WHERE value_running_window_count IS NULL ORDER BY rowid"));
  if (pending->num_rows() == 0) return arrow::RecordBatchVector{};
  ARROW_ASSIGN_OR_RAISE(auto combined, pending->CombineChunksToBatch());
  ARROW_ASSIGN_OR_RAISE(auto completed, PrepareAppend(TableName::Of("main", kMetrics), combined));

  // Hand the running values to SQL through hyprstream_staged(id) and update the rows.
  arrow::ArrayVector columns = {combined->column(0)};
  arrow::FieldVector fields = {arrow::field("rid", combined->column(0)->type())};
  for (int i = 3; i < completed->num_columns(); ++i) {
    columns.push_back(completed->column(i));
    fields.push_back(completed->schema()->field(i));
  }
  auto staged = arrow::RecordBatch::Make(arrow::schema(fields), combined->num_rows(), columns);
  static std::atomic<int64_t> next_id{0};
  std::string id = std::to_string(++next_id);
  {
    std::lock_guard<std::mutex> lock(staged_mutex_);
    staged_[id] = staged;
  }
  std::string sql =
      "UPDATE main.metrics SET value_running_window_sum = s.value_running_window_sum, "
      "value_running_window_avg = s.value_running_window_avg, "
      "value_running_window_count = s.value_running_window_count "
      "FROM hyprstream_staged(" +
      engine::QuoteLiteral(id) + ") s WHERE main.metrics.rowid = s.rid";
  auto statement = connection.Prepare(sql);
  arrow::Status status =
      statement.ok() ? (*statement)->ExecuteUpdate().status() : statement.status();
  {
    std::lock_guard<std::mutex> lock(staged_mutex_);
    staged_.erase(id);
  }
  ARROW_RETURN_NOT_OK(status);
  return arrow::RecordBatchVector{completed};
}

// --- Definitions ------------------------------------------------------------------------------

arrow::Result<int64_t> WindowCatalog::Create(const std::string& name, const TableName& table,
                                             const WindowArguments& arguments) {
  if (Find(name) != nullptr) {
    return arrow::Status::AlreadyExists("window '", name,
                                        "' exists; drop it first "
                                        "(SELECT * FROM hyprstream_drop_window('",
                                        name, "'))");
  }
  ARROW_ASSIGN_OR_RAISE(auto entry, MakeEntry(name, table, arguments, /*persist_history=*/true));
  ARROW_ASSIGN_OR_RAISE(int64_t rows, Backfill(*entry));
  ARROW_RETURN_NOT_OK(RunSql(
      std::string("INSERT INTO ") + kInternalSchema +
      ".window_definitions (name, table_schema, table_name, keys, time_column, value_columns, "
      "windows, aggregates, lateness, time_unit) VALUES (" +
      engine::QuoteLiteral(entry->name) + ", " + engine::QuoteLiteral(table.schema) + ", " +
      engine::QuoteLiteral(table.table) + ", " + engine::QuoteLiteral(arguments.keys) + ", " +
      engine::QuoteLiteral(arguments.time) + ", " + engine::QuoteLiteral(arguments.values) + ", " +
      engine::QuoteLiteral(arguments.windows) + ", " + engine::QuoteLiteral(arguments.aggregates) +
      ", " + engine::QuoteLiteral(arguments.lateness) + ", " +
      engine::QuoteLiteral(arguments.time_unit) + ")"));
  std::unique_lock<std::shared_mutex> lock(mutex_);
  auto [it, inserted] = entries_.emplace(entry->name, entry);
  if (!inserted) return arrow::Status::AlreadyExists("window '", name, "' exists");
  return rows;
}

arrow::Status WindowCatalog::Drop(const std::string& name) {
  if (Lower(name) == kMetrics && options_.metrics_table) {
    return arrow::Status::Invalid("the built-in metrics windows cannot be dropped");
  }
  std::shared_ptr<Entry> entry;
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    auto it = entries_.find(Lower(name));
    if (it == entries_.end()) {
      return arrow::Status::KeyError("window '", name,
                                     "' does not exist; "
                                     "SELECT * FROM hyprstream_windows() lists them");
    }
    entry = it->second;
    entries_.erase(it);
  }
  ARROW_RETURN_NOT_OK(
      RunSql(std::string("DELETE FROM ") + kInternalSchema +
             ".window_definitions WHERE name = " + engine::QuoteLiteral(entry->name)));
  std::lock_guard<std::mutex> lock(entry->write_mutex);
  entry->history.reset();
  return RunSql("DROP TABLE IF EXISTS " +
                engine::QualifiedName(std::nullopt, kInternalSchema, entry->name + "_history"));
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowCatalog::List() const {
  arrow::StringBuilder names, tables, specs;
  arrow::Int64Builder keys, rows, late, bytes;
  std::vector<std::shared_ptr<Entry>> all;
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    for (const auto& [name, entry] : entries_) all.push_back(entry);
  }
  for (const auto& entry : all) {
    WindowStoreStats stats = entry->store->GetStats();
    int64_t late_rows = 0;
    for (int64_t n : stats.late_rows) late_rows += n;
    ARROW_RETURN_NOT_OK(names.Append(entry->name));
    ARROW_RETURN_NOT_OK(tables.Append(entry->table.key()));
    ARROW_RETURN_NOT_OK(specs.Append(entry->spec.ToString()));
    ARROW_RETURN_NOT_OK(keys.Append(stats.keys));
    ARROW_RETURN_NOT_OK(rows.Append(stats.rows));
    ARROW_RETURN_NOT_OK(late.Append(late_rows));
    ARROW_RETURN_NOT_OK(bytes.Append(stats.total_bytes()));
  }
  auto schema = arrow::schema(
      {arrow::field("name", arrow::utf8()), arrow::field("table", arrow::utf8()),
       arrow::field("spec", arrow::utf8()), arrow::field("keys", arrow::int64()),
       arrow::field("rows", arrow::int64()), arrow::field("late_rows", arrow::int64()),
       arrow::field("open_bytes", arrow::int64())});
  arrow::ArrayVector columns(7);
  ARROW_RETURN_NOT_OK(names.Finish(&columns[0]));
  ARROW_RETURN_NOT_OK(tables.Finish(&columns[1]));
  ARROW_RETURN_NOT_OK(specs.Finish(&columns[2]));
  ARROW_RETURN_NOT_OK(keys.Finish(&columns[3]));
  ARROW_RETURN_NOT_OK(rows.Finish(&columns[4]));
  ARROW_RETURN_NOT_OK(late.Finish(&columns[5]));
  ARROW_RETURN_NOT_OK(bytes.Finish(&columns[6]));
  return arrow::RecordBatch::Make(schema, static_cast<int64_t>(all.size()), std::move(columns));
}

bool WindowCatalog::AnswersExactly(const std::string& name, int64_t width_us,
                                   std::optional<int64_t> slide_us) const {
  const int64_t slide = slide_us.value_or(width_us);
  auto entry = Find(name);
  if (entry == nullptr || entry->diverged) return false;
  WindowStoreStats stats = entry->store->GetStats();
  if (stats.null_time_rows != 0) return false;
  for (size_t i = 0; i < entry->spec.windows.size(); ++i) {
    const WindowDef& def = entry->spec.windows[i];
    if (def.is_paned() && def.width_us == width_us && def.slide_us == slide) {
      return i < stats.late_rows.size() && stats.late_rows[i] == 0;
    }
  }
  return false;
}

arrow::Result<std::shared_ptr<arrow::Schema>> WindowCatalog::ResultSchema(
    const std::string& name) const {
  auto entry = Find(name);
  if (entry == nullptr) {
    return arrow::Status::KeyError("window '", name,
                                   "' does not exist; "
                                   "SELECT * FROM hyprstream_windows() lists them");
  }
  return entry->result_schema;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowCatalog::Results(
    const std::string& name, const std::string& window, bool current_only,
    const std::vector<std::string>& keys) const {
  auto entry = Find(name);
  if (entry == nullptr) return ResultSchema(name).status();
  std::vector<size_t> selected;
  auto width = ParseDuration(window);  // "5m" / "300s": a tumbling window of that width
  for (size_t i = 0; i < entry->spec.windows.size(); ++i) {
    const WindowDef& def = entry->spec.windows[i];
    if (window.empty()
            ? def.is_paned()
            : (Lower(window) == def.ToString() ||
               (def.kind == WindowKind::kTumbling && width.ok() && *width == def.width_us))) {
      selected.push_back(i);
    }
  }
  if (selected.size() == 1 && !entry->spec.windows[selected[0]].is_paned()) {
    return TrailingResults(name, window, std::nullopt, false, keys);
  }
  if (!window.empty() && selected.empty()) {
    return arrow::Status::Invalid("window '", name, "' has no '", window, "'; it has ",
                                  entry->spec.ToString());
  }
  ARROW_ASSIGN_OR_RAISE(auto key_filter, KeyFilter(*entry, keys));
  arrow::RecordBatchVector parts;
  for (size_t i : selected) {
    SnapshotFilter filter;
    filter.window = i;
    filter.keys = key_filter;
    filter.current_only = current_only;
    filter.include_closed = false;  // closed windows are read from history below
    ARROW_ASSIGN_OR_RAISE(auto open, entry->store->Snapshot(filter));
    ARROW_ASSIGN_OR_RAISE(auto labels, SpecColumn(entry->spec.windows[i], open->num_rows()));
    arrow::ArrayVector columns = {labels};
    for (const auto& c : open->columns()) columns.push_back(c);
    parts.push_back(arrow::RecordBatch::Make(entry->result_schema, open->num_rows(), columns));
  }
  if (!current_only && !entry->history_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
    std::string sql = "SELECT * FROM " + engine::QualifiedName(std::nullopt, entry->history_path[0],
                                                               entry->history_path[1]);
    std::string filter;
    for (size_t i : selected) {
      filter += filter.empty() ? " WHERE window_spec IN (" : ", ";
      filter += engine::QuoteLiteral(entry->spec.windows[i].ToString());
    }
    if (!filter.empty()) sql += filter + ")";
    if (key_filter != nullptr) {
      std::string in;
      for (const auto& key : keys) in += (in.empty() ? "" : ", ") + engine::QuoteLiteral(key);
      sql += std::string(filter.empty() ? " WHERE " : " AND ") +
             engine::QuoteIdentifier(entry->spec.key_columns[0]) + " IN (" + in + ")";
    }
    auto history = engine::QueryTable(*connection, sql);
    if (history.ok()) {  // no history table yet: nothing has closed
      ARROW_ASSIGN_OR_RAISE(auto batches, arrow::TableBatchReader(**history).ToRecordBatches());
      for (auto& batch : batches) {
        arrow::ArrayVector columns;
        for (int c = 0; c < batch->num_columns() && c < entry->result_schema->num_fields(); ++c) {
          auto column = batch->column(c);
          const auto& type = entry->result_schema->field(c)->type();
          if (!column->type()->Equals(*type)) {
            ARROW_ASSIGN_OR_RAISE(column, arrow::compute::Cast(*column, type));
          }
          columns.push_back(std::move(column));
        }
        parts.push_back(arrow::RecordBatch::Make(entry->result_schema, batch->num_rows(), columns));
      }
    }
  }
  if (parts.empty()) return arrow::RecordBatch::MakeEmpty(entry->result_schema);
  ARROW_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches(entry->result_schema, parts));
  return table->CombineChunksToBatch();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowCatalog::KeyFilter(
    const Entry& entry, const std::vector<std::string>& keys) const {
  // The values as a one-column batch of the key's type.
  if (keys.empty()) return nullptr;
  if (entry.spec.key_columns.size() != 1) {
    return arrow::Status::Invalid("key := works for windows keyed by one column; '", entry.name,
                                  "' has ", entry.spec.key_columns.size());
  }
  arrow::StringBuilder values;
  ARROW_RETURN_NOT_OK(values.AppendValues(keys));
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Array> array, values.Finish());
  const auto& key_field = entry.result_schema->field(1);
  if (!array->type()->Equals(*key_field->type())) {
    ARROW_ASSIGN_OR_RAISE(array, arrow::compute::Cast(*array, key_field->type()));
  }
  return arrow::RecordBatch::Make(arrow::schema({key_field}), array->length(), {array});
}

std::vector<WindowCatalog::Definition> WindowCatalog::DefinitionsOf(const TableName& table) const {
  std::shared_lock lock(mutex_);
  std::vector<Definition> out;
  for (const auto& [name, entry] : entries_) {
    if (!(entry->table == table)) continue;
    auto field = entry->input_schema->GetFieldByName(entry->spec.time_column);
    out.push_back({name, entry->spec, field ? field->type() : nullptr});
  }
  return out;
}

bool WindowCatalog::MayAnswer(const std::string& sql) const {
  std::string lower = Lower(sql);
  std::shared_lock lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (lower.find(entry->table.table) != std::string::npos) return true;
  }
  return false;
}

std::optional<int64_t> WindowCatalog::TrailingCovering(const std::string& name, int64_t since_us,
                                                       bool inclusive) const {
  auto entry = Find(name);
  if (entry == nullptr || entry->diverged) return std::nullopt;
  std::optional<int64_t> best;
  for (size_t i = 0; i < entry->spec.windows.size(); ++i) {
    const WindowDef& def = entry->spec.windows[i];
    if (def.is_paned()) continue;
    const int64_t horizon = entry->store->TrailingHorizon(i);
    const bool covered =
        horizon == kNoTime || (inclusive ? since_us > horizon : since_us >= horizon);
    if (covered && (!best || def.width_us < *best)) best = def.width_us;
  }
  return best;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowCatalog::TrailingResults(
    const std::string& name, const std::string& window, std::optional<int64_t> since_us,
    bool inclusive, const std::vector<std::string>& keys) const {
  auto entry = Find(name);
  if (entry == nullptr) return ResultSchema(name).status();
  std::optional<size_t> chosen;
  auto width = ParseDuration(window);
  for (size_t i = 0; i < entry->spec.windows.size() && !chosen; ++i) {
    const WindowDef& def = entry->spec.windows[i];
    if (def.is_paned()) continue;
    if (window.empty() || Lower(window) == def.ToString() ||
        (width.ok() && *width == def.width_us)) {
      chosen = i;
    }
  }
  if (!chosen) {
    return arrow::Status::Invalid("window '", name, "' has no trailing window",
                                  window.empty() ? "" : " '" + window + "'", "; it has ",
                                  entry->spec.ToString(),
                                  ". Define one with windows := 'trailing 1h' to read the last "
                                  "hour as of now");
  }
  const WindowDef& def = entry->spec.windows[*chosen];
  TrailingFilter filter;
  filter.window = *chosen;
  filter.until_us = WallClockMicros();
  filter.since_us = since_us.value_or(filter.until_us - def.width_us);
  filter.inclusive = inclusive;
  ARROW_ASSIGN_OR_RAISE(filter.keys, KeyFilter(*entry, keys));
  ARROW_ASSIGN_OR_RAISE(auto rows, entry->store->TrailingSnapshot(filter));
  ARROW_ASSIGN_OR_RAISE(auto labels, SpecColumn(def, rows->num_rows()));
  arrow::ArrayVector columns = {labels};
  for (const auto& c : rows->columns()) columns.push_back(c);
  return arrow::RecordBatch::Make(entry->result_schema, rows->num_rows(), columns);
}

// --- SQL surface ------------------------------------------------------------------------------

arrow::Status WindowCatalog::RegisterFunctions() {
  // Captured weakly: the engine (and its functions) may outlive the catalog.
  // The functions call back into this catalog: it must outlive queries on the engine (the
  // server stops serving before either is destroyed).
  WindowCatalog* self = this;

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
  ARROW_RETURN_NOT_OK(engine_->RegisterTableFunction(std::move(results)));

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
    auto entry = self->Find(args.positional.at(0));
    arrow::StringBuilder name, table_b, spec;
    arrow::Int64Builder backfilled;
    ARROW_RETURN_NOT_OK(name.Append(entry->name));
    ARROW_RETURN_NOT_OK(table_b.Append(entry->table.key()));
    ARROW_RETURN_NOT_OK(spec.Append(entry->spec.ToString()));
    ARROW_RETURN_NOT_OK(backfilled.Append(rows));
    arrow::ArrayVector columns(4);
    ARROW_RETURN_NOT_OK(name.Finish(&columns[0]));
    ARROW_RETURN_NOT_OK(table_b.Finish(&columns[1]));
    ARROW_RETURN_NOT_OK(spec.Finish(&columns[2]));
    ARROW_RETURN_NOT_OK(backfilled.Finish(&columns[3]));
    return arrow::RecordBatch::Make(created_schema, 1, std::move(columns));
  };
  ARROW_RETURN_NOT_OK(engine_->RegisterTableFunction(std::move(create)));

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
  ARROW_RETURN_NOT_OK(engine_->RegisterTableFunction(std::move(drop)));

  engine::TableFunctionSpec list;
  list.name = "hyprstream_windows";
  list.schema =
      [self](const engine::TableFunctionArgs&) -> arrow::Result<std::shared_ptr<arrow::Schema>> {
    ARROW_ASSIGN_OR_RAISE(auto batch, self->List());
    return batch->schema();
  };
  list.rows = [self](const engine::TableFunctionArgs&) { return self->List(); };
  ARROW_RETURN_NOT_OK(engine_->RegisterTableFunction(std::move(list)));

  engine::TableFunctionSpec staged;
  staged.name = "hyprstream_staged";
  staged.positional_parameters = 1;
  auto find_staged = [self](const engine::TableFunctionArgs& args)
      -> arrow::Result<std::shared_ptr<arrow::RecordBatch>> {
    std::lock_guard<std::mutex> lock(self->staged_mutex_);
    auto it = self->staged_.find(args.positional.at(0));
    if (it == self->staged_.end())
      return arrow::Status::KeyError("no staged rows ", args.positional.at(0));
    return it->second;
  };
  staged.schema =
      [find_staged](
          const engine::TableFunctionArgs& args) -> arrow::Result<std::shared_ptr<arrow::Schema>> {
    ARROW_ASSIGN_OR_RAISE(auto batch, find_staged(args));
    return batch->schema();
  };
  staged.rows = find_staged;
  ARROW_RETURN_NOT_OK(engine_->RegisterTableFunction(std::move(staged)));

  // Flink/RisingWave-style window table functions over any table, computed by DuckDB:
  //   SELECT * FROM tumble('metrics', 'timestamp', INTERVAL '5 minutes')
  //   SELECT * FROM hop('metrics', 'timestamp', INTERVAL '1 minute', INTERVAL '5 minutes')
  // Windows align to the Unix epoch, like the maintained windows.
  ARROW_RETURN_NOT_OK(
      RunSql("CREATE OR REPLACE MACRO main.tumble(t, c, w) AS TABLE SELECT *, "
             "time_bucket(w, COLUMNS(c)::TIMESTAMP, TIMESTAMP '1970-01-01') AS window_start, "
             "time_bucket(w, COLUMNS(c)::TIMESTAMP, TIMESTAMP '1970-01-01') + w AS window_end "
             "FROM query_table(t)"));
  ARROW_RETURN_NOT_OK(RunSql(
      "CREATE OR REPLACE MACRO main.hop(t, c, slide, w) AS TABLE SELECT * EXCLUDE (hs_ws), "
      "hs_ws AS window_start, hs_ws + w AS window_end FROM (SELECT *, unnest(generate_series("
      "time_bucket(slide, COLUMNS(c)::TIMESTAMP, TIMESTAMP '1970-01-01') - w + slide, "
      "time_bucket(slide, COLUMNS(c)::TIMESTAMP, TIMESTAMP '1970-01-01'), slide)) AS hs_ws "
      "FROM query_table(t)) WHERE hs_ws + w > COLUMNS(c)::TIMESTAMP"));
  return arrow::Status::OK();
}

}  // namespace hyprstream::window
