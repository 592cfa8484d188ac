// WindowCatalog: what a build from a snapshot of the stored rows reads (window_catalog.h,
// ReadRowsToFold). Folding every stored row in time order takes time in the number of rows; the
// state only needs the rows of its windows still open and its trailing rows, and the engine
// computes the closed windows before them in a parallel scan (ClosedWindowsQuery) with the
// aggregates it answers queries with. Both run on one pinned snapshot.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

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
  // The windows starting before `from`, as the engine computes them from the same snapshot,
  // and how many stored rows they hold.
  arrow::Status computed = [&]() -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(
        auto before,
        engine::QueryValue(*pinned, "SELECT count(*) FROM " + storage_->Sql(first.table) +
                                        " WHERE NOT " + storage_->RowsFrom(time, from)));
    if (std::from_chars(before.data(), before.data() + before.size(), out.rows_before).ec !=
        std::errc()) {
      return arrow::Status::IOError("counting the rows before the bound gave '", before, "'");
    }
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
