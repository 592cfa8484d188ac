// WindowCatalog: following a DELETE that removed only a table's oldest rows (window_catalog.h,
// WatchDelete/FollowDelete). A retention DELETE ... WHERE ts < X leaves every row at or after
// the oldest row left, m, and removes every row before it; a state in memory that holds no
// row older than m is unchanged by it, and only the history's windows starting before m
// change: those ending by m lose all their rows, those holding m are recomputed from the
// stored rows in [m, their end). No SQL is read: the rows before and after tell.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "engine/prefix_delete.h"
#include "engine/result_provenance.h"
#include "window/event_time.h"
#include "window/window_catalog.h"
#include "window/window_catalog_entry.h"

namespace hyprstream::window {
namespace {

// The end of the last window of `def` that starts before `oldest` and holds it (oldest when
// none does: `oldest` starts its windows).
int64_t EndOfWindowsHolding(const WindowDef& def, int64_t oldest) {
  const int64_t last_start = FloorTo(oldest - 1, def.slide_us);
  return std::max(oldest, last_start + def.width_us);
}

// Whether `entry` keeps a history of closed windows (a DELETE of old rows changes it).
bool KeepsHistory(const WindowCatalog::Entry& entry) {
  return entry.persist_history && std::any_of(entry.spec.windows.begin(), entry.spec.windows.end(),
                                              [](const WindowDef& def) { return def.is_paned(); });
}

}  // namespace

std::vector<std::shared_ptr<WindowCatalog::Entry>> WindowCatalog::FollowersOfDelete(
    const TableName& table) const {
  std::vector<std::shared_ptr<Entry>> followers;
  // (The checks below need the DELETE's transaction to keep the snapshot the watch reads:
  // embedded DuckDB and PostgreSQL, engine_->BeginSharingSnapshot. Behind the cache, states
  // built from its copy follow too when the copy follows the DELETE; when it cannot, it is
  // reloaded and they are rebuilt from it, as after any write.)
  if (!reads_snapshots_ || (storage_->flavor() != WindowStorage::Flavor::kDuckDb &&
                            storage_->flavor() != WindowStorage::Flavor::kPostgres)) {
    return {};
  }
  if (handoffs_.contains(table.key())) return {};  // a state being built
  for (const auto& [name, entry] : entries_) {
    if (entry->table != table) continue;
    if (entry->diverged || entry->pending || entry->history_pending) continue;
    auto field = entry->input_schema->GetFieldByName(entry->spec.time_column);
    if (field == nullptr || !WindowStorage::ComparesWithTimestampLiteral(*field->type())) continue;
    followers.push_back(entry);
  }
  return followers;
}

bool WindowCatalog::MayFollowDelete(const TableName& table) const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  return !FollowersOfDelete(table).empty();
}

std::optional<WindowCatalog::DeleteWatch> WindowCatalog::WatchDelete(
    const TableName& table, engine::EngineConnection& deleting) {
  DeleteWatch watch{table, {}, nullptr};
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    for (auto& entry : FollowersOfDelete(table)) {
      watch.noted.push_back({std::move(entry), std::nullopt, 0});
    }
    // The followers answer on until CheckDelete tells; the others stop now, as after Diverged.
    for (const auto& [name, entry] : entries_) {
      if (watch.noted.empty() || entry->table != table) continue;
      const bool noted = std::any_of(watch.noted.begin(), watch.noted.end(),
                                     [&](const DeleteWatch::Noted& n) { return n.entry == entry; });
      if (!noted && entry->Diverge()) {
        spdlog::info(
            "rows of {} are being removed: queries are no longer answered from window '{}' ({})",
            table.key(), name, UntilRebuilt(*entry));
      }
    }
  }
  if (watch.noted.empty()) {
    Diverged(table);
    return std::nullopt;
  }
  for (DeleteWatch::Noted& noted : watch.noted) {
    auto history = HistoryOf(noted.entry->name);
    std::lock_guard<std::mutex> lock(history->mutex);
    noted.history_replaced = history->replaced;
  }
  // The DELETE's transaction and the watch's reader, with one snapshot.
  auto before = engine_->BeginSharingSnapshot(deleting, table.EngineSchema(), table.table);
  if (!before.ok()) {
    if (!before.status().IsNotImplemented()) {
      spdlog::warn("reading {} as of a DELETE of it: {}", table.key(), before.status().message());
    }
    Diverged(table);  // run unwatched: rebuilt after it
    return std::nullopt;
  }
  watch.before = *std::move(before);
  return watch;
}

void WindowCatalog::CheckDelete(DeleteWatch& watch, engine::EngineConnection& deleting) {
  const auto began = std::chrono::steady_clock::now();
  // Per time column: the rows left (oldest time nullopt: none, or they cannot be read), and
  // whether the DELETE removed exactly the rows before the oldest (asked only for a state that
  // could follow).
  std::map<std::string, std::optional<engine::RowsLeft>> rows_left;
  std::map<std::string, bool> only_older;
  const std::string table = storage_->Sql(watch.table);
  auto failed = [&](const arrow::Status& status) {
    spdlog::warn("telling which rows a DELETE of {} removed: {}", watch.table.key(),
                 status.message());
  };
  for (DeleteWatch::Noted& noted : watch.noted) {
    Entry& entry = *noted.entry;
    const std::string& time = entry.spec.time_column;
    if (!rows_left.contains(time)) {
      auto left = engine::ReadRowsLeft(deleting, table, time);
      if (!left.ok()) failed(left.status());
      rows_left[time] = left.ok() ? std::optional<engine::RowsLeft>(*left) : std::nullopt;
    }
    // (No time left: a rebuild from (almost) nothing is as cheap.)
    const std::optional<engine::RowsLeft>& left = rows_left[time];
    if (!left || !left->oldest_us) continue;
    const int64_t oldest = *left->oldest_us;
    // Rows written since fold in as they commit, but a state that holds no row older than m
    // now held none of the deleted rows, or had them in windows that closed (into the history,
    // trimmed below); a window still open before m holds older times (no follow).
    const int64_t held_from = entry.store->OldestTimeHeld();
    if (held_from == kNoTime || held_from < oldest) continue;  // the state holds such rows
    if (!only_older.contains(time)) {
      auto removed = engine::RemovedOnlyRowsBefore(*watch.before, table, time, *left);
      if (!removed.ok()) failed(removed.status());
      only_older[time] = removed.ok() && *removed;
    }
    if (only_older[time]) noted.oldest = oldest;
  }
  watch.before.reset();  // ends the snapshot's transaction
  // Before the commit shows the change to others: those that cannot follow stop answering,
  // the history of those that can waits for its trim.
  for (DeleteWatch::Noted& noted : watch.noted) {
    Entry& entry = *noted.entry;
    if (!noted.oldest) {
      if (entry.Diverge()) {
        spdlog::info(
            "rows of {} were changed or removed: queries are no longer answered from window "
            "'{}' ({})",
            watch.table.key(), entry.name, UntilRebuilt(entry));
      }
    } else if (KeepsHistory(entry)) {
      std::lock_guard<std::mutex> lock(entry.write_mutex);
      entry.history_pending = true;
    }
  }
  watch.checked_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
}

arrow::Result<int64_t> WindowCatalog::TrimHistoryBefore(const DeleteWatch::Noted& noted,
                                                        int64_t oldest) {
  Entry& entry = *noted.entry;
  if (!KeepsHistory(entry)) return 0;
  const auto began = std::chrono::steady_clock::now();
  int64_t end = oldest;
  for (const WindowDef& def : entry.spec.windows) {
    if (def.is_paned()) end = std::max(end, EndOfWindowsHolding(def, oldest));
  }
  // The windows holding `oldest` (all closed: the state holds no older row), from the stored
  // rows in [oldest, end) folded into a state of their own. Rows written meanwhile into that
  // range are late for those windows: read here as the stored rows are.
  std::vector<ClosedWindow> holding;
  if (end > oldest) {
    ARROW_ASSIGN_OR_RAISE(auto fresh, MakeEntry(entry.name, entry.table, entry.arguments, true));
    const std::vector<Build> reading = {{fresh, nullptr, nullptr}};
    const std::string time = engine::QuoteIdentifier(entry.spec.time_column);
    ARROW_ASSIGN_OR_RAISE(
        auto reader,
        storage_->ReadOrdered(entry.table, StoredColumns(reading),
                              time + " >= " + storage_->TimestampLiteral(oldest) + " AND " + time +
                                  " < " + storage_->TimestampLiteral(end),
                              entry.spec.time_column));
    ARROW_RETURN_NOT_OK(FoldRows({fresh}, *reader).status());
    ARROW_RETURN_NOT_OK(fresh->store->AdvanceWatermark(kEndOfTime));
    for (ClosedWindow& window : fresh->store->TakeClosed()) {
      if (window.start_us < oldest) holding.push_back(std::move(window));
    }
  }
  const auto folded = std::chrono::steady_clock::now();
  ARROW_ASSIGN_OR_RAISE(auto rows, ClosedBatches(entry, holding));
  // Writes go on: the windows their folds close wait in the store meanwhile (history_pending)
  // and start after `oldest`. A state rebuilt meanwhile was built after the DELETE, and its history
  // replaced (or to be replaced, after this) with these same windows: a trim after that replacement
  // would add them twice.
  auto history = HistoryOf(entry.name);
  std::lock_guard<std::mutex> lock(history->mutex);
  if (history->replaced != noted.history_replaced) {
    spdlog::debug("window '{}': its history was replaced since the DELETE; not trimmed",
                  entry.name);
    return 0;
  }
  ARROW_RETURN_NOT_OK(storage_->TrimHistory(entry.name, oldest, rows));
  int64_t written = 0;
  for (const auto& batch : rows) written += batch->num_rows();
  spdlog::debug(
      "window '{}': the stored rows of [{}, {}) read and folded in {:.2f} s, its "
      "history trimmed in {:.2f} s",
      entry.name, engine::FormatTimestamp(oldest), engine::FormatTimestamp(end),
      std::chrono::duration<double>(folded - began).count(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - folded).count());
  return written;
}

// The history of a follower answers again: the windows folds closed meanwhile are appended
// (after the trimmed ones), unless the trim failed (then it is rebuilt).
void WindowCatalog::HistoryFollowed(Entry& entry, bool trimmed) {
  {
    std::lock_guard<std::mutex> lock(entry.write_mutex);
    bool own = trimmed;  // the history is the state's own
    // (A retired state's rebuilt successor has the windows closed meanwhile.)
    if (own && !entry.retired) {
      arrow::Status status = WriteClosed(entry, entry.store->TakeClosed());
      if (!status.ok()) {
        spdlog::warn("window '{}': writing its history after a DELETE: {}", entry.name,
                     status.message());
        own = false;
      }
    }
    if (!own) entry.Diverge();  // rebuilt (ChangeEnded)
    entry.history_pending = false;
  }
  NotifyBuilt();
}

void WindowCatalog::FollowDelete(DeleteWatch& watch) {
  // Those without a history are done first: the others' recompute reads stored rows.
  std::stable_partition(
      watch.noted.begin(), watch.noted.end(),
      [](const DeleteWatch::Noted& noted) { return !KeepsHistory(*noted.entry); });
  for (const DeleteWatch::Noted& noted : watch.noted) {
    if (!noted.oldest) continue;
    Entry& entry = *noted.entry;
    const auto began = std::chrono::steady_clock::now();
    auto written = TrimHistoryBefore(noted, *noted.oldest);
    const double trimmed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    if (!written.ok()) {
      spdlog::warn("window '{}': trimming its history after a DELETE of {}: {}", entry.name,
                   watch.table.key(), written.status().message());
    }
    if (KeepsHistory(entry)) HistoryFollowed(entry, written.ok());
    if (!written.ok()) continue;
    if (entry.diverged) {  // another change came meanwhile: rebuilt for it
      spdlog::debug(
          "window '{}' followed the DELETE of the rows of {}, but another change "
          "came meanwhile",
          entry.name, watch.table.key());
      continue;
    }
    {
      std::unique_lock<std::shared_mutex> lock(mutex_);
      ++counts_[entry.name].followed_deletes;
    }
    spdlog::info(
        "window '{}' followed the DELETE of the rows of {} before {}, answering throughout "
        "(rows checked in {:.2f} s; {} history rows recomputed in {:.2f} s)",
        entry.name, watch.table.key(), engine::FormatTimestamp(*noted.oldest), watch.checked_s,
        *written, trimmed_s);
  }
}

void WindowCatalog::AbandonDelete(DeleteWatch& watch) {
  watch.before.reset();
  for (const DeleteWatch::Noted& noted : watch.noted) {
    Entry& entry = *noted.entry;
    if (entry.Diverge()) {
      spdlog::info(
          "rows of {} may have been changed or removed: queries are no longer answered from "
          "window '{}' ({})",
          watch.table.key(), entry.name, UntilRebuilt(entry));
    }
    if (noted.oldest && KeepsHistory(entry)) HistoryFollowed(entry, false);
  }
}

}  // namespace hyprstream::window
