// TrailingWindow: per-row running aggregates — for each incoming row, the aggregates over its
// key's rows with event time in (t - width, t] seen so far, the row included — computed at
// ingest (columns "value_running_window_sum", ...). Each key keeps its rows of the last
// width + lateness in a ring ordered by (time, arrival). A row at or after the key's newest
// time (the common case) updates running state in O(1) amortised: count, Neumaier-compensated
// sum and Welford moments add on arrival and subtract on eviction (recomputed exactly after
// 2x-window evictions or a large cancellation, so float drift stays bounded); min/max by the
// two-stacks method kept inside the ring (each front row carries its suffix min/max, the back
// stack two scalars); first/last by row indices. An older row is inserted in place and joins
// the running state (with min/max: the state is rebuilt on the next in-order row instead); it
// is answered by scanning its own range or, for sums and counts where fewer rows differ, from
// the running state less the rows newer than it plus those before the window. A row below the
// watermark is late: its outputs are null and it is not stored. Per-key scalars live in flat arrays
// indexed by key id. Not thread-safe (owned by WindowStore).
//
// Buffer mode (Buffer/ReadSince) serves "the last N minutes as of now" reads instead: rows are
// kept in time order per key until they fall at or before an eviction bound chosen by the
// owner (rows arriving late are inserted in place, not dropped), and a read aggregates each
// key's rows newer than a bound. Reads are exact for bounds at or after horizon().
//
// A key whose rows no future row or read can need is Idle; the owner may then Forget it and
// give its id to another key, which starts from nothing.
#pragma once

#include "window/aggregate_layout.h"
#include "window/window_spec.h"

#include <arrow/array.h>
#include <arrow/result.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace hyprstream::window {

class TrailingWindow {
 public:
  enum class Mode { kPerRow, kBuffer };  // Process or Buffer/ReadSince
  TrailingWindow(const WindowSpec& spec, const WindowDef& def, Mode mode = Mode::kPerRow);
  ~TrailingWindow();

  const WindowDef& def() const { return def_; }
  // The per-row output columns this window produces, in order.
  const std::vector<std::shared_ptr<arrow::Field>>& fields() const { return fields_; }

  // Rows [0, n) in arrival order: key ids, event times (kNoTime: null time, outputs null)
  // and values. The watermark before the batch is `watermark`; it advances row by row as
  // max(watermark, max time so far - lateness). Appends one array per field() to `out` and
  // adds the rows found late to *late_rows.
  arrow::Status Process(const int32_t* ids, const int64_t* times, const ValueInput* values,
                        int64_t n, int64_t watermark, int64_t max_time, int64_t lateness,
                        std::vector<std::shared_ptr<arrow::Array>>* out, int64_t* late_rows);

  // Buffer mode: stores rows [0, n) (null times skipped) in their keys' rings in time order,
  // then drops every row with time <= evict_bound, arriving or stored. Arriving rows at or
  // before an earlier batch's bound are added to *dropped_rows (late). Never mixed with
  // Process on one object.
  void Buffer(const int32_t* ids, const int64_t* times, const ValueInput* values, int64_t n,
              int64_t evict_bound, int64_t* dropped_rows);
  // Rows with time <= horizon() may be missing (evicted or dropped); kNoTime: none missing.
  int64_t horizon() const { return horizon_; }
  // For each id in `ids`, the aggregates over its rows with time > since (>= since when
  // `inclusive`) in `columns` (kinds and value indices as WindowSpec::AggregateColumns()
  // gives them). Keys without such rows are left out; *kept gets the ids answered, in order,
  // and `out` one array per column.
  arrow::Status ReadSince(const std::vector<int32_t>& ids, int64_t since, bool inclusive,
                          const std::vector<WindowSpec::OutputColumn>& columns,
                          std::vector<int32_t>* kept,
                          std::vector<std::shared_ptr<arrow::Array>>* out) const;

  void ReserveKeys(int64_t keys);
  // Whether key `id` holds no row that matters any more: none, or every row at or before
  // watermark - width (per row: no on-time row's window reaches back to it) or at or before
  // the last eviction bound (buffer: reads that far back are refused).
  bool Idle(int32_t id, int64_t watermark) const;
  // Drops what Idle key `id` holds (a buffer's horizon moves past its rows), leaving the id
  // as a new key's; a small ring buffer stays allocated for that key.
  void Forget(int32_t id);
  // Per-key state for ids below `keys` only (every id at or above it forgotten); memory is
  // given back once a quarter of it or less is used.
  void ShrinkKeys(int64_t keys);
  int64_t memory_bytes() const;
  int64_t buffered_rows() const;

 private:
  struct KeyTrail;
  struct Running;
  struct RunningSpread;
  struct Accumulator;
  class OutputColumns;

  Running* RunningOf(int32_t id);
  // The min/max and variance state beside `running` (a RunningOf pointer); track_spread_ only.
  RunningSpread* SpreadOf(const Running* running);
  void ResetRunning(Running* running);
  // Writes row `row` of the input (time t, values and their validity bits) into `slot`.
  void FillRow(StateWord* slot, int64_t t, const ValueInput* values, int64_t row) const;
  void AddValue(Running& r, double x) const;
  void AddRunning(KeyTrail& key, Running* running, int64_t index);
  // After `row` was inserted at `pos` (before the newest row): the running state's row indices
  // follow the move, and the row joins it when `in_window`. Not with min/max (dirty instead).
  void InsertRunning(Running* running, const StateWord* row, int64_t pos, bool in_window);
  // The aggregates of rows [lo, pos] for the row just inserted at `pos`.
  void AnswerInserted(KeyTrail& key, Running* running, int64_t lo, int64_t pos, Accumulator* acc);
  void RemoveRunning(KeyTrail& key, Running* running, int64_t index);
  void Flip(KeyTrail& key, Running* running);
  bool NeedsRebuild(const KeyTrail& key, const Running* running);
  void Rebuild(KeyTrail& key, Running* running);
  void Accumulate(const KeyTrail& key, int64_t begin, int64_t end, Accumulator* acc,
                  bool moments = true) const;
  void RunningAccumulator(KeyTrail& key, Running* running, Accumulator* acc);
  void Sweep(int64_t watermark);
  void EvictUpTo(KeyTrail& key, int64_t bound);

  WindowDef def_;
  Mode mode_;
  int value_count_;
  bool track_min_;
  bool track_max_;
  bool track_moments_;            // variance/stddev asked for: Welford mean and M2 kept
  bool track_spread_;             // any of the three: spread_ is kept
  bool keeps_running_on_insert_;  // an out-of-order row updates the running state (no min/max)
  bool subtractable_;             // and its answer may subtract rows from it (sums and counts only)
  int words_;       // per stored row: time, validity bits, values, [suffix mins], [suffix maxes]
  int min_offset_;  // word of value v's suffix min in a row: min_offset_ + v
  int max_offset_;
  std::vector<WindowSpec::OutputColumn> columns_;
  std::vector<std::shared_ptr<arrow::Field>> fields_;
  std::vector<KeyTrail> keys_;
  // Per key id: the trail (one cache line) and, per value column, the running state (one line
  // each) and what only min/max/variance need (spread_, empty without them).
  std::vector<Running> running_;  // keys x value columns
  std::vector<RunningSpread> spread_;
  int64_t last_sweep_watermark_;
  int64_t horizon_;           // buffer mode: newest time of a row evicted or dropped
  int64_t last_sweep_bound_;  // buffer mode: the bound of the last full sweep
  int64_t last_bound_;        // buffer mode: the highest eviction bound so far
};

}  // namespace hyprstream::window
