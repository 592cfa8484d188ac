#include "window/trailing_window.h"

#include "window/event_time.h"

#include <arrow/buffer.h>
#include <arrow/type.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/bitmap_ops.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace hyprstream::window {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// A key's emptied ring keeps its buffer up to this many rows, for the key's return or, once
// the key is forgotten, for the next key given its id: no allocation per arriving key.
constexpr int64_t kKeepRows = 64;

// Fixed-size rows in a power-of-two ring, addressed by absolute index (head <= i < tail).
class RowRing {
 public:
  int64_t head() const { return head_; }
  int64_t tail() const { return tail_; }
  bool empty() const { return head_ == tail_; }
  StateWord* Row(int64_t index, int words) { return buf_.get() + (index & mask_) * words; }
  const StateWord* Row(int64_t index, int words) const {
    return buf_.get() + (index & mask_) * words;
  }
  int64_t Time(int64_t index, int words) const { return Row(index, words)[0].i; }

  StateWord* PushBack(int words) {
    if (tail_ - head_ == mask_ + 1) Grow(words);
    return Row(tail_++, words);
  }
  // Makes room at `pos` (head <= pos <= tail) by moving later rows up by one.
  StateWord* InsertAt(int64_t pos, int words) {
    PushBack(words);
    for (int64_t i = tail_ - 1; i > pos; --i) {
      std::copy_n(Row(i - 1, words), words, Row(i, words));
    }
    return Row(pos, words);
  }
  void PopFront() { ++head_; }
  void Clear() { head_ = tail_; }  // keeps the buffer
  int64_t capacity() const { return mask_ + 1; }
  void Release() {
    buf_.reset();
    mask_ = -1;
    head_ = tail_ = 0;
  }
  int64_t capacity_bytes(int words) const {
    return (mask_ + 1) * words * static_cast<int64_t>(sizeof(StateWord));
  }

 private:
  void Grow(int words) {
    int64_t capacity = std::max<int64_t>(4, 2 * (mask_ + 1));
    std::unique_ptr<StateWord[]> grown(new StateWord[static_cast<size_t>(capacity * words)]());
    for (int64_t i = head_; i < tail_; ++i) {
      std::copy_n(Row(i, words), words, grown.get() + (i & (capacity - 1)) * words);
    }
    buf_ = std::move(grown);
    mask_ = capacity - 1;
  }

  // A pointer, not a vector: KeyTrail (ring + window bounds) then fits one cache line.
  std::unique_ptr<StateWord[]> buf_;
  int64_t mask_ = -1;
  int64_t head_ = 0;
  int64_t tail_ = 0;
};

inline void NeumaierAdd(double* sum, double* comp, double x) {
  double t = *sum + x;
  if (std::fabs(*sum) >= std::fabs(x)) {
    *comp += (*sum - t) + x;
  } else {
    *comp += (x - t) + *sum;
  }
  *sum = t;
}

inline bool Valid(const StateWord* row, int v) { return (row[1].i >> v) & 1; }
inline double Value(const StateWord* row, int v) { return row[2 + v].d; }

}  // namespace

// Aggregates of one row range, as the output columns want them.
struct TrailingWindow::Accumulator {
  struct Value {
    int64_t count = 0;
    double sum = 0, comp = 0, mean = 0, m2 = 0;
    double min = kNaN, max = -std::numeric_limits<double>::infinity();
    double first = 0, last = 0;
  };
  int64_t rows = 0;
  std::vector<Value> values;
};

// What every row reads and writes, one cache line per key and value column.
struct alignas(64) TrailingWindow::Running {
  int64_t count = 0;      // valid values in the window
  int64_t nonfinite = 0;  // of which NaN or +-inf (answered by a scan while > 0)
  double sum = 0, comp = 0, mean = 0, m2 = 0;  // over the finite values
  int64_t first = -1, last = -1;               // row index of the first/last valid value
};

// What only min/max and variance need (a separate array, untouched without them).
struct TrailingWindow::RunningSpread {
  double m2_removed = 0;  // M2 subtracted since the last rebuild: the cancellation risk
  // Two-stacks min/max: the back stack (rows [split, tail)) as two scalars.
  double back_min = kNaN;
  double back_max = -std::numeric_limits<double>::infinity();
};

// One cache line per key.
struct alignas(64) TrailingWindow::KeyTrail {
  RowRing rows;
  int64_t window_begin = 0;  // first row with time > newest - width
  int64_t split = 0;         // rows [window_begin, split) carry suffix min/max up to split
  int64_t evictions = 0;     // since the last rebuild
  bool dirty = false;        // running state must be rebuilt before use
};

// Per-row output buffers for one batch.
class TrailingWindow::OutputColumns {
 public:
  static arrow::Result<OutputColumns> Make(const std::vector<WindowSpec::OutputColumn>& columns,
                                           int64_t n) {
    OutputColumns out;
    out.columns_ = &columns;
    out.n_ = n;
    for (const auto& column : columns) {
      ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> values,
                            arrow::AllocateBuffer(std::max<int64_t>(n, 1) * 8));
      ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> validity,
                            arrow::AllocateBitmap(std::max<int64_t>(n, 1)));
      out.values_.push_back(std::move(values));
      out.validity_.push_back(std::move(validity));
      out.null_counts_.push_back(0);
      (void)column;
    }
    return out;
  }

  // Only the first `n` rows are used (rows past it were never set).
  void Truncate(int64_t n) {
    n_ = n;
    for (size_t c = 0; c < null_counts_.size(); ++c) {
      null_counts_[c] = n - arrow::internal::CountSetBits(validity_[c]->data(), 0, n);
    }
  }

  void SetNull(int64_t row) {
    for (size_t c = 0; c < values_.size(); ++c) Put(c, row, int64_t{0}, false);
  }

  void Set(int64_t row, const Accumulator& acc) {
    for (size_t c = 0; c < columns_->size(); ++c) {
      const WindowSpec::OutputColumn& column = (*columns_)[c];
      if (column.kind == AggregateKind::kRowCount) {
        Put(c, row, acc.rows, true);
        continue;
      }
      const Accumulator::Value& v = acc.values[column.value_index];
      const bool any = v.count > 0;
      switch (column.kind) {
        case AggregateKind::kCount:
          Put(c, row, v.count, true);
          break;
        case AggregateKind::kSum:
          Put(c, row, v.sum + v.comp, any);
          break;
        case AggregateKind::kAvg:
          Put(c, row, any ? (v.sum + v.comp) / static_cast<double>(v.count) : 0.0, any);
          break;
        case AggregateKind::kMin:
          Put(c, row, v.min, any);
          break;
        case AggregateKind::kMax:
          Put(c, row, v.max, any);
          break;
        case AggregateKind::kFirst:
          Put(c, row, v.first, any);
          break;
        case AggregateKind::kLast:
          Put(c, row, v.last, any);
          break;
        case AggregateKind::kVarPop:
          Put(c, row, any ? VarianceFrom(v.m2, v.count, false) : 0.0, any);
          break;
        case AggregateKind::kStddevPop:
          Put(c, row, any ? std::sqrt(VarianceFrom(v.m2, v.count, false)) : 0.0, any);
          break;
        case AggregateKind::kVarSamp:
          Put(c, row, v.count > 1 ? VarianceFrom(v.m2, v.count, true) : 0.0, v.count > 1);
          break;
        case AggregateKind::kStddevSamp:
          Put(c, row, v.count > 1 ? std::sqrt(VarianceFrom(v.m2, v.count, true)) : 0.0,
              v.count > 1);
          break;
        case AggregateKind::kRowCount:
          break;
      }
    }
  }

  void Finish(std::vector<std::shared_ptr<arrow::Array>>* out) {
    for (size_t c = 0; c < columns_->size(); ++c) {
      auto type = AggregateLayout::OutputType((*columns_)[c].kind);
      std::shared_ptr<arrow::Buffer> validity = null_counts_[c] > 0 ? validity_[c] : nullptr;
      out->push_back(arrow::MakeArray(
          arrow::ArrayData::Make(type, n_, {validity, values_[c]}, null_counts_[c])));
    }
  }

 private:
  template <typename T>
  void Put(size_t c, int64_t row, T value, bool valid) {
    if ((*columns_)[c].kind == AggregateKind::kRowCount ||
        (*columns_)[c].kind == AggregateKind::kCount) {
      reinterpret_cast<int64_t*>(values_[c]->mutable_data())[row] = static_cast<int64_t>(value);
    } else {
      reinterpret_cast<double*>(values_[c]->mutable_data())[row] = static_cast<double>(value);
    }
    arrow::bit_util::SetBitTo(validity_[c]->mutable_data(), row, valid);
    null_counts_[c] += !valid;
  }

  const std::vector<WindowSpec::OutputColumn>* columns_ = nullptr;
  int64_t n_ = 0;
  std::vector<std::shared_ptr<arrow::Buffer>> values_;
  std::vector<std::shared_ptr<arrow::Buffer>> validity_;
  std::vector<int64_t> null_counts_;
};

TrailingWindow::TrailingWindow(const WindowSpec& spec, const WindowDef& def, Mode mode)
    : def_(def),
      mode_(mode),
      columns_(spec.TrailingColumns(def)),
      last_sweep_watermark_(kNoTime),
      horizon_(kNoTime),
      last_sweep_bound_(kNoTime),
      last_bound_(kNoTime) {
  AggregateLayout layout(spec);
  value_count_ = layout.value_blocks();  // 0 when only rows are counted
  track_min_ = (layout.features() & kHasMin) != 0;
  track_max_ = (layout.features() & kHasMax) != 0;
  track_moments_ = (layout.features() & kHasMoments) != 0;
  track_spread_ = track_min_ || track_max_ || track_moments_;
  // Min/max live in the ring's positions (two stacks), which an insert shifts; the rest of the
  // running state is a multiset's and takes an inserted row as it is.
  keeps_running_on_insert_ = !track_min_ && !track_max_;
  subtractable_ = keeps_running_on_insert_ && !track_moments_;
  for (const auto& column : columns_) {
    if (column.kind == AggregateKind::kFirst || column.kind == AggregateKind::kLast) {
      subtractable_ = false;
    }
  }
  min_offset_ = 2 + value_count_;
  max_offset_ = min_offset_ + (track_min_ ? value_count_ : 0);
  words_ = max_offset_ + (track_max_ ? value_count_ : 0);
  for (const auto& column : columns_) {
    fields_.push_back(arrow::field(column.name, AggregateLayout::OutputType(column.kind)));
  }
  static_assert(sizeof(KeyTrail) == 64, "a key's trail is one cache line");
  static_assert(sizeof(Running) == 64, "a key's running state is one cache line per value");
}

TrailingWindow::~TrailingWindow() = default;

TrailingWindow::Running* TrailingWindow::RunningOf(int32_t id) {
  return running_.data() + static_cast<size_t>(id) * value_count_;
}

TrailingWindow::RunningSpread* TrailingWindow::SpreadOf(const Running* running) {
  return spread_.data() + (running - running_.data());
}

void TrailingWindow::ResetRunning(Running* running) {
  RunningSpread* spread = track_spread_ ? SpreadOf(running) : nullptr;
  for (int v = 0; v < value_count_; ++v) {
    running[v] = Running{};
    if (spread != nullptr) spread[v] = RunningSpread{};
  }
}

void TrailingWindow::ReserveKeys(int64_t keys) {
  if (static_cast<int64_t>(keys_.size()) >= keys) return;
  keys_.resize(keys);
  running_.resize(static_cast<size_t>(keys) * value_count_);
  if (track_spread_) spread_.resize(static_cast<size_t>(keys) * value_count_);
}

bool TrailingWindow::Idle(int32_t id, int64_t watermark) const {
  const KeyTrail& key = keys_[id];
  if (key.rows.empty()) return true;
  const int64_t bound = mode_ == Mode::kBuffer ? last_bound_
                        : watermark == kNoTime ? kNoTime
                                               : watermark - def_.width_us;
  return bound != kNoTime && key.rows.Time(key.rows.tail() - 1, words_) <= bound;
}

void TrailingWindow::Forget(int32_t id) {
  KeyTrail& key = keys_[id];
  if (mode_ == Mode::kBuffer) EvictUpTo(key, last_bound_);  // moves horizon_ past its rows
  if (key.rows.capacity() > kKeepRows) {
    key = KeyTrail{};
  } else {
    key.rows.Clear();
    key.window_begin = key.split = key.rows.tail();
    key.evictions = 0;
    key.dirty = false;
  }
  ResetRunning(RunningOf(id));
}

void TrailingWindow::ShrinkKeys(int64_t keys) {
  if (static_cast<int64_t>(keys_.size()) <= keys) return;
  keys_.resize(keys);
  running_.resize(static_cast<size_t>(keys) * value_count_);
  if (track_spread_) spread_.resize(static_cast<size_t>(keys) * value_count_);
  if (keys_.capacity() > 4 * std::max<size_t>(keys_.size(), 1024)) {
    keys_.shrink_to_fit();
    running_.shrink_to_fit();
    spread_.shrink_to_fit();
  }
}

int64_t TrailingWindow::buffered_rows() const {
  int64_t rows = 0;
  for (const KeyTrail& key : keys_) rows += key.rows.tail() - key.rows.head();
  return rows;
}

int64_t TrailingWindow::memory_bytes() const {
  int64_t bytes = static_cast<int64_t>(keys_.capacity() * sizeof(KeyTrail) +
                                       running_.capacity() * sizeof(Running) +
                                       spread_.capacity() * sizeof(RunningSpread));
  for (const KeyTrail& key : keys_) bytes += key.rows.capacity_bytes(words_);
  return bytes;
}

void TrailingWindow::FillRow(StateWord* slot, int64_t t, const ValueInput* values,
                             int64_t row) const {
  slot[0].i = t;
  int64_t valid_bits = 0;
  for (int v = 0; v < value_count_; ++v) {
    const ValueInput& in = values[v];
    bool valid =
        in.validity == nullptr || arrow::bit_util::GetBit(in.validity, in.validity_offset + row);
    valid_bits |= static_cast<int64_t>(valid) << v;
    slot[2 + v].d = valid ? in.values[row] : 0.0;
  }
  slot[1].i = valid_bits;
}

void TrailingWindow::AddValue(Running& r, double x) const {
  ++r.count;
  if (!std::isfinite(x)) {
    ++r.nonfinite;
  } else {
    NeumaierAdd(&r.sum, &r.comp, x);
    if (track_moments_) {
      const double n = static_cast<double>(r.count - r.nonfinite);
      const double delta = x - r.mean;
      r.mean += delta / n;
      r.m2 += delta * (x - r.mean);
    }
  }
}

void TrailingWindow::AddRunning(KeyTrail& key, Running* running, int64_t index) {
  const StateWord* row = key.rows.Row(index, words_);
  RunningSpread* spread = track_spread_ ? SpreadOf(running) : nullptr;
  for (int v = 0; v < value_count_; ++v) {
    if (!Valid(row, v)) continue;
    Running& r = running[v];
    const double x = Value(row, v);
    AddValue(r, x);
    if (r.first < 0) r.first = index;
    r.last = index;
    if (track_min_) spread[v].back_min = MinIgnoringNaN(spread[v].back_min, x);
    if (track_max_) spread[v].back_max = MaxNaNWins(spread[v].back_max, x);
  }
}

void TrailingWindow::InsertRunning(Running* running, const StateWord* row, int64_t pos,
                                   bool in_window) {
  for (int v = 0; v < value_count_; ++v) {
    Running& r = running[v];
    // Rows at pos and after moved up by one.
    if (r.first >= pos) ++r.first;
    if (r.last >= pos) ++r.last;
    if (!in_window || !Valid(row, v)) continue;
    AddValue(r, Value(row, v));
    if (r.first < 0 || r.first > pos) r.first = pos;
    if (r.last < pos) r.last = pos;
  }
}

void TrailingWindow::AnswerInserted(KeyTrail& key, Running* running, int64_t lo, int64_t pos,
                                    Accumulator* acc) {
  // Rows [lo, pos] are the answer; the running state holds [window_begin, tail), pos in it.
  // Where fewer rows lie after pos and before window_begin than in [lo, pos] (a row slightly
  // behind its key's newest: the usual disorder of several writers), the answer is the
  // running state without the rows after pos and with those before the window.
  const int64_t tail = key.rows.tail();
  const int64_t scan = pos + 1 - lo;
  const int64_t fix = (tail - 1 - pos) + (key.window_begin - lo);
  bool finite = true;
  for (int v = 0; v < value_count_; ++v) finite &= running[v].nonfinite == 0;
  if (!subtractable_ || key.dirty || pos < key.window_begin || !finite || fix >= scan) {
    Accumulate(key, lo, pos + 1, acc, track_moments_);
    return;
  }
  RunningAccumulator(key, running, acc);
  acc->rows = scan;
  for (int64_t i = pos + 1; i < tail; ++i) {
    const StateWord* row = key.rows.Row(i, words_);
    for (int v = 0; v < value_count_; ++v) {
      if (!Valid(row, v)) continue;
      Accumulator::Value& a = acc->values[v];
      NeumaierAdd(&a.sum, &a.comp, -Value(row, v));
      if (--a.count == 0) a.sum = a.comp = 0;
    }
  }
  for (int64_t i = lo; i < key.window_begin; ++i) {
    const StateWord* row = key.rows.Row(i, words_);
    for (int v = 0; v < value_count_; ++v) {
      if (!Valid(row, v)) continue;
      Accumulator::Value& a = acc->values[v];
      ++a.count;
      NeumaierAdd(&a.sum, &a.comp, Value(row, v));
    }
  }
  for (auto& a : acc->values) {
    if (!std::isfinite(a.sum)) a.comp = 0;
  }
}

void TrailingWindow::Flip(KeyTrail& key, Running* running) {
  // Two-stacks: move the back stack to the front, giving each row the min/max of itself and
  // every newer row of the window. Each row is flipped at most once per pass through the
  // window, so eviction stays O(1) amortised.
  RunningSpread* spread = SpreadOf(running);  // Flip runs only when min or max is tracked
  for (int v = 0; v < value_count_; ++v) {
    double mn = kNaN, mx = -std::numeric_limits<double>::infinity();
    for (int64_t i = key.rows.tail() - 1; i >= key.window_begin; --i) {
      StateWord* row = key.rows.Row(i, words_);
      if (Valid(row, v)) {
        mn = MinIgnoringNaN(mn, Value(row, v));
        mx = MaxNaNWins(mx, Value(row, v));
      }
      if (track_min_) row[min_offset_ + v].d = mn;
      if (track_max_) row[max_offset_ + v].d = mx;
    }
    spread[v].back_min = kNaN;
    spread[v].back_max = -std::numeric_limits<double>::infinity();
  }
  key.split = key.rows.tail();
}

void TrailingWindow::RemoveRunning(KeyTrail& key, Running* running, int64_t index) {
  const StateWord* row = key.rows.Row(index, words_);
  RunningSpread* spread = track_spread_ ? SpreadOf(running) : nullptr;
  for (int v = 0; v < value_count_; ++v) {
    if (!Valid(row, v)) continue;
    Running& r = running[v];
    const double x = Value(row, v);
    --r.count;
    if (!std::isfinite(x)) {
      --r.nonfinite;
    } else {
      NeumaierAdd(&r.sum, &r.comp, -x);
      const int64_t n = r.count - r.nonfinite;  // finite values left
      if (n == 0) {
        r.mean = r.m2 = 0;
        r.sum = r.comp = 0;
      } else if (track_moments_) {
        const double mean = r.mean - (x - r.mean) / static_cast<double>(n);
        const double removed = (x - r.mean) * (x - mean);
        r.m2 -= removed;
        spread[v].m2_removed += std::fabs(removed);
        r.mean = mean;
      }
    }
    if (r.last == index) {
      r.first = r.last = -1;  // the oldest valid row was also the newest: none left
    } else if (r.first == index) {
      int64_t next = index + 1;
      while (!Valid(key.rows.Row(next, words_), v)) ++next;  // stops at r.last at the latest
      r.first = next;
    }
  }
}

bool TrailingWindow::NeedsRebuild(const KeyTrail& key, const Running* running) {
  // Subtracting on eviction loses accuracy two ways: rounding error that grows with the
  // number of evictions, and cancellation when what left dwarfs what is left (a 1e15 spike
  // leaving a window of values near 1). Recompute from the rows after 2x-window evictions,
  // or once the M2 removed exceeds 2^20 times the sum of squares remaining (the scale of the
  // answer: error ~1e-16 * 2^20 ~ 1e-10 of it). Both are amortised O(1) per row.
  if (key.evictions > std::max<int64_t>(64, 2 * (key.rows.tail() - key.window_begin))) return true;
  for (int v = 0; track_moments_ && v < value_count_; ++v) {
    const Running& r = running[v];
    const double n = static_cast<double>(r.count - r.nonfinite);
    if (SpreadOf(running)[v].m2_removed > 1048576.0 * (r.m2 + n * r.mean * r.mean)) return true;
  }
  return false;
}

void TrailingWindow::Rebuild(KeyTrail& key, Running* running) {
  ResetRunning(running);
  key.split = key.window_begin;  // everything in the back stack
  for (int64_t i = key.window_begin; i < key.rows.tail(); ++i) AddRunning(key, running, i);
  key.dirty = false;
  key.evictions = 0;
}

void TrailingWindow::Accumulate(const KeyTrail& key, int64_t begin, int64_t end, Accumulator* acc,
                                bool moments) const {
  acc->rows = end - begin;
  acc->values.assign(value_count_, Accumulator::Value{});
  for (int64_t i = begin; i < end; ++i) {
    const StateWord* row = key.rows.Row(i, words_);
    for (int v = 0; v < value_count_; ++v) {
      if (!Valid(row, v)) continue;
      Accumulator::Value& a = acc->values[v];
      const double x = Value(row, v);
      if (a.count == 0) a.first = x;
      a.last = x;
      ++a.count;
      NeumaierAdd(&a.sum, &a.comp, x);
      if (moments) {  // Welford: a division per value, only when a variance is asked for
        const double delta = x - a.mean;
        a.mean += delta / static_cast<double>(a.count);
        a.m2 += delta * (x - a.mean);
      }
      a.min = MinIgnoringNaN(a.min, x);
      a.max = MaxNaNWins(a.max, x);
    }
  }
  // Neumaier's compensation is meaningless once the sum is not finite.
  for (auto& a : acc->values) {
    if (!std::isfinite(a.sum)) a.comp = 0;
  }
}

void TrailingWindow::RunningAccumulator(KeyTrail& key, Running* running, Accumulator* acc) {
  for (int v = 0; v < value_count_; ++v) {
    if (running[v].nonfinite > 0) {
      Accumulate(key, key.window_begin, key.rows.tail(), acc, track_moments_);
      return;
    }
  }
  acc->rows = key.rows.tail() - key.window_begin;
  const bool front = key.window_begin < key.split;
  const StateWord* oldest = front ? key.rows.Row(key.window_begin, words_) : nullptr;
  const RunningSpread* spread = track_spread_ ? SpreadOf(running) : nullptr;
  for (int v = 0; v < value_count_; ++v) {
    const Running& r = running[v];
    Accumulator::Value& a = acc->values[v];
    a.count = r.count;
    a.sum = r.sum;
    a.comp = r.comp;
    a.mean = r.mean;
    a.m2 = r.m2;
    if (track_min_) {
      a.min = MinIgnoringNaN(front ? oldest[min_offset_ + v].d : kNaN, spread[v].back_min);
    }
    if (track_max_) {
      a.max =
          MaxNaNWins(front ? oldest[max_offset_ + v].d : -std::numeric_limits<double>::infinity(),
                     spread[v].back_max);
    }
    a.first = r.first >= 0 ? Value(key.rows.Row(r.first, words_), v) : 0.0;
    a.last = r.last >= 0 ? Value(key.rows.Row(r.last, words_), v) : 0.0;
  }
}

void TrailingWindow::Sweep(int64_t watermark) {
  // Rows at or before watermark - width can never be in a future on-time row's window. Keys
  // that went quiet drop all their rows; small buffers are kept for the key's return.
  const int64_t bound = watermark - def_.width_us;
  for (size_t id = 0; id < keys_.size(); ++id) {
    KeyTrail& key = keys_[id];
    if (key.rows.empty()) continue;
    if (key.rows.Time(key.rows.tail() - 1, words_) <= bound) {
      if (key.rows.capacity() > kKeepRows) {
        key.rows.Release();
      } else {
        key.rows.Clear();
      }
      key.window_begin = key.split = key.rows.tail();
      key.dirty = false;
      key.evictions = 0;
      ResetRunning(RunningOf(static_cast<int32_t>(id)));
      continue;
    }
    while (key.rows.head() < key.window_begin && key.rows.Time(key.rows.head(), words_) <= bound) {
      key.rows.PopFront();
    }
  }
}

arrow::Status TrailingWindow::Process(const int32_t* ids, const int64_t* times,
                                      const ValueInput* values, int64_t n, int64_t watermark,
                                      int64_t max_time, int64_t lateness,
                                      std::vector<std::shared_ptr<arrow::Array>>* out,
                                      int64_t* late_rows) {
  ARROW_ASSIGN_OR_RAISE(OutputColumns columns, OutputColumns::Make(columns_, n));
  const int64_t width = def_.width_us;
  Accumulator acc;
  acc.values.resize(value_count_);
  // Two-stage prefetch: a key's trail and running state (row + 2d), then the ring rows the
  // trail points to (row + d), so the pointer chase of ~2d rows overlaps.
  constexpr int64_t d = 8;
  for (int64_t row = 0; row < n; ++row) {
    if (row + 2 * d < n) {  // one line for the trail, one per value column
      __builtin_prefetch(&keys_[ids[row + 2 * d]]);
      const Running* state = RunningOf(ids[row + 2 * d]);
      for (int v = 0; v < value_count_; ++v) __builtin_prefetch(state + v);
      if (track_spread_ && value_count_ > 0) {
        const char* spread = reinterpret_cast<const char*>(SpreadOf(state));
        __builtin_prefetch(spread);
        __builtin_prefetch(spread + sizeof(RunningSpread) * value_count_ - 1);
      }
    }
    if (row + d < n) {
      const KeyTrail& ahead = keys_[ids[row + d]];
      if (!ahead.rows.empty()) {
        __builtin_prefetch(ahead.rows.Row(ahead.rows.tail(), words_));
        __builtin_prefetch(ahead.rows.Row(ahead.window_begin, words_));
      }
    }
    const int64_t t = times[row];
    if (t == kNoTime) {
      columns.SetNull(row);
      continue;
    }
    if (max_time == kNoTime || t > max_time) max_time = t;
    watermark = std::max(watermark, max_time - lateness);
    if (t < watermark) {
      ++*late_rows;
      columns.SetNull(row);
      continue;
    }
    KeyTrail& key = keys_[ids[row]];
    Running* running = RunningOf(ids[row]);
    const bool in_order = key.rows.empty() || t >= key.rows.Time(key.rows.tail() - 1, words_);
    int64_t pos;
    StateWord* slot;
    bool in_window = true;
    if (in_order) {
      if (key.rows.empty()) key.window_begin = key.split = key.rows.tail();
      pos = key.rows.tail();
      slot = key.rows.PushBack(words_);
    } else {
      // Insert after every row with time <= t (ties keep arrival order).
      const int64_t newest = key.rows.Time(key.rows.tail() - 1, words_);
      int64_t lo = key.rows.head(), hi = key.rows.tail();
      while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (key.rows.Time(mid, words_) <= t) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      pos = lo;
      slot = key.rows.InsertAt(pos, words_);
      in_window = t > newest - width;
      if (!in_window) ++key.window_begin;  // landed before the current window
      if (key.split > pos) ++key.split;
      if (!keeps_running_on_insert_) key.dirty = true;
    }
    FillRow(slot, t, values, row);
    if (!in_order && !key.dirty) InsertRunning(running, slot, pos, in_window);

    if (in_order) {
      if (!key.dirty) AddRunning(key, running, pos);
      while (key.rows.Time(key.window_begin, words_) <= t - width) {
        if (!key.dirty) {
          if ((track_min_ || track_max_) && key.split <= key.window_begin) Flip(key, running);
          RemoveRunning(key, running, key.window_begin);
        }
        ++key.window_begin;
        ++key.evictions;
      }
      if (key.dirty || NeedsRebuild(key, running)) Rebuild(key, running);
      RunningAccumulator(key, running, &acc);
    } else {
      int64_t lo = key.rows.head(), hi = pos;
      while (lo < hi) {  // first row with time > t - width
        int64_t mid = lo + (hi - lo) / 2;
        if (key.rows.Time(mid, words_) <= t - width) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      AnswerInserted(key, running, lo, pos, &acc);
    }
    columns.Set(row, acc);
    const int64_t bound = watermark - width;
    while (key.rows.head() < key.window_begin && key.rows.Time(key.rows.head(), words_) <= bound) {
      key.rows.PopFront();
    }
  }
  columns.Finish(out);
  if (watermark != kNoTime &&
      (last_sweep_watermark_ == kNoTime || watermark - last_sweep_watermark_ >= def_.width_us)) {
    Sweep(watermark);
    last_sweep_watermark_ = watermark;
  }
  return arrow::Status::OK();
}

// --- Buffer mode ------------------------------------------------------------------------------

void TrailingWindow::EvictUpTo(KeyTrail& key, int64_t bound) {
  while (!key.rows.empty() && key.rows.Time(key.rows.head(), words_) <= bound) {
    horizon_ = std::max(horizon_, key.rows.Time(key.rows.head(), words_));
    key.rows.PopFront();
  }
  key.window_begin = key.split = key.rows.head();
}

void TrailingWindow::Buffer(const int32_t* ids, const int64_t* times, const ValueInput* values,
                            int64_t n, int64_t evict_bound, int64_t* dropped_rows) {
  constexpr int64_t d = 8;  // prefetch distance, as in Process
  for (int64_t row = 0; row < n; ++row) {
    if (row + 2 * d < n) {
      const char* trail = reinterpret_cast<const char*>(&keys_[ids[row + 2 * d]]);
      __builtin_prefetch(trail);
      __builtin_prefetch(trail + sizeof(KeyTrail) - 1);
    }
    if (row + d < n) {
      const KeyTrail& ahead = keys_[ids[row + d]];
      if (!ahead.rows.empty()) {
        __builtin_prefetch(ahead.rows.Row(ahead.rows.tail(), words_), 1);
        __builtin_prefetch(ahead.rows.Row(ahead.rows.head(), words_));
      }
    }
    const int64_t t = times[row];
    if (t == kNoTime) continue;
    if (evict_bound != kNoTime && t <= evict_bound) {
      // Late only if it was already too old for the buffer before this batch; rows the batch
      // itself pushed out of the window were on time.
      *dropped_rows += last_bound_ != kNoTime && t <= last_bound_;
      horizon_ = std::max(horizon_, t);
      continue;
    }
    KeyTrail& key = keys_[ids[row]];
    StateWord* slot;
    if (key.rows.empty() || t >= key.rows.Time(key.rows.tail() - 1, words_)) {
      slot = key.rows.PushBack(words_);
    } else {
      int64_t lo = key.rows.head(), hi = key.rows.tail();
      while (lo < hi) {  // after every row with time <= t: ties keep arrival order
        int64_t mid = lo + (hi - lo) / 2;
        if (key.rows.Time(mid, words_) <= t) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      slot = key.rows.InsertAt(lo, words_);
    }
    FillRow(slot, t, values, row);
    if (evict_bound != kNoTime) EvictUpTo(key, evict_bound);
  }
  // Keys that went quiet are swept once the bound has moved by a width.
  if (evict_bound != kNoTime &&
      (last_sweep_bound_ == kNoTime || evict_bound - last_sweep_bound_ >= def_.width_us)) {
    for (KeyTrail& key : keys_) {
      if (key.rows.empty()) continue;
      EvictUpTo(key, evict_bound);
      if (key.rows.empty() && key.rows.capacity() > kKeepRows) {
        key.rows.Release();
        key.window_begin = key.split = 0;
      }
    }
    last_sweep_bound_ = evict_bound;
  }
  if (evict_bound != kNoTime) last_bound_ = std::max(last_bound_, evict_bound);
}

arrow::Status TrailingWindow::ReadSince(const std::vector<int32_t>& ids, int64_t since,
                                        bool inclusive,
                                        const std::vector<WindowSpec::OutputColumn>& columns,
                                        std::vector<int32_t>* kept,
                                        std::vector<std::shared_ptr<arrow::Array>>* out) const {
  // One pass: rows are written at the next kept position and the arrays cut to the kept
  // count at the end; each key's trail and ring are prefetched a few keys ahead.
  ARROW_ASSIGN_OR_RAISE(OutputColumns output,
                        OutputColumns::Make(columns, static_cast<int64_t>(ids.size())));
  kept->clear();
  Accumulator acc;
  bool moments = false;
  for (const auto& column : columns) {
    moments |= column.kind == AggregateKind::kVarPop || column.kind == AggregateKind::kVarSamp ||
               column.kind == AggregateKind::kStddevPop ||
               column.kind == AggregateKind::kStddevSamp;
  }
  const int64_t count = static_cast<int64_t>(ids.size());
  const int64_t keys = static_cast<int64_t>(keys_.size());
  constexpr int64_t d = 8;
  for (int64_t i = 0; i < count; ++i) {
    if (i + 2 * d < count && ids[i + 2 * d] >= 0 && ids[i + 2 * d] < keys) {
      __builtin_prefetch(&keys_[ids[i + 2 * d]]);
    }
    if (i + d < count && ids[i + d] >= 0 && ids[i + d] < keys) {
      const RowRing& ahead = keys_[ids[i + d]].rows;
      // The key's newest rows (what a recent bound reads), up to 16 cache lines.
      const int64_t first = std::max(ahead.head(), ahead.tail() - 16 * 64 / (8 * words_));
      for (int64_t r = first; r < ahead.tail(); ++r) __builtin_prefetch(ahead.Row(r, words_));
    }
    const int32_t id = ids[i];
    if (id < 0 || id >= keys) continue;
    const KeyTrail& key = keys_[id];
    const RowRing& rows = key.rows;
    if (rows.empty()) continue;
    const int64_t newest = rows.Time(rows.tail() - 1, words_);
    if (newest < since || (!inclusive && newest == since)) continue;
    int64_t lo = rows.head(), hi = rows.tail();
    while (lo < hi) {  // first row inside the bound
      int64_t mid = lo + (hi - lo) / 2;
      const int64_t t = rows.Time(mid, words_);
      if (inclusive ? t < since : t <= since) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    Accumulate(key, lo, rows.tail(), &acc, moments);
    output.Set(static_cast<int64_t>(kept->size()), acc);
    kept->push_back(id);
  }
  output.Truncate(static_cast<int64_t>(kept->size()));
  output.Finish(out);
  return arrow::Status::OK();
}

}  // namespace hyprstream::window
