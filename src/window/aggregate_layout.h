// AggregateLayout: the partial aggregates of one (key, pane) as a fixed-size slot of 8-byte
// words, and the kernels over slots: Fold rows into slots (one pass per batch, templated on
// the aggregate set so the inner loop has no per-row dispatch), Merge slots (Chan et al. for
// variance), and Finalize slots into Arrow output columns with SQL null rules (sum/avg/min/...
// of no values is null; var_samp/stddev_samp need two values). Word 0 counts rows; each value
// column then owns a block: count, [sum], [min], [max], [mean, M2], [first ts, value],
// [last ts, value]. Slots are row-major on purpose: folding a row touches the one or two
// cache lines of its slot, where one array per field would touch a line per field. Immutable
// after construction; thread-safe.
#pragma once

#include "window/window_spec.h"

#include <arrow/array.h>
#include <arrow/result.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

namespace hyprstream::window {

// One word of state. Each word has one fixed role, always read through the member it was
// written with.
union StateWord {
  int64_t i;
  double d;
};

// Which optional fields a value block carries.
enum StateFeature : uint32_t {
  kHasSum = 1,
  kHasMin = 2,
  kHasMax = 4,
  kHasMoments = 8,  // Welford mean + M2 (variance, stddev)
  kHasFirst = 16,
  kHasLast = 32,
};
inline constexpr uint32_t kFeatureCombinations = 64;

// Word offsets inside one value block for a feature set (-1: absent).
struct BlockOffsets {
  int count = 0, sum = -1, min = -1, max = -1, mean = -1, m2 = -1;
  int first_ts = -1, first = -1, last_ts = -1, last = -1;
  int size = 1;
};
constexpr BlockOffsets MakeBlockOffsets(uint32_t features) {
  BlockOffsets o;
  int next = 1;
  if (features & kHasSum) o.sum = next++;
  if (features & kHasMin) o.min = next++;
  if (features & kHasMax) o.max = next++;
  if (features & kHasMoments) {
    o.mean = next++;
    o.m2 = next++;
  }
  if (features & kHasFirst) {
    o.first_ts = next++;
    o.first = next++;
  }
  if (features & kHasLast) {
    o.last_ts = next++;
    o.last = next++;
  }
  o.size = next;
  return o;
}

// One value column of the batch being folded, read as double.
struct ValueInput {
  const double* values = nullptr;
  const uint8_t* validity = nullptr;  // nullptr: no nulls
  int64_t validity_offset = 0;
};

// Finishing formulas, shared with the trailing windows.
inline double VarianceFrom(double m2, int64_t n, bool sample) {
  return std::max(m2, 0.0) / static_cast<double>(sample ? n - 1 : n);
}
// Min that ignores NaN unless nothing else was seen (`current` NaN means "nothing yet").
inline double MinIgnoringNaN(double current, double x) {
  return (x < current || current != current) ? x : current;
}
// Max where NaN wins (DuckDB orders NaN above every number).
inline double MaxNaNWins(double current, double x) { return (x > current || x != x) ? x : current; }

class AggregateLayout {
 public:
  explicit AggregateLayout(const WindowSpec& spec);

  int stride() const { return stride_; }  // words per slot
  int value_blocks() const { return value_blocks_; }
  uint32_t features() const { return features_; }
  const BlockOffsets& offsets() const { return offsets_; }
  int64_t slot_bytes() const { return stride_ * static_cast<int64_t>(sizeof(StateWord)); }

  // Sets `count` consecutive slots to the empty state.
  void Init(StateWord* slots, int64_t count) const;
  static int64_t RowCount(const StateWord* slot) { return slot[0].i; }

  // Folds rows [begin, end) into slots: row i goes into slot_of_row[i] (nullptr: skip).
  // Rows must be folded in arrival order (first/last break event-time ties by arrival).
  void Fold(StateWord* const* slot_of_row, int64_t begin, int64_t end, const int64_t* times,
            const ValueInput* values) const;
  // dst = dst (+) src; src must hold rows of the same key.
  void Merge(StateWord* dst, const StateWord* src) const;
  // Merge for the slots of the keys whose bit is set in `keys` (`words` 64-bit words).
  void MergeKeys(StateWord* dst, const StateWord* src, const uint64_t* keys, int64_t words) const;

  // The output columns (spec.AggregateColumns() entries) for `n` slots, in one pass over
  // the slots.
  arrow::Result<std::vector<std::shared_ptr<arrow::Array>>> Finalize(
      const std::vector<WindowSpec::OutputColumn>& columns, const StateWord* const* slots,
      int64_t n) const;
  static std::shared_ptr<arrow::DataType> OutputType(AggregateKind kind);

 private:
  int value_blocks_ = 0;
  uint32_t features_ = 0;
  BlockOffsets offsets_;
  int stride_ = 1;
  std::vector<StateWord> empty_slot_;
};

}  // namespace hyprstream::window
