// Trailing (per-row) windows over long streams: subtract-on-evict must not drift. Huge values
// leaving the window, values with a large common offset and many evictions per key, compared
// with exact sums and variances of the rows in (t - width, t].
#include "window/window_store.h"

#include "window/duration.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace hyprstream::window {
namespace {

constexpr int64_t kSec = kMicrosPerSecond;

struct Stream {
  std::vector<int64_t> ts;
  std::vector<double> values;
};

std::shared_ptr<arrow::Schema> Schema() {
  return arrow::schema({arrow::field("id", arrow::int32()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                        arrow::field("value", arrow::float64())});
}

std::shared_ptr<arrow::RecordBatch> Batch(const Stream& s, size_t begin, size_t end) {
  arrow::Int32Builder ids;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                             arrow::default_memory_pool());
  arrow::DoubleBuilder values;
  for (size_t i = begin; i < end; ++i) {
    EXPECT_TRUE(ids.Append(1).ok());
    EXPECT_TRUE(ts.Append(s.ts[i]).ok());
    EXPECT_TRUE(values.Append(s.values[i]).ok());
  }
  return arrow::RecordBatch::Make(Schema(), static_cast<int64_t>(end - begin),
                                  {*ids.Finish(), *ts.Finish(), *values.Finish()});
}

// Runs the stream through a trailing window in batches of 1000 and checks every row's sum
// and var_pop against exact values (long double, two-pass) with relative tolerance `rel`.
void ExpectAccurate(const Stream& s, int64_t width, double rel) {
  WindowSpec spec;
  spec.key_columns = {"id"};
  spec.aggregates = {AggregateKind::kSum, AggregateKind::kVarPop, AggregateKind::kMin,
                     AggregateKind::kMax};
  spec.windows = {WindowDef::Trailing(width)};
  auto store = *WindowStore::Make(spec, Schema());
  size_t begin = 0;
  double worst_sum = 0, worst_var = 0;
  while (begin < s.ts.size()) {
    size_t end = std::min(s.ts.size(), begin + 1000);
    auto result = store->Update(*Batch(s, begin, end));
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    auto sums = std::static_pointer_cast<arrow::DoubleArray>(
        result->trailing->GetColumnByName("value_running_window_sum"));
    auto vars = std::static_pointer_cast<arrow::DoubleArray>(
        result->trailing->GetColumnByName("value_running_window_var_pop"));
    for (size_t i = begin; i < end; ++i) {
      long double sum = 0;
      size_t n = 0, first = i;
      while (first > 0 && s.ts[first - 1] > s.ts[i] - width) --first;
      for (size_t j = first; j <= i; ++j) sum += s.values[j], ++n;
      long double mean = sum / n, m2 = 0;
      for (size_t j = first; j <= i; ++j) m2 += (s.values[j] - mean) * (s.values[j] - mean);
      const double want_sum = static_cast<double>(sum);
      const double want_var = static_cast<double>(m2 / n);
      // Scale: the magnitude of the values in the window (what a fresh sum would also lose).
      long double scale = 0;
      for (size_t j = first; j <= i; ++j)
        scale = std::max<long double>(scale, std::fabs(s.values[j]));
      const double got_sum = sums->Value(i - begin);
      const double got_var = vars->Value(i - begin);
      worst_sum = std::max(
          worst_sum, std::fabs(got_sum - want_sum) / std::max(1.0, static_cast<double>(scale)));
      worst_var = std::max(worst_var, std::fabs(got_var - want_var) / std::max(1.0, want_var));
      ASSERT_NEAR(got_sum, want_sum, rel * std::max(1.0, static_cast<double>(scale)) * n)
          << "row " << i;
      ASSERT_NEAR(got_var, want_var, rel * std::max(1.0, want_var)) << "row " << i;
    }
    begin = end;
  }
  ::testing::Test::RecordProperty("worst_sum_error", std::to_string(worst_sum));
  ::testing::Test::RecordProperty("worst_var_error", std::to_string(worst_var));
}

TEST(TrailingWindowTest, HugeValuesLeavingTheWindowDoNotPoisonTheSum) {
  Stream s;
  for (int i = 0; i < 20000; ++i) {
    s.ts.push_back(int64_t{i} * kSec);
    // Bursts of 1e15 every 1000 rows among values around 0.1.
    s.values.push_back(i % 1000 < 3 ? 1e15 : 0.1 + 1e-3 * (i % 7));
  }
  // 10 rows per window: the huge values leave after 10 rows, and the small sums must be
  // exact to ~1e-15 of the largest value in the window — and exact again once it is gone.
  ExpectAccurate(s, 10 * kSec, 1e-14);
}

TEST(TrailingWindowTest, VarianceWithLargeOffsetStaysAccurateOverManyEvictions) {
  Stream s;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 1.0);
  for (int i = 0; i < 50000; ++i) {
    s.ts.push_back(int64_t{i} * 100000);  // 10 rows per second
    s.values.push_back(1e6 + noise(rng));
  }
  ExpectAccurate(s, 5 * kSec, 1e-7);
}

TEST(TrailingWindowTest, ManyKeysAndTiesKeepIndependentWindows) {
  // Keys interleaved, several rows per timestamp: each key's window sees only its rows.
  WindowSpec spec;
  spec.key_columns = {"id"};
  spec.aggregates = {AggregateKind::kRowCount, AggregateKind::kFirst, AggregateKind::kLast};
  spec.windows = {WindowDef::Trailing(3 * kSec)};
  auto store = *WindowStore::Make(spec, Schema());
  arrow::Int32Builder ids;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                             arrow::default_memory_pool());
  arrow::DoubleBuilder values;
  const int rows = 3000;
  for (int i = 0; i < rows; ++i) {
    ASSERT_TRUE(ids.Append(i % 3).ok());
    ASSERT_TRUE(ts.Append((i / 6) * kSec).ok());  // each key gets 2 rows per second
    ASSERT_TRUE(values.Append(i).ok());
  }
  auto batch =
      arrow::RecordBatch::Make(Schema(), rows, {*ids.Finish(), *ts.Finish(), *values.Finish()});
  auto result = store->Update(*batch);
  ASSERT_TRUE(result.ok());
  auto counts = std::static_pointer_cast<arrow::Int64Array>(result->trailing->column(0));
  auto firsts = std::static_pointer_cast<arrow::DoubleArray>(result->trailing->column(1));
  auto lasts = std::static_pointer_cast<arrow::DoubleArray>(result->trailing->column(2));
  for (int i = 600; i < rows; ++i) {
    // Window (t-3s, t]: the key's 2 rows at each of t-2s, t-1s, plus those at t so far.
    const int at_t = (i % 6) / 3 + 1;
    EXPECT_EQ(counts->Value(i), 4 + at_t) << i;
    EXPECT_EQ(lasts->Value(i), i) << i;
    EXPECT_EQ(firsts->Value(i), ((i / 6) - 2) * 6 + i % 3) << i;
  }
  EXPECT_GT(store->GetStats().trailing_bytes, 0);
  // Idle keys release their rows once the watermark has moved a width past them.
  WindowStoreStats stats = store->GetStats();
  EXPECT_LE(stats.trailing_rows, 3 * 8);
}

}  // namespace
}  // namespace hyprstream::window
