// Rows, batches and a brute-force "every row newer than the bound" aggregate for the trailing
// window tests (row buffers: trailing_buffer_test.cc; panes: trailing_panes_test.cc).
#pragma once

#include "window/duration.h"
#include "window/event_time.h"
#include "window/window_store.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hyprstream::window::trailing_rows {

inline constexpr int64_t kSec = kMicrosPerSecond;

struct Row {
  std::string key;
  std::optional<int64_t> ts;  // microseconds
  std::optional<double> value;
};

inline std::shared_ptr<arrow::Schema> Schema() {
  return arrow::schema({arrow::field("key", arrow::utf8()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                        arrow::field("value", arrow::float64())});
}

inline std::shared_ptr<arrow::RecordBatch> Batch(const std::vector<Row>& rows) {
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

// first/last: the row buffers keep them; panes cannot (their edge comes from storage).
inline WindowSpec Spec(int64_t trailing_width, int64_t lateness, bool first_last = true) {
  WindowSpec spec;
  spec.key_columns = {"key"};
  spec.time_column = "ts";
  spec.value_columns = {"value"};
  spec.aggregates = {AggregateKind::kRowCount, AggregateKind::kCount, AggregateKind::kSum,
                     AggregateKind::kAvg,      AggregateKind::kMin,   AggregateKind::kMax,
                     AggregateKind::kFirst,    AggregateKind::kLast,  AggregateKind::kVarSamp};
  if (!first_last) {
    std::erase_if(spec.aggregates, [](AggregateKind kind) {
      return kind == AggregateKind::kFirst || kind == AggregateKind::kLast;
    });
  }
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
inline std::map<std::string, Expected> BruteForce(const std::vector<Row>& all, int64_t since,
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

inline void ExpectMatches(const arrow::RecordBatch& got,
                          const std::map<std::string, Expected>& want, const std::string& context) {
  ASSERT_EQ(got.num_rows(), static_cast<int64_t>(want.size())) << context;
  auto keys = std::static_pointer_cast<arrow::StringArray>(got.GetColumnByName("key"));
  auto column = [&](const char* name) {
    auto array = got.GetColumnByName(name);
    EXPECT_NE(array, nullptr) << name;
    return array;
  };
  const bool first_last = got.GetColumnByName("value_first") != nullptr;
  auto rows = std::static_pointer_cast<arrow::Int64Array>(column("row_count"));
  auto counts = std::static_pointer_cast<arrow::Int64Array>(column("value_count"));
  auto sums = std::static_pointer_cast<arrow::DoubleArray>(column("value_sum"));
  auto mins = std::static_pointer_cast<arrow::DoubleArray>(column("value_min"));
  auto maxes = std::static_pointer_cast<arrow::DoubleArray>(column("value_max"));
  auto firsts =
      std::static_pointer_cast<arrow::DoubleArray>(first_last ? column("value_first") : nullptr);
  auto lasts =
      std::static_pointer_cast<arrow::DoubleArray>(first_last ? column("value_last") : nullptr);
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
    if (first_last) {
      EXPECT_EQ(firsts->Value(i), e.first) << where;
      EXPECT_EQ(lasts->Value(i), e.last) << where;
    }
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

inline std::string KeyName(int64_t n) {
  std::string key = "k";  // appended, not "k" + ...: GCC 12 warns falsely (-Wrestrict) on that
  key += std::to_string(n);
  return key;
}

// One random batch: up to 50 rows, the clock moving up to 5 s per row; 3% without a time, 12%
// out of order (up to 3 widths behind: late, maybe evicted), `far_ahead_percent` up to 4 widths
// ahead of the clock, the rest at the clock; 10% without a value. With `churn`, keys live a
// quarter width of event time each (they leave memory and their ids serve new keys).
template <typename Rng>
std::vector<Row> RandomRows(Rng& rng, int64_t* clock, int keys, int64_t width, int64_t start,
                            bool churn, uint64_t far_ahead_percent = 0) {
  std::vector<Row> rows;
  const int n = static_cast<int>(rng() % 50);
  for (int i = 0; i < n; ++i) {
    Row row;
    row.key = KeyName(static_cast<int64_t>(rng() % keys));
    *clock += static_cast<int64_t>(rng() % (5 * kSec));
    const uint64_t shape = rng() % 100;
    if (shape < 3) {
      row.ts = std::nullopt;
    } else if (shape < 15) {
      row.ts = *clock - static_cast<int64_t>(rng() % (3 * width));
    } else if (shape < 15 + far_ahead_percent) {
      row.ts = *clock + static_cast<int64_t>(rng() % (4 * width));
    } else {
      row.ts = *clock;
    }
    if (rng() % 10 != 0) row.value = static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000);
    if (churn && row.ts) {
      row.key = KeyName((*row.ts - start) / (width / 4) + static_cast<int64_t>(rng() % keys));
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace hyprstream::window::trailing_rows
