// WindowCatalog: what a build from a snapshot of the stored rows reads (window_catalog.h,
// ReadRowsToFold). Folding every stored row in time order takes time in the number of rows; the
// state only needs the rows of its windows still open and its trailing rows, and the engine
// computes the closed windows before them in a parallel scan (ClosedWindowsQuery) with the
// aggregates it answers queries with. Both run on one pinned snapshot.
#include <spdlog/spdlog.h>

#include <algorithm>

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

// What the stored rows before a build's bound are: how many, since when, and over how many
// keys for each state that keeps a history (approximately).
struct SizesBefore {
  int64_t rows = 0;
  int64_t oldest_us = 0;
  std::vector<int64_t> keys;
};

arrow::Result<SizesBefore> ReadSizesBefore(const WindowStorage& storage,
                                           engine::EngineConnection& pinned, const TableName& table,
                                           const std::string& time,
                                           const std::vector<const WindowSpec*>& kept,
                                           int64_t from) {
  const std::string before = " FILTER (WHERE NOT " + storage.RowsFrom(time, from) + ")";
  std::string sql = "SELECT CAST(count(*)" + before + " AS BIGINT), CAST(epoch_us(min(" +
                    engine::QuoteIdentifier(time) + ")) AS BIGINT)";
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
      row->num_rows() == 1 && row->num_columns() == static_cast<int>(2 + kept.size()) &&
      std::all_of(row->columns().begin(), row->columns().end(),
                  [](const auto& column) { return column->type_id() == arrow::Type::INT64; });
  if (!shaped) {
    return arrow::Status::IOError("sizing the rows before the bound gave ", row->num_rows(),
                                  " rows of ", row->schema()->ToString());
  }
  auto value = [&](int column) -> int64_t {
    const auto& values = static_cast<const arrow::Int64Array&>(*row->column(column));
    return values.IsNull(0) ? 0 : values.Value(0);
  };
  SizesBefore sizes;
  sizes.rows = value(0);
  sizes.oldest_us = value(1);
  for (size_t i = 0; i < kept.size(); ++i) sizes.keys.push_back(value(2 + static_cast<int>(i)));
  return sizes;
}

// Whether the engine's GROUP BY of the rows before `from` into the windows they close would
// cost more than folding them: where those windows are about as many as the rows (sparse
// keys: a row or so per key and window), its output is as large as its input. Estimated per
// kept state and window as min(rows, keys x windows per key since the oldest row).
bool ComputingCostsMore(const std::vector<const WindowSpec*>& kept, const SizesBefore& sizes,
                        int64_t from) {
  if (kept.empty() || sizes.rows == 0) return false;
  double windows = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    for (const WindowDef& def : kept[i]->windows) {
      if (!def.is_paned()) continue;
      const double per_key = static_cast<double>(from - sizes.oldest_us) / def.slide_us +
                             static_cast<double>(def.width_us) / def.slide_us;
      windows +=
          std::min(static_cast<double>(sizes.rows), static_cast<double>(sizes.keys[i]) * per_key);
    }
  }
  return windows >= static_cast<double>(sizes.rows) * kept.size();
}

}  // namespace

arrow::Result<WindowCatalog::RowsToFold> WindowCatalog::ReadRowsToFold(
    const std::vector<std::shared_ptr<Entry>>& fresh, const std::string& columns,
    std::shared_ptr<engine::EngineConnection> pinned) const {
  const Entry& first = *fresh.front();
  const std::string& time = first.spec.time_column;
  RowsToFold out;
  out.earlier.assign(fresh.size(), EarlierWindows{});
  auto every_row = [&]() -> arrow::Result<RowsToFold> {
    RowsToFold all;
    all.earlier.assign(fresh.size(), EarlierWindows{});
    ARROW_ASSIGN_OR_RAISE(
        all.rows, engine::ReadPinned(std::move(pinned),
                                     storage_->OrderedQuery(first.table, columns, "", time)));
    return all;
  };
  for (const auto& entry : fresh) {
    if (!storage_->SupportsClosedWindowsQuery(entry->spec, *entry->input_schema)) {
      return every_row();
    }
  }
  auto newest = WindowStorage::QueryTime(*pinned, "SELECT max(" + engine::QuoteIdentifier(time) +
                                                      ") FROM " + storage_->Sql(first.table));
  if (!newest.ok() || !newest->has_value()) return every_row();  // (no row with a time)
  const int64_t now = WallClockMicros();
  int64_t from = INT64_MAX;
  for (const auto& entry : fresh) {
    from = std::min(from, FoldFrom(entry->spec, **newest - entry->spec.allowed_lateness_us, now));
  }
  // How many stored rows are before `from`, and (ComputingCostsMore) whether the engine
  // should compute the windows they close: sparse keys close about as many windows as rows.
  std::vector<const WindowSpec*> kept;
  for (const auto& entry : fresh) {
    if (entry->persist_history) kept.push_back(&entry->spec);
  }
  bool fold_every_row = false;
  arrow::Status computed = [&]() -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto sizes,
                          ReadSizesBefore(*storage_, *pinned, first.table, time, kept, from));
    out.rows_before = sizes.rows;
    fold_every_row = ComputingCostsMore(kept, sizes, from);
    return arrow::Status::OK();
  }();
  if (computed.ok() && fold_every_row) {
    spdlog::debug(
        "windows of {}: their closed windows would be about as many as the {} rows "
        "before {}; every stored row is folded",
        first.table.key(), out.rows_before, from);
    return every_row();
  }
  // The windows starting before `from`, as the engine computes them from the same snapshot.
  if (computed.ok())
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
    return every_row();
  }
  spdlog::debug("windows of {}: rows folded from {} on, closed windows before it from the engine",
                first.table.key(), from);
  ARROW_ASSIGN_OR_RAISE(
      out.rows, engine::ReadPinned(std::move(pinned),
                                   storage_->OrderedQuery(first.table, columns,
                                                          storage_->RowsFrom(time, from), time)));
  return out;
}

}  // namespace hyprstream::window
