#include "window/aggregate_layout.h"

#include <arrow/buffer.h>
#include <arrow/type.h>
#include <arrow/util/bit_util.h>

#include <array>
#include <limits>
#include <utility>

namespace hyprstream::window {
namespace {

constexpr int64_t kPrefetchRows = 16;

// kFixedBlocks: 1 for the common single value column (constant-folded loop), 0 for "read
// value_blocks at run time".
template <uint32_t F, int kFixedBlocks>
void FoldImpl(int value_blocks, int stride, StateWord* const* slot_of_row, int64_t begin,
              int64_t end, const int64_t* times, const ValueInput* values) {
  constexpr BlockOffsets o = MakeBlockOffsets(F);
  const int blocks = kFixedBlocks > 0 ? kFixedBlocks : value_blocks;
  for (int64_t i = begin; i < end; ++i) {
    if (i + kPrefetchRows < end) {
      const StateWord* ahead = slot_of_row[i + kPrefetchRows];
      if (ahead != nullptr) {
        __builtin_prefetch(ahead, 1);
        __builtin_prefetch(ahead + stride - 1, 1);
      }
    }
    StateWord* s = slot_of_row[i];
    if (s == nullptr) continue;
    s[0].i += 1;
    for (int v = 0; v < blocks; ++v) {
      const ValueInput& in = values[v];
      if (in.validity != nullptr && !arrow::bit_util::GetBit(in.validity, in.validity_offset + i)) {
        continue;
      }
      const double x = in.values[i];
      StateWord* b = s + 1 + v * o.size;
      const int64_t n = ++b[o.count].i;
      if constexpr ((F & kHasSum) != 0) b[o.sum].d += x;
      if constexpr ((F & kHasMin) != 0) b[o.min].d = MinIgnoringNaN(b[o.min].d, x);
      if constexpr ((F & kHasMax) != 0) b[o.max].d = MaxNaNWins(b[o.max].d, x);
      if constexpr ((F & kHasMoments) != 0) {
        const double delta = x - b[o.mean].d;
        b[o.mean].d += delta / static_cast<double>(n);
        b[o.m2].d += delta * (x - b[o.mean].d);
      }
      if constexpr ((F & kHasFirst) != 0) {
        if (times[i] < b[o.first_ts].i) {
          b[o.first_ts].i = times[i];
          b[o.first].d = x;
        }
      }
      if constexpr ((F & kHasLast) != 0) {
        if (times[i] >= b[o.last_ts].i) {
          b[o.last_ts].i = times[i];
          b[o.last].d = x;
        }
      }
    }
  }
}

using FoldFn = void (*)(int, int, StateWord* const*, int64_t, int64_t, const int64_t*,
                        const ValueInput*);

template <int kFixedBlocks, size_t... F>
constexpr std::array<FoldFn, sizeof...(F)> MakeFoldTable(std::index_sequence<F...>) {
  return {&FoldImpl<static_cast<uint32_t>(F), kFixedBlocks>...};
}
constexpr auto kFoldAnyBlocks = MakeFoldTable<0>(std::make_index_sequence<kFeatureCombinations>{});
constexpr auto kFoldOneBlock = MakeFoldTable<1>(std::make_index_sequence<kFeatureCombinations>{});

template <uint32_t F>
inline void MergeBlock(StateWord* a, const StateWord* b) {
  constexpr BlockOffsets o = MakeBlockOffsets(F);
  const int64_t nb = b[o.count].i;
  if (nb == 0) return;
  const int64_t na = a[o.count].i;
  if (na == 0) {
    for (int w = 0; w < o.size; ++w) a[w] = b[w];
    return;
  }
  const int64_t n = na + nb;
  a[o.count].i = n;
  if constexpr ((F & kHasSum) != 0) a[o.sum].d += b[o.sum].d;
  if constexpr ((F & kHasMin) != 0) a[o.min].d = MinIgnoringNaN(a[o.min].d, b[o.min].d);
  if constexpr ((F & kHasMax) != 0) a[o.max].d = MaxNaNWins(a[o.max].d, b[o.max].d);
  if constexpr ((F & kHasMoments) != 0) {
    // Chan, Golub & LeVeque: combine two (n, mean, M2) partials.
    const double delta = b[o.mean].d - a[o.mean].d;
    const double fa = static_cast<double>(na), fb = static_cast<double>(nb);
    const double fn = static_cast<double>(n);
    a[o.mean].d += delta * fb / fn;
    a[o.m2].d += b[o.m2].d + delta * delta * fa * fb / fn;
  }
  if constexpr ((F & kHasFirst) != 0) {
    if (b[o.first_ts].i < a[o.first_ts].i) {
      a[o.first_ts] = b[o.first_ts];
      a[o.first] = b[o.first];
    }
  }
  if constexpr ((F & kHasLast) != 0) {
    if (b[o.last_ts].i >= a[o.last_ts].i) {
      a[o.last_ts] = b[o.last_ts];
      a[o.last] = b[o.last];
    }
  }
}

template <uint32_t F>
void MergeSlots(int value_blocks, int stride, StateWord* dst, const StateWord* src, int64_t count) {
  constexpr int size = MakeBlockOffsets(F).size;
  for (int64_t k = 0; k < count; ++k) {
    StateWord* a = dst + k * stride;
    const StateWord* b = src + k * stride;
    if (b[0].i == 0) continue;
    a[0].i += b[0].i;
    for (int v = 0; v < value_blocks; ++v) MergeBlock<F>(a + 1 + v * size, b + 1 + v * size);
  }
}

template <uint32_t F>
void MergeKeySlots(int value_blocks, int stride, StateWord* dst, const StateWord* src,
                   const uint64_t* keys, int64_t words) {
  constexpr int size = MakeBlockOffsets(F).size;
  for (int64_t w = 0; w < words; ++w) {
    for (uint64_t word = keys[w]; word != 0; word &= word - 1) {
      const int64_t k = w * 64 + __builtin_ctzll(word);
      StateWord* a = dst + k * stride;
      const StateWord* b = src + k * stride;
      a[0].i += b[0].i;
      for (int v = 0; v < value_blocks; ++v) MergeBlock<F>(a + 1 + v * size, b + 1 + v * size);
    }
  }
}

using MergeFn = void (*)(int, int, StateWord*, const StateWord*, int64_t);
using MergeKeysFn = void (*)(int, int, StateWord*, const StateWord*, const uint64_t*, int64_t);

template <size_t... F>
constexpr std::array<MergeFn, sizeof...(F)> MakeMergeTable(std::index_sequence<F...>) {
  return {&MergeSlots<static_cast<uint32_t>(F)>...};
}
template <size_t... F>
constexpr std::array<MergeKeysFn, sizeof...(F)> MakeMergeKeysTable(std::index_sequence<F...>) {
  return {&MergeKeySlots<static_cast<uint32_t>(F)>...};
}
constexpr auto kMergeSlots = MakeMergeTable(std::make_index_sequence<kFeatureCombinations>{});
constexpr auto kMergeKeySlots =
    MakeMergeKeysTable(std::make_index_sequence<kFeatureCombinations>{});

uint32_t FeaturesFor(AggregateKind kind) {
  switch (kind) {
    case AggregateKind::kSum:
    case AggregateKind::kAvg:
      return kHasSum;
    case AggregateKind::kMin:
      return kHasMin;
    case AggregateKind::kMax:
      return kHasMax;
    case AggregateKind::kVarPop:
    case AggregateKind::kVarSamp:
    case AggregateKind::kStddevPop:
    case AggregateKind::kStddevSamp:
      return kHasMoments;
    case AggregateKind::kFirst:
      return kHasFirst;
    case AggregateKind::kLast:
      return kHasLast;
    case AggregateKind::kRowCount:
    case AggregateKind::kCount:
      return 0;
  }
  return 0;
}

}  // namespace

AggregateLayout::AggregateLayout(const WindowSpec& spec) {
  bool any_value_aggregate = false;
  for (AggregateKind kind : spec.aggregates) {
    features_ |= FeaturesFor(kind);
    any_value_aggregate |= kind != AggregateKind::kRowCount;
  }
  value_blocks_ = any_value_aggregate ? static_cast<int>(spec.value_columns.size()) : 0;
  offsets_ = MakeBlockOffsets(features_);
  stride_ = 1 + value_blocks_ * offsets_.size;
  empty_slot_.resize(stride_);
  empty_slot_[0].i = 0;
  for (int v = 0; v < value_blocks_; ++v) {
    StateWord* b = empty_slot_.data() + 1 + v * offsets_.size;
    for (int w = 0; w < offsets_.size; ++w) b[w].i = 0;
    if (offsets_.sum >= 0) b[offsets_.sum].d = 0.0;
    if (offsets_.min >= 0) b[offsets_.min].d = std::numeric_limits<double>::quiet_NaN();
    if (offsets_.max >= 0) b[offsets_.max].d = -std::numeric_limits<double>::infinity();
    if (offsets_.mean >= 0) b[offsets_.mean].d = 0.0;
    if (offsets_.m2 >= 0) b[offsets_.m2].d = 0.0;
    if (offsets_.first_ts >= 0) {
      b[offsets_.first_ts].i = std::numeric_limits<int64_t>::max();
      b[offsets_.first].d = 0.0;
    }
    if (offsets_.last_ts >= 0) {
      b[offsets_.last_ts].i = std::numeric_limits<int64_t>::min();
      b[offsets_.last].d = 0.0;
    }
  }
}

void AggregateLayout::Init(StateWord* slots, int64_t count) const {
  const StateWord* empty = empty_slot_.data();
  for (int64_t k = 0; k < count; ++k) {
    StateWord* s = slots + k * stride_;
    for (int w = 0; w < stride_; ++w) s[w] = empty[w];
  }
}

void AggregateLayout::Fold(StateWord* const* slot_of_row, int64_t begin, int64_t end,
                           const int64_t* times, const ValueInput* values) const {
  FoldFn fn = value_blocks_ == 1 ? kFoldOneBlock[features_] : kFoldAnyBlocks[features_];
  fn(value_blocks_, stride_, slot_of_row, begin, end, times, values);
}

void AggregateLayout::Merge(StateWord* dst, const StateWord* src) const {
  kMergeSlots[features_](value_blocks_, stride_, dst, src, 1);
}

void AggregateLayout::MergeKeys(StateWord* dst, const StateWord* src, const uint64_t* keys,
                                int64_t words) const {
  kMergeKeySlots[features_](value_blocks_, stride_, dst, src, keys, words);
}

std::shared_ptr<arrow::DataType> AggregateLayout::OutputType(AggregateKind kind) {
  return kind == AggregateKind::kRowCount || kind == AggregateKind::kCount ? arrow::int64()
                                                                           : arrow::float64();
}

namespace {

// The value of one output column for one slot; false for SQL null.
inline bool FinalValue(const WindowSpec::OutputColumn& column, const BlockOffsets& o,
                       const StateWord* slot, double* out) {
  if (column.kind == AggregateKind::kRowCount) {
    *out = static_cast<double>(slot[0].i);
    return true;
  }
  const StateWord* b = slot + 1 + column.value_index * o.size;
  const int64_t n = b[o.count].i;
  switch (column.kind) {
    case AggregateKind::kCount:
      *out = static_cast<double>(n);
      return true;
    case AggregateKind::kSum:
      *out = b[o.sum].d;
      return n > 0;
    case AggregateKind::kAvg:
      *out = n > 0 ? b[o.sum].d / static_cast<double>(n) : 0;
      return n > 0;
    case AggregateKind::kMin:
      *out = b[o.min].d;
      return n > 0;
    case AggregateKind::kMax:
      *out = b[o.max].d;
      return n > 0;
    case AggregateKind::kFirst:
      *out = b[o.first].d;
      return n > 0;
    case AggregateKind::kLast:
      *out = b[o.last].d;
      return n > 0;
    case AggregateKind::kVarPop:
    case AggregateKind::kStddevPop:
      if (n < 1) return false;
      *out = VarianceFrom(b[o.m2].d, n, false);
      if (column.kind == AggregateKind::kStddevPop) *out = std::sqrt(*out);
      return true;
    case AggregateKind::kVarSamp:
    case AggregateKind::kStddevSamp:
      if (n < 2) return false;
      *out = VarianceFrom(b[o.m2].d, n, true);
      if (column.kind == AggregateKind::kStddevSamp) *out = std::sqrt(*out);
      return true;
    case AggregateKind::kRowCount:
      break;
  }
  return false;
}

}  // namespace

arrow::Result<std::vector<std::shared_ptr<arrow::Array>>> AggregateLayout::Finalize(
    const std::vector<WindowSpec::OutputColumn>& columns, const StateWord* const* slots,
    int64_t n) const {
  const size_t count = columns.size();
  std::vector<std::shared_ptr<arrow::Buffer>> values(count);
  std::vector<uint8_t*> out(count);
  std::vector<int64_t> nulls(count, 0);
  for (size_t c = 0; c < count; ++c) {
    ARROW_ASSIGN_OR_RAISE(values[c], arrow::AllocateBuffer(n * 8));
    out[c] = values[c]->mutable_data();
  }
  // Blocks of slots small enough to stay in L1/L2 while every column is written from them:
  // slot memory is read from DRAM once, and each column's loop is tight.
  constexpr int64_t kBlock = 512;
  const BlockOffsets& o = offsets_;
  for (int64_t b0 = 0; b0 < n; b0 += kBlock) {
    const int64_t b1 = std::min(n, b0 + kBlock);
    for (size_t c = 0; c < count; ++c) {
      const WindowSpec::OutputColumn& column = columns[c];
      auto* ints = reinterpret_cast<int64_t*>(out[c]);
      auto* doubles = reinterpret_cast<double*>(out[c]);
      if (column.kind == AggregateKind::kRowCount) {
        for (int64_t i = b0; i < b1; ++i) ints[i] = slots[i][0].i;
        continue;
      }
      const int base = 1 + column.value_index * o.size;
      auto each = [&](auto&& value) {
        int64_t missing = 0;
        for (int64_t i = b0; i < b1; ++i) {
          const StateWord* blk = slots[i] + base;
          const int64_t k = blk[o.count].i;
          missing += k == 0;
          doubles[i] = k > 0 ? value(blk, k) : 0.0;
        }
        nulls[c] += missing;
      };
      switch (column.kind) {
        case AggregateKind::kCount:
          for (int64_t i = b0; i < b1; ++i) ints[i] = slots[i][base + o.count].i;
          break;
        case AggregateKind::kSum:
          each([&](const StateWord* b, int64_t) { return b[o.sum].d; });
          break;
        case AggregateKind::kAvg:
          each([&](const StateWord* b, int64_t k) { return b[o.sum].d / static_cast<double>(k); });
          break;
        case AggregateKind::kMin:
          each([&](const StateWord* b, int64_t) { return b[o.min].d; });
          break;
        case AggregateKind::kMax:
          each([&](const StateWord* b, int64_t) { return b[o.max].d; });
          break;
        case AggregateKind::kFirst:
          each([&](const StateWord* b, int64_t) { return b[o.first].d; });
          break;
        case AggregateKind::kLast:
          each([&](const StateWord* b, int64_t) { return b[o.last].d; });
          break;
        default: {  // variance family: null below 1 (population) or 2 (sample) values
          for (int64_t i = b0; i < b1; ++i) {
            double v = 0;
            const bool valid = FinalValue(column, o, slots[i], &v);
            doubles[i] = valid ? v : 0.0;
            nulls[c] += !valid;
          }
        }
      }
    }
  }
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  for (size_t c = 0; c < count; ++c) {
    std::shared_ptr<arrow::Buffer> validity;
    if (nulls[c] > 0) {  // rare: a key whose values were all null
      ARROW_ASSIGN_OR_RAISE(validity, arrow::AllocateBitmap(n));
      uint8_t* bits = validity->mutable_data();
      for (int64_t i = 0; i < n; ++i) {
        double ignored;
        arrow::bit_util::SetBitTo(bits, i, FinalValue(columns[c], offsets_, slots[i], &ignored));
      }
    }
    arrays.push_back(arrow::MakeArray(arrow::ArrayData::Make(
        OutputType(columns[c].kind), n, {std::move(validity), std::move(values[c])}, nulls[c])));
  }
  return arrays;
}

}  // namespace hyprstream::window
