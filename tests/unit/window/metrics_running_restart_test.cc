// The running columns of `metrics` across a start (MetricsTable::Open over rows already
// stored, real DuckDB): a table opened again gives every later row the running columns that
// the table which took every row from the beginning gives it, although a start reads only the
// stored rows of the last running width + lateness. Randomised: keys that fall quiet and come
// back, rows out of order, late rows and rows without a value before and after the start.
#include <gtest/gtest.h>

#include <arrow/api.h>

#include <random>
#include <string>
#include <vector>

#include "../engine/engine_test_util.h"
#include "window/metrics_table.h"
#include "window/window_storage.h"

namespace hyprstream::window {
namespace {

constexpr int64_t kSecond = 1000000;
constexpr int64_t kBase = 1767225600LL * kSecond;  // 2026-01-01 00:00:00 UTC

MetricsTableOptions Options() {
  MetricsTableOptions options;
  options.running_width_us = 60 * kSecond;
  options.allowed_lateness_us = 20 * kSecond;
  return options;
}

// `count` rows of keys m0..m<keys-1> at times up to `spread_us` before `newest` (on time when
// `newest` is the newest time so far and the spread is within the lateness), integer values
// (sums exact in any order).
std::shared_ptr<arrow::RecordBatch> Rows(std::mt19937& random, int first_key, int keys, int count,
                                         int64_t newest, int64_t spread_us, int null_in = 0) {
  arrow::StringBuilder id;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                             arrow::default_memory_pool());
  arrow::DoubleBuilder value;
  for (int i = 0; i < count; ++i) {
    EXPECT_TRUE(id.Append("m" + std::to_string(first_key + random() % keys)).ok());
    EXPECT_TRUE(ts.Append(newest - static_cast<int64_t>(random() % spread_us)).ok());
    if (null_in > 0 && random() % null_in == 0) {
      EXPECT_TRUE(value.AppendNull().ok());
    } else {
      EXPECT_TRUE(value.Append(static_cast<double>(random() % 1000)).ok());
    }
  }
  return arrow::RecordBatch::Make(MetricsTable::ClientSchema(), count,
                                  {*id.Finish(), *ts.Finish(), *value.Finish()});
}

class MetricsRunningRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = engine::testing::OpenMemoryEngine();
    auto storage = WindowStorage::Open(engine_);
    ASSERT_TRUE(storage.ok()) << storage.status().ToString();
    storage_ = *std::move(storage);
    connection_ = *engine_->Connect();
  }

  std::unique_ptr<MetricsTable> Open() {
    auto table = MetricsTable::Open(*storage_, Options());
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    return table.ok() ? *std::move(table) : nullptr;
  }

  void Store(const std::shared_ptr<arrow::RecordBatch>& rows) {
    engine::IngestRequest request;
    request.table = "metrics";
    request.if_not_exists = engine::IngestRequest::IfNotExists::kFail;
    request.if_exists = engine::IngestRequest::IfExists::kAppend;
    auto reader = *arrow::RecordBatchReader::Make({rows});
    auto stored = connection_->Ingest(request, reader.get());
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  }

  std::shared_ptr<engine::Engine> engine_;
  std::unique_ptr<WindowStorage> storage_;
  std::shared_ptr<engine::EngineConnection> connection_;
};

void ExpectSameRunningColumns(const arrow::RecordBatch& want, const arrow::RecordBatch& got,
                              int round) {
  for (const char* name :
       {"value_running_window_sum", "value_running_window_avg", "value_running_window_count"}) {
    auto expected = want.GetColumnByName(name);
    auto actual = got.GetColumnByName(name);
    ASSERT_NE(expected, nullptr) << name;
    ASSERT_NE(actual, nullptr) << name;
    EXPECT_TRUE(actual->Equals(*expected))
        << "round " << round << ", " << name << "\nafter the start: " << actual->ToString()
        << "\nwithout a start: " << expected->ToString();
  }
}

TEST_F(MetricsRunningRestartTest, AStartGivesLaterRowsTheRunningColumnsOfATableThatNeverStopped) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    SetUp();
    std::mt19937 random(seed);
    auto throughout = Open();
    ASSERT_NE(throughout, nullptr);
    // Four minutes of rows (three times the width + lateness), out of order, some late (up
    // to 40 s behind the newest time: null running columns, and in no later row's window),
    // some without a value; keys m6, m7 only in the first 40 seconds.
    int64_t newest = kBase;
    for (int round = 0; round < 60; ++round) {
      newest += static_cast<int64_t>(random() % 8) * kSecond;
      const bool early = newest - kBase < 40 * kSecond;
      auto batch = Rows(random, 0, early ? 8 : 6, 1 + random() % 30, newest, 40 * kSecond, 10);
      auto prepared = throughout->Prepare(*batch);
      ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
      Store(*prepared);
    }
    // The newest row before the start has no value (a count of 0) and is 30 s ahead: the
    // watermark follows it all the same.
    newest += 30 * kSecond;
    {
      arrow::StringBuilder id;
      arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                                 arrow::default_memory_pool());
      arrow::DoubleBuilder value;
      ASSERT_TRUE(id.Append("m9").ok() && ts.Append(newest).ok() && value.AppendNull().ok());
      auto prepared = throughout->Prepare(*arrow::RecordBatch::Make(
          MetricsTable::ClientSchema(), 1, {*id.Finish(), *ts.Finish(), *value.Finish()}));
      ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
      Store(*prepared);
    }
    auto started = Open();
    ASSERT_NE(started, nullptr);
    // Then both take the same rows: every key (m6, m7 back after minutes, m8 new), out of
    // order, some late (up to 40 s behind the newest time).
    int64_t nonempty = 0;
    for (int round = 0; round < 30; ++round) {
      newest += static_cast<int64_t>(random() % 6) * kSecond;
      auto batch = Rows(random, 0, 9, 1 + random() % 30, newest, 40 * kSecond, 10);
      auto want = throughout->Prepare(*batch);
      auto got = started->Prepare(*batch);
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ExpectSameRunningColumns(**want, **got, round);
      auto counts = (*want)->GetColumnByName("value_running_window_count");
      ASSERT_EQ(counts->type_id(), arrow::Type::INT64);
      const auto& count = static_cast<const arrow::Int64Array&>(*counts);
      for (int64_t i = 0; i < count.length(); ++i)
        nonempty += count.IsValid(i) && count.Value(i) > 1;
      Store(*want);
    }
    // The rows' windows held earlier rows (not only themselves).
    EXPECT_GT(nonempty, 100);
  }
}

}  // namespace
}  // namespace hyprstream::window
