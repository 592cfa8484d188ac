// WindowStore: running aggregates per key over event-time windows for one stream. The ingest
// path calls Update(batch) with each Arrow batch; queries call Snapshot(filter) and get Arrow
// record batches; the persister calls TakeClosed() and writes final rows to history.
//
// Design: keys map to dense ids (KeyDictionary); tumbling and hopping windows share panes —
// per pane width one PaneRing of dense slot columns indexed by key id — and a window is the
// merge of its panes, so no row is ever copied into each window. Each window uses the widest
// pane that tiles it (gcd of width and slide): a 1d window is one 1d pane, not 288 5m panes.
// Pane widths that nest (5m | 30m | 1h | 1d) are fed from the finest: a row folds into one 5m
// slot, and a 5m pane is merged column-wise into the coarser panes when the watermark passes
// its end. Updates are columnar: key ids, times and pane slots for the whole batch, then one
// fold loop; no per-row allocation, virtual call or lock.
// Windows close when the watermark (max event time - allowed lateness) reaches their end; the
// batch is processed in runs between closings so results match row-at-a-time semantics.
// Closed windows are materialised once (immutable batches) and evicted after retention.
// Keys come and go: when windows close (or trailing rows expire), keys with rows in no open
// pane, no retained closed window and no trailing row that still matters are retired — the
// dictionary forgets them and their ids go to new keys, whose state starts empty — so memory
// follows the keys with open state, not every key ever seen. A key that returns is a new key.
//
// Concurrency: one internal reader-writer lock per store. Update, AdvanceWatermark and
// TakeClosed take it exclusively (once per batch, not per row); Snapshot and GetStats take it
// shared and copy their results out, so readers always see a state between two batches and
// never block each other. Intended use is one writer per stream (e.g. the stream's ingest
// loop) and any number of readers; scale out with one store (and writer) per stream.
#pragma once

#include "window/aggregate_layout.h"
#include "window/batch_keys.h"
#include "window/key_dictionary.h"
#include "window/pane_ring.h"
#include "window/trailing_panes.h"
#include "window/trailing_window.h"
#include "window/window_spec.h"

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <vector>

namespace hyprstream::window {

// One closed window (all keys that had rows in it), as emitted to TakeClosed/on_close.
struct ClosedWindow {
  size_t window = 0;  // index into WindowSpec::windows
  int64_t start_us = 0;
  int64_t end_us = 0;
  std::shared_ptr<arrow::RecordBatch> rows;  // OutputSchema(), closed = true, by key id
};

struct WindowStoreOptions {
  // A window may be assembled from up to this many panes of a finer width that another window
  // already maintains, instead of getting a pane width of its own: fewer pane widths to seal
  // into, but more pane merges per read and more finer panes kept open. 1 (default): every
  // window gets its widest pane (faster ingest and reads in bench/window_bench.cc).
  int max_panes_per_window = 1;
  // If set, called (from Update/AdvanceWatermark, under the store lock) with each window as it
  // closes, instead of queueing it for TakeClosed. An error is returned by that call.
  std::function<arrow::Status(const ClosedWindow&)> on_close;
  // Trailing windows as buffers for "as of" reads (TrailingSnapshot) instead of per-row
  // columns from Update. A buffer keeps each key's rows newer than
  // min(watermark, wall_clock()) - width - trailing_slack_us, so a read "since now - width"
  // made up to trailing_slack_us after now finds all its rows even while newer rows arrive.
  bool trailing_as_buffers = false;
  int64_t trailing_slack_us = 60LL * 1000000;
  // Microseconds since the epoch; unset: only the watermark bounds buffers.
  std::function<int64_t()> wall_clock;
  // With trailing_as_buffers: keep per key partial aggregates in trailing_panes panes per
  // (width + slack) instead of every row, so memory follows the keys; a read then needs the
  // rows of the one pane its bound splits from storage (Begin/FinishTrailingRead), and
  // TrailingSnapshot is refused. Specs with first/last aggregates cannot use panes.
  bool trailing_as_panes = false;
  int64_t trailing_panes = 120;
};

struct SnapshotFilter {
  // Index into WindowSpec::windows (tumbling/hopping only); unset: all of them.
  std::optional<size_t> window;
  // Key columns by name (extra columns ignored); unset: every key. Rows follow this order.
  std::shared_ptr<arrow::RecordBatch> keys;
  // Only windows overlapping [from_us, to_us).
  std::optional<int64_t> from_us;
  std::optional<int64_t> to_us;
  // Only the newest window per definition: the one starting last that contains the maximum
  // event time seen (the "current 5m window").
  bool current_only = false;
  bool include_open = true;
  bool include_closed = true;  // closed windows still retained (WindowSpec::retention_us)
};

// A read of a trailing buffer (WindowStoreOptions::trailing_as_buffers): per key, the
// aggregates of its rows with time > since_us (>= when inclusive) — rows newer than until_us
// included, as `WHERE ts > since` would. window_start is since_us, window_end until_us.
struct TrailingFilter {
  std::optional<size_t> window;  // index into WindowSpec::windows; unset: the first trailing
  int64_t since_us = 0;
  bool inclusive = false;
  int64_t until_us = 0;
  std::shared_ptr<arrow::RecordBatch> keys;  // as SnapshotFilter::keys
};

// A trailing read over panes, in two steps: BeginTrailingRead merges, per key, the panes
// wholly inside the bound; the caller reads the event times [edge_begin, edge_end) from
// storage as partial aggregates (WindowStore::EdgeSchema()); FinishTrailingRead adds them.
// The edge can also come as the rows of its whole pane, kept for every read whose bound falls
// in that pane (TrailingEdgeRows).
struct TrailingRead {
  TrailingFilter filter;
  size_t window = 0;       // index into WindowSpec::windows
  int64_t edge_begin = 0;  // empty edge when edge_begin == edge_end
  int64_t edge_end = 0;
  int64_t edge_pane_begin = 0;  // the pane holding the edge: [edge_pane_begin, edge_end)
  // Internal: the merged state of keys below `keys`, their has-rows bits, the wanted ids
  // (a key filter) and the last fold into the edge's pane when read.
  int64_t keys = 0;
  std::vector<StateWord> slots;
  std::vector<uint64_t> has_rows;
  std::optional<std::vector<int32_t>> wanted;
  uint64_t edge_pane_fold = 0;
};

// The per-key state of the rows [row, end) of a TrailingEdgeRows: a read whose bound falls at
// or before `row` folds the rows up to `row` and merges this, so its cost does not follow the
// rows in the pane.
struct TrailingEdgeSuffix {
  int64_t row = 0;
  int32_t max_id = -1;             // the largest key id in the rows (-1: none)
  std::vector<StateWord> slots;    // per key id below TrailingEdgeRows::suffix_keys
  std::vector<uint64_t> has_rows;  // key bits: the keys with rows in [row, end)
};

// The stored rows of one trailing pane [pane_begin, pane_end) as the store reads them (key
// ids, times ascending, values as doubles), for reads whose bound falls in that pane: valid
// while no row folds into the pane after `pane_fold` (WindowStore::MakeEdgeRows). Suffixes
// (rows ascending, each strictly inside the rows) hold the state from their row to the end.
struct TrailingEdgeRows {
  size_t window = 0;
  int64_t pane_begin = 0;
  int64_t pane_end = 0;
  uint64_t pane_fold = 0;
  // The store that made them (its serial): their ids and pane_fold mean nothing to another
  // one, e.g. a state rebuilt under the same definition name.
  uint64_t store_serial = 0;
  std::vector<int32_t> ids;
  std::vector<int64_t> times;
  std::vector<std::vector<double>> values;     // per value column
  std::vector<std::vector<uint8_t>> validity;  // per value column: a bitmap, or empty (no nulls)
  int64_t suffix_keys = 0;                     // slots per suffix: above every id in `ids`
  std::vector<TrailingEdgeSuffix> suffixes;
  int64_t memory_bytes() const;
  // The most memory_bytes() takes per row with `value_columns` values: ids, times, values
  // (validity bits aside), and as much again for the suffixes (EdgeSuffixCount keeps them
  // within the rows' own memory).
  static int64_t MaxBytesPerRow(size_t value_columns) {
    return 2 * (4 + 8 + 8 * static_cast<int64_t>(value_columns));
  }
};

// What one Update did.
struct UpdateResult {
  int64_t rows = 0;
  int64_t late_rows = 0;       // rows late for at least one window
  int64_t null_time_rows = 0;  // rows without event time (ignored by every window)
  int64_t closed_windows = 0;  // windows that closed during this batch
  // Per-row trailing-window columns aligned with the input rows (TrailingSchema()), or null
  // when the spec has no trailing window. WithTrailingColumns appends them to the batch.
  std::shared_ptr<arrow::RecordBatch> trailing;
};

struct WindowStoreStats {
  int64_t batches = 0;
  int64_t rows = 0;
  int64_t null_time_rows = 0;
  int64_t max_event_time_us = 0;        // kNoTime before the first row
  int64_t watermark_us = 0;             // kNoTime before the first row
  std::vector<int64_t> late_rows;       // per WindowSpec::windows entry
  std::vector<int64_t> closed_windows;  // per entry (tumbling/hopping)
  std::vector<int64_t> closed_rows;     // per entry: key-window rows emitted
  int64_t keys = 0;                     // keys with state (retired keys not counted)
  int64_t retired_keys = 0;             // keys that left memory, over the store's life
  int64_t key_ids = 0;                  // every key's id is below this (retired ids are reused)
  int64_t pane_widths = 0;              // distinct pane widths maintained
  int64_t open_panes = 0;               // over all pane widths
  int64_t allocated_panes = 0;          // open panes that have had rows, plus one spare per width
  int64_t slot_bytes = 0;               // state of one key in one pane
  int64_t pane_bytes = 0;               // allocated pane columns (dense: key capacity x slot each)
  int64_t key_bytes = 0;                // key dictionary
  int64_t trailing_bytes = 0;           // trailing-window row buffers
  int64_t trailing_rows = 0;
  uint64_t trailing_suffix_hits = 0;  // pane reads answered from kept suffixes (PaneSuffixes)
  uint64_t trailing_suffix_builds =
      0;  // suffixes built (a block's first read, or its panes changed)
  int64_t retained_closed_bytes = 0;
  int64_t pending_closed = 0;  // closed windows waiting for TakeClosed
  int64_t total_bytes() const {
    return pane_bytes + key_bytes + trailing_bytes + retained_closed_bytes;
  }
};

class WindowStore {
 public:
  // Validates `spec` against the stream's schema (columns exist, types usable); Invalid
  // names the column and says what to change.
  static arrow::Result<std::unique_ptr<WindowStore>> Make(
      WindowSpec spec, const std::shared_ptr<arrow::Schema>& input_schema,
      WindowStoreOptions options = {});
  ~WindowStore();

  const WindowSpec& spec() const { return spec_; }
  // keys..., window_start, window_end (timestamp[us]), aggregates (AggregateColumns()), closed.
  const std::shared_ptr<arrow::Schema>& OutputSchema() const { return output_schema_; }
  // The slots' layout (immutable after Make).
  const AggregateLayout& layout() const { return *layout_; }
  // The per-row columns Update returns for trailing windows (empty if none).
  const std::shared_ptr<arrow::Schema>& TrailingSchema() const { return trailing_schema_; }

  // Folds `batch` (any column order; extra columns ignored) into every window. Bad input
  // (missing column, wrong type, time out of range) is rejected before any state changes;
  // only an on_close error or a failed allocation can leave a batch partly applied.
  // `keys`, if given, are the batch's keys looked up once for several stores (BatchKeys over
  // this spec's key columns, same rows): only its distinct keys are interned here.
  arrow::Result<UpdateResult> Update(const arrow::RecordBatch& batch,
                                     const BatchKeys* keys = nullptr);
  // Raises the watermark to at least `watermark_us` (e.g. from wall-clock time on an idle
  // stream, or kEndOfTime at shutdown to close everything). Never lowers it.
  arrow::Status AdvanceWatermark(int64_t watermark_us);

  // Windows that closed since the last call, oldest first (empty when on_close is set).
  std::vector<ClosedWindow> TakeClosed();

  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Snapshot(const SnapshotFilter& filter) const;
  // OutputSchema() rows (closed = false) from a trailing buffer. Invalid when the bound is
  // before what the buffer still holds (TrailingHorizon): the answer would miss rows.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> TrailingSnapshot(
      const TrailingFilter& filter) const;
  // Rows with time <= this may have left trailing window `window`'s buffer; kNoTime: none.
  int64_t TrailingHorizon(size_t window) const;

  // Panes (WindowStoreOptions::trailing_as_panes). Invalid when the state cannot answer (the
  // bound is before the panes kept).
  arrow::Result<TrailingRead> BeginTrailingRead(const TrailingFilter& filter) const;
  // keys..., row_count, then per value column: <v>_count, and as the spec needs <v>_sum,
  // <v>_min, <v>_max, <v>_mean and <v>_m2 (M2: var_pop x count): the edge's partials per key.
  std::shared_ptr<arrow::Schema> EdgeSchema() const;
  // The OutputSchema() rows of `read` with its edge added, from `partials` (EdgeSchema()
  // columns by position) or from `rows` of the edge's pane (neither: an empty edge); nullopt
  // when rows folded into the edge's pane since BeginTrailingRead (or since `rows` were
  // read), or the edge has a key the state has not seen: the state moved under the read,
  // which must be made again.
  arrow::Result<std::optional<std::shared_ptr<arrow::RecordBatch>>> FinishTrailingRead(
      TrailingRead read, const arrow::RecordBatch* partials,
      const TrailingEdgeRows* rows = nullptr) const;
  // The last fold into the pane of trailing window `window` holding `time` (record it before
  // reading that pane's rows from storage).
  uint64_t TrailingPaneFold(size_t window, int64_t time) const;
  // The pane's rows from storage (`batch`: key, time and value columns by name) for
  // FinishTrailingRead; nullptr when a key is unknown to the state (rows not folded yet).
  // With `suffixes` suffix states at evenly spaced rows (at most one per row after the first;
  // unset: EdgeSuffixCount's choice), so a read folds at most about rows / (suffixes + 1).
  arrow::Result<std::shared_ptr<const TrailingEdgeRows>> MakeEdgeRows(
      size_t window, int64_t pane_begin, int64_t pane_end, uint64_t pane_fold,
      const arrow::RecordBatch& batch, std::optional<int64_t> suffixes = std::nullopt) const;
  // How many suffix states keep their memory (`keys` slots of `slot_bytes` and key bits each)
  // within about the rows' own (`rows_bytes`): 0 to kMaxEdgeSuffixes.
  static int64_t EdgeSuffixCount(int64_t rows_bytes, int64_t keys, int64_t slot_bytes);
  static constexpr int64_t kMaxEdgeSuffixes = 64;
  // No row with an earlier event time is held in memory (open panes of every width, trailing
  // panes, closed windows not yet taken or still retained), so a change to stored rows older
  // than this cannot touch the state; INT64_MAX when nothing is held, kNoTime when it cannot
  // be told (trailing windows kept as rows or per-row columns).
  int64_t OldestTimeHeld() const;
  WindowStoreStats GetStats() const;
  // Keys with state (GetStats().keys without building the rest).
  int64_t key_count() const;

  // `batch` with UpdateResult::trailing's columns appended.
  static arrow::Result<std::shared_ptr<arrow::RecordBatch>> WithTrailingColumns(
      const std::shared_ptr<arrow::RecordBatch>& batch, const UpdateResult& result);

 private:
  struct PanedWindow;
  struct Level;
  struct RetainedWindow;
  // A batch's key columns and its value columns as float64 (cast when needed).
  struct BatchColumns {
    std::vector<const arrow::Array*> keys;
    std::vector<std::shared_ptr<arrow::Array>> values;
  };

  WindowStore(WindowSpec spec, WindowStoreOptions options);
  arrow::Status Init(const std::shared_ptr<arrow::Schema>& input_schema);

  arrow::Status BindBatch(const arrow::RecordBatch& batch, BatchColumns* columns);
  // ids_[0, n) for the batch's rows: from `keys` when given, else by interning `columns`.
  arrow::Status InternKeys(const BatchColumns& columns, int64_t n, const BatchKeys* keys);
  // BindBatch into the given scratch (no member changes).
  arrow::Status BindColumns(const arrow::RecordBatch& batch, BatchColumns* columns,
                            std::vector<int64_t>* times, std::vector<ValueInput>* inputs) const;
  // The trailing_panes_ entry of spec window `window` (or the first), or null.
  const TrailingPanes* PanesOf(std::optional<size_t> window, size_t* index) const;
  arrow::Status ApplyPanes(int64_t n, UpdateResult* result);
  void ApplyRun(int64_t begin, int64_t end, UpdateResult* result);
  void Seal(int64_t watermark);
  arrow::Status CloseUpTo(int64_t watermark, UpdateResult* result);
  // Retires the keys nothing holds any more, if windows closed or trailing rows may have
  // expired since the last time (a pass costs a bitwise OR over the open panes' key bits plus
  // a look at each key without pane rows).
  void RetireIdleKeys();
  int64_t NextCloseBoundary() const;

  struct InstanceRows;
  // The keys with rows in window instance `start` of paned window `w` (restricted to `ids`,
  // in that order, when given) and their merged state. False: no rows.
  bool Collect(size_t w, int64_t start, const std::vector<int32_t>* ids, InstanceRows* out) const;
  // Output rows of keys `ids` for instance [start, end): their slots finalised (BuildBatch)
  // or their aggregate columns as given (OutputBatch).
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> BuildBatch(
      const std::vector<int32_t>& ids, const std::vector<const StateWord*>& slots, int64_t start,
      int64_t end, bool closed) const;
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> OutputBatch(
      const std::vector<int32_t>& ids, int64_t start, int64_t end,
      std::vector<std::shared_ptr<arrow::Array>> aggregates, bool closed) const;
  // A trailing read refused: its bound is before what the window still holds.
  static arrow::Status LeftTheBuffer(int64_t horizon, const WindowDef& def, int64_t since);
  int64_t AliveThreshold(const Level& level) const;
  // Folds rows [begin, end) of `rows` into `slots` (key id x stride) and sets their key bits;
  // false (some rows maybe folded) at an id not below `keys`.
  bool FoldEdgeRows(const TrailingEdgeRows& rows, int64_t begin, int64_t end, int64_t keys,
                    StateWord* slots, uint64_t* has_rows) const;
  // Fills rows->suffixes: `count` suffix states at evenly spaced rows, built from the end.
  void BuildEdgeSuffixes(int64_t count, TrailingEdgeRows* rows) const;
  arrow::Result<std::vector<int32_t>> WantedIds(
      const std::shared_ptr<arrow::RecordBatch>& keys) const;

  // Set by Make, immutable afterwards.
  WindowSpec spec_;
  WindowStoreOptions options_;
  std::shared_ptr<arrow::Schema> output_schema_;
  std::shared_ptr<arrow::Schema> trailing_schema_;
  std::vector<WindowSpec::OutputColumn> aggregate_columns_;
  std::unique_ptr<AggregateLayout> layout_;
  const uint64_t serial_;  // unique in the process (TrailingEdgeRows::store_serial)
  int64_t min_trailing_width_ = INT64_MAX;

  // mutex_ guards every member below: written under it held exclusively (Update,
  // AdvanceWatermark, TakeClosed), read under it held shared (Snapshot, TrailingSnapshot,
  // TrailingHorizon, GetStats) or exclusively.
  mutable std::shared_mutex mutex_;
  std::unique_ptr<KeyDictionary> keys_;
  std::vector<std::unique_ptr<Level>> levels_;
  std::vector<PanedWindow> paned_;  // per spec window (unused entries for trailing)
  std::vector<std::unique_ptr<TrailingWindow>> trailing_;
  std::vector<size_t> trailing_index_;  // spec window index of each trailing_ entry
  std::vector<std::unique_ptr<TrailingPanes>> trailing_panes_;
  std::vector<size_t> trailing_panes_index_;  // spec window index of each trailing_panes_ entry

  int64_t max_time_;
  int64_t watermark_;
  WindowStoreStats stats_;
  std::vector<ClosedWindow> pending_;
  std::deque<RetainedWindow> retained_;
  bool retire_due_ = false;        // windows closed since the last RetireIdleKeys
  int64_t last_retire_watermark_;  // watermark_ at the last RetireIdleKeys (kNoTime: none)

  // Per-batch scratch, reused.
  std::vector<int64_t> times_;
  std::vector<int32_t> ids_;
  std::vector<int32_t> distinct_ids_;  // InternKeys: the ids of BatchKeys::distinct
  std::vector<StateWord*> slot_of_row_;
  std::vector<StateWord*> columns_in_run_;
  std::vector<uint64_t*> key_bits_in_run_;
  std::vector<uint8_t> panes_with_rows_;
  std::vector<ValueInput> value_inputs_;
  std::vector<uint64_t> held_;     // RetireIdleKeys: keys something still holds
  std::vector<int32_t> retiring_;  // RetireIdleKeys: the keys it retires
};

}  // namespace hyprstream::window
