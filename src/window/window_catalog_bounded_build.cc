// WindowCatalog: what a build from a snapshot of the stored rows reads (window_catalog.h,
// ReadRowsToFold). The state only needs the rows of its windows still open and its trailing
// rows; the closed windows before them are either computed by the engine in one parallel scan
// per window width (ClosedWindowsQuery, with the aggregates it answers queries with) or folded
// from every row, whichever costs less (FoldingCostsLess). The rows are read in time order by
// time range, a sort of a bounded size at a time (TimeRanges). All on one pinned snapshot.
#include <arrow/compute/api.h>
#include <arrow/compute/initialize.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "engine/snapshot_read.h"
#include "window/event_time.h"
#include "window/window_catalog.h"
#include "window/window_catalog_entry.h"

namespace hyprstream::window {
namespace {

// The oldest time whose rows `spec`'s state needs folded when its watermark ends at
// `watermark`: the start of each window's oldest instance still open then (every older one is
// closed: LastClosedEnd), and for trailing windows the rows a read since now - width can
// need, with room for the slack and a pane.
int64_t FoldFrom(const WindowSpec& spec, int64_t watermark, int64_t now) {
  int64_t from = INT64_MAX;
  const int64_t slack = TrailingSlackUs(spec);
  for (const WindowDef& def : spec.windows) {
    if (def.is_paned()) {
      from = std::min(from, FloorTo(watermark - def.width_us, def.slide_us) + def.slide_us);
    } else {
      from = std::min(from, std::min(watermark, now) - 2 * (def.width_us + slack));
    }
  }
  return from;
}

// What the stored rows are: how many, how many before a build's bound, since when, and over
// how many keys for each state that keeps a history (approximately).
struct Sizes {
  int64_t rows = 0;
  int64_t before = 0;
  int64_t oldest_us = 0;
  std::vector<int64_t> keys;
};

arrow::Result<Sizes> ReadSizes(const WindowStorage& storage, engine::EngineConnection& pinned,
                               const TableName& table, const std::string& time,
                               const std::vector<const WindowSpec*>& kept, int64_t from) {
  const std::string before = " FILTER (WHERE NOT " + storage.RowsFrom(time, from) + ")";
  std::string sql = "SELECT CAST(count(*) AS BIGINT), CAST(count(*)" + before +
                    " AS BIGINT), CAST(epoch_us(min(" + engine::QuoteIdentifier(time) +
                    ")) AS BIGINT)";
  for (const WindowSpec* spec : kept) {
    std::string keys;
    for (const auto& key : spec->key_columns) {
      keys += (keys.empty() ? "" : ", ") + engine::QuoteIdentifier(key);
    }
    // (A definition without keys has one.)
    sql += keys.empty()
               ? std::string(", CAST(1 AS BIGINT)")
               : ", CAST(approx_count_distinct(hash(" + keys + "))" + before + " AS BIGINT)";
  }
  ARROW_ASSIGN_OR_RAISE(auto table_read,
                        engine::QueryTable(pinned, sql + " FROM " + storage.Sql(table)));
  ARROW_ASSIGN_OR_RAISE(auto row, table_read->CombineChunksToBatch());
  const bool shaped =
      row->num_rows() == 1 && row->num_columns() == static_cast<int>(3 + kept.size()) &&
      std::all_of(row->columns().begin(), row->columns().end(),
                  [](const auto& column) { return column->type_id() == arrow::Type::INT64; });
  if (!shaped) {
    return arrow::Status::IOError("sizing the stored rows gave ", row->num_rows(), " rows of ",
                                  row->schema()->ToString());
  }
  auto value = [&](int column) -> int64_t {
    const auto& values = static_cast<const arrow::Int64Array&>(*row->column(column));
    return values.IsNull(0) ? 0 : values.Value(0);
  };
  Sizes sizes;
  sizes.rows = value(0);
  sizes.before = value(1);
  sizes.oldest_us = value(2);
  for (size_t i = 0; i < kept.size(); ++i) sizes.keys.push_back(value(3 + static_cast<int>(i)));
  return sizes;
}

// Whether folding the rows before `from` costs less than the engine's GROUP BY of them into the
// windows they close, in units of the engine's cost per row and window width
// (bench/results/2026-12-07-build-cost-model.md, embedded DuckDB and the cache's copy alike):
// - the engine scans every row once per width (1 per row and window holding it) and pays
//   kEnginePerWindow per window it gives;
// - the fold reads the rows in time order (kFoldPerRow) and closes each window
//   (kFoldPerWindow).
// The windows of a width are estimated as min(rows x windows per row, keys x windows per key
// since the oldest row): sparse keys (a row or so per key and window) close about as many
// windows as rows.
bool FoldingCostsLess(const std::vector<const WindowSpec*>& kept, const Sizes& sizes,
                      int64_t from) {
  constexpr double kEnginePerWindow = 20, kFoldPerRow = 2.6, kFoldPerWindow = 2;
  if (kept.empty() || sizes.before == 0) return false;  // the engine has nothing to compute
  const double rows = static_cast<double>(sizes.before);
  double engine = 0, fold = kFoldPerRow * rows;
  for (size_t i = 0; i < kept.size(); ++i) {
    for (const WindowDef& def : kept[i]->windows) {
      if (!def.is_paned()) continue;
      const double per_row = std::ceil(static_cast<double>(def.width_us) / def.slide_us);
      const double per_key = static_cast<double>(from - sizes.oldest_us) / def.slide_us + per_row;
      const double windows = std::min(rows * per_row, static_cast<double>(sizes.keys[i]) * per_key);
      engine += rows * per_row + kEnginePerWindow * windows;
      fold += kFoldPerWindow * windows;
    }
  }
  return fold < engine;
}

// Whether `times` (a timestamp column without nulls) never goes back.
bool InTimeOrder(const arrow::ChunkedArray& times) {
  if (times.null_count() > 0) return false;
  int64_t last = INT64_MIN;
  for (const auto& chunk : times.chunks()) {
    const auto& values = static_cast<const arrow::TimestampArray&>(*chunk);
    for (int64_t i = 0; i < values.length(); ++i) {
      if (values.Value(i) < last) return false;
      last = values.Value(i);
    }
  }
  return true;
}

// `rows` sorted by their `time` column (stable).
arrow::Result<std::shared_ptr<arrow::Table>> SortedByTime(std::shared_ptr<arrow::Table> rows,
                                                          const std::string& time) {
  // (Arrow's sort lives in its compute library, whose functions are registered once.)
  static const arrow::Status registered = arrow::compute::Initialize();
  ARROW_RETURN_NOT_OK(registered);
  arrow::compute::SortOptions order({arrow::compute::SortKey(time)});
  ARROW_ASSIGN_OR_RAISE(auto indices, arrow::compute::SortIndices(arrow::Datum(rows), order));
  ARROW_ASSIGN_OR_RAISE(auto sorted, arrow::compute::Take(arrow::Datum(rows), indices));
  return sorted.table();
}

// The stored rows from `from` on (every one when unset) as queries of time ranges, in turn
// (ReadPinnedInTurn): each of about `per_read` rows, sized from the rows the one before gave,
// then the rows without a time (as ORDER BY time gives them: last). Each range is read in the
// order its rows were stored, which for rows stored in time order (as streamed rows mostly are)
// is time order, and put in time order (Arrange) where it is not. From the first range stored
// out of time order on, the engine sorts the ranges (its sort is faster than Arrow's here, and
// the rows are likely out of order there too).
class TimeRanges {
 public:
  TimeRanges(const WindowStorage& storage, const TableName& table, std::string columns,
             std::string time, bool zoned, std::optional<int64_t> from, int64_t oldest_us,
             int64_t newest_us, int64_t rows, int64_t per_read)
      : storage_(storage),
        table_(table),
        columns_(std::move(columns)),
        time_(std::move(time)),
        zoned_(zoned),
        from_(from),
        at_(from.value_or(oldest_us)),
        end_(newest_us + 1),
        per_read_(std::max<int64_t>(per_read, 1)) {
    const double span = static_cast<double>(end_ - at_);
    width_ = Clamp(span * static_cast<double>(per_read_) / std::max<double>(rows, 1));
  }

  std::optional<std::string> Next(int64_t rows_of_last) {
    if (rows_of_last >= 0 && ranges_ > 0 && at_ < end_) {
      // The next range holds about per_read rows if they go on as dense as the last one's.
      const double scale =
          rows_of_last == 0
              ? 4.0
              : std::clamp(static_cast<double>(per_read_) / static_cast<double>(rows_of_last),
                           1.0 / 16, 16.0);
      width_ = Clamp(static_cast<double>(width_) * scale);
    }
    if (at_ >= end_) {
      if (without_time_read_) return std::nullopt;
      without_time_read_ = true;
      return storage_.RowsWithoutTimeQuery(table_, columns_, time_);
    }
    // The first range has no lower bound when every row is read, the last no upper one.
    std::optional<int64_t> lower = ranges_ == 0 ? from_ : std::optional<int64_t>(at_);
    std::optional<int64_t> upper;
    if (width_ < end_ - at_) {
      upper = at_ + width_;
      at_ += width_;
    } else {
      at_ = end_;
    }
    ++ranges_;
    return storage_.RowsInTimeRangeQuery(table_, columns_, time_, zoned_, lower, upper,
                                         engine_sorts_);
  }

  // A range's rows (or the rows without a time) in time order.
  arrow::Result<std::shared_ptr<arrow::Table>> Arrange(std::shared_ptr<arrow::Table> rows) {
    const auto times = rows->GetColumnByName(time_);
    if (times == nullptr) return arrow::Status::Invalid("rows read without their time ", time_);
    if (times->null_count() == times->length() || InTimeOrder(*times)) return rows;
    engine_sorts_ = true;
    return SortedByTime(std::move(rows), time_);
  }

 private:
  int64_t Clamp(double width) const {
    const double most = static_cast<double>(end_ - at_);
    return static_cast<int64_t>(std::max(1.0, std::min(width, std::max(1.0, most))));
  }

  const WindowStorage& storage_;
  const TableName table_;
  const std::string columns_, time_;
  const bool zoned_;
  const std::optional<int64_t> from_;
  int64_t at_;         // the next range's start
  const int64_t end_;  // after the newest time
  const int64_t per_read_;
  int64_t width_ = 1;  // the next range's width, microseconds
  int ranges_ = 0;     // read so far
  bool without_time_read_ = false;
  bool engine_sorts_ = false;  // the ranges from here on
};

}  // namespace

arrow::Result<WindowCatalog::RowsToFold> WindowCatalog::ReadRowsToFold(
    const std::vector<std::shared_ptr<Entry>>& fresh, const std::string& columns,
    std::shared_ptr<engine::EngineConnection> pinned) const {
  const Entry& first = *fresh.front();
  const std::string& time = first.spec.time_column;
  // Every row in one ordered query: where the rows cannot be read by time range.
  auto in_one_read = [&]() -> arrow::Result<RowsToFold> {
    RowsToFold all;
    all.earlier.assign(fresh.size(), EarlierWindows{});
    ARROW_ASSIGN_OR_RAISE(
        all.rows, engine::ReadPinned(std::move(pinned),
                                     storage_->OrderedQuery(first.table, columns, "", time)));
    return all;
  };
  // A snapshot of the backend's own rows (PostgreSQL without the cache) speaks its SQL, not
  // DuckDB's: read as below (`!in_duckdb`).
  const bool in_duckdb = first.follows || storage_->flavor() == WindowStorage::Flavor::kDuckDb;
  const std::optional<bool> zoned = WindowStorage::TimeRangesOf(first.spec, *first.input_schema);
  if (in_duckdb && !zoned) return in_one_read();
  bool engine_computes = true;
  const auto choice = options_.build_closed_windows;
  for (const auto& entry : fresh) {
    if (!storage_->SupportsClosedWindowsQuery(entry->spec, *entry->input_schema)) {
      engine_computes = false;
    }
  }
  auto newest = WindowStorage::QueryTime(*pinned, "SELECT max(" + engine::QuoteIdentifier(time) +
                                                      ") FROM " + storage_->Sql(first.table));
  if (!newest.ok() || !newest->has_value()) return in_one_read();  // (no row with a time)
  const int64_t now = WallClockMicros();
  int64_t from = INT64_MAX;
  for (const auto& entry : fresh) {
    from = std::min(from, FoldFrom(entry->spec, **newest - entry->spec.allowed_lateness_us, now));
  }
  // How many stored rows there are and how many before `from`, and (FoldingCostsLess) whether
  // the engine should compute the windows those close: those of the states that keep closed
  // windows (a history, tumbling or hopping windows).
  std::vector<const WindowSpec*> kept;
  for (const auto& entry : fresh) {
    const auto& windows = entry->spec.windows;
    if (entry->persist_history &&
        std::any_of(windows.begin(), windows.end(), [](const auto& w) { return w.is_paned(); })) {
      kept.push_back(&entry->spec);
    }
  }
  if (!in_duckdb) {
    // Every row, ordered there; where no state keeps closed windows, only those from `from`
    // (and those without a time), if the column compares exactly with a timestamp literal.
    auto field = first.input_schema->GetFieldByName(time);
    if (!kept.empty() || field == nullptr ||
        !WindowStorage::ComparesWithTimestampLiteral(*field->type())) {
      return in_one_read();
    }
    const std::string column = engine::QuoteIdentifier(time);
    const std::string recent =
        "(" + column + " >= " + storage_->TimestampLiteral(from) + " OR " + column + " IS NULL)";
    RowsToFold out;
    out.earlier.assign(fresh.size(), EarlierWindows{from, {}});
    out.older = RowsToFold::Older::kNotNeeded;
    ARROW_ASSIGN_OR_RAISE(
        const std::string before,
        engine::QueryValue(*pinned, "SELECT count(*) FROM " + storage_->Sql(first.table) +
                                        " WHERE NOT " + recent));
    if (std::from_chars(before.data(), before.data() + before.size(), out.rows_before).ec !=
        std::errc()) {
      return arrow::Status::Invalid("counting the stored rows gave '", before, "'");
    }
    ARROW_ASSIGN_OR_RAISE(
        out.rows, engine::ReadPinned(std::move(pinned),
                                     storage_->OrderedQuery(first.table, columns, recent, time)));
    return out;
  }
  auto sizes = ReadSizes(*storage_, *pinned, first.table, time, kept, from);
  if (!sizes.ok()) {
    spdlog::warn("windows of {}: the stored rows could not be sized ({}); every row is folded",
                 first.table.key(), sizes.status().message());
    return in_one_read();
  }
  // (With no closed windows kept there is nothing to compute: the rows before `from` are not
  // needed.)
  if (engine_computes && !kept.empty() &&
      (choice == WindowCatalogOptions::ClosedWindows::kFold ||
       (choice == WindowCatalogOptions::ClosedWindows::kCheaper &&
        FoldingCostsLess(kept, *sizes, from)))) {
    spdlog::debug(
        "windows of {}: every stored row is folded, not only those from {} on ({} "
        "before): {}",
        first.table.key(), from, sizes->before,
        choice == WindowCatalogOptions::ClosedWindows::kFold
            ? "as the options say"
            : "that costs less than computing the windows they close");
    engine_computes = false;
  }
  RowsToFold out;
  out.earlier.assign(fresh.size(), EarlierWindows{});
  // The windows starting before `from`, as the engine computes them from the same snapshot.
  arrow::Status computed = arrow::Status::OK();
  if (engine_computes)
    computed = [&]() -> arrow::Status {
      for (size_t i = 0; i < fresh.size(); ++i) {
        Entry& entry = *fresh[i];
        EarlierWindows& mine = out.earlier[i];
        mine.before_us = from;
        if (!entry.persist_history) continue;  // closed windows are not kept
        for (size_t w = 0; w < entry.spec.windows.size(); ++w) {
          if (!entry.spec.windows[w].is_paned()) continue;
          ARROW_ASSIGN_OR_RAISE(auto rows,
                                engine::QueryTable(*pinned, storage_->ClosedWindowsQuery(
                                                                entry.table, entry.spec, w, from)));
          if (rows->num_rows() == 0) continue;
          const auto& output = entry.store->OutputSchema();
          if (rows->num_columns() != output->num_fields()) {
            return arrow::Status::Invalid("closed windows query gave ", rows->num_columns(),
                                          " columns for ", output->num_fields());
          }
          ARROW_ASSIGN_OR_RAISE(auto combined, rows->CombineChunksToBatch());
          ClosedWindow windows;
          windows.window = w;
          // (The engine's Arrow types where they differ, e.g. a key's string type.)
          ARROW_ASSIGN_OR_RAISE(windows.rows, ConformTo(*combined, *output));
          mine.windows.push_back(std::move(windows));
        }
      }
      return arrow::Status::OK();
    }();
  if (!computed.ok()) {
    spdlog::warn(
        "windows of {}: the engine could not compute their closed windows ({}); every "
        "stored row is folded instead",
        first.table.key(), computed.message());
    engine_computes = false;
  }
  std::optional<int64_t> read_from;
  int64_t to_read = sizes->rows;
  if (engine_computes) {
    spdlog::debug(
        "windows of {}: rows folded from {} on, closed windows before it from the "
        "engine",
        first.table.key(), from);
    read_from = from;
    to_read -= sizes->before;
    out.rows_before = sizes->before;
    out.older = kept.empty() ? RowsToFold::Older::kNotNeeded : RowsToFold::Older::kComputed;
  } else {
    out.earlier.assign(fresh.size(), EarlierWindows{});
  }
  auto ranges = std::make_shared<TimeRanges>(*storage_, first.table, columns, time, *zoned,
                                             read_from, sizes->oldest_us, **newest, to_read,
                                             options_.build_rows_per_read);
  ARROW_ASSIGN_OR_RAISE(
      out.rows,
      engine::ReadPinnedInTurn(
          std::move(pinned), [ranges](int64_t rows_of_last) { return ranges->Next(rows_of_last); },
          [ranges](std::shared_ptr<arrow::Table> rows) {
            return ranges->Arrange(std::move(rows));
          }));
  return out;
}

}  // namespace hyprstream::window
