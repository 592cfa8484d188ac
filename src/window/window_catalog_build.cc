// WindowCatalog: building a definition's state and rebuilding it (window_catalog.h). Behind
// a cache the state is built from a snapshot of the cache's copy of the table while writes go
// on (BuildFromSnapshot), and so is any build from the stored rows on an engine that reads
// snapshots (only the rows its state needs, window_catalog_bounded_build.cc); elsewhere
// (SQLite) a build or rebuild reads the stored rows while writes wait (BuildWhileWritesWait).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <vector>

#include "engine/arrow_to_duckdb_type.h"
#include "window/window_catalog.h"
#include "window/window_catalog_entry.h"

namespace hyprstream::window {

std::string WindowCatalog::StoredColumns(const std::vector<Build>& builds) {
  if (!IsMetricsName(builds.front().fresh->table)) return "*";
  std::vector<std::string> names;
  for (const Build& build : builds) {
    for (const auto& field : build.fresh->input_schema->fields()) {
      if (std::find(names.begin(), names.end(), field->name()) == names.end()) {
        names.push_back(field->name());
      }
    }
  }
  std::string columns;
  for (const auto& name : names) {
    columns += (columns.empty() ? "" : ", ") + engine::QuoteIdentifier(name);
  }
  return columns;
}

std::vector<std::vector<WindowCatalog::Build>> WindowCatalog::ByRead(std::vector<Build> builds,
                                                                     bool trailing_apart) {
  auto trailing_only = [&](const Entry& entry) {
    return trailing_apart && std::none_of(entry.spec.windows.begin(), entry.spec.windows.end(),
                                          [](const WindowDef& def) { return def.is_paned(); });
  };
  std::stable_partition(builds.begin(), builds.end(),
                        [&](const Build& build) { return trailing_only(*build.fresh); });
  std::vector<std::vector<Build>> groups;
  for (Build& build : builds) {
    const Entry& entry = *build.fresh;
    auto group = std::find_if(groups.begin(), groups.end(), [&](const std::vector<Build>& g) {
      const Entry& first = *g.front().fresh;
      return first.table == entry.table && first.spec.time_column == entry.spec.time_column &&
             first.follows == entry.follows && trailing_only(first) == trailing_only(entry);
    });
    if (group == groups.end()) {
      groups.emplace_back();
      group = std::prev(groups.end());
    }
    group->push_back(std::move(build));
  }
  return groups;
}

std::vector<std::shared_ptr<WindowCatalog::Entry>> WindowCatalog::FreshOf(
    const std::vector<Build>& builds) {
  std::vector<std::shared_ptr<Entry>> fresh;
  for (const Build& build : builds) fresh.push_back(build.fresh);
  return fresh;
}

void WindowCatalog::Follow(Entry& entry) const {
  // SQLite's text times order and compare unlike the windows' (no query is answered from
  // them there): nothing to follow.
  entry.follows =
      storage_->flavor() != WindowStorage::Flavor::kSqlite &&
      engine_->FollowTable(entry.table.EngineSchema(), entry.table.table, entry.spec.time_column);
}

arrow::Result<int64_t> WindowCatalog::Backfill(const std::vector<Build>& builds) {
  if (FromSnapshot(*builds.front().fresh)) {
    // From a snapshot while writes go on.
    ARROW_ASSIGN_OR_RAISE(auto rows, BuildFromSnapshot(builds));
    if (rows) return *rows;
    // It cannot be read now: built from the stored rows while writes wait. Behind the cache
    // the states then answer no query until a load of the copy rebuilds them (Rebuild).
  }
  return BuildWhileWritesWait(builds);
}

arrow::Result<int64_t> WindowCatalog::BuildWhileWritesWait(const std::vector<Build>& builds) {
  const Entry& first = *builds.front().fresh;
  const auto fresh = FreshOf(builds);
  // No write to the table is half done (stored, not yet folded) while the states are built
  // and published: each write's rows are read here or folded afterwards.
  auto exclusion = write_gate_.Exclude(first.table);
  ARROW_ASSIGN_OR_RAISE(auto reader, storage_->ReadOrdered(first.table, StoredColumns(builds), "",
                                                           first.spec.time_column));
  ARROW_ASSIGN_OR_RAISE(int64_t rows, FoldRows(fresh, *reader));
  for (const auto& entry : fresh) {
    std::lock_guard<std::mutex> held(entry->write_mutex);  // (not published yet: uncontended)
    ARROW_RETURN_NOT_OK(ReplaceHistory(*entry, entry->store->TakeClosed()));
  }
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    for (const Build& build : builds) ARROW_RETURN_NOT_OK(build.publish().status());
  }
  NotifyBuilt();  // (reads waiting for a rebuilt state)
  // A load of the copy that finished before the states were published found nothing to
  // rebuild: ask now (built from the copy as soon as it can be read).
  if (first.follows && needs_rebuild_) needs_rebuild_(first.table);
  return rows;
}

arrow::Result<std::optional<int64_t>> WindowCatalog::BuildFromSnapshot(
    const std::vector<Build>& builds) {
  const Entry& first = *builds.front().fresh;
  const TableName& table = first.table;
  const auto fresh = FreshOf(builds);
  auto handoff = std::make_shared<Handoff>();
  // The stored rows (or the engine's copy of them) as of the snapshot, read once writes go on
  // (ReadRowsToFold).
  std::shared_ptr<engine::EngineConnection> pinned;
  bool handed_off = false;
  int64_t generation = 0;
  const std::string columns = StoredColumns(builds);
  {
    // No write to the table is half done while the snapshot is taken: each write's rows are
    // in it, or are committed after it (and kept in the handoff).
    auto exclusion = write_gate_.Exclude(table);
    auto taken = [&](int64_t copy, std::shared_ptr<engine::EngineConnection> snapshot) {
      pinned = std::move(snapshot);
      generation = copy;
      handed_off = true;
      std::unique_lock<std::shared_mutex> lock(mutex_);
      handoffs_[table.key()].push_back(handoff);
      return arrow::Status::OK();
    };
    arrow::Result<std::optional<int64_t>> read = std::optional<int64_t>();
    if (first.follows) {
      read = engine_->ReadCopy(table.EngineSchema(), table.table, taken);
    } else if (auto connection = engine_->SnapshotConnection(table.EngineSchema(), table.table);
               connection.ok()) {
      ARROW_RETURN_NOT_OK(taken(0, *std::move(connection)));
      read = std::optional<int64_t>(0);
    } else {
      read = connection.status();
    }
    if (!read.ok() || !read->has_value()) {
      if (handed_off) CloseHandoff(table, handoff);
      if (!read.ok()) {
        for (const auto& entry : fresh) {
          spdlog::warn(
              "window '{}': the {} of {} cannot be read ({}); its state answers no query {}",
              entry->name, first.follows ? "cached copy" : "stored rows", table.key(),
              read.status().message(),
              first.follows ? "until the copy is loaded" : "until it is rebuilt");
        }
      }
      return std::nullopt;
    }
  }
  // Writes go on: their rows fold into the states in use and are kept for these.
  struct Closing {
    WindowCatalog* catalog;
    const TableName& table;
    const std::shared_ptr<Handoff>& handoff;
    ~Closing() { catalog->CloseHandoff(table, handoff); }
  } closing{this, table, handoff};
  using Clock = std::chrono::steady_clock;
  const auto began = Clock::now();
  ARROW_ASSIGN_OR_RAISE(RowsToFold snapshot, ReadRowsToFold(fresh, columns, std::move(pinned)));
  const auto computed = Clock::now();
  ARROW_ASSIGN_OR_RAISE(const int64_t folded, FoldRows(fresh, *snapshot.rows));
  const int64_t rows = folded + snapshot.rows_before;
  const RowsToFold::Older older = snapshot.older;
  snapshot.rows.reset();  // ends the snapshot's transaction
  const std::vector<EarlierWindows>& earlier = snapshot.earlier;
  for (const auto& entry : fresh) entry->built_from = generation;
  // The rows committed meanwhile, a round at a time while writes go on...
  for (int round = 0; round < 8; ++round) {
    arrow::RecordBatchVector committed;
    {
      std::lock_guard<std::mutex> lock(handoff->mutex);
      committed.swap(handoff->rows);
    }
    if (committed.empty()) break;
    ARROW_RETURN_NOT_OK(FoldBatches(fresh, committed));
  }
  // ...and the last ones as the states are published (each in place of its `old`), with the
  // windows closed so far taken for the history written below.
  struct Published {
    Entry* entry;
    const EarlierWindows* earlier;
    std::vector<ClosedWindow> closed;
  };
  std::vector<Published> published;
  bool missed = false;
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    std::lock_guard<std::mutex> held(handoff->mutex);
    ARROW_RETURN_NOT_OK(FoldBatches(fresh, handoff->rows));
    handoff->rows.clear();
    handoff->closed = true;
    missed = handoff->missed;
    ForgetHandoff(table, handoff);
    for (size_t i = 0; i < builds.size(); ++i) {
      const Build& build = builds[i];
      if (missed) build.fresh->Diverge();  // answers nothing until built again
      build.fresh->history_pending = true;
      ARROW_ASSIGN_OR_RAISE(bool in_place, build.publish());
      if (!in_place) continue;  // dropped meanwhile
      if (build.old != nullptr) {
        std::lock_guard<std::mutex> retiring(build.old->write_mutex);
        build.old->retired = true;
      }
      std::lock_guard<std::mutex> held_entry(build.fresh->write_mutex);
      published.push_back({build.fresh.get(), &earlier[i], build.fresh->store->TakeClosed()});
    }
  }
  // Reads of the states alone answer from here on (FindBuilt, Needs::kState).
  NotifyBuilt();
  const auto built = Clock::now();
  // Writes go on while the histories are written: the windows their rows close wait in the
  // states (Fold, while history_pending) and are appended after them.
  arrow::Status replaced;
  for (auto& [entry, earlier_windows, closed] : published) {
    arrow::Status status = ReplaceHistory(*entry, std::move(closed), earlier_windows);
    {
      std::lock_guard<std::mutex> held(entry->write_mutex);
      if (status.ok()) status = WriteClosed(*entry, entry->store->TakeClosed());
      if (!status.ok()) entry->Diverge();  // its history is not its own: rebuilt again
      entry->history_pending = false;
    }
    if (replaced.ok()) replaced = status;
  }
  published.clear();
  NotifyBuilt();
  if (replaced.ok()) {
    std::string names;
    for (const auto& entry : fresh) names += (names.empty() ? "'" : ", '") + entry->name + "'";
    auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    const double sized = seconds(computed - began), folding = seconds(built - computed);
    std::string how;
    switch (older) {
      case RowsToFold::Older::kFolded:
        how = fmt::format("every row folded in {:.2f} s, sized in {:.2f} s", folding, sized);
        break;
      case RowsToFold::Older::kComputed:
        how = fmt::format(
            "older closed windows computed by the engine in {:.2f} s, {} rows folded in {:.2f} s",
            sized, folded, folding);
        break;
      case RowsToFold::Older::kNotNeeded:
        how = fmt::format("{} recent rows folded in {:.2f} s, sized in {:.2f} s", folded, folding,
                          sized);
        break;
    }
    spdlog::info(
        "{} {} built from the {} of {}: {} rows in {:.2f} s ({}); history written in "
        "{:.2f} s",
        fresh.size() == 1 ? "window" : "windows", names,
        first.follows ? "cached copy" : "stored rows", table.key(), rows, seconds(built - began),
        how, seconds(Clock::now() - built));
  }
  if ((missed || !replaced.ok()) && needs_rebuild_) needs_rebuild_(table);
  ARROW_RETURN_NOT_OK(replaced);
  return rows;
}

void WindowCatalog::CloseHandoff(const TableName& table, const std::shared_ptr<Handoff>& handoff) {
  std::unique_lock<std::shared_mutex> lock(mutex_);
  std::lock_guard<std::mutex> held(handoff->mutex);
  handoff->closed = true;
  ForgetHandoff(table, handoff);
}

void WindowCatalog::ForgetHandoff(const TableName& table, const std::shared_ptr<Handoff>& handoff) {
  auto it = handoffs_.find(table.key());
  if (it == handoffs_.end()) return;
  std::erase(it->second, handoff);
  if (it->second.empty()) handoffs_.erase(it);
}

arrow::Status WindowCatalog::UpdateStores(const std::vector<std::shared_ptr<Entry>>& entries,
                                          const arrow::RecordBatchVector& batches) {
  ARROW_ASSIGN_OR_RAISE(auto input, ShareInput(entries, batches));
  for (const auto& entry : entries) {
    ARROW_RETURN_NOT_OK(EachInput(*entries.front(), *entry, input, batches,
                                  [&](const arrow::RecordBatch& rows, const BatchKeys* keys) {
                                    return entry->store->Update(rows, keys).status();
                                  }));
  }
  return arrow::Status::OK();
}

std::vector<std::unique_lock<std::mutex>> WindowCatalog::LockAll(
    const std::vector<std::shared_ptr<Entry>>& entries) {
  std::vector<std::unique_lock<std::mutex>> locks;
  for (const auto& entry : entries) locks.emplace_back(entry->write_mutex);
  return locks;
}

arrow::Result<int64_t> WindowCatalog::FoldRows(const std::vector<std::shared_ptr<Entry>>& entries,
                                               arrow::RecordBatchReader& reader) {
  auto locks = LockAll(entries);
  int64_t rows = 0;
  while (true) {
    if (builds_stopped_.load()) return arrow::Status::Cancelled("the server is stopping");
    std::shared_ptr<arrow::RecordBatch> batch;
    ARROW_RETURN_NOT_OK(reader.ReadNext(&batch));
    if (!batch) break;
    ARROW_RETURN_NOT_OK(UpdateStores(entries, {batch}));
    rows += batch->num_rows();
  }
  return rows;
}

arrow::Status WindowCatalog::FoldBatches(const std::vector<std::shared_ptr<Entry>>& entries,
                                         const arrow::RecordBatchVector& batches) {
  if (batches.empty()) return arrow::Status::OK();
  auto locks = LockAll(entries);
  return UpdateStores(entries, batches);
}

arrow::Status WindowCatalog::ReplaceHistory(Entry& entry, std::vector<ClosedWindow> closed,
                                            const EarlierWindows* earlier) {
  // The built state closed the windows the history holds, and maybe some it lacks (a crash
  // between a commit and its history append; rows others wrote): the history is replaced.
  if (!entry.persist_history) return arrow::Status::OK();
  if (earlier != nullptr && earlier->before_us != kNoTime) {
    // Those starting before it closed with only some of their rows folded.
    std::erase_if(closed, [&](const ClosedWindow& w) { return w.start_us < earlier->before_us; });
    closed.insert(closed.begin(), earlier->windows.begin(), earlier->windows.end());
  }
  ARROW_ASSIGN_OR_RAISE(auto batches, ClosedBatches(entry, closed));
  auto history = HistoryOf(entry.name);
  std::lock_guard<std::mutex> lock(history->mutex);
  ++history->replaced;
  return storage_->ReplaceHistory(entry.name, entry.result_schema, batches);
}

std::vector<TableName> WindowCatalog::TablesToBuild() const {
  std::vector<TableName> tables;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if ((entry->follows || entry->pending) &&
        std::find(tables.begin(), tables.end(), entry->table) == tables.end()) {
      tables.push_back(entry->table);
    }
  }
  return tables;
}

arrow::Status WindowCatalog::Rebuild(const TableName& table) {
  std::vector<std::shared_ptr<Entry>> stale;
  bool follows = false;
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    for (const auto& [name, entry] : entries_) {
      if (entry->table != table) continue;
      if (entry->follows || entry->diverged) stale.push_back(entry);
      follows = follows || entry->follows;
    }
  }
  // A copy that is not ready is not loaded here (a load would hold the table's writes, and a
  // stop, until it is done); the copy's load, due or in flight, calls again when it is done.
  const auto current =
      follows ? engine_->CopyGeneration(table.EngineSchema(), table.table) : std::nullopt;
  std::vector<Build> builds;
  for (const auto& old : stale) {
    if (old->follows && (!current || (old->built_from == current && !old->diverged))) continue;
    ARROW_ASSIGN_OR_RAISE(auto fresh,
                          MakeEntry(old->name, table, old->arguments, old->persist_history));
    fresh->follows = old->follows;
    // In place of `old`; not over a definition dropped (or dropped and made again) meanwhile.
    // Called with mutex_ held; counted as it is published, so the count never lags the state
    // that answers.
    auto publish = [this, old, fresh]() -> arrow::Result<bool> {
      auto it = entries_.find(Lower(old->name));
      if (it == entries_.end() || it->second != old) return false;
      it->second = fresh;
      ++counts_[Lower(fresh->name)].rebuilds;
      return true;
    };
    builds.push_back({fresh, old, std::move(publish)});
  }
  // The table's states are built together, from one read for those read alike; those of
  // trailing windows only first, apart (they read only their last rows). Where the rows cannot
  // be read as of one moment (SQLite), from the stored rows while writes to the table wait.
  if (!builds.empty() && !FromSnapshot(*builds.front().fresh)) {
    for (const auto& group : ByRead(std::move(builds))) {
      ARROW_RETURN_NOT_OK(BuildWhileWritesWait(group).status());
      for (const Build& build : group) edge_cache_->Forget(build.fresh->name);
    }
    return arrow::Status::OK();
  }
  bool unread = false;  // stored rows that could not be read as of one moment now
  for (const auto& group : ByRead(std::move(builds), /*trailing_apart=*/true)) {
    ARROW_ASSIGN_OR_RAISE(auto rows, BuildFromSnapshot(group));
    if (!rows) {
      // Not readable now: the copy's next load (or change) asks again; the stored rows (the
      // backend unreachable, say) are asked for again by the caller.
      unread = unread || !group.front().fresh->follows;
      continue;
    }
    for (const Build& build : group) edge_cache_->Forget(build.fresh->name);
  }
  if (unread) {
    return arrow::Status::IOError("the stored rows of ", table.key(),
                                  " could not be read as of one moment (see the warning before)");
  }
  return arrow::Status::OK();
}

bool WindowCatalog::AwaitsBuild(const TableName& table) const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (entry->table == table && (entry->pending || entry->diverged)) return true;
  }
  return false;
}

}  // namespace hyprstream::window
