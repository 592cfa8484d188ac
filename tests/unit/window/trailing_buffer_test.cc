// Trailing windows kept as buffers for "the last N minutes as of now" reads
// (WindowStoreOptions::trailing_as_buffers, WindowStore::TrailingSnapshot): randomised streams
// with out-of-order, late and null rows checked against a brute-force aggregate of every row
// newer than the bound (seeds above 60 churn keys: each key lives a few minutes of event time,
// so keys leave memory and their ids serve new keys between reads); eviction by watermark and
// by wall clock; the horizon below which a read is refused instead of answered short.
#include "trailing_test_rows.h"

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

using namespace trailing_rows;  // NOLINT: the shared rows and checks

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
    std::vector<Row> rows = RandomRows(rng, &clock, keys, width, start, churn);
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
