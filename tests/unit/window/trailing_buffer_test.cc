// Trailing windows kept as buffers for "the last N minutes as of now" reads
// (WindowStoreOptions::trailing_as_buffers, WindowStore::TrailingSnapshot): randomised streams
// with out-of-order, late and null rows checked against a brute-force aggregate of every row
// newer than the bound (seeds above 60 churn keys: each key lives a few minutes of event time,
// so keys leave memory and their ids serve new keys between reads); eviction by watermark and
// by wall clock; the horizon below which a read is refused instead of answered short.
#include "window/duration.h"
#include "window/event_time.h"
#include "window/window_store.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace hyprstream::window {
namespace {

constexpr int64_t kSec = kMicrosPerSecond;

struct Row {
  std::string key;
  std::optional<int64_t> ts;  // microseconds
  std::optional<double> value;
};

std::shared_ptr<arrow::Schema> Schema() {
  return arrow::schema({arrow::field("key", arrow::utf8()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                        arrow::field("value", arrow::float64())});
}

std::shared_ptr<arrow::RecordBatch> Batch(const std::vector<Row>& rows) {
  arrow::StringBuilder keys;
  arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO),
                                arrow::default_memory_pool());
  arrow::DoubleBuilder values;
  for (const Row& row : rows) {
    EXPECT_TRUE(keys.Append(row.key).ok());
    EXPECT_TRUE((row.ts ? times.Append(*row.ts) : times.AppendNull()).ok());
    EXPECT_TRUE((row.value ? values.Append(*row.value) : values.AppendNull()).ok());
  }
  std::shared_ptr<arrow::Array> k, t, v;
  EXPECT_TRUE(keys.Finish(&k).ok());
  EXPECT_TRUE(times.Finish(&t).ok());
  EXPECT_TRUE(values.Finish(&v).ok());
  return arrow::RecordBatch::Make(Schema(), static_cast<int64_t>(rows.size()), {k, t, v});
}

WindowSpec Spec(int64_t trailing_width, int64_t lateness) {
  WindowSpec spec;
  spec.key_columns = {"key"};
  spec.time_column = "ts";
  spec.value_columns = {"value"};
  spec.aggregates = {AggregateKind::kRowCount, AggregateKind::kCount, AggregateKind::kSum,
                     AggregateKind::kAvg,      AggregateKind::kMin,   AggregateKind::kMax,
                     AggregateKind::kFirst,    AggregateKind::kLast,  AggregateKind::kVarSamp};
  spec.windows = {WindowDef::Tumbling(60 * kSec), WindowDef::Trailing(trailing_width)};
  spec.allowed_lateness_us = lateness;
  return spec;
}

struct Expected {
  int64_t rows = 0;
  int64_t count = 0;
  double sum = 0, min = 0, max = 0, first = 0, last = 0;
  std::vector<double> values;
};

// Every row of `key` newer than the bound, in time order (ties: arrival order).
std::map<std::string, Expected> BruteForce(const std::vector<Row>& all, int64_t since,
                                           bool inclusive) {
  std::vector<const Row*> rows;
  for (const Row& row : all) {
    if (row.ts && (inclusive ? *row.ts >= since : *row.ts > since)) rows.push_back(&row);
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row* a, const Row* b) { return *a->ts < *b->ts; });
  std::map<std::string, Expected> out;
  for (const Row* row : rows) {
    Expected& e = out[row->key];
    ++e.rows;
    if (!row->value) continue;
    const double x = *row->value;
    if (e.count == 0) {
      e.min = e.max = e.first = x;
    }
    e.min = std::min(e.min, x);
    e.max = std::max(e.max, x);
    e.last = x;
    e.sum += x;
    ++e.count;
    e.values.push_back(x);
  }
  return out;
}

void ExpectMatches(const arrow::RecordBatch& got, const std::map<std::string, Expected>& want,
                   const std::string& context) {
  ASSERT_EQ(got.num_rows(), static_cast<int64_t>(want.size())) << context;
  auto keys = std::static_pointer_cast<arrow::StringArray>(got.GetColumnByName("key"));
  auto column = [&](const char* name) {
    auto array = got.GetColumnByName(name);
    EXPECT_NE(array, nullptr) << name;
    return array;
  };
  auto rows = std::static_pointer_cast<arrow::Int64Array>(column("row_count"));
  auto counts = std::static_pointer_cast<arrow::Int64Array>(column("value_count"));
  auto sums = std::static_pointer_cast<arrow::DoubleArray>(column("value_sum"));
  auto mins = std::static_pointer_cast<arrow::DoubleArray>(column("value_min"));
  auto maxes = std::static_pointer_cast<arrow::DoubleArray>(column("value_max"));
  auto firsts = std::static_pointer_cast<arrow::DoubleArray>(column("value_first"));
  auto lasts = std::static_pointer_cast<arrow::DoubleArray>(column("value_last"));
  auto vars = std::static_pointer_cast<arrow::DoubleArray>(column("value_var_samp"));
  auto closed = std::static_pointer_cast<arrow::BooleanArray>(column("closed"));
  for (int64_t i = 0; i < got.num_rows(); ++i) {
    const std::string key = keys->GetString(i);
    auto it = want.find(key);
    ASSERT_NE(it, want.end()) << context << " unexpected key " << key;
    const Expected& e = it->second;
    const std::string where = context + " key " + key;
    EXPECT_EQ(rows->Value(i), e.rows) << where;
    EXPECT_EQ(counts->Value(i), e.count) << where;
    EXPECT_FALSE(closed->Value(i)) << where;
    if (e.count == 0) {
      EXPECT_TRUE(sums->IsNull(i)) << where;
      EXPECT_TRUE(mins->IsNull(i)) << where;
      continue;
    }
    EXPECT_NEAR(sums->Value(i), e.sum, 1e-9 * (1 + std::fabs(e.sum))) << where;
    EXPECT_EQ(mins->Value(i), e.min) << where;
    EXPECT_EQ(maxes->Value(i), e.max) << where;
    EXPECT_EQ(firsts->Value(i), e.first) << where;
    EXPECT_EQ(lasts->Value(i), e.last) << where;
    if (e.count < 2) {
      EXPECT_TRUE(vars->IsNull(i)) << where;
    } else {
      const double mean = e.sum / static_cast<double>(e.count);
      double m2 = 0;
      for (double x : e.values) m2 += (x - mean) * (x - mean);
      const double var = m2 / static_cast<double>(e.count - 1);
      EXPECT_NEAR(vars->Value(i), var, 1e-9 * (1 + var)) << where;
    }
  }
}

class TrailingBufferTest : public ::testing::TestWithParam<uint64_t> {};
constexpr uint64_t kChurnSeeds = 60;  // seeds above this churn keys

TEST_P(TrailingBufferTest, ReadsSinceAnyBoundMatchBruteForce) {
  std::mt19937_64 rng(GetParam());
  const int64_t width = (1 + static_cast<int64_t>(rng() % 10)) * 60 * kSec;
  const int64_t lateness = static_cast<int64_t>(rng() % 3) * 30 * kSec;
  WindowStoreOptions options;
  options.trailing_as_buffers = true;
  options.trailing_slack_us = static_cast<int64_t>(rng() % 2) * 30 * kSec;
  auto store = WindowStore::Make(Spec(width, lateness), Schema(), options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  const int keys = 1 + static_cast<int>(rng() % 20);
  const bool churn = GetParam() > kChurnSeeds;
  const int64_t start = 1'700'000'000LL * kSec;
  int64_t clock = start;
  std::vector<Row> all;
  for (int batch = 0; batch < 30; ++batch) {
    std::vector<Row> rows;
    const int n = static_cast<int>(rng() % 50);
    for (int i = 0; i < n; ++i) {
      Row row;
      row.key = "k" + std::to_string(rng() % keys);
      clock += static_cast<int64_t>(rng() % (5 * kSec));
      const uint64_t shape = rng() % 100;
      if (shape < 3) {
        row.ts = std::nullopt;
      } else if (shape < 15) {  // out of order, sometimes far behind (late, maybe evicted)
        row.ts = clock - static_cast<int64_t>(rng() % (3 * width));
      } else {
        row.ts = clock;
      }
      if (rng() % 10 != 0)
        row.value = static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000);
      if (churn && row.ts) {  // a quarter width of event time per generation of keys
        row.key = "k" + std::to_string((*row.ts - start) / (width / 4) + rng() % keys);
      }
      rows.push_back(row);
    }
    ASSERT_TRUE((*store)->Update(*Batch(rows)).ok());
    all.insert(all.end(), rows.begin(), rows.end());

    const int64_t horizon = (*store)->TrailingHorizon(1);
    for (int probe = 0; probe < 4; ++probe) {
      const int64_t since = clock - static_cast<int64_t>(rng() % (2 * width));
      const bool inclusive = rng() % 2 == 0;
      TrailingFilter filter;
      filter.since_us = since;
      filter.inclusive = inclusive;
      filter.until_us = clock;
      auto got = (*store)->TrailingSnapshot(filter);
      const bool exact = horizon == kNoTime || (inclusive ? since > horizon : since >= horizon);
      const std::string context = "seed " + std::to_string(GetParam()) + " batch " +
                                  std::to_string(batch) + " since " + std::to_string(since);
      if (!exact) {
        EXPECT_FALSE(got.ok()) << context;
        continue;
      }
      ASSERT_TRUE(got.ok()) << context << ": " << got.status().ToString();
      ExpectMatches(**got, BruteForce(all, since, inclusive), context);
    }
  }
  // The first keys' rows have all left the buffer long before the end: they left memory.
  if (churn && clock - start > 4 * width + options.trailing_slack_us + lateness + 2 * 60 * kSec) {
    EXPECT_GT((*store)->GetStats().retired_keys, 0);
  }
}

std::vector<uint64_t> Seeds() {
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= kChurnSeeds + 40; ++s) seeds.push_back(s);
  return seeds;
}
INSTANTIATE_TEST_SUITE_P(Seeds, TrailingBufferTest, ::testing::ValuesIn(Seeds()));

TEST(TrailingBuffer, KeepsWhatALastWidthReadNeedsAndRefusesOlderBounds) {
  WindowStoreOptions options;
  options.trailing_as_buffers = true;
  options.trailing_slack_us = 10 * kSec;
  auto store = WindowStore::Make(Spec(60 * kSec, 0), Schema(), options);
  ASSERT_TRUE(store.ok());
  const int64_t t0 = 1'700'000'000LL * kSec;
  std::vector<Row> rows;
  for (int i = 0; i <= 200; ++i) rows.push_back({"a", t0 + i * kSec, 1.0 * i});
  ASSERT_TRUE((*store)->Update(*Batch(rows)).ok());
  // Newest 200 s, width 60 s, slack 10 s: rows at or before 130 s have gone.
  EXPECT_EQ((*store)->TrailingHorizon(1), t0 + 130 * kSec);
  TrailingFilter last_minute{std::nullopt, t0 + 140 * kSec, false, t0 + 200 * kSec, nullptr};
  auto got = (*store)->TrailingSnapshot(last_minute);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ((*got)->num_rows(), 1);
  EXPECT_EQ(
      std::static_pointer_cast<arrow::Int64Array>((*got)->GetColumnByName("row_count"))->Value(0),
      60);  // 141..200
  TrailingFilter too_old{std::nullopt, t0 + 100 * kSec, false, t0 + 200 * kSec, nullptr};
  auto refused = (*store)->TrailingSnapshot(too_old);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("have left the trailing 1m buffer"), std::string::npos)
      << refused.status().ToString();
  // A row older than the buffer keeps is counted late for the trailing window, not stored.
  ASSERT_TRUE((*store)->Update(*Batch({{"a", t0 + 5 * kSec, 7.0}})).ok());
  EXPECT_EQ((*store)->GetStats().late_rows[1], 1);
}

TEST(TrailingBuffer, WallClockKeepsRowsFromTheFutureForNowReads) {
  // Event times ahead of the wall clock: eviction follows the clock, so "since now - width"
  // still finds every row newer than that.
  int64_t now = 1'700'000'000LL * kSec;
  WindowStoreOptions options;
  options.trailing_as_buffers = true;
  options.trailing_slack_us = 0;
  options.wall_clock = [&now] { return now; };
  auto store = WindowStore::Make(Spec(60 * kSec, 0), Schema(), options);
  ASSERT_TRUE(store.ok());
  std::vector<Row> rows;
  for (int i = -120; i <= 600; i += 10) rows.push_back({"a", now + i * kSec, 1.0});
  ASSERT_TRUE((*store)->Update(*Batch(rows)).ok());
  // Bound: min(watermark = now + 600 s, now) - 60 s.
  EXPECT_EQ((*store)->TrailingHorizon(1), now - 60 * kSec);
  TrailingFilter since{std::nullopt, now - 60 * kSec, false, now, nullptr};
  auto got = (*store)->TrailingSnapshot(since);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  // -50 .. 600 in steps of 10: 66 rows, the future ones included as `ts > since` would.
  EXPECT_EQ(
      std::static_pointer_cast<arrow::Int64Array>((*got)->GetColumnByName("row_count"))->Value(0),
      66);
}

TEST(TrailingBuffer, KeyFilterAndPerRowModeAreSeparate) {
  WindowStoreOptions options;
  options.trailing_as_buffers = true;
  auto store = WindowStore::Make(Spec(60 * kSec, 0), Schema(), options);
  ASSERT_TRUE(store.ok());
  const int64_t t0 = 1'700'000'000LL * kSec;
  auto update =
      (*store)->Update(*Batch({{"a", t0, 1.0}, {"b", t0 + kSec, 2.0}, {"b", t0 + 2 * kSec, 4.0}}));
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->trailing, nullptr);  // buffers give no per-row columns
  auto keys = Batch({{"b", std::nullopt, std::nullopt}, {"zzz", std::nullopt, std::nullopt}});
  TrailingFilter filter{std::nullopt, t0 - kSec, false, t0 + 2 * kSec, keys};
  auto got = (*store)->TrailingSnapshot(filter);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ((*got)->num_rows(), 1);
  EXPECT_EQ(
      std::static_pointer_cast<arrow::DoubleArray>((*got)->GetColumnByName("value_avg"))->Value(0),
      3.0);

  // A store without buffers says how to get one.
  auto plain = WindowStore::Make(Spec(60 * kSec, 0), Schema());
  ASSERT_TRUE(plain.ok());
  auto refused = (*plain)->TrailingSnapshot(filter);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("trailing"), std::string::npos);
}

}  // namespace
}  // namespace hyprstream::window
