#include "window/window_catalog.h"

#include <arrow/array.h>
#include <arrow/array/util.h>
#include <arrow/builder.h>
#include <arrow/compute/cast.h>
#include <arrow/scalar.h>
#include <arrow/table.h>
#include <arrow/type.h>
#include <arrow/util/decimal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <limits>

#include <spdlog/spdlog.h>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/result_provenance.h"
#include "window/duration.h"
#include "window/event_time.h"
#include "window/window_catalog_entry.h"
#include "window/window_functions.h"

namespace hyprstream::window {
namespace {

constexpr char kMetrics[] = "metrics";
constexpr char kMetricsTrailing[] = "metrics_trailing";
// What the built-in metrics_trailing definition keeps: enough for the README's last-hour query
// (COUNT(*), AVG(value_running_window_avg) per metric) and the usual aggregates of value
// (72 bytes per key and pane; without min/max 40, but a dashboard's max() would then be
// computed by the engine over every row of the range).
constexpr char kMetricsTrailingValues[] = "value,value_running_window_avg";
constexpr char kMetricsTrailingAggregates[] = "count_star,count,sum,avg,min,max";
// A read made while the state moves under it (rows at or before its edge folded meanwhile) is
// made again this many times before it gives up.
constexpr int kTrailingReadAttempts = 3;
// How long a direct read of a definition waits for its state to be built (FindBuilt).
constexpr std::chrono::seconds kPendingWait{60};

// The window_spec column: the window's spec text on every row.
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

// --- Entries ----------------------------------------------------------------------------------

WindowCatalog::WindowCatalog(std::shared_ptr<engine::Engine> engine,
                             std::shared_ptr<engine::Engine> host, WindowCatalogOptions options)
    : engine_(std::move(engine)),
      host_(std::move(host)),
      options_(std::move(options)),
      edge_cache_(std::make_unique<TrailingEdgeCache>(
          [this](const std::string& name, size_t window, int64_t begin, int64_t end) {
            return LoadEdgeRows(name, window, begin, end);
          },
          options_.trailing_edge_cache_bytes)) {}

WindowCatalog::~WindowCatalog() = default;  // edge_cache_ (declared last) stops first

arrow::Result<std::shared_ptr<WindowCatalog>> WindowCatalog::Open(
    std::shared_ptr<engine::Engine> engine, std::shared_ptr<engine::Engine> host,
    WindowCatalogOptions options) {
  std::shared_ptr<WindowCatalog> catalog(
      new WindowCatalog(std::move(engine), std::move(host), std::move(options)));
  ARROW_RETURN_NOT_OK(catalog->Start());
  return catalog;
}

arrow::Status WindowCatalog::Start() {
  ARROW_ASSIGN_OR_RAISE(storage_, WindowStorage::Open(engine_));
  ARROW_RETURN_NOT_OK(storage_->Start());
  reads_snapshots_ = engine_->reads_snapshots();
  ARROW_RETURN_NOT_OK(RegisterWindowFunctions(this, *host_));
  // Every definition's state, built once all are known (see Backfill), then registered.
  std::vector<Build> builds;
  auto publish_as = [this](std::string key, std::shared_ptr<Entry> entry) -> Publish {
    return [this, key = std::move(key), entry = std::move(entry)]() -> arrow::Result<bool> {
      entries_[key] = entry;
      return true;
    };
  };

  if (options_.metrics_table) {
    MetricsTableOptions metrics_options;
    metrics_options.running_width_us = options_.metrics_running_width_us;
    metrics_options.allowed_lateness_us = options_.allowed_lateness_us;
    metrics_options.integer_time_unit = options_.metrics_integer_time_unit;
    ARROW_ASSIGN_OR_RAISE(metrics_, MetricsTable::Open(*storage_, metrics_options));
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
    ARROW_ASSIGN_OR_RAISE(auto entry, MakeEntry(kMetrics, MetricsTableName(), metrics,
                                                /*persist_history=*/true));
    Follow(*entry);
    builds.push_back({entry, nullptr, publish_as(kMetrics, entry)});
    // Only where it can keep panes (its rows would otherwise be buffered for nothing: SQLite
    // answers its own queries).
    if (!options_.metrics_trailing_windows.empty() &&
        storage_->CanReadPartials(*arrow::timestamp(arrow::TimeUnit::MICRO))) {
      WindowArguments trailing = metrics;
      trailing.values = kMetricsTrailingValues;
      trailing.aggregates = kMetricsTrailingAggregates;
      trailing.windows.clear();
      for (const auto& window : options_.metrics_trailing_windows) {
        if (!trailing.windows.empty()) trailing.windows += ",";
        trailing.windows += window.ToString();
      }
      ARROW_ASSIGN_OR_RAISE(auto trailing_entry,
                            MakeEntry(kMetricsTrailing, MetricsTableName(), trailing,
                                      /*persist_history=*/false));
      Follow(*trailing_entry);
      builds.push_back({trailing_entry, nullptr, publish_as(kMetricsTrailing, trailing_entry)});
    }
  }

  // Definitions made earlier (persisted): their state is rebuilt from the stored rows.
  ARROW_ASSIGN_OR_RAISE(auto stored, storage_->LoadDefinitions());
  for (const auto& definition : stored) {
    auto entry = MakeEntry(definition.name, definition.table, definition.arguments, true);
    if (!entry.ok()) {
      return entry.status().WithMessage("rebuilding window '", definition.name,
                                        "': ", entry.status().message());
    }
    Follow(**entry);
    builds.push_back({*entry, nullptr, publish_as(Lower(definition.name), *entry)});
  }
  // One read of each table's rows builds all of its definitions, in the background where it
  // can be (WindowedEngine asks for their rebuild once it is open: TablesToBuild): from the
  // engine's copy (a cache, whose load from the backend may take long), or from a snapshot of
  // the stored rows (an engine that reads snapshots). Until then the engine answers their
  // queries. Elsewhere the stored rows are read before the start goes on.
  for (const auto& group : ByRead(std::move(builds))) {
    if (!FromSnapshot(*group.front().fresh)) {
      ARROW_RETURN_NOT_OK(Backfill(group).status());
      continue;
    }
    std::unique_lock<std::shared_mutex> lock(mutex_);
    for (const Build& build : group) {
      build.fresh->pending = true;
      build.fresh->Diverge();
      ARROW_RETURN_NOT_OK(build.publish().status());
      spdlog::info(
          "window '{}' is built from the {} of {} in the background; until then the engine "
          "answers its queries",
          build.fresh->name, build.fresh->follows ? "cached copy" : "stored rows",
          build.fresh->table.key());
    }
  }
  return arrow::Status::OK();
}

// Until when a diverged definition answers no query.
const char* WindowCatalog::UntilRebuilt(const Entry& entry) const {
  if (entry.follows) return "until it is rebuilt from the cached copy";
  return FromSnapshot(entry)
             ? "until it is rebuilt from the stored rows, in the background"
             : "until it is rebuilt from the stored rows, in the background, while writes to the "
               "table wait";
}

bool WindowCatalog::FromSnapshot(const Entry& entry) const {
  return entry.follows || reads_snapshots_;
}

void WindowCatalog::MissHandoffs(const std::vector<std::shared_ptr<Handoff>>& handoffs) {
  for (const auto& handoff : handoffs) {
    std::lock_guard<std::mutex> held(handoff->mutex);
    handoff->missed = true;  // the state being built lacks the change too
  }
}

void WindowCatalog::Diverged(const TableName& table) {
  std::shared_lock lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (entry->table == table && entry->Diverge()) {
      spdlog::info(
          "rows of {} were changed or removed: queries are no longer answered from "
          "window '{}' ({})",
          table.key(), name, UntilRebuilt(*entry));
    }
  }
  if (auto it = handoffs_.find(table.key()); it != handoffs_.end()) MissHandoffs(it->second);
}

void WindowCatalog::DivergedAll() {
  std::shared_lock lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (entry->Diverge()) {
      spdlog::info(
          "a statement changed tables that cannot be told: queries are no longer answered from "
          "window '{}' ({})",
          name, UntilRebuilt(*entry));
    }
  }
  for (const auto& [key, handoffs] : handoffs_) MissHandoffs(handoffs);
}

void WindowCatalog::ChangeEnded(const TableName& table) {
  // (Behind a cache the copy's reload after the change asks too; asking now does no harm:
  // a copy that is not current yet is left to that load.)
  if (needs_rebuild_) needs_rebuild_(table);
}

void WindowCatalog::ChangeEndedAll() {
  for (const TableName& table : WatchedTables()) ChangeEnded(table);
}

std::vector<TableName> WindowCatalog::WatchedTables() const {
  std::vector<TableName> tables;
  if (options_.metrics_table) tables.push_back(MetricsTableName());
  std::shared_lock<std::shared_mutex> lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (std::find(tables.begin(), tables.end(), entry->table) == tables.end()) {
      tables.push_back(entry->table);
    }
  }
  return tables;
}

void WindowCatalog::MissedRows(const TableName& table) {
  bool rebuild = false;
  {
    std::shared_lock lock(mutex_);
    for (const auto& [name, entry] : entries_) {
      if (entry->table != table) continue;
      rebuild = true;
      if (entry->Diverge()) {
        spdlog::info(
            "rows of {} were committed by a write that began before it had windows: queries are "
            "no longer answered from window '{}' ({})",
            table.key(), name, UntilRebuilt(*entry));
      }
    }
    if (auto it = handoffs_.find(table.key()); it != handoffs_.end()) MissHandoffs(it->second);
  }
  if (rebuild && needs_rebuild_) needs_rebuild_(table);
}

void WindowCatalog::Abandoned(const TableName& table) {
  if (IsMetrics(table)) metrics_->Abandoned();
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

  // The table's columns, as the engine returns them.
  if (IsMetricsName(table)) {
    // The client's columns, plus the running columns the definition reads (stored doubles).
    arrow::FieldVector fields = MetricsTable::ClientSchema()->fields();
    for (const auto& value : spec.value_columns) {
      if (MetricsTable::ClientSchema()->GetFieldIndex(value) < 0) {
        fields.push_back(arrow::field(value, arrow::float64()));
      }
    }
    entry->input_schema = arrow::schema(std::move(fields));
  } else {
    auto columns = storage_->TableSchema(table);
    if (!columns.ok()) {
      return arrow::Status::KeyError("window '", name, "': table ", table.key(),
                                     " does not exist; create it first");
    }
    // SQLite keeps timestamps as ISO 8601 text: they are read as timestamps.
    arrow::FieldVector fields = (*columns)->fields();
    for (auto& field : fields) {
      if (field->name() == spec.time_column && field->type()->id() == arrow::Type::STRING) {
        field = field->WithType(arrow::timestamp(arrow::TimeUnit::MICRO));
      }
    }
    entry->input_schema = arrow::schema(std::move(fields));
  }
  // Trailing windows keep their rows for "the last N as of now" reads (TrailingResults): as
  // panes per key where the table can give the rows of the pane a bound splits as partial
  // aggregates, else as the rows themselves.
  bool first_or_last = false;
  for (AggregateKind kind : spec.aggregates) {
    first_or_last |= kind == AggregateKind::kFirst || kind == AggregateKind::kLast;
  }
  const int time_index = entry->input_schema->GetFieldIndex(spec.time_column);
  entry->trailing_panes =
      !first_or_last && time_index >= 0 &&
      storage_->CanReadPartials(*entry->input_schema->field(time_index)->type());
  WindowStoreOptions store_options;
  store_options.trailing_as_buffers = true;
  store_options.trailing_as_panes = entry->trailing_panes;
  store_options.trailing_panes = options_.trailing_panes;
  store_options.trailing_slack_us = TrailingSlackUs(spec);
  store_options.wall_clock = WallClockMicros;
  ARROW_ASSIGN_OR_RAISE(entry->store,
                        WindowStore::Make(spec, entry->input_schema, std::move(store_options)));
  if (entry->trailing_panes) {
    // What the table is asked for an edge: the store's partial aggregates (EdgeSchema()).
    PartialsRequest& request = entry->edge_request;
    request.keys = spec.key_columns;
    request.time = spec.time_column;
    request.time_type = entry->input_schema->field(time_index)->type();
    request.integer_unit = spec.integer_time_unit;
    const AggregateLayout& layout = entry->store->layout();
    const BlockOffsets& o = layout.offsets();
    if (layout.value_blocks() > 0) request.values = spec.value_columns;
    request.sum = o.sum >= 0;
    request.min = o.min >= 0;
    request.max = o.max >= 0;
    request.moments = o.mean >= 0;
  }
  arrow::FieldVector fields = {arrow::field("window_spec", arrow::utf8(), false)};
  for (const auto& f : entry->store->OutputSchema()->fields()) fields.push_back(f);
  entry->result_schema = arrow::schema(std::move(fields));
  entry->persist_history = persist_history;
  return entry;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowCatalog::AsInput(
    const Entry& entry, const arrow::RecordBatch& batch) const {
  if (IsMetricsName(entry.table)) {
    ARROW_ASSIGN_OR_RAISE(auto rows,
                          MetricsTable::Normalise(batch, options_.metrics_integer_time_unit));
    // The running columns the definition reads, as stored.
    for (int i = rows->num_columns(); i < entry.input_schema->num_fields(); ++i) {
      const auto& field = entry.input_schema->field(i);
      auto column = batch.GetColumnByName(field->name());
      if (column == nullptr) {
        return arrow::Status::Invalid("rows of metrics lack column ", field->name());
      }
      if (!column->type()->Equals(*field->type())) {
        ARROW_ASSIGN_OR_RAISE(column, arrow::compute::Cast(*column, field->type()));
      }
      ARROW_ASSIGN_OR_RAISE(rows, rows->AddColumn(i, field, column));
    }
    return rows;
  }
  return ConformTo(batch, *entry.input_schema);
}

// Folds committed rows into one definition and writes windows that closed to its history.
// Caller holds entry.write_mutex.
arrow::Status WindowCatalog::Fold(Entry& entry, const arrow::RecordBatch& batch,
                                  const BatchKeys* keys) {
  if (batch.num_rows() == 0) return arrow::Status::OK();
  ARROW_RETURN_NOT_OK(entry.store->Update(batch, keys).status());
  // While a build writes its history, the windows this closes wait in the store: the build
  // appends them after that history (BuildFromSnapshot).
  if (entry.history_pending) return arrow::Status::OK();
  return WriteClosed(entry, entry.store->TakeClosed());
}

// Appends closed windows to the history table in one append (one commit), labelled with
// their window spec. Caller holds entry.write_mutex.
arrow::Status WindowCatalog::WriteClosed(Entry& entry, const std::vector<ClosedWindow>& closed) {
  if (!entry.persist_history) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto batches, ClosedBatches(entry, closed));
  if (batches.empty()) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches(entry.result_schema, batches));
  ARROW_ASSIGN_OR_RAISE(auto combined, table->CombineChunksToBatch());
  return storage_->AppendHistory(entry.name, *combined);
}

arrow::Result<arrow::RecordBatchVector> WindowCatalog::ClosedBatches(
    const Entry& entry, const std::vector<ClosedWindow>& closed) const {
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
  return batches;
}

std::shared_ptr<WindowCatalog::Entry> WindowCatalog::Find(const std::string& name) const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  auto it = entries_.find(Lower(name));
  return it == entries_.end() ? nullptr : it->second;
}

arrow::Result<std::shared_ptr<WindowCatalog::Entry>> WindowCatalog::FindBuilt(
    const std::string& name, Needs needs) const {
  auto entry = Find(name);
  // Built (with its history, if needed), and not diverged (rebuilt in the background).
  auto built_now = [needs](const Entry& e) {
    return !e.pending && !(needs == Needs::kHistory && e.history_pending) && !e.diverged;
  };
  if (entry == nullptr || built_now(*entry)) return entry;
  std::unique_lock<std::mutex> lock(built_mutex_);
  const bool built = built_.wait_for(lock, kPendingWait, [&] {
    entry = Find(name);
    return entry == nullptr || built_now(*entry);
  });
  if (built) return entry;
  if (!entry->follows) {
    return arrow::Status::IOError("window '", name, "' is still being built from the rows of ",
                                  entry->table.key(),
                                  "; retry in a moment (its state is read once built; queries "
                                  "over the table are answered by the engine meanwhile)");
  }
  return arrow::Status::IOError(
      "window '", name, "' is still being built from the cached copy of ", entry->table.key(),
      ", which the cache is loading from the backend; retry in a moment (its state is read "
      "once built; queries over the table are answered by the backend meanwhile)");
}

void WindowCatalog::NotifyBuilt() {
  std::lock_guard<std::mutex> lock(built_mutex_);
  built_.notify_all();
}

// --- Ingest -----------------------------------------------------------------------------------

bool WindowCatalog::IsMetrics(const TableName& table) const {
  return options_.metrics_table && IsMetricsName(table);
}

bool WindowCatalog::HasDefinitions() const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  return !entries_.empty();
}

bool WindowCatalog::Answers(const std::string& name, Needs needs) const {
  auto entry = Find(name);
  return entry != nullptr && AnswersNow(*entry, needs);
}

bool WindowCatalog::AnswersNow(const Entry& entry, Needs needs) const {
  if (entry.diverged || (needs == Needs::kHistory && entry.history_pending)) return false;
  if (!entry.follows) return true;
  const auto copy = engine_->CopyGeneration(entry.table.EngineSchema(), entry.table.table);
  return copy.has_value() && entry.built_from == copy;
}

bool WindowCatalog::Watches(const TableName& table) const {
  if (IsMetrics(table)) return true;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (entry->table == table) return true;
  }
  return handoffs_.count(table.key()) > 0;  // a first definition is being built
}

arrow::Result<std::shared_ptr<arrow::Schema>> WindowCatalog::AppendSchema(
    const TableName& table, const std::shared_ptr<arrow::Schema>& incoming) const {
  if (!IsMetrics(table)) return incoming;
  return metrics_->StoredSchema(*incoming);
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowCatalog::PrepareAppend(
    const TableName& table, const std::shared_ptr<arrow::RecordBatch>& batch) {
  if (!IsMetrics(table)) return batch;
  return metrics_->Prepare(*batch);
}

arrow::Status WindowCatalog::Committed(const TableName& table,
                                       const arrow::RecordBatchVector& batches) {
  std::vector<std::shared_ptr<Entry>> targets;
  // States of the table being built from a snapshot of its copy get these rows too. One
  // published meanwhile is in `targets` when they are found again.
  std::vector<std::shared_ptr<Handoff>> given;
  for (bool again = true; again;) {
    again = false;
    std::vector<std::shared_ptr<Handoff>> handoffs;
    targets.clear();
    {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      for (const auto& [name, entry] : entries_) {
        // (A pending state gets these rows from the copy or from its rebuild's handoff.)
        if (entry->table == table && !entry->pending) targets.push_back(entry);
      }
      if (auto it = handoffs_.find(table.key()); it != handoffs_.end()) handoffs = it->second;
    }
    for (const auto& handoff : handoffs) {
      if (std::find(given.begin(), given.end(), handoff) != given.end()) continue;
      std::lock_guard<std::mutex> held(handoff->mutex);
      if (handoff->closed) {
        again = true;
        continue;
      }
      handoff->rows.insert(handoff->rows.end(), batches.begin(), batches.end());
      given.push_back(handoff);
    }
  }
  if (targets.empty()) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto input, ShareInput(targets, batches));
  arrow::Status first_error;
  for (const auto& entry : targets) {
    std::lock_guard<std::mutex> lock(entry->write_mutex);
    if (entry->retired) continue;  // replaced by a rebuilt state, which has these rows
    arrow::Status folded = EachInput(*targets[0], *entry, input, batches,
                                     [&](const arrow::RecordBatch& rows, const BatchKeys* keys) {
                                       return Fold(*entry, rows, keys);
                                     });
    if (folded.ok()) continue;
    // Its state may hold part of the rows, or its history lack windows that closed: it
    // answers no query until it is rebuilt (behind a cache, from the copy at once). The other
    // definitions still get the rows.
    if (entry->Diverge()) {
      spdlog::warn(
          "window '{}' missed committed rows ({}): queries are no longer answered from "
          "it ({})",
          entry->name, folded.message(), UntilRebuilt(*entry));
    }
    if (needs_rebuild_) needs_rebuild_(entry->table);
    if (first_error.ok()) first_error = folded;
  }
  return first_error;
}

arrow::Result<WindowCatalog::SharedInput> WindowCatalog::ShareInput(
    const std::vector<std::shared_ptr<Entry>>& entries,
    const arrow::RecordBatchVector& batches) const {
  SharedInput input;
  for (const auto& batch : batches) {
    ARROW_ASSIGN_OR_RAISE(auto rows, AsInput(*entries.front(), *batch));
    input.first_rows.push_back(std::move(rows));
  }
  ARROW_ASSIGN_OR_RAISE(input.keys, SharedKeys(entries, input.first_rows));
  return input;
}

arrow::Status WindowCatalog::EachInput(const Entry& first, Entry& entry, const SharedInput& input,
                                       const arrow::RecordBatchVector& batches,
                                       const FoldInput& fold) const {
  const bool shares = !input.keys.empty() && SameKeys(first, entry);
  for (size_t b = 0; b < batches.size(); ++b) {
    std::shared_ptr<arrow::RecordBatch> rows = input.first_rows[b];
    if (&entry != &first) {
      ARROW_ASSIGN_OR_RAISE(rows, AsInput(entry, *batches[b]));
    }
    ARROW_RETURN_NOT_OK(fold(*rows, shares ? input.keys[b].get() : nullptr));
  }
  return arrow::Status::OK();
}

bool WindowCatalog::SameKeys(const Entry& a, const Entry& b) {
  if (a.spec.key_columns != b.spec.key_columns) return false;
  for (const auto& name : a.spec.key_columns) {
    auto in_a = a.input_schema->GetFieldByName(name);
    auto in_b = b.input_schema->GetFieldByName(name);
    if (in_a == nullptr || in_b == nullptr || !in_a->type()->Equals(*in_b->type())) return false;
  }
  return true;
}

arrow::Result<std::vector<std::shared_ptr<const BatchKeys>>> WindowCatalog::SharedKeys(
    const std::vector<std::shared_ptr<Entry>>& targets,
    const arrow::RecordBatchVector& first_rows) const {
  // Worth it where two definitions or more have the first one's key columns (the metrics
  // table's metrics and metrics_trailing); their AsInput rows carry the same key values.
  std::vector<std::shared_ptr<const BatchKeys>> shared;
  if (targets.size() < 2 || targets[0]->spec.key_columns.empty()) return shared;
  const Entry& first = *targets[0];
  int sharing = 0;
  for (const auto& entry : targets) sharing += SameKeys(first, *entry);
  if (sharing < 2) return shared;
  // Looking the keys up once pays where they repeat within a batch (bulk loads: 24 -> 15 ns
  // per row for two definitions); see BatchKeys::MakeIfRepeated for where it does not.
  const int64_t held_keys = first.store->key_count();
  for (const auto& batch : first_rows) {
    ARROW_ASSIGN_OR_RAISE(auto keys,
                          BatchKeys::MakeIfRepeated(*batch, first.spec.key_columns, held_keys));
    shared.push_back(std::move(keys));
  }
  return shared;
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
  Follow(*entry);
  ARROW_RETURN_NOT_OK(storage_->SaveDefinition({entry->name, table, arguments}));
  auto publish = [&]() -> arrow::Result<bool> {
    auto [it, inserted] = entries_.emplace(entry->name, entry);
    if (!inserted) return arrow::Status::AlreadyExists("window '", name, "' exists");
    return true;
  };
  auto rows = Backfill({{entry, nullptr, publish}});
  if (!rows.ok() && !rows.status().IsAlreadyExists()) {
    (void)storage_->DeleteDefinition(entry->name);
  }
  return rows;
}

arrow::Status WindowCatalog::Drop(const std::string& name) {
  if ((Lower(name) == kMetrics || Lower(name) == kMetricsTrailing) && options_.metrics_table) {
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
  NotifyBuilt();  // (a read waiting for its state to be built ends)
  edge_cache_->Forget(entry->name);
  ARROW_RETURN_NOT_OK(storage_->DeleteDefinition(entry->name));
  std::lock_guard<std::mutex> lock(entry->write_mutex);
  auto history = HistoryOf(entry->name);
  std::lock_guard<std::mutex> replacing(history->mutex);
  ++history->replaced;
  return storage_->DropHistory(entry->name);
}

std::shared_ptr<WindowCatalog::HistoryLock> WindowCatalog::HistoryOf(
    const std::string& name) const {
  std::lock_guard<std::mutex> lock(histories_mutex_);
  auto& history = histories_[Lower(name)];
  if (!history) history = std::make_shared<HistoryLock>();
  return history;
}

arrow::Result<WindowCatalog::Description> WindowCatalog::Describe(const std::string& name) const {
  auto entry = Find(name);
  if (entry == nullptr) return ResultSchema(name).status();
  return Description{entry->name, entry->table, entry->spec.ToString()};
}

TableName WindowCatalog::Canonical(const std::optional<std::string>& schema,
                                   const std::string& table) const {
  return storage_->Canonical(schema, table);
}

WindowCatalog::Stats WindowCatalog::GetStats() const {
  std::vector<std::pair<std::shared_ptr<Entry>, Counts>> all;
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    for (const auto& [name, entry] : entries_) {
      auto counted = counts_.find(name);
      all.emplace_back(entry, counted == counts_.end() ? Counts{} : counted->second);
    }
  }
  Stats stats;
  for (const auto& [entry, counts] : all) {
    WindowStoreStats store = entry->store->GetStats();
    Stats::Definition& d = stats.definitions.emplace_back();
    d.rebuilds = counts.rebuilds;
    d.followed_deletes = counts.followed_deletes;
    d.name = entry->name;
    d.table = entry->table.key();
    d.spec = entry->spec.ToString();
    d.state = entry->pending                        ? "building"
              : AnswersNow(*entry, Needs::kHistory) ? "answering"
              : AnswersNow(*entry, Needs::kState)   ? "writing history"
                                                    : "rebuilding";
    d.keys = store.keys;
    d.rows = store.rows;
    for (int64_t n : store.late_rows) d.late_rows += n;
    // With the rows of trailing panes kept for reads (and their suffix states).
    d.open_bytes = store.total_bytes() + edge_cache_->memory_bytes(entry->name);
    d.suffix_hits = store.trailing_suffix_hits;
    d.suffix_builds = store.trailing_suffix_builds;
  }
  stats.edge_bytes = edge_cache_->memory_bytes();
  stats.edge_panes = edge_cache_->counts();
  return stats;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowCatalog::List() const {
  arrow::StringBuilder names, tables, specs, states;
  arrow::Int64Builder keys, rows, late, bytes;
  const Stats stats = GetStats();
  for (const Stats::Definition& d : stats.definitions) {
    ARROW_RETURN_NOT_OK(names.Append(d.name));
    ARROW_RETURN_NOT_OK(tables.Append(d.table));
    ARROW_RETURN_NOT_OK(specs.Append(d.spec));
    ARROW_RETURN_NOT_OK(keys.Append(d.keys));
    ARROW_RETURN_NOT_OK(rows.Append(d.rows));
    ARROW_RETURN_NOT_OK(late.Append(d.late_rows));
    ARROW_RETURN_NOT_OK(bytes.Append(d.open_bytes));
    ARROW_RETURN_NOT_OK(states.Append(d.state));
  }
  auto schema = arrow::schema(
      {arrow::field("name", arrow::utf8()), arrow::field("table", arrow::utf8()),
       arrow::field("spec", arrow::utf8()), arrow::field("keys", arrow::int64()),
       arrow::field("rows", arrow::int64()), arrow::field("late_rows", arrow::int64()),
       arrow::field("open_bytes", arrow::int64()), arrow::field("state", arrow::utf8())});
  arrow::ArrayVector columns(8);
  ARROW_RETURN_NOT_OK(names.Finish(&columns[0]));
  ARROW_RETURN_NOT_OK(tables.Finish(&columns[1]));
  ARROW_RETURN_NOT_OK(specs.Finish(&columns[2]));
  ARROW_RETURN_NOT_OK(keys.Finish(&columns[3]));
  ARROW_RETURN_NOT_OK(rows.Finish(&columns[4]));
  ARROW_RETURN_NOT_OK(late.Finish(&columns[5]));
  ARROW_RETURN_NOT_OK(bytes.Finish(&columns[6]));
  ARROW_RETURN_NOT_OK(states.Finish(&columns[7]));
  return arrow::RecordBatch::Make(schema, static_cast<int64_t>(stats.definitions.size()),
                                  std::move(columns));
}

bool WindowCatalog::AnswersExactly(const std::string& name, int64_t width_us,
                                   std::optional<int64_t> slide_us, When when) const {
  const int64_t slide = slide_us.value_or(width_us);
  auto entry = Find(name);
  if (entry == nullptr || (entry->diverged && when == When::kNow)) return false;
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
  // The newest windows are the state's own; the others include the history.
  ARROW_ASSIGN_OR_RAISE(auto entry,
                        FindBuilt(name, current_only ? Needs::kState : Needs::kHistory));
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
  if (window.empty() && selected.empty()) {
    // Only trailing windows: the one there is.
    if (entry->spec.windows.size() == 1) {
      return TrailingResults(name, window, std::nullopt, false, keys);
    }
    return arrow::Status::Invalid("window '", name, "' has several trailing windows (",
                                  entry->spec.ToString(), "); pick one, e.g. width := '",
                                  entry->spec.windows.front().ToString(), "'");
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
  if (!current_only && entry->persist_history) {
    std::vector<std::string> specs;
    for (size_t i : selected) specs.push_back(entry->spec.windows[i].ToString());
    ARROW_ASSIGN_OR_RAISE(
        auto history, storage_->ReadHistory(entry->name, specs,
                                            key_filter ? entry->spec.key_columns[0] : std::string(),
                                            key_filter ? keys : std::vector<std::string>{}));
    if (history != nullptr) {
      ARROW_ASSIGN_OR_RAISE(auto batches, arrow::TableBatchReader(*history).ToRecordBatches());
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
  // SQLite stores times as text and compares them as text ('2026-01-01 12:00' sorts before
  // '2026-01-01T11:00'), so a bound on the time column can mean something else there than in
  // the windows; nor does it run the SQL of the other shapes (now(), INTERVAL, time_bucket).
  // Its answers stay its own.
  if (storage_->flavor() == WindowStorage::Flavor::kSqlite) return false;
  std::string lower = Lower(sql);
  std::shared_lock lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (lower.find(entry->table.table) != std::string::npos) return true;
  }
  return false;
}

std::optional<int64_t> WindowCatalog::TrailingCovering(const std::string& name, int64_t since_us,
                                                       bool inclusive, When when) const {
  auto entry = Find(name);
  if (entry == nullptr || (entry->diverged && when == When::kNow)) return std::nullopt;
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
  ARROW_ASSIGN_OR_RAISE(auto entry, FindBuilt(name, Needs::kState));
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
  ARROW_ASSIGN_OR_RAISE(auto rows, entry->trailing_panes ? ReadTrailingPanes(*entry, filter)
                                                         : entry->store->TrailingSnapshot(filter));
  ARROW_ASSIGN_OR_RAISE(auto labels, SpecColumn(def, rows->num_rows()));
  arrow::ArrayVector columns = {labels};
  for (const auto& c : rows->columns()) columns.push_back(c);
  return arrow::RecordBatch::Make(entry->result_schema, rows->num_rows(), columns);
}

arrow::Result<std::shared_ptr<const TrailingEdgeRows>> WindowCatalog::LoadEdgeRows(
    const std::string& name, size_t window, int64_t pane_begin, int64_t pane_end) const {
  auto entry = Find(name);
  if (entry == nullptr || !entry->trailing_panes) return nullptr;
  // The pane's last fold first: rows folded into it after this make the kept rows stale.
  const uint64_t fold = entry->store->TrailingPaneFold(window, pane_begin);
  PartialsRequest request = entry->edge_request;
  request.from_us = pane_begin;
  request.to_us = pane_end;
  // Not more rows than the edge cache could keep; one more says there are too many.
  const int64_t max_rows =
      options_.trailing_edge_cache_bytes / TrailingEdgeRows::MaxBytesPerRow(request.values.size());
  request.row_limit = max_rows + 1;
  ARROW_ASSIGN_OR_RAISE(auto batch, storage_->ReadRows(entry->table, request));
  if (batch->num_rows() > max_rows) {
    return arrow::Status::CapacityError("the pane has more than ", max_rows, " rows, more than ",
                                        options_.trailing_edge_cache_bytes >> 20,
                                        " MB of the edge cache (--window-edge-cache-bytes)");
  }
  ARROW_ASSIGN_OR_RAISE(batch, AsInput(*entry, *batch));
  return entry->store->MakeEdgeRows(window, pane_begin, pane_end, fold, *batch);
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowCatalog::ReadTrailingPanes(
    const Entry& entry, const TrailingFilter& filter) const {
  PartialsRequest request = entry.edge_request;
  for (int attempt = 1;; ++attempt) {
    // The panes first, then the edge: a transaction the edge's rows include but that was
    // folded after the panes were merged shows up as a later fold into the edge's pane.
    ARROW_ASSIGN_OR_RAISE(TrailingRead read, entry.store->BeginTrailingRead(filter));
    const int64_t pane_width = read.edge_end - read.edge_pane_begin;
    std::optional<std::shared_ptr<arrow::RecordBatch>> rows;
    if (read.edge_begin == read.edge_end) {
      ARROW_ASSIGN_OR_RAISE(rows, entry.store->FinishTrailingRead(std::move(read), nullptr));
    } else {
      // The rows of the edge's pane kept from an earlier read, else the table's partial
      // aggregates of the edge (and the pane's rows read in the background for the next read).
      // The next pane's rows are asked for at once (once it has ended, so rows have stopped
      // arriving in it): the bound reaches that pane a pane width later, when a read may not
      // have come by in between to ask (the loader has the width).
      const size_t window = read.window;
      const int64_t pane_begin = read.edge_pane_begin, pane_end = read.edge_end;
      auto kept = edge_cache_->Find(entry.name, window, pane_begin);
      if (kept != nullptr) {
        ARROW_ASSIGN_OR_RAISE(rows, entry.store->FinishTrailingRead(read, nullptr, kept.get()));
        if (!rows) edge_cache_->Drop(entry.name, kept.get());
      }
      if (!rows) {
        spdlog::debug("trailing edge of '{}' from the table: the rows of its pane {}", entry.name,
                      kept == nullptr ? "are not kept" : "changed since they were kept");
        request.from_us = read.edge_begin;
        request.to_us = read.edge_end;
        ARROW_ASSIGN_OR_RAISE(auto partials, storage_->ReadPartials(entry.table, request));
        ARROW_ASSIGN_OR_RAISE(rows,
                              entry.store->FinishTrailingRead(std::move(read), partials.get()));
        edge_cache_->Request(entry.name, window, pane_begin, pane_end);
      }
      if (pane_end + pane_width <= filter.until_us) {
        edge_cache_->Request(entry.name, window, pane_end, pane_end + pane_width);
      }
    }
    if (rows) return *rows;
    if (attempt == kTrailingReadAttempts) {
      return arrow::Status::Invalid(
          "window '", entry.name, "': rows at the bound ", engine::FormatTimestamp(filter.since_us),
          " kept arriving while it was read (", attempt, " tries); read again, or query the table");
    }
  }
}

}  // namespace hyprstream::window
