// WindowCatalog: building a definition's state and rebuilding it (window_catalog.h). Behind
// a cache the state is built from a snapshot of the cache's copy of the table while writes go
// on (BuildFromCopy); elsewhere from the stored rows.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/arrow_to_duckdb_type.h"
#include "window/window_catalog.h"
#include "window/window_catalog_entry.h"

namespace hyprstream::window {

// The columns a definition reads from its table's rows.
std::string WindowCatalog::StoredColumns(const Entry& entry) {
  if (!IsMetricsName(entry.table)) return "*";
  std::string columns;
  for (const auto& field : entry.input_schema->fields()) {
    columns += (columns.empty() ? "" : ", ") + engine::QuoteIdentifier(field->name());
  }
  return columns;
}

void WindowCatalog::Follow(Entry& entry) const {
  // SQLite's text times order and compare unlike the windows' (no query is answered from
  // them there): nothing to follow.
  entry.follows =
      storage_->flavor() != WindowStorage::Flavor::kSqlite &&
      engine_->FollowTable(entry.table.EngineSchema(), entry.table.table, entry.spec.time_column);
}

arrow::Result<int64_t> WindowCatalog::Backfill(const std::shared_ptr<Entry>& entry,
                                               const Publish& publish) {
  if (entry->follows) {
    ARROW_ASSIGN_OR_RAISE(auto rows, BuildFromCopy(entry, nullptr, publish));
    if (rows) return *rows;
    // The copy cannot be read now: built from the stored rows, the state answers no query
    // until a load of the copy rebuilds it (Rebuild).
  }
  // No write to the table is half done (stored, not yet folded) while the state is built and
  // published: each write's rows are read here or folded afterwards.
  auto exclusion = write_gate_.Exclude(entry->table);
  ARROW_ASSIGN_OR_RAISE(auto reader, storage_->ReadOrdered(entry->table, StoredColumns(*entry), "",
                                                           entry->spec.time_column));
  ARROW_ASSIGN_OR_RAISE(int64_t rows, FoldRows(*entry, *reader));
  {
    std::lock_guard<std::mutex> held(entry->write_mutex);  // (not published yet: uncontended)
    ARROW_RETURN_NOT_OK(ReplaceHistory(*entry));
  }
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    ARROW_RETURN_NOT_OK(publish().status());
  }
  // A load of the copy that finished before the state was published found nothing to rebuild:
  // ask now (built from the copy as soon as it can be read).
  if (entry->follows && needs_rebuild_) needs_rebuild_(entry->table);
  return rows;
}

arrow::Result<std::optional<int64_t>> WindowCatalog::BuildFromCopy(
    const std::shared_ptr<Entry>& fresh, const std::shared_ptr<Entry>& old,
    const Publish& publish) {
  const TableName& table = fresh->table;
  auto handoff = std::make_shared<Handoff>();
  std::shared_ptr<arrow::RecordBatchReader> snapshot;
  int64_t generation = 0;
  {
    // No write to the table is half done while the snapshot is taken: each write's rows are
    // in it, or are committed after it (and kept in the handoff).
    auto exclusion = write_gate_.Exclude(table);
    auto read = engine_->ReadCopy(
        table.EngineSchema(), table.table,
        storage_->OrderedQuery(table, StoredColumns(*fresh), "", fresh->spec.time_column),
        [&](int64_t copy, std::shared_ptr<arrow::RecordBatchReader> rows) {
          snapshot = std::move(rows);
          generation = copy;
          std::unique_lock<std::shared_mutex> lock(mutex_);
          handoffs_[table.key()].push_back(handoff);
          return arrow::Status::OK();
        });
    if (!read.ok() || !read->has_value()) {
      if (snapshot) CloseHandoff(table, handoff);
      if (!read.ok()) {
        spdlog::warn(
            "window '{}': the cached copy of {} cannot be read ({}); its state answers no "
            "query until the copy is loaded",
            fresh->name, table.key(), read.status().message());
      }
      return std::nullopt;
    }
  }
  // Writes go on: their rows fold into the state in use and are kept for this one.
  struct Closing {
    WindowCatalog* catalog;
    const TableName& table;
    const std::shared_ptr<Handoff>& handoff;
    ~Closing() { catalog->CloseHandoff(table, handoff); }
  } closing{this, table, handoff};
  ARROW_ASSIGN_OR_RAISE(int64_t rows, FoldRows(*fresh, *snapshot));
  snapshot.reset();  // ends the read of the copy
  fresh->built_from = generation;
  // The rows committed meanwhile, a round at a time while writes go on...
  for (int round = 0; round < 8; ++round) {
    arrow::RecordBatchVector committed;
    {
      std::lock_guard<std::mutex> lock(handoff->mutex);
      committed.swap(handoff->rows);
    }
    if (committed.empty()) break;
    ARROW_RETURN_NOT_OK(FoldBatches(*fresh, committed));
  }
  // ...and the last ones as the state is published (in place of `old`).
  std::unique_lock<std::mutex> fresh_lock(fresh->write_mutex, std::defer_lock);
  bool missed = false;
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    std::lock_guard<std::mutex> held(handoff->mutex);
    ARROW_RETURN_NOT_OK(FoldBatches(*fresh, handoff->rows));
    handoff->rows.clear();
    handoff->closed = true;
    missed = handoff->missed;
    if (missed) fresh->diverged = true;  // answers nothing until built again
    ForgetHandoff(table, handoff);
    ARROW_ASSIGN_OR_RAISE(bool published, publish());
    if (!published) return rows;  // dropped meanwhile
    if (old != nullptr) {
      std::lock_guard<std::mutex> retiring(old->write_mutex);
      old->retired = true;
    }
    fresh_lock.lock();  // held until the history is replaced: later folds append after it
  }
  ARROW_RETURN_NOT_OK(ReplaceHistory(*fresh));
  if (missed && needs_rebuild_) needs_rebuild_(table);
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

arrow::Status WindowCatalog::UpdateStore(Entry& entry, const arrow::RecordBatch& batch) {
  ARROW_ASSIGN_OR_RAISE(auto rows, AsInput(entry, batch));
  return entry.store->Update(*rows).status();
}

arrow::Result<int64_t> WindowCatalog::FoldRows(Entry& entry, arrow::RecordBatchReader& reader) {
  std::lock_guard<std::mutex> lock(entry.write_mutex);
  int64_t rows = 0;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    ARROW_RETURN_NOT_OK(reader.ReadNext(&batch));
    if (!batch) break;
    ARROW_RETURN_NOT_OK(UpdateStore(entry, *batch));
    rows += batch->num_rows();
  }
  return rows;
}

arrow::Status WindowCatalog::FoldBatches(Entry& entry, const arrow::RecordBatchVector& batches) {
  std::lock_guard<std::mutex> lock(entry.write_mutex);
  for (const auto& batch : batches) ARROW_RETURN_NOT_OK(UpdateStore(entry, *batch));
  return arrow::Status::OK();
}

arrow::Status WindowCatalog::ReplaceHistory(Entry& entry) {
  // The built state closed the windows the history holds, and maybe some it lacks (a crash
  // between a commit and its history append; rows others wrote): the history is replaced.
  auto closed = entry.store->TakeClosed();
  if (!entry.persist_history) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto batches, ClosedBatches(entry, closed));
  return storage_->ReplaceHistory(entry.name, entry.result_schema, batches);
}

std::vector<TableName> WindowCatalog::FollowedTables() const {
  std::vector<TableName> tables;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (entry->follows && std::find(tables.begin(), tables.end(), entry->table) == tables.end()) {
      tables.push_back(entry->table);
    }
  }
  return tables;
}

arrow::Status WindowCatalog::Rebuild(const TableName& table) {
  std::vector<std::shared_ptr<Entry>> followers;
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    for (const auto& [name, entry] : entries_) {
      if (entry->table == table && entry->follows) followers.push_back(entry);
    }
  }
  for (const auto& old : followers) {
    const auto current = engine_->CopyGeneration(table.EngineSchema(), table.table);
    if (current && old->built_from == current && !old->diverged) continue;
    ARROW_ASSIGN_OR_RAISE(auto fresh,
                          MakeEntry(old->name, table, old->arguments, old->persist_history));
    fresh->follows = true;
    // In place of `old`; not over a definition dropped (or dropped and made again) meanwhile.
    auto publish = [&]() -> arrow::Result<bool> {
      auto it = entries_.find(Lower(old->name));
      if (it == entries_.end() || it->second != old) return false;
      it->second = fresh;
      return true;
    };
    ARROW_ASSIGN_OR_RAISE(auto rows, BuildFromCopy(fresh, old, publish));
    if (!rows) return arrow::Status::OK();  // not readable now: the copy's next load retries
    edge_cache_->Forget(fresh->name);
    spdlog::info("window '{}' rebuilt from the cached copy of {} ({} rows)", fresh->name,
                 table.key(), *rows);
  }
  return arrow::Status::OK();
}

}  // namespace hyprstream::window
