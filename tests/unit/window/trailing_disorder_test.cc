// Per-row trailing columns over rows that arrive out of order, the way several writers of one
// key deliver them: most rows a little behind their key's newest, a few far behind, ties, null
// values, huge values that cancel, and (some seeds) NaN and infinities. Every row's answer must
// equal a brute force over the rows seen so far with time in (t - width, t] (late rows: null
// and not stored). Aggregate sets cover the three paths an inserted row takes: sums and counts
// (answered from the running state less the rows that differ), variance (running state kept,
// answer scanned) and min/max/first/last (state rebuilt).
#include "window/window_store.h"

#include "window/duration.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <vector>

namespace hyprstream::window {
namespace {

constexpr int64_t kSec = kMicrosPerSecond;

struct Row {
  int32_t key;
  int64_t ts;
  std::optional<double> value;
};

std::shared_ptr<arrow::Schema> Schema() {
  return arrow::schema({arrow::field("id", arrow::int32()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                        arrow::field("value", arrow::float64())});
}

std::shared_ptr<arrow::RecordBatch> Batch(const std::vector<Row>& rows, size_t begin, size_t end) {
  arrow::Int32Builder ids;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                             arrow::default_memory_pool());
  arrow::DoubleBuilder values;
  for (size_t i = begin; i < end; ++i) {
    EXPECT_TRUE(ids.Append(rows[i].key).ok());
    EXPECT_TRUE(ts.Append(rows[i].ts).ok());
    EXPECT_TRUE((rows[i].value ? values.Append(*rows[i].value) : values.AppendNull()).ok());
  }
  return arrow::RecordBatch::Make(Schema(), static_cast<int64_t>(end - begin),
                                  {*ids.Finish(), *ts.Finish(), *values.Finish()});
}

// What a row's window holds, computed from scratch.
struct Expected {
  bool late = false;
  int64_t rows = 0, count = 0;
  long double sum = 0;
  double min = NAN, max = -INFINITY, first = 0, last = 0, var_pop = 0;
  long double scale = 0;  // the largest |value| in the window
};

std::vector<Expected> BruteForce(const std::vector<Row>& rows, int64_t width, int64_t lateness,
                                 bool with_variance) {
  std::vector<Expected> out(rows.size());
  std::map<int32_t, std::vector<Row>> stored;  // per key, in arrival order
  int64_t max_time = INT64_MIN, watermark = INT64_MIN;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    max_time = std::max(max_time, row.ts);
    watermark = std::max(watermark, max_time - lateness);
    Expected& e = out[i];
    if (row.ts < watermark) {
      e.late = true;
      continue;
    }
    if (i % 256 == 0) {  // rows no on-time row's window can reach
      for (auto& [key, kept] : stored) {
        std::erase_if(kept, [&](const Row& r) { return r.ts <= watermark - width; });
      }
    }
    // Per key in (time, arrival) order: after every stored row of the same time.
    auto& mine = stored[row.key];
    const auto at = mine.insert(std::upper_bound(mine.begin(), mine.end(), row.ts,
                                                 [](int64_t t, const Row& r) { return t < r.ts; }),
                                row);
    const auto from = std::upper_bound(mine.begin(), at, row.ts - width,
                                       [](int64_t t, const Row& r) { return t < r.ts; });
    std::vector<const Row*> window;
    for (auto r = from; r <= at; ++r) window.push_back(&*r);
    e.rows = static_cast<int64_t>(window.size());
    for (const Row* r : window) {
      if (!r->value) continue;
      const double x = *r->value;
      if (e.count == 0) e.first = x;
      e.last = x;
      ++e.count;
      e.sum += x;
      e.scale = std::max<long double>(e.scale, std::fabs(x));
      e.min = std::isnan(e.min) ? x : std::fmin(e.min, x);
      e.max = std::isnan(x) || std::isnan(e.max) ? NAN : std::fmax(e.max, x);
    }
    if (with_variance && e.count > 0) {  // two passes
      const long double mean = e.sum / e.count;
      long double m2 = 0;
      for (const Row* r : window) {
        if (r->value) m2 += (*r->value - mean) * (*r->value - mean);
      }
      e.var_pop = static_cast<double>(m2 / e.count);
    }
  }
  return out;
}

bool Same(double got, long double want, long double tolerance) {
  if (std::isnan(static_cast<double>(want))) return std::isnan(got);
  if (std::isinf(static_cast<double>(want))) return got == static_cast<double>(want);
  return std::fabs(got - want) <= tolerance;
}

std::vector<Row> Stream(std::mt19937_64& random, int keys, int rows, bool nonfinite) {
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<Row> out;
  int64_t now = 1000 * kSec;
  for (int i = 0; i < rows; ++i) {
    now += static_cast<int64_t>(unit(random) * 0.02 * kSec);
    Row row;
    row.key = static_cast<int32_t>(random() % keys);
    const double kind = unit(random);
    if (kind < 0.45) {
      row.ts = now - static_cast<int64_t>(unit(random) * 0.5 * kSec);  // a little behind
    } else if (kind < 0.5) {
      row.ts = now - static_cast<int64_t>(unit(random) * 20 * kSec);  // far behind, maybe late
    } else if (kind < 0.55 && !out.empty()) {
      row.ts = out[random() % out.size()].ts;  // a tie with an earlier row
    } else {
      row.ts = now;
    }
    const double value_kind = unit(random);
    if (value_kind < 0.08) {
      row.value = std::nullopt;
    } else if (value_kind < 0.1) {
      row.value = (random() % 2 ? 1 : -1) * 1e15;  // cancels against small values
    } else if (nonfinite && value_kind < 0.11) {
      row.value = std::vector<double>{NAN, INFINITY, -INFINITY}[random() % 3];
    } else {
      row.value = std::round(unit(random) * 2000 - 1000) / 8;
    }
    out.push_back(row);
  }
  return out;
}

void ExpectEqualsBruteForce(const std::vector<AggregateKind>& aggregates, uint64_t seed) {
  std::mt19937_64 random(seed);
  const int64_t width = std::vector<int64_t>{2, 5, 30}[seed % 3] * kSec;
  const int64_t lateness = std::vector<int64_t>{1, 10, 60}[(seed / 3) % 3] * kSec;
  const int keys = static_cast<int>(1 + random() % 6);
  const bool nonfinite = seed % 4 == 3;
  const std::vector<Row> rows = Stream(random, keys, 3000, nonfinite);

  WindowSpec spec;
  spec.key_columns = {"id"};
  spec.time_column = "ts";
  spec.value_columns = {"value"};
  spec.aggregates = aggregates;
  spec.windows = {WindowDef::Trailing(width)};
  spec.allowed_lateness_us = lateness;
  auto store = *WindowStore::Make(spec, Schema());
  const auto columns = spec.TrailingColumns(spec.windows[0]);
  const std::vector<Expected> expected = BruteForce(
      rows, width, lateness,
      std::find(aggregates.begin(), aggregates.end(), AggregateKind::kVarPop) != aggregates.end());

  size_t begin = 0;
  while (begin < rows.size()) {
    const size_t end = std::min(rows.size(), begin + 1 + random() % 400);
    auto result = store->Update(*Batch(rows, begin, end));
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    for (const auto& column : columns) {
      auto array = result->trailing->GetColumnByName(column.name);
      ASSERT_NE(array, nullptr) << column.name;
      for (size_t i = begin; i < end; ++i) {
        const Expected& e = expected[i];
        const int64_t at = static_cast<int64_t>(i - begin);
        const std::string where =
            "seed " + std::to_string(seed) + " row " + std::to_string(i) + " " + column.name;
        if (e.late) {
          ASSERT_TRUE(array->IsNull(at)) << where;
          continue;
        }
        if (column.kind == AggregateKind::kRowCount || column.kind == AggregateKind::kCount) {
          const int64_t got = std::static_pointer_cast<arrow::Int64Array>(array)->Value(at);
          ASSERT_EQ(got, column.kind == AggregateKind::kRowCount ? e.rows : e.count) << where;
          continue;
        }
        const bool any = e.count > 0;
        ASSERT_EQ(array->IsValid(at), any) << where;
        if (!any) continue;
        const double got = std::static_pointer_cast<arrow::DoubleArray>(array)->Value(at);
        // Rounding: a few ulps of the largest value in the window per value in it.
        long double tolerance = 1e-15L * std::max<long double>(1, e.scale) * (e.count + 4);
        long double want = 0;
        switch (column.kind) {
          case AggregateKind::kSum:
            want = e.sum;
            break;
          case AggregateKind::kAvg:
            want = e.sum / e.count;
            break;
          case AggregateKind::kVarPop:
            // Variance of values near 1e15 and near 1 together: relative to the scale squared.
            want = e.var_pop;
            tolerance = 1e-9L * std::max<long double>(1, e.scale * e.scale);
            break;
          default:  // min, max, first, last: one of the values, exactly
            want = column.kind == AggregateKind::kMin     ? e.min
                   : column.kind == AggregateKind::kMax   ? e.max
                   : column.kind == AggregateKind::kFirst ? e.first
                                                          : e.last;
            tolerance = 0;
        }
        ASSERT_TRUE(Same(got, want, tolerance)) << where << " got " << got;
      }
    }
    begin = end;
  }
}

TEST(TrailingDisorderTest, SumsAndCountsEqualBruteForce) {
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    ExpectEqualsBruteForce(
        {AggregateKind::kRowCount, AggregateKind::kCount, AggregateKind::kSum, AggregateKind::kAvg},
        seed);
  }
}

TEST(TrailingDisorderTest, VarianceEqualsBruteForce) {
  for (uint64_t seed = 101; seed <= 106; ++seed) {
    ExpectEqualsBruteForce({AggregateKind::kCount, AggregateKind::kSum, AggregateKind::kVarPop},
                           seed);
  }
}

TEST(TrailingDisorderTest, FirstAndLastEqualBruteForce) {
  for (uint64_t seed = 201; seed <= 212; ++seed) {
    ExpectEqualsBruteForce({AggregateKind::kSum, AggregateKind::kFirst, AggregateKind::kLast},
                           seed);
  }
}

TEST(TrailingDisorderTest, MinAndMaxEqualBruteForce) {
  for (uint64_t seed = 301; seed <= 312; ++seed) {
    ExpectEqualsBruteForce(
        {AggregateKind::kSum, AggregateKind::kMin, AggregateKind::kMax, AggregateKind::kLast},
        seed);
  }
}

}  // namespace
}  // namespace hyprstream::window
