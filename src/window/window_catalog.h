// WindowCatalog: the window definitions the windows layer maintains, their state and their
// results — the definition registry.
//
//  - The built-in `metrics` table (metrics_table.h) gets the default tumbling windows
//    5m/30m/1h/1d (count, sum, avg, min, max) per metric_id.
//  - Any table can get window definitions at run time through SQL (window_functions.h) or the
//    config; definitions persist in the engine's own database (window_storage.h) and state is
//    rebuilt from the stored rows at startup, so nothing is lost across a restart.
//  - Results: hyprstream_window('name') = open windows from memory + closed windows from the
//    definition's history table (appended as windows close).
//
// Write protocol (the windows layer, windowed_connection.h, calls it): AppendSchema /
// PrepareAppend turn incoming rows into the rows to store (metrics: running columns);
// Committed folds stored rows into the table's windows once they are committed; Abandoned /
// Diverged tell it about rows that will never be stored / rows changed behind its back.
//
// Thread-safe: a shared mutex guards the set of definitions; each definition's store has one
// writer at a time (its own mutex), readers take snapshots.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "window/event_time.h"
#include "window/metrics_table.h"
#include "window/table_write_gate.h"
#include "window/trailing_edge_cache.h"
#include "window/window_definition.h"
#include "window/window_spec.h"
#include "window/window_storage.h"
#include "window/window_store.h"

namespace hyprstream::window {

struct WindowCatalogOptions {
  bool metrics_table = true;
  int64_t metrics_running_width_us = 5LL * 60 * 1000000;  // the trailing window
  std::vector<WindowDef> metrics_windows = DefaultMetricsWindows();
  // The built-in metrics_trailing definition's windows ("the last hour as of now" per
  // metric_id, over value and value_running_window_avg); empty: no such definition.
  std::vector<WindowDef> metrics_trailing_windows = {WindowDef::Trailing(60LL * 60 * 1000000)};
  // Panes per trailing window width (plus slack) where trailing windows are kept as panes.
  int64_t trailing_panes = 120;
  // Memory for the stored rows of the panes reads' bounds fall in (TrailingEdgeCache); 0: none.
  int64_t trailing_edge_cache_bytes = TrailingEdgeCache::kDefaultMaxBytes;
  int64_t allowed_lateness_us = 60LL * 1000000;
  // Unit of integer epoch values in metrics.timestamp; unset: integers are rejected.
  std::optional<arrow::TimeUnit::type> metrics_integer_time_unit;
  // Where a build from a snapshot of the stored rows takes the windows closed before the rows
  // its state needs (window_catalog_bounded_build.cc): kCheaper, the engine's GROUP BY or a fold
  // of every row, whichever the rows' sizes say costs less; kEngine or kFold always (tests:
  // both give the same windows), where the engine can compute them.
  enum class ClosedWindows { kCheaper, kEngine, kFold };
  ClosedWindows build_closed_windows = ClosedWindows::kCheaper;
  // Rows a build reads per query (a time range), each put in time order on its own: what a
  // build holds of the stored rows at a time.
  int64_t build_rows_per_read = 1000000;
};

class WindowCatalog {
 public:
  // `engine` holds the tables, the definitions and the history; `host` runs the window
  // functions (hyprstream_window, ...) and macros (tumble, hop): a DuckDB, maybe `engine`.
  static arrow::Result<std::shared_ptr<WindowCatalog>> Open(std::shared_ptr<engine::Engine> engine,
                                                            std::shared_ptr<engine::Engine> host,
                                                            WindowCatalogOptions options);
  ~WindowCatalog();

  // The built-in metrics table's name.
  static TableName MetricsTableName() { return TableName{"main", "metrics"}; }
  // Whether `table` is the built-in metrics table (and it is on).
  bool IsMetrics(const TableName& table) const;
  // Whether writes to `table` must go through PrepareAppend/Committed.
  bool Watches(const TableName& table) const;
  // Whether any definition exists (the metrics table's included).
  bool HasDefinitions() const;

  // The schema of the rows stored for incoming rows of `incoming` schema.
  arrow::Result<std::shared_ptr<arrow::Schema>> AppendSchema(
      const TableName& table, const std::shared_ptr<arrow::Schema>& incoming) const;
  // The rows to store for `batch` (metrics: with the running-window columns).
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> PrepareAppend(
      const TableName& table, const std::shared_ptr<arrow::RecordBatch>& batch);
  // Rows of `table` are committed: fold them into its windows.
  arrow::Status Committed(const TableName& table, const arrow::RecordBatchVector& batches);
  // Rows of `table` that went through PrepareAppend will never be stored (rolled back, failed). For
  // metrics, the running-column state is rebuilt from the committed rows of the last running width
  // + lateness, so later rows do not count them. (Rows of other transactions still open at that
  // moment are then missing from that state.)
  void Abandoned(const TableName& table);
  // Changes the windows cannot follow (metrics UPDATE/DELETE; for DivergedAll, a statement
  // whose written tables cannot be told: EXECUTE, CALL, DROP ... CASCADE). Call Diverged
  // before the change runs, inside a hold of the tables' write gate: the table's definitions
  // stop answering queries (AnswersExactly/TrailingCovering), and a state being built now is
  // published diverged. Once the change is committed or rolled back, ChangeEnded asks for the
  // rebuild: from the engine's copy after its reload (a cache), else from a snapshot of the
  // stored rows in the background (engines that read snapshots: DuckDB), else at the next
  // start.
  void Diverged(const TableName& table);
  void DivergedAll();
  void ChangeEnded(const TableName& table);
  void ChangeEndedAll();
  // Following a DELETE of `table` outside a transaction that removed only its oldest rows
  // (a retention DELETE ... WHERE ts < X) without a rebuild, and without the state ever
  // stopping to answer:
  //  - MayFollowDelete: whether one could be followed now (an engine that reads snapshots, a
  //    definition that answers);
  //  - WatchDelete, inside an exclusion of the table's write gate (no write half done), in
  //    place of Diverged: notes the definitions that answer and marks the others diverged,
  //    and begins a transaction on `deleting` (the DELETE's connection) with a reader of the
  //    same snapshot (Engine::BeginSharingSnapshot). nullopt, `deleting` untouched and every
  //    definition marked as by Diverged, when none could follow;
  //  - the DELETE runs in that transaction, inside a hold of the gate: writes go on, and the
  //    noted definitions keep answering (until it commits others see the rows as before);
  //  - CheckDelete, before it commits: whether it removed exactly the rows older than the
  //    oldest row left, m (both snapshots tell). A noted definition whose state in memory
  //    holds no row older than m is unchanged by it and goes on answering; only its history
  //    (the windows starting before m) stops answering until FollowDelete (history_pending).
  //    The others are marked diverged here, before the commit makes the change visible;
  //  - FollowDelete, once it committed, before ChangeEnded: the followers' history loses the
  //    windows that start before m, those holding m recomputed from the stored rows, and
  //    answers again;
  //  - AbandonDelete instead, where the DELETE failed or its transaction did not commit (it
  //    may run again unwatched): every noted definition is marked diverged (rebuilt).
  struct Entry;
  struct DeleteWatch {
    struct Noted {
      std::shared_ptr<Entry> entry;
      std::optional<int64_t> oldest;  // CheckDelete: m, where it can follow the DELETE
      uint64_t history_replaced = 0;  // HistoryLock::replaced then
    };
    TableName table;
    std::vector<Noted> noted;                          // answering before the DELETE
    std::shared_ptr<engine::EngineConnection> before;  // its rows before the DELETE, pinned
    double checked_s = 0;                              // CheckDelete's time, for the log
  };
  bool MayFollowDelete(const TableName& table) const;
  std::optional<DeleteWatch> WatchDelete(const TableName& table,
                                         engine::EngineConnection& deleting);
  void CheckDelete(DeleteWatch& watch, engine::EngineConnection& deleting);
  void FollowDelete(DeleteWatch& watch);
  void AbandonDelete(DeleteWatch& watch);
  // The tables with definitions (the metrics table's included).
  std::vector<TableName> WatchedTables() const;
  // Rows of `table` were committed that its windows were not given (a transaction that wrote
  // the table before it had windows): its definitions, and those being built, stop answering
  // queries until rebuilt (in the background, as after ChangeEnded).
  void MissedRows(const TableName& table);
  // What a read of a definition's windows needs: its state in memory alone (the open
  // windows, the newest of each, trailing reads), or its history of closed windows too. A
  // state built from a snapshot is published before its history is replaced (Entry::
  // history_pending): reads of the state alone are answered from then on.
  enum class Needs { kState, kHistory };
  // Whether definition `name` still answers queries that need `needs`: no Diverged since it
  // was built, its history replaced (kHistory), and, where the engine keeps a copy of the
  // table others write too (a cache), its state was built from the copy as it is now (not
  // loaded again since; no write around it in flight).
  bool Answers(const std::string& name, Needs needs) const;
  // Rebuilds the states of `table`'s definitions that no longer answer: those that follow
  // the engine's copy (a cache) and were not built from the copy as it is now, from the copy,
  // and diverged ones, from a snapshot of the stored rows where the engine reads snapshots
  // (else while writes to the table wait: FromSnapshot); while no write to the table is half
  // done (write_gate). OK, doing nothing for a copy that cannot be read now (its next load
  // calls again); IOError when the stored rows cannot be read now (ask again later). Called
  // from the windows layer's rebuild thread (a `loaded` event of the copy, ChangeEnded,
  // MissedRows, a failed fold).
  arrow::Status Rebuild(const TableName& table);
  // Whether a state of `table`'s definitions answers no query until it is built (pending, or
  // diverged).
  bool AwaitsBuild(const TableName& table) const;
  // The server is stopping: a build reading rows ends (Cancelled) at its next batch, before it
  // publishes anything, and so does every later one.
  void StopBuilds() { builds_stopped_.store(true); }
  // Called (from a writer's thread) with a table whose definitions must be rebuilt (Rebuild)
  // without waiting for the copy's next load. Set once, before writes.
  void OnNeedsRebuild(std::function<void(const TableName&)> callback) {
    needs_rebuild_ = std::move(callback);
  }
  // The tables whose definitions follow an engine's copy or were published at start to be
  // built in the background (Rebuild builds them).
  std::vector<TableName> TablesToBuild() const;
  // Writes to a table with windows hold it from before their rows are stored until they are
  // folded (Committed/Abandoned), so a rebuild or a new definition sees each write whole.
  TableWriteGate& write_gate() { return write_gate_; }

  // Defines window `name` over `table`, back-filled from the rows already stored. Returns the
  // number of rows folded in.
  arrow::Result<int64_t> Create(const std::string& name, const TableName& table,
                                const WindowArguments& arguments);
  arrow::Status Drop(const std::string& name);
  // What definition `name` is: its name, table and spec text.
  struct Description {
    std::string name;
    TableName table;
    std::string spec;
  };
  arrow::Result<Description> Describe(const std::string& name) const;
  // The table a (schema, table) reference means (the engine's default schema spelled "main").
  TableName Canonical(const std::optional<std::string>& schema, const std::string& table) const;

  // Per definition and for all: what hyprstream_windows() (List) and /metrics report.
  struct Stats {
    struct Definition {
      std::string name, table, spec;
      // "answering" (its state answers queries), "writing history" (built, its history being
      // replaced: it answers the reads of its state alone, Needs::kState), "building"
      // (published at start, built in the background from the stored rows, or from the cached
      // copy once loaded) or "rebuilding" (until it is rebuilt, in the background, from the
      // cached copy or the stored rows); the engine answers all but the first two.
      std::string state;
      int64_t keys = 0, rows = 0, late_rows = 0;
      int64_t open_bytes = 0;         // open state plus the pane rows kept for its reads
      uint64_t suffix_hits = 0;       // trailing pane reads merged from kept block suffixes
      uint64_t suffix_builds = 0;     // block suffixes built
      uint64_t rebuilds = 0;          // states built in the background (Rebuild) since start
      uint64_t followed_deletes = 0;  // DELETEs of the oldest rows followed without a rebuild
    };
    std::vector<Definition> definitions;
    int64_t edge_bytes = 0;  // rows of trailing panes kept for reads, every definition's
    TrailingEdgeCache::Counts edge_panes;
  };
  Stats GetStats() const;
  // One row per definition: name, table, spec, keys, rows, late_rows, open_bytes, state.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> List() const;
  // Whether definition `name` has a tumbling window of `width_us` whose results equal a
  // GROUP BY over the table: no late rows were left out and no row lacked a time.
  // (A hopping window when slide_us differs from width_us.) kNow: false for a definition that
  // answers nothing now (diverged, or being built); kAtPrepare: judged by its state alone,
  // for a statement prepared now that checks again at each execution (Answers).
  enum class When { kNow, kAtPrepare };
  bool AnswersExactly(const std::string& name, int64_t width_us,
                      std::optional<int64_t> slide_us = std::nullopt, When when = When::kNow) const;

  // The result schema of Results(name).
  arrow::Result<std::shared_ptr<arrow::Schema>> ResultSchema(const std::string& name) const;
  // window_spec (e.g. "tumbling 5m"), keys..., window_start, window_end, aggregates..., closed.
  // `window` filters by width ("5m") or spec text (SQL: width := ...); current_only: the newest
  // window per definition, from memory; `keys` (SQL: key := 'a,b'): only these values of a
  // single-column key, looked up directly instead of building every key's rows.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Results(
      const std::string& name, const std::string& window, bool current_only,
      const std::vector<std::string>& keys = {}) const;
  // "The last N as of now" from a trailing window of `name` (`window` picks one, e.g.
  // "trailing 1h" or "1h"; empty: the first): per key, the aggregates of its rows with time
  // > since (>= when inclusive; default since: now - width), window_start = since,
  // window_end = now. SQL: hyprstream_window(name, width := 'trailing 1h'[, since := t]).
  // Invalid when rows after `since` have already left the buffer.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> TrailingResults(
      const std::string& name, const std::string& window, std::optional<int64_t> since_us,
      bool inclusive, const std::vector<std::string>& keys = {}) const;
  // The narrowest trailing window of definition `name` whose buffer holds every row with
  // time > since_us (>= when inclusive): its width; nullopt if none does (`when`: as for
  // AnswersExactly).
  std::optional<int64_t> TrailingCovering(const std::string& name, int64_t since_us, bool inclusive,
                                          When when = When::kNow) const;
  // The definitions over `table` (for the query rewriter).
  struct Definition {
    std::string name;
    WindowSpec spec;
    std::shared_ptr<arrow::DataType> time_type;  // of the table's time column
  };
  std::vector<Definition> DefinitionsOf(const TableName& table) const;
  // A cheap textual filter: whether `sql` names a table that has window definitions (and the
  // engine is not SQLite, whose text times compare unlike the windows').
  bool MayAnswer(const std::string& sql) const;

 private:
  struct Handoff;

  WindowCatalog(std::shared_ptr<engine::Engine> engine, std::shared_ptr<engine::Engine> host,
                WindowCatalogOptions options);
  arrow::Status Start();
  arrow::Result<std::shared_ptr<Entry>> MakeEntry(const std::string& name, const TableName& table,
                                                  const WindowArguments& arguments,
                                                  bool persist_history) const;
  // Publishes a built entry (registers it, or swaps it in): called with mutex_ held; false
  // when its definition was dropped meanwhile.
  using Publish = std::function<arrow::Result<bool>()>;
  // A state to build: `fresh`, published by `publish` in place of `old` (retired; null for a
  // new definition).
  struct Build {
    std::shared_ptr<Entry> fresh;
    std::shared_ptr<Entry> old;
    Publish publish;
  };
  // Whether the engine keeps a copy of entry's table to build it from (sets entry.follows).
  void Follow(Entry& entry) const;
  // Builds states of one table that read it alike (a group of ByRead: one read serves them) from
  // its rows and publishes them: from a snapshot of the engine's copy or of its stored rows
  // while writes go on, where it can take one now (BuildFromSnapshot), else from the stored
  // rows while writes to the table wait (behind the cache they then answer no query until
  // Rebuild). Returns the stored rows they were built from (folded, or counted in the closed
  // windows the engine computed: ReadRowsToFold).
  arrow::Result<int64_t> Backfill(const std::vector<Build>& builds);
  // From one snapshot of the rows while writes go on (the engine's copy when they follow one:
  // ReadCopy, else the stored rows: SnapshotConnection, DuckDB's or PostgreSQL's;
  // ReadRowsToFold has DuckDB compute the closed windows where it can): the rows committed
  // after the snapshot are kept in a Handoff and folded in before the states are published.
  // nullopt (nothing published) when the rows cannot be read so now.
  arrow::Result<std::optional<int64_t>> BuildFromSnapshot(const std::vector<Build>& builds);
  // Whether `entry`'s state is built (and rebuilt, in the background: Rebuild) from a snapshot
  // while writes go on: of the engine's copy, or of the stored rows. Else (SQLite, whose read
  // transaction would hold writers off) from the stored rows while writes to the table wait.
  bool FromSnapshot(const Entry& entry) const;
  // Builds the states of `builds` (one group of ByRead) from the stored rows and publishes them
  // while writes to the table wait. Returns the rows folded.
  arrow::Result<int64_t> BuildWhileWritesWait(const std::vector<Build>& builds);
  // Builds under way (their handoffs) lack a change: each is published diverged (and rebuilt
  // again). Caller holds mutex_.
  static void MissHandoffs(const std::vector<std::shared_ptr<Handoff>>& handoffs);
  // `builds` grouped so that each group is served by one read of its table's rows (same
  // table, time column and source), in their order. With `trailing_apart` (builds from a
  // snapshot of the stored rows or the copy, which read only the rows their states need:
  // ReadRowsToFold), states of trailing windows only are a group of their own, first: they
  // read only their last rows and answer without waiting for the closed windows of the others.
  static std::vector<std::vector<Build>> ByRead(std::vector<Build> builds,
                                                bool trailing_apart = false);
  void CloseHandoff(const TableName& table, const std::shared_ptr<Handoff>& handoff);
  // Caller holds mutex_ (exclusive).
  void ForgetHandoff(const TableName& table, const std::shared_ptr<Handoff>& handoff);
  // Folds rows (as stored) into the states being built, without writing history: closed
  // windows stay in the stores until ReplaceHistory. Each batch's keys are looked up once for
  // the states keyed alike (SharedKeys). FoldRows/FoldBatches take the entries' write_mutex.
  arrow::Status UpdateStores(const std::vector<std::shared_ptr<Entry>>& entries,
                             const arrow::RecordBatchVector& batches);
  arrow::Result<int64_t> FoldRows(const std::vector<std::shared_ptr<Entry>>& entries,
                                  arrow::RecordBatchReader& reader);
  arrow::Status FoldBatches(const std::vector<std::shared_ptr<Entry>>& entries,
                            const arrow::RecordBatchVector& batches);
  static std::vector<std::shared_ptr<Entry>> FreshOf(const std::vector<Build>& builds);
  // Every entry's write_mutex, in their order (states being built: not published yet, or
  // being published by the caller, so nobody else takes them).
  static std::vector<std::unique_lock<std::mutex>> LockAll(
      const std::vector<std::shared_ptr<Entry>>& entries);
  // The closed windows a build takes from the engine (ClosedWindowsQuery) for the windows
  // that start before `before_us`, whose rows it did not fold (kNoTime: it folded every row).
  struct EarlierWindows {
    int64_t before_us = kNoTime;
    std::vector<ClosedWindow> windows;  // OutputSchema() rows, one batch per window width
  };
  // What a build from a pinned snapshot of its table folds, and what it takes from the engine.
  struct RowsToFold {
    std::shared_ptr<arrow::RecordBatchReader> rows;  // in time order
    std::vector<EarlierWindows> earlier;             // one per state
    int64_t rows_before = 0;  // the stored rows before the bound (in `earlier`), not folded
    // What became of the stored rows before the bound: folded (in `rows`: every stored row
    // is), their closed windows computed by the engine (`earlier`), or not needed (no state
    // keeps closed windows).
    enum class Older { kFolded, kComputed, kNotNeeded } older = Older::kFolded;
  };
  // The rows a build from the pinned snapshot `pinned` of `fresh`'s table folds
  // (window_catalog_bounded_build.cc): where the snapshot is DuckDB's and it can compute the
  // windows closed by then (SupportsClosedWindowsQuery, for every state of the group) and that
  // costs less than folding their rows, only the rows from the oldest time a state still needs
  // (the start of its oldest window left open, its trailing rows), with `earlier` holding the
  // windows before that; else every row. Read by time range where it can
  // (options_.build_rows_per_read at a time). On a PostgreSQL snapshot, in one ordered query:
  // every row, or where no state keeps closed windows only those it needs. Runs on the
  // snapshot while writes go on.
  arrow::Result<RowsToFold> ReadRowsToFold(const std::vector<std::shared_ptr<Entry>>& fresh,
                                           const std::string& columns,
                                           std::shared_ptr<engine::EngineConnection> pinned) const;
  // Replaces the history with `closed`, the windows entry's state closed (those starting
  // before earlier->before_us replaced by earlier->windows). Nobody appends to the history
  // meanwhile: the caller holds write_mutex, or the state is history_pending (Fold leaves the
  // windows it closes in the store).
  arrow::Status ReplaceHistory(Entry& entry, std::vector<ClosedWindow> closed,
                               const EarlierWindows* earlier = nullptr);
  // The definitions of `table` that could follow a DELETE (MayFollowDelete); empty when a
  // state is being built. Caller holds mutex_.
  std::vector<std::shared_ptr<Entry>> FollowersOfDelete(const TableName& table) const;
  // After a followed DELETE (`trimmed`: its history was trimmed) or an abandoned one: the
  // history of `entry` answers again, or the state diverges; history_pending is cleared.
  void HistoryFollowed(Entry& entry, bool trimmed);
  // Makes `noted.entry`'s history (its state holds no row older than `oldest`) agree with the
  // stored rows once every row older than `oldest` is gone: the windows starting before
  // `oldest` dropped, those holding it recomputed from the stored rows. Returns the history
  // rows written; none when a build replaced the history since the DELETE was watched (it was
  // built from the rows the DELETE left).
  arrow::Result<int64_t> TrimHistoryBefore(const DeleteWatch::Noted& noted, int64_t oldest);
  // A definition's history table outlives its entries (a rebuild makes a new one): one lock
  // per name, held while the history is replaced (a build, a drop) or trimmed (a followed
  // DELETE), so a trim never lands on a history replaced after its DELETE was watched.
  struct HistoryLock {
    std::mutex mutex;
    uint64_t replaced = 0;  // GUARDED_BY(mutex): replacements (and drops) so far
  };
  std::shared_ptr<HistoryLock> HistoryOf(const std::string& name) const;
  // The columns the states being built read from their table's rows (for the metrics table,
  // the union of what each reads; else all).
  static std::string StoredColumns(const std::vector<Build>& builds);
  const char* UntilRebuilt(const Entry& entry) const;
  // Stored rows of `entry`'s table as its store reads them (metrics normalised, SQLite's text
  // times as timestamps).
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> AsInput(const Entry& entry,
                                                             const arrow::RecordBatch& batch) const;
  // `keys`: the batch's keys looked up once for the table's definitions (or null).
  arrow::Status Fold(Entry& entry, const arrow::RecordBatch& batch,
                     const BatchKeys* keys = nullptr);
  // Whether `a` and `b` have the same key columns, of the same types.
  static bool SameKeys(const Entry& a, const Entry& b);
  // Per batch (as the first of `targets`, a table's definitions, takes it: AsInput), its keys
  // looked up once for the definitions keyed by the first one's key columns, or null for a
  // batch where that does not pay; empty when fewer than two definitions share those columns.
  arrow::Result<std::vector<std::shared_ptr<const BatchKeys>>> SharedKeys(
      const std::vector<std::shared_ptr<Entry>>& targets,
      const arrow::RecordBatchVector& first_rows) const;
  // Rows of a table's `batches` for its definitions `entries`: as the first one reads them
  // (AsInput), with their keys looked up once for those keyed alike (SharedKeys).
  struct SharedInput {
    arrow::RecordBatchVector first_rows;
    std::vector<std::shared_ptr<const BatchKeys>> keys;  // empty: not shared
  };
  arrow::Result<SharedInput> ShareInput(const std::vector<std::shared_ptr<Entry>>& entries,
                                        const arrow::RecordBatchVector& batches) const;
  // Calls `fold` with each of `batches` as `entry` (one of the `entries` given ShareInput, the
  // first of them `first`) reads it, and its shared keys or null; stops at the first error.
  using FoldInput = std::function<arrow::Status(const arrow::RecordBatch&, const BatchKeys*)>;
  arrow::Status EachInput(const Entry& first, Entry& entry, const SharedInput& input,
                          const arrow::RecordBatchVector& batches, const FoldInput& fold) const;
  // A trailing read of `entry`'s panes plus the table's rows of the pane its bound splits.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> ReadTrailingPanes(
      const Entry& entry, const TrailingFilter& filter) const;
  // TrailingEdgeCache's loader: the stored rows of one pane of definition `name`.
  arrow::Result<std::shared_ptr<const TrailingEdgeRows>> LoadEdgeRows(const std::string& name,
                                                                      size_t window,
                                                                      int64_t pane_begin,
                                                                      int64_t pane_end) const;
  arrow::Status WriteClosed(Entry& entry, const std::vector<ClosedWindow>& closed);
  // Closed windows as history rows (window_spec first).
  arrow::Result<arrow::RecordBatchVector> ClosedBatches(
      const Entry& entry, const std::vector<ClosedWindow>& closed) const;
  std::shared_ptr<Entry> Find(const std::string& name) const;
  // Whether entry's state answers queries that need `needs` now (Answers).
  bool AnswersNow(const Entry& entry, Needs needs) const;
  // Definition `name` (null when there is none) built for a read that needs `needs`: one
  // published at start before it was built (Entry::pending), a diverged one that is being
  // rebuilt in the background, and (kHistory) one whose history is being replaced are waited
  // for, up to kPendingWait, then an IOError says it is still being built.
  arrow::Result<std::shared_ptr<Entry>> FindBuilt(const std::string& name, Needs needs) const;
  // Wakes FindBuilt's waiters: a state was published.
  void NotifyBuilt();
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> KeyFilter(
      const Entry& entry, const std::vector<std::string>& keys) const;

  std::shared_ptr<engine::Engine> engine_;
  std::shared_ptr<engine::Engine> host_;
  WindowCatalogOptions options_;
  std::unique_ptr<WindowStorage> storage_;
  std::unique_ptr<MetricsTable> metrics_;  // null when the metrics table is off

  TableWriteGate write_gate_;
  std::function<void(const TableName&)> needs_rebuild_;
  bool reads_snapshots_ = false;  // set in Start: the engine's SnapshotConnection works here
  std::atomic<bool> builds_stopped_{false};                // StopBuilds
  mutable std::shared_mutex mutex_;                        // guards entries_
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // by lower-case name
  // What happened to each definition's state since start, by lower-case name.
  struct Counts {
    uint64_t rebuilds = 0;          // built in the background (Rebuild)
    uint64_t followed_deletes = 0;  // DELETEs of the oldest rows followed (FollowDelete)
  };
  std::map<std::string, Counts> counts_;  // GUARDED_BY(mutex_)
  // Tables whose state is being built from a snapshot of their copy, by TableName::key;
  // guarded by mutex_.
  std::map<std::string, std::vector<std::shared_ptr<Handoff>>> handoffs_;
  // FindBuilt waits on built_ (built_mutex_ guards nothing else: the wait's condition reads
  // entries_ under mutex_).
  mutable std::mutex built_mutex_;
  mutable std::condition_variable built_;
  mutable std::mutex histories_mutex_;
  // By lower-case name; never erased (a name's lock must outlive its entries).
  mutable std::map<std::string, std::shared_ptr<HistoryLock>> histories_;  // GUARDED_BY above
  // Last: destroyed (its loader thread stopped) before what the loader uses.
  std::unique_ptr<TrailingEdgeCache> edge_cache_;
};

}  // namespace hyprstream::window
