#include "window/aggregate_layout.h"

#include <arrow/buffer.h>
#include <arrow/type.h>
#include <arrow/util/bit_util.h>

#include <array>
#include <limits>
#include <utility>

namespace hyprstream::window {
namespace {

constexpr int64_t kPrefetchRows = 8;

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
      if (in.validity != nullptr &&
          !arrow::bit_util::GetBit(in.validity, in.validity_offset + i)) {
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
constexpr auto kFoldAnyBlocks =
    MakeFoldTable<0>(std::make_index_sequence<kFeatureCombinations>{});
constexpr auto kFoldOneBlock =
    MakeFoldTable<1>(std::make_index_sequence<kFeatureCombinations>{});

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

// A float64 array of n values; fill(i, &value) returns false for null.
template <typename Fill>
arrow::Result<std::shared_ptr<arrow::Array>> MakeDoubles(int64_t n, Fill&& fill) {
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> values,
                        arrow::AllocateBuffer(n * static_cast<int64_t>(sizeof(double))));
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> validity, arrow::AllocateBitmap(n));
  auto* out = reinterpret_cast<double*>(values->mutable_data());
  uint8_t* bits = validity->mutable_data();
  int64_t null_count = 0;
  for (int64_t i = 0; i < n; ++i) {
    double value = 0;
    bool valid = fill(i, &value);
    out[i] = valid ? value : 0.0;
    arrow::bit_util::SetBitTo(bits, i, valid);
    null_count += !valid;
  }
  if (null_count == 0) validity = nullptr;
  return arrow::MakeArray(
      arrow::ArrayData::Make(arrow::float64(), n, {validity, values}, null_count));
}

template <typename Get>
arrow::Result<std::shared_ptr<arrow::Array>> MakeInt64s(int64_t n, Get&& get) {
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> values,
                        arrow::AllocateBuffer(n * static_cast<int64_t>(sizeof(int64_t))));
  auto* out = reinterpret_cast<int64_t*>(values->mutable_data());
  for (int64_t i = 0; i < n; ++i) out[i] = get(i);
  return arrow::MakeArray(arrow::ArrayData::Make(arrow::int64(), n, {nullptr, values}, 0));
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
  dst[0].i += src[0].i;
  const BlockOffsets& o = offsets_;
  for (int v = 0; v < value_blocks_; ++v) {
    StateWord* a = dst + 1 + v * o.size;
    const StateWord* b = src + 1 + v * o.size;
    const int64_t nb = b[o.count].i;
    if (nb == 0) continue;
    const int64_t na = a[o.count].i;
    if (na == 0) {
      for (int w = 0; w < o.size; ++w) a[w] = b[w];
      continue;
    }
    const int64_t n = na + nb;
    a[o.count].i = n;
    if (o.sum >= 0) a[o.sum].d += b[o.sum].d;
    if (o.min >= 0) a[o.min].d = MinIgnoringNaN(a[o.min].d, b[o.min].d);
    if (o.max >= 0) a[o.max].d = MaxNaNWins(a[o.max].d, b[o.max].d);
    if (o.mean >= 0) {
      // Chan, Golub & LeVeque: combine two (n, mean, M2) partials.
      const double delta = b[o.mean].d - a[o.mean].d;
      const double fa = static_cast<double>(na), fb = static_cast<double>(nb);
      const double fn = static_cast<double>(n);
      a[o.mean].d += delta * fb / fn;
      a[o.m2].d += b[o.m2].d + delta * delta * fa * fb / fn;
    }
    if (o.first_ts >= 0 && b[o.first_ts].i < a[o.first_ts].i) {
      a[o.first_ts] = b[o.first_ts];
      a[o.first] = b[o.first];
    }
    if (o.last_ts >= 0 && b[o.last_ts].i >= a[o.last_ts].i) {
      a[o.last_ts] = b[o.last_ts];
      a[o.last] = b[o.last];
    }
  }
}

std::shared_ptr<arrow::DataType> AggregateLayout::OutputType(AggregateKind kind) {
  return kind == AggregateKind::kRowCount || kind == AggregateKind::kCount ? arrow::int64()
                                                                           : arrow::float64();
}

arrow::Result<std::shared_ptr<arrow::Array>> AggregateLayout::Finalize(
    const WindowSpec::OutputColumn& column, const StateWord* const* slots, int64_t n) const {
  if (column.kind == AggregateKind::kRowCount) {
    return MakeInt64s(n, [&](int64_t i) { return slots[i][0].i; });
  }
  const int base = 1 + column.value_index * offsets_.size;
  const BlockOffsets& o = offsets_;
  auto block = [&](int64_t i) { return slots[i] + base; };
  auto count = [&](int64_t i) { return block(i)[o.count].i; };
  switch (column.kind) {
    case AggregateKind::kCount:
      return MakeInt64s(n, count);
    case AggregateKind::kSum:
      return MakeDoubles(n, [&](int64_t i, double* out) {
        *out = block(i)[o.sum].d;
        return count(i) > 0;
      });
    case AggregateKind::kAvg:
      return MakeDoubles(n, [&](int64_t i, double* out) {
        int64_t c = count(i);
        *out = c > 0 ? block(i)[o.sum].d / static_cast<double>(c) : 0.0;
        return c > 0;
      });
    case AggregateKind::kMin:
      return MakeDoubles(n, [&](int64_t i, double* out) {
        *out = block(i)[o.min].d;
        return count(i) > 0;
      });
    case AggregateKind::kMax:
      return MakeDoubles(n, [&](int64_t i, double* out) {
        *out = block(i)[o.max].d;
        return count(i) > 0;
      });
    case AggregateKind::kFirst:
      return MakeDoubles(n, [&](int64_t i, double* out) {
        *out = block(i)[o.first].d;
        return count(i) > 0;
      });
    case AggregateKind::kLast:
      return MakeDoubles(n, [&](int64_t i, double* out) {
        *out = block(i)[o.last].d;
        return count(i) > 0;
      });
    case AggregateKind::kVarPop:
    case AggregateKind::kVarSamp:
    case AggregateKind::kStddevPop:
    case AggregateKind::kStddevSamp: {
      const bool sample =
          column.kind == AggregateKind::kVarSamp || column.kind == AggregateKind::kStddevSamp;
      const bool root =
          column.kind == AggregateKind::kStddevPop || column.kind == AggregateKind::kStddevSamp;
      return MakeDoubles(n, [&](int64_t i, double* out) {
        int64_t c = count(i);
        if (c < (sample ? 2 : 1)) return false;
        double var = VarianceFrom(block(i)[o.m2].d, c, sample);
        *out = root ? std::sqrt(var) : var;
        return true;
      });
    }
    case AggregateKind::kRowCount:
      break;
  }
  return arrow::Status::NotImplemented("aggregate ", AggregateName(column.kind));
}

}  // namespace hyprstream::window
