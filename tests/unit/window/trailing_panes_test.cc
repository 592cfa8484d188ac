// Trailing windows kept as panes (WindowStoreOptions::trailing_as_panes): randomised streams
// with out-of-order, late and null rows; each read merges the panes inside its bound and adds
// the edge — as the partial aggregates a table would return, or as the rows of the edge's pane
// kept from storage — and must equal a brute-force aggregate of every row newer than the bound.
// Also: a read refuses an edge its pane changed under (rows folded into it meanwhile), and an
// edge with a key the state never saw.
#include "trailing_test_rows.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace hyprstream::window {
namespace {

using namespace trailing_rows;  // NOLINT: the shared rows and checks

// What a table returns for the edge: EdgeSchema() columns, per key, over rows in [from, to).
std::shared_ptr<arrow::RecordBatch> Partials(const WindowStore& store, const std::vector<Row>& all,
                                             int64_t from, int64_t to) {
  struct Partial {
    int64_t rows = 0, count = 0;
    double sum = 0, min = 0, max = 0;
    std::vector<double> values;
  };
  std::map<std::string, Partial> by_key;
  for (const Row& row : all) {
    if (!row.ts || *row.ts < from || *row.ts >= to) continue;
    Partial& p = by_key[row.key];
    ++p.rows;
    if (!row.value) continue;
    const double x = *row.value;
    p.min = p.count == 0 ? x : std::min(p.min, x);
    p.max = p.count == 0 ? x : std::max(p.max, x);
    p.sum += x;
    ++p.count;
    p.values.push_back(x);
  }
  auto schema = store.EdgeSchema();
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders;
  for (const auto& field : schema->fields()) {
    std::unique_ptr<arrow::ArrayBuilder> builder;
    EXPECT_TRUE(arrow::MakeBuilder(arrow::default_memory_pool(), field->type(), &builder).ok());
    builders.push_back(std::move(builder));
  }
  for (const auto& [key, p] : by_key) {
    const double mean = p.count > 0 ? p.sum / static_cast<double>(p.count) : 0;
    double m2 = 0;
    for (double x : p.values) m2 += (x - mean) * (x - mean);
    EXPECT_TRUE(static_cast<arrow::StringBuilder&>(*builders[0]).Append(key).ok());
    for (int c = 1; c < schema->num_fields(); ++c) {
      const std::string& name = schema->field(c)->name();
      auto append_int = [&](int64_t v) {
        EXPECT_TRUE(static_cast<arrow::Int64Builder&>(*builders[c]).Append(v).ok());
      };
      auto append_double = [&](double v) {
        auto& b = static_cast<arrow::DoubleBuilder&>(*builders[c]);
        EXPECT_TRUE((p.count > 0 ? b.Append(v) : b.AppendNull()).ok());  // SQL: NULL of none
      };
      if (name == "row_count")
        append_int(p.rows);
      else if (name == "value_count")
        append_int(p.count);
      else if (name == "value_sum")
        append_double(p.sum);
      else if (name == "value_min")
        append_double(p.min);
      else if (name == "value_max")
        append_double(p.max);
      else if (name == "value_mean")
        append_double(mean);
      else if (name == "value_m2")
        append_double(m2);
      else
        ADD_FAILURE() << "unexpected edge column " << name;
    }
  }
  arrow::ArrayVector arrays;
  for (auto& builder : builders) {
    std::shared_ptr<arrow::Array> array;
    EXPECT_TRUE(builder->Finish(&array).ok());
    arrays.push_back(array);
  }
  return arrow::RecordBatch::Make(schema, static_cast<int64_t>(by_key.size()), arrays);
}

// The rows a table returns for [from, to), in no particular order.
std::shared_ptr<arrow::RecordBatch> RowsOf(const std::vector<Row>& all, int64_t from, int64_t to,
                                           std::mt19937_64& rng) {
  std::vector<Row> rows;
  for (const Row& row : all) {
    if (row.ts && *row.ts >= from && *row.ts < to) rows.push_back(row);
  }
  std::shuffle(rows.begin(), rows.end(), rng);
  return Batch(rows);
}

// Finishes `read` with its edge from a table (as partial aggregates, `as_partials`) or as
// the kept rows of its pane, and checks the answer against every row newer than the bound.
void FinishAndCheck(const WindowStore& store, const TrailingRead& read, const std::vector<Row>& all,
                    bool as_partials, std::mt19937_64& rng, int64_t since, bool inclusive,
                    const std::string& context) {
  std::optional<std::shared_ptr<arrow::RecordBatch>> got;
  if (read.edge_begin == read.edge_end) {
    auto finished = store.FinishTrailingRead(read, nullptr);
    ASSERT_TRUE(finished.ok()) << context << finished.status().ToString();
    got = *finished;
  } else if (as_partials) {
    auto finished =
        store.FinishTrailingRead(read, Partials(store, all, read.edge_begin, read.edge_end).get());
    ASSERT_TRUE(finished.ok()) << context << finished.status().ToString();
    got = *finished;
  } else {
    const uint64_t fold = store.TrailingPaneFold(1, read.edge_pane_begin);
    auto kept = store.MakeEdgeRows(1, read.edge_pane_begin, read.edge_end, fold,
                                   *RowsOf(all, read.edge_pane_begin, read.edge_end, rng));
    ASSERT_TRUE(kept.ok()) << context << kept.status().ToString();
    ASSERT_NE(*kept, nullptr) << context;
    auto finished = store.FinishTrailingRead(read, nullptr, kept->get());
    ASSERT_TRUE(finished.ok()) << context << finished.status().ToString();
    got = *finished;
  }
  ASSERT_TRUE(got.has_value()) << context << ": the state did not move, yet the read refused";
  ExpectMatches(**got, BruteForce(all, since, inclusive), context);
}

WindowStoreOptions PaneOptions(int64_t panes, int64_t slack, const int64_t* clock) {
  WindowStoreOptions options;
  options.trailing_as_buffers = true;
  options.trailing_as_panes = true;
  options.trailing_panes = panes;
  options.trailing_slack_us = slack;
  options.wall_clock = [clock] { return *clock; };
  return options;
}

class TrailingPanesTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(TrailingPanesTest, ReadsSinceAnyBoundMatchBruteForce) {
  std::mt19937_64 rng(GetParam());
  const int64_t width = (1 + static_cast<int64_t>(rng() % 10)) * 60 * kSec;
  const int64_t lateness = static_cast<int64_t>(rng() % 3) * 30 * kSec;
  const int64_t panes = std::vector<int64_t>{3, 7, 16, 120}[rng() % 4];
  const int64_t start = 1'700'000'000LL * kSec;
  int64_t clock = start;
  auto store =
      WindowStore::Make(Spec(width, lateness, /*first_last=*/false), Schema(),
                        PaneOptions(panes, static_cast<int64_t>(rng() % 2) * 30 * kSec, &clock));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const int keys = 1 + static_cast<int>(rng() % 20);
  const bool churn = GetParam() % 3 == 0;
  std::vector<Row> all;
  int answered = 0, with_edge = 0;
  for (int batch = 0; batch < 30; ++batch) {
    std::vector<Row> rows = RandomRows(rng, &clock, keys, width, start, churn, 2);
    ASSERT_TRUE((*store)->Update(*Batch(rows)).ok());
    all.insert(all.end(), rows.begin(), rows.end());

    const int64_t horizon = (*store)->TrailingHorizon(1);
    for (int probe = 0; probe < 4; ++probe) {
      const int64_t since = clock - static_cast<int64_t>(rng() % (2 * width));
      const bool inclusive = rng() % 2 == 0;
      const std::string context = "seed " + std::to_string(GetParam()) + " batch " +
                                  std::to_string(batch) + " since " + std::to_string(since) +
                                  (inclusive ? " inclusive" : "");
      TrailingFilter filter{std::nullopt, since, inclusive, clock, nullptr};
      auto read = (*store)->BeginTrailingRead(filter);
      const bool covered = horizon == kNoTime || (inclusive ? since > horizon : since >= horizon);
      if (!covered) {
        EXPECT_FALSE(read.ok()) << context;
        continue;
      }
      if (!read.ok()) {  // only refused when rows far ahead would be split
        EXPECT_NE(read.status().message().find("far ahead"), std::string::npos)
            << context << ": " << read.status().ToString();
        continue;
      }
      with_edge += read->edge_begin < read->edge_end;
      ASSERT_NO_FATAL_FAILURE(
          FinishAndCheck(**store, *read, all, probe % 2 == 0, rng, since, inclusive, context));
      ++answered;
    }
  }
  EXPECT_GT(answered, 0);
  EXPECT_GT(with_edge, 0);
}

std::vector<uint64_t> Seeds() {
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= 80; ++s) seeds.push_back(s);
  return seeds;
}
INSTANTIATE_TEST_SUITE_P(Seeds, TrailingPanesTest, ::testing::ValuesIn(Seeds()));

// 120 panes (blocks of 11 settle behind the newest): reads keep the merged suffixes of settled
// panes between them. Many reads per batch at bounds close together (the same block, so later
// reads take the kept suffixes) and late rows that change settled panes (the suffixes must be
// rebuilt) — every answer equal to brute force.
class TrailingPaneSuffixesTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(TrailingPaneSuffixesTest, ReadsFromKeptSuffixesMatchBruteForce) {
  std::mt19937_64 rng(GetParam());
  const int64_t width = (2 + static_cast<int64_t>(rng() % 4)) * 60 * kSec;
  const int64_t start = 1'700'000'000LL * kSec;
  int64_t clock = start;
  auto store = WindowStore::Make(Spec(width, 0, /*first_last=*/false), Schema(),
                                 PaneOptions(120, 0, &clock));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const int keys = 1 + static_cast<int>(rng() % 30);
  std::vector<Row> all;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<Row> rows = RandomRows(rng, &clock, keys, width, start, GetParam() % 4 == 0);
    ASSERT_TRUE((*store)->Update(*Batch(rows)).ok());
    all.insert(all.end(), rows.begin(), rows.end());
    const int64_t horizon = (*store)->TrailingHorizon(1);
    const int64_t base = clock - static_cast<int64_t>(rng() % width);
    for (int probe = 0; probe < 6; ++probe) {
      const int64_t since = base + static_cast<int64_t>(rng() % (width / 20));
      const bool inclusive = rng() % 2 == 0;
      if (horizon != kNoTime && (inclusive ? since <= horizon : since < horizon)) continue;
      const std::string context = "seed " + std::to_string(GetParam()) + " batch " +
                                  std::to_string(batch) + " since " + std::to_string(since);
      auto read = (*store)->BeginTrailingRead({std::nullopt, since, inclusive, clock, nullptr});
      ASSERT_TRUE(read.ok()) << context << read.status().ToString();
      ASSERT_NO_FATAL_FAILURE(
          FinishAndCheck(**store, *read, all, probe % 2 == 0, rng, since, inclusive, context));
    }
  }
  const WindowStoreStats stats = (*store)->GetStats();
  EXPECT_GT(stats.trailing_suffix_hits, 0u);
  EXPECT_GT(stats.trailing_suffix_builds, 0u);
}

std::vector<uint64_t> SuffixSeeds() {
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= 40; ++s) seeds.push_back(s);
  return seeds;
}
INSTANTIATE_TEST_SUITE_P(Seeds, TrailingPaneSuffixesTest, ::testing::ValuesIn(SuffixSeeds()));

// Two answers to one read, column by column: counts, minima and maxima equal, sums and
// variances within float tolerance (their rows were added in another order).
void ExpectSameAnswers(const arrow::RecordBatch& got, const arrow::RecordBatch& want,
                       const std::string& context) {
  ASSERT_EQ(got.num_rows(), want.num_rows()) << context;
  ASSERT_TRUE(got.column(0)->Equals(*want.column(0))) << context << ": other keys";
  for (int c = 1; c < got.num_columns(); ++c) {
    const std::string where = context + " column " + got.schema()->field(c)->name();
    const auto& a = got.column(c);
    const auto& b = want.column(c);
    if (a->type_id() != arrow::Type::DOUBLE) {
      EXPECT_TRUE(a->Equals(*b)) << where;
      continue;
    }
    auto x = std::static_pointer_cast<arrow::DoubleArray>(a);
    auto y = std::static_pointer_cast<arrow::DoubleArray>(b);
    for (int64_t i = 0; i < got.num_rows(); ++i) {
      ASSERT_EQ(x->IsNull(i), y->IsNull(i)) << where << " row " << i;
      if (x->IsNull(i)) continue;
      EXPECT_NEAR(x->Value(i), y->Value(i), 1e-9 * (1 + std::fabs(y->Value(i))))
          << where << " row " << i;
    }
  }
}

// Kept edge rows with suffix states: a read folds the rows from its bound to the next suffix
// and merges that suffix; the answer must equal folding every row from the bound (no
// suffixes), itself checked against the brute-force one, for bounds anywhere in the pane — at a
// suffix's row, one row either side, inside runs of equal times that span a suffix, past every row
// — with null values and keys whose rows all precede the bound.
class TrailingEdgeSuffixTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(TrailingEdgeSuffixTest, AnswersEqualFoldingEveryRow) {
  std::mt19937_64 rng(GetParam());
  const int64_t width = 60 * 60 * kSec;
  // 6 panes of 10 minutes over the hour (no slack), the clock at the hour's end.
  const int64_t start = (1'700'000'000LL * kSec) / width * width;
  int64_t clock = start + width;
  auto store =
      WindowStore::Make(Spec(width, 0, /*first_last=*/false), Schema(), PaneOptions(6, 0, &clock));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const int keys = 1 + static_cast<int>(rng() % 40);
  const int64_t pane = width / 6;
  const int64_t edge_pane = start + 2 * pane;
  // Rows over the panes; in the edge pane half on a coarse grid of times (long runs of equal
  // times), half at any microsecond; "early" keys only in the pane's first tenth.
  std::vector<Row> all;
  const int64_t edge_rows = 200 + static_cast<int64_t>(rng() % 3000);
  for (int64_t i = 0; i < edge_rows; ++i) {
    Row row;
    const bool early = rng() % 8 == 0;
    row.key =
        early ? "early" + std::to_string(rng() % 3) : KeyName(static_cast<int64_t>(rng() % keys));
    const int64_t span = early ? pane / 10 : pane;
    row.ts = edge_pane + (rng() % 2 == 0 ? static_cast<int64_t>(rng() % 40) * (span / 40)
                                         : static_cast<int64_t>(rng() % span));
    if (rng() % 10 != 0) row.value = static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000);
    all.push_back(row);
  }
  for (int64_t i = 0; i < 500; ++i) {
    const int64_t ts = start + pane + static_cast<int64_t>(rng() % (width - pane));
    if (ts >= edge_pane && ts < edge_pane + pane) continue;
    all.push_back({KeyName(static_cast<int64_t>(rng() % keys)), ts, 1.0 * (rng() % 100)});
  }
  std::shuffle(all.begin(), all.end(), rng);
  ASSERT_TRUE((*store)->Update(*Batch(all)).ok());

  const uint64_t fold = (*store)->TrailingPaneFold(1, edge_pane);
  auto make = [&](std::optional<int64_t> suffixes) {
    auto kept = (*store)->MakeEdgeRows(1, edge_pane, edge_pane + pane, fold,
                                       *RowsOf(all, edge_pane, edge_pane + pane, rng), suffixes);
    EXPECT_TRUE(kept.ok()) << kept.status().ToString();
    EXPECT_NE(*kept, nullptr);
    return *kept;
  };
  const auto every_row = make(0);
  ASSERT_TRUE(every_row->suffixes.empty());
  const auto& times = every_row->times;
  const auto n = static_cast<int64_t>(times.size());
  ASSERT_EQ(n, edge_rows);
  std::vector<std::shared_ptr<const TrailingEdgeRows>> with_suffixes;
  for (int64_t count : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{64}, n + 5,
                        1 + static_cast<int64_t>(rng() % 64)}) {
    with_suffixes.push_back(make(count));
    EXPECT_EQ(static_cast<int64_t>(with_suffixes.back()->suffixes.size()), std::min(count, n - 1));
  }
  with_suffixes.push_back(make(std::nullopt));  // the memory rule's count
  EXPECT_FALSE(with_suffixes.back()->suffixes.empty()) << "rows " << n << " keys " << keys;
  EXPECT_GT(with_suffixes.back()->memory_bytes(), every_row->memory_bytes());

  // Bounds: at, before and after every suffix's row of one kept form, and random ones.
  std::vector<int64_t> bounds = {edge_pane + 1, times.front(), times.back(), times.back() + 1,
                                 edge_pane + pane - 1};
  for (const auto& kept : with_suffixes) {
    if (kept->suffixes.size() > static_cast<size_t>(WindowStore::kMaxEdgeSuffixes)) continue;
    for (const TrailingEdgeSuffix& suffix : kept->suffixes) {
      for (int64_t d : {-1, 0, 1}) {
        const int64_t at = suffix.row + d;
        if (at >= 0 && at < n) bounds.push_back(times[at]);
      }
      bounds.push_back(times[suffix.row] + 1);
    }
  }
  for (int i = 0; i < 20; ++i)
    bounds.push_back(edge_pane + 1 + static_cast<int64_t>(rng() % (pane - 1)));

  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  int compared = 0;
  for (int64_t bound : bounds) {
    if (bound <= edge_pane || bound >= edge_pane + pane) continue;  // the pane must be split
    const std::string context = "seed " + std::to_string(GetParam()) + " bound " +
                                std::to_string(bound - edge_pane) + " of " + std::to_string(n) +
                                " rows";
    TrailingFilter filter{std::nullopt, bound, /*inclusive=*/true, clock, nullptr};
    auto read = (*store)->BeginTrailingRead(filter);
    ASSERT_TRUE(read.ok()) << context << read.status().ToString();
    ASSERT_EQ(read->edge_pane_begin, edge_pane) << context;
    auto want = (*store)->FinishTrailingRead(*read, nullptr, every_row.get());
    ASSERT_TRUE(want.ok() && want->has_value()) << context;
    ExpectMatches(***want, BruteForce(all, bound, true), context + " without suffixes");
    for (const auto& kept : with_suffixes) {
      const std::string with = context + " with " + std::to_string(kept->suffixes.size());
      auto got = (*store)->FinishTrailingRead(*read, nullptr, kept.get());
      ASSERT_TRUE(got.ok() && got->has_value()) << with;
      ExpectSameAnswers(***got, ***want, with);
      ++compared;
    }
  }
  EXPECT_GT(compared, 0);

  // A suffix with a key the read has no id for is refused, as a row with one is.
  TrailingFilter filter{std::nullopt, edge_pane + 1, true, clock, nullptr};
  auto read = (*store)->BeginTrailingRead(filter);
  ASSERT_TRUE(read.ok());
  TrailingEdgeRows unknown = *with_suffixes.front();
  ASSERT_EQ(unknown.suffixes.size(), 1u);
  unknown.suffixes[0].max_id = static_cast<int32_t>(read->keys);
  auto refused = (*store)->FinishTrailingRead(*read, nullptr, &unknown);
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->has_value());
}

INSTANTIATE_TEST_SUITE_P(Seeds, TrailingEdgeSuffixTest, ::testing::Range<uint64_t>(1, 41));

TEST(TrailingPanes, ReadsRefuseAnEdgeWhosePaneChangedOrAKeyTheyNeverSaw) {
  int64_t clock = 1'700'000'000LL * kSec;
  const int64_t t0 = clock;
  // 60 s wide, 6 panes over width + slack (70 s): panes of 11.67 s.
  auto store =
      WindowStore::Make(Spec(60 * kSec, 0, false), Schema(), PaneOptions(6, 10 * kSec, &clock));
  ASSERT_TRUE(store.ok());
  std::vector<Row> all;
  for (int i = 0; i <= 60; ++i) all.push_back({"a", t0 + i * kSec, 1.0 * i});
  clock = t0 + 60 * kSec;
  ASSERT_TRUE((*store)->Update(*Batch(all)).ok());
  TrailingFilter filter{std::nullopt, t0 + 15 * kSec, false, clock, nullptr};
  auto read = (*store)->BeginTrailingRead(filter);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_LT(read->edge_begin, read->edge_end);
  const uint64_t fold = (*store)->TrailingPaneFold(1, read->edge_pane_begin);
  auto kept = (*store)->MakeEdgeRows(1, read->edge_pane_begin, read->edge_end, fold, *Batch(all));
  ASSERT_TRUE(kept.ok() && *kept != nullptr);
  auto partials = Partials(**store, all, read->edge_begin, read->edge_end);

  // A key the state never saw (its rows not folded yet): the state moved.
  auto unknown = Partials(**store, {{"zz", t0 + 16 * kSec, 1.0}}, read->edge_begin, read->edge_end);
  auto refused = (*store)->FinishTrailingRead(*read, unknown.get());
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->has_value());

  // A late row folds into the edge's pane after the read began: both edges are refused, and a
  // read begun again answers with the row.
  const Row late{"a", t0 + 16 * kSec + 1, 100.0};
  ASSERT_TRUE((*store)->Update(*Batch({late})).ok());
  all.push_back(late);
  auto after = (*store)->FinishTrailingRead(*read, partials.get());
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
  auto stale = (*store)->FinishTrailingRead(*read, nullptr, kept->get());
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->has_value());
  auto again = (*store)->BeginTrailingRead(filter);
  ASSERT_TRUE(again.ok());
  auto stale_for_new_read = (*store)->FinishTrailingRead(*again, nullptr, kept->get());
  ASSERT_TRUE(stale_for_new_read.ok());
  EXPECT_FALSE(stale_for_new_read->has_value());  // the kept rows predate the late row
  auto answered = (*store)->FinishTrailingRead(
      *again, Partials(**store, all, again->edge_begin, again->edge_end).get());
  ASSERT_TRUE(answered.ok() && answered->has_value());
  ExpectMatches(***answered, BruteForce(all, t0 + 15 * kSec, false), "after the late row");
}

// Rows kept by another store (a state rebuilt under the same definition name) are refused,
// even where their pane's fold count is the same: its key ids mean other keys.
TEST(TrailingPanes, ReadsRefuseTheEdgeRowsOfAnotherStore) {
  int64_t clock = 1'700'000'000LL * kSec;
  const int64_t t0 = clock;
  std::vector<Row> a, b;
  for (int i = 0; i <= 60; ++i) {
    a.push_back({"a", t0 + i * kSec, 1.0 * i});
    b.push_back({"b", t0 + i * kSec, 1000.0 + i});
  }
  clock = t0 + 60 * kSec;
  auto make = [&](const std::vector<Row>& first, const std::vector<Row>& second) {
    auto store =
        WindowStore::Make(Spec(60 * kSec, 0, false), Schema(), PaneOptions(6, 10 * kSec, &clock));
    EXPECT_TRUE(store.ok());
    EXPECT_TRUE((*store)->Update(*Batch(first)).ok());
    EXPECT_TRUE((*store)->Update(*Batch(second)).ok());
    return std::move(*store);
  };
  auto mine = make(a, b);   // a is key 0
  auto other = make(b, a);  // b is key 0
  TrailingFilter filter{std::nullopt, t0 + 15 * kSec, false, clock, nullptr};
  auto read = mine->BeginTrailingRead(filter);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_LT(read->edge_begin, read->edge_end);
  const uint64_t fold = mine->TrailingPaneFold(1, read->edge_pane_begin);
  ASSERT_EQ(fold, other->TrailingPaneFold(1, read->edge_pane_begin));
  std::vector<Row> all = a;
  all.insert(all.end(), b.begin(), b.end());
  auto own = mine->MakeEdgeRows(1, read->edge_pane_begin, read->edge_end, fold, *Batch(all));
  auto others = other->MakeEdgeRows(1, read->edge_pane_begin, read->edge_end, fold, *Batch(all));
  ASSERT_TRUE(own.ok() && *own != nullptr && others.ok() && *others != nullptr);
  auto refused = mine->FinishTrailingRead(*read, nullptr, others->get());
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->has_value());
  auto answered = mine->FinishTrailingRead(*read, nullptr, own->get());
  ASSERT_TRUE(answered.ok() && answered->has_value());
  ExpectMatches(***answered, BruteForce(all, t0 + 15 * kSec, false), "own rows");
}

TEST(TrailingPanes, MemoryFollowsKeysNotRows) {
  int64_t clock = 1'700'000'000LL * kSec;
  auto store = WindowStore::Make(Spec(60 * 60 * kSec, 0, false), Schema(),
                                 PaneOptions(120, 60 * kSec, &clock));
  ASSERT_TRUE(store.ok());
  auto bytes_after = [&](int rows_per_key_per_second) {
    for (int second = 0; second < 600; ++second) {
      std::vector<Row> rows;
      for (int k = 0; k < 50; ++k) {
        for (int r = 0; r < rows_per_key_per_second; ++r) {
          rows.push_back({KeyName(k), clock + r, 1.0 * r});
        }
      }
      EXPECT_TRUE((*store)->Update(*Batch(rows)).ok());
      clock += kSec;
    }
    return (*store)->GetStats().trailing_bytes;
  };
  const int64_t sparse = bytes_after(1);
  const int64_t dense = bytes_after(20);  // 20x the rows over the same keys and time
  EXPECT_LT(dense, sparse * 2) << sparse << " vs " << dense;
}

}  // namespace
}  // namespace hyprstream::window
