// WindowStore behaviour on small hand-written streams: window closing and emission, late rows
// and their counters, retention and eviction, snapshot filters, trailing columns, the error
// messages a caller sees, the memory accounting, and keys leaving memory once nothing holds
// them (ids reused by new keys, memory flat under churn, never a key's values under another
// key). Randomised checks against a brute-force reference live in window_reference_test.cc.
#include "window/window_store.h"

#include "window/duration.h"
#include "window/event_time.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace hyprstream::window {
namespace {

constexpr int64_t kSec = kMicrosPerSecond;
constexpr int64_t kMin = kMicrosPerMinute;

std::shared_ptr<arrow::Array> ArrayFromJson(const std::shared_ptr<arrow::DataType>& type,
                                            const std::string& json) {
  auto array = arrow::json::ArrayFromJSONString(type, json);
  EXPECT_TRUE(array.ok()) << array.status().ToString();
  return *array;
}

std::shared_ptr<arrow::Schema> MetricsSchema() {
  return arrow::schema({arrow::field("host", arrow::utf8()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::SECOND)),
                        arrow::field("value", arrow::float64())});
}

std::shared_ptr<arrow::RecordBatch> Metrics(const std::string& hosts, const std::string& ts,
                                            const std::string& values) {
  auto schema = MetricsSchema();
  auto host = ArrayFromJson(arrow::utf8(), hosts);
  return arrow::RecordBatch::Make(
      schema, host->length(),
      {host, ArrayFromJson(schema->field(1)->type(), ts), ArrayFromJson(arrow::float64(), values)});
}

WindowSpec Spec(std::vector<WindowDef> windows,
                std::vector<AggregateKind> aggregates = {
                    AggregateKind::kRowCount, AggregateKind::kCount, AggregateKind::kSum,
                    AggregateKind::kAvg, AggregateKind::kMin, AggregateKind::kMax}) {
  WindowSpec spec;
  spec.key_columns = {"host"};
  spec.time_column = "ts";
  spec.value_columns = {"value"};
  spec.aggregates = std::move(aggregates);
  spec.windows = std::move(windows);
  return spec;
}

std::unique_ptr<WindowStore> MakeStore(const WindowSpec& spec,
                                       std::shared_ptr<arrow::Schema> schema = MetricsSchema(),
                                       WindowStoreOptions options = {}) {
  auto store = WindowStore::Make(spec, schema, std::move(options));
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).ValueOrDie() : nullptr;
}

WindowStoreOptions MaxPanes(int max_panes_per_window) {
  WindowStoreOptions options;
  options.max_panes_per_window = max_panes_per_window;
  return options;
}

// One string per row: the columns' values joined by '|', numbers printed with %.6g,
// timestamps in seconds, nulls as "null".
std::vector<std::string> Rows(const arrow::RecordBatch& batch,
                              std::vector<std::string> columns = {}) {
  if (columns.empty()) {
    for (const auto& f : batch.schema()->fields()) columns.push_back(f->name());
  }
  std::vector<std::string> rows(batch.num_rows());
  for (const auto& name : columns) {
    auto array = batch.GetColumnByName(name);
    EXPECT_NE(array, nullptr) << name;
    if (array == nullptr) continue;
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      std::string cell = "null";
      if (array->IsValid(r)) {
        char buf[64];
        switch (array->type_id()) {
          case arrow::Type::DOUBLE:
            std::snprintf(buf, sizeof(buf), "%.6g",
                          static_cast<const arrow::DoubleArray&>(*array).Value(r));
            cell = buf;
            break;
          case arrow::Type::TIMESTAMP:
            cell =
                std::to_string(static_cast<const arrow::TimestampArray&>(*array).Value(r) / kSec);
            break;
          default:
            cell = array->GetScalar(r).ValueOrDie()->ToString();
        }
      }
      if (!rows[r].empty()) rows[r] += '|';
      rows[r] += cell;
    }
  }
  return rows;
}

using Strings = std::vector<std::string>;
const Strings kAggColumns = {"host",      "window_start", "window_end", "row_count", "value_count",
                             "value_sum", "value_avg",    "value_min",  "value_max", "closed"};

TEST(WindowStoreTest, TumblingWindowClosesWhenWatermarkPassesItsEnd) {
  auto store = MakeStore(Spec({WindowDef::Tumbling(kMin)}));
  ASSERT_NE(store, nullptr);
  auto result = store->Update(*Metrics(R"(["a", "b", "a", "a", "b", "a"])",
                                       "[0, 10, 30, 59, 60, 61]", "[1, 2, 3, 4, 5, null]"));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->rows, 6);
  EXPECT_EQ(result->closed_windows, 1);
  EXPECT_EQ(result->trailing, nullptr);

  auto closed = store->TakeClosed();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].window, 0u);
  EXPECT_EQ(closed[0].start_us, 0);
  EXPECT_EQ(closed[0].end_us, kMin);
  EXPECT_EQ(Rows(*closed[0].rows, kAggColumns),
            (Strings{"a|0|60|3|3|8|2.66667|1|4|true", "b|0|60|1|1|2|2|2|2|true"}));
  EXPECT_TRUE(store->TakeClosed().empty());

  auto open = store->Snapshot({});
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  EXPECT_TRUE((*open)->schema()->Equals(*store->OutputSchema()));
  // Rows come in key-id order: first seen over the stream (no key has left yet), so "a"
  // before "b".
  EXPECT_EQ(Rows(**open, kAggColumns),
            (Strings{"a|60|120|1|0|null|null|null|null|false", "b|60|120|1|1|5|5|5|5|false"}));
}

TEST(WindowStoreTest, LateRowsWithinLatenessUpdateOpenWindowsAndLaterOnesAreCounted) {
  WindowSpec spec = Spec({WindowDef::Tumbling(kMin)});
  spec.allowed_lateness_us = 10 * kSec;
  auto store = MakeStore(spec);
  ASSERT_NE(store, nullptr);
  // 65 -> watermark 55: [0, 60) still open, so the row at 50 counts.
  ASSERT_TRUE(store->Update(*Metrics(R"(["a", "a", "a"])", "[10, 65, 50]", "[1, 2, 3]")).ok());
  EXPECT_TRUE(store->TakeClosed().empty());
  // 71 -> watermark 61 closes [0, 60); 40 is then late.
  auto result = store->Update(*Metrics(R"(["a", "a"])", "[71, 40]", "[4, 100]"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->late_rows, 1);
  auto closed = store->TakeClosed();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(Rows(*closed[0].rows, {"host", "row_count", "value_sum"}), (Strings{"a|2|4"}));
  auto stats = store->GetStats();
  EXPECT_EQ(stats.late_rows, (std::vector<int64_t>{1}));
  EXPECT_EQ(stats.closed_windows, (std::vector<int64_t>{1}));
  EXPECT_EQ(stats.closed_rows, (std::vector<int64_t>{1}));
  EXPECT_EQ(stats.max_event_time_us, 71 * kSec);
  EXPECT_EQ(stats.watermark_us, 61 * kSec);
}

TEST(WindowStoreTest, WindowClosingInsideABatchIsNotChangedByLaterRowsOfThatBatch) {
  // 5s and 10s windows share 5s panes: a row for [0, 5) arriving after that window closed
  // (but while [0, 10) is open) must reach only the 10s window.
  auto store = MakeStore(Spec({WindowDef::Tumbling(5 * kSec), WindowDef::Tumbling(10 * kSec)},
                              {AggregateKind::kRowCount, AggregateKind::kSum}),
                         MetricsSchema(), MaxPanes(2));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->GetStats().pane_widths, 1);
  ASSERT_TRUE(
      store->Update(*Metrics(R"(["a", "a", "a", "a"])", "[1, 6, 2, 11]", "[1, 10, 100, 1000]"))
          .ok());
  auto closed = store->TakeClosed();
  ASSERT_EQ(closed.size(), 3u);
  std::vector<std::string> got;
  for (const auto& c : closed) {
    got.push_back(std::to_string(c.window) + ":" +
                  Rows(*c.rows, {"window_start", "row_count", "value_sum"})[0]);
  }
  EXPECT_EQ(got, (Strings{"0:0|1|1", "0:5|1|10", "1:0|3|111"}));
  EXPECT_EQ(store->GetStats().late_rows, (std::vector<int64_t>{1, 0}));
}

TEST(WindowStoreTest, HoppingWindowWhoseSlideDoesNotDivideItsWidth) {
  // width 10s, slide 4s: instances [0,10), [4,14), [8,18), ...; panes are gcd = 2s wide.
  auto store = MakeStore(Spec({WindowDef::Hopping(10 * kSec, 4 * kSec)},
                              {AggregateKind::kRowCount, AggregateKind::kSum}));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(
      store->Update(*Metrics(R"(["a", "a", "a", "a"])", "[1, 5, 9, 13]", "[1, 2, 4, 8]")).ok());
  SnapshotFilter filter;
  auto snapshot = store->Snapshot(filter);
  ASSERT_TRUE(snapshot.ok());
  // [0,10) closed at watermark 13 (and retention is 0); open: [4,14), [8,18), [12,22).
  EXPECT_EQ(Rows(**snapshot, {"window_start", "window_end", "row_count", "value_sum"}),
            (Strings{"4|14|3|14", "8|18|2|12", "12|22|1|8"}));
  // Watermark 13 closed every instance ending by then: [-8,2), [-4,6) and [0,10).
  auto closed = store->TakeClosed();
  ASSERT_EQ(closed.size(), 3u);
  std::vector<std::string> got;
  for (const auto& c : closed) {
    got.push_back(Rows(*c.rows, {"window_start", "row_count", "value_sum"})[0]);
  }
  EXPECT_EQ(got, (Strings{"-8|1|1", "-4|2|3", "0|3|7"}));
  filter.current_only = true;
  EXPECT_EQ(Rows(**store->Snapshot(filter), {"window_start", "row_count"}), (Strings{"12|1"}));
}

TEST(WindowStoreTest, RetentionKeepsClosedWindowsReadableUntilItExpires) {
  WindowSpec spec = Spec({WindowDef::Tumbling(kMin)}, {AggregateKind::kRowCount});
  spec.retention_us = 2 * kMin;
  auto store = MakeStore(spec);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Update(*Metrics(R"(["a", "b", "a"])", "[0, 30, 60]", "[1, 1, 1]")).ok());
  SnapshotFilter filter;
  EXPECT_EQ(Rows(**store->Snapshot(filter), {"host", "window_start", "row_count", "closed"}),
            (Strings{"a|0|1|true", "b|0|1|true", "a|60|1|false"}));
  filter.include_open = false;
  filter.keys = arrow::RecordBatch::Make(arrow::schema({arrow::field("host", arrow::utf8())}), 2,
                                         {ArrayFromJson(arrow::utf8(), R"(["b", "zz"])")});
  EXPECT_EQ(Rows(**store->Snapshot(filter), {"host", "row_count"}), (Strings{"b|1"}));
  EXPECT_GT(store->GetStats().retained_closed_bytes, 0);
  // Watermark 180 >= 60 + 120: [0, 60) is gone.
  ASSERT_TRUE(store->Update(*Metrics(R"(["a"])", "[180]", "[1]")).ok());
  filter.keys = nullptr;
  EXPECT_EQ(Rows(**store->Snapshot(filter), {"host", "window_start"}), (Strings{"a|60"}));
  // Watermark 300: [60, 120) expired, [180, 240) closed and kept.
  ASSERT_TRUE(store->Update(*Metrics(R"(["a"])", "[300]", "[1]")).ok());
  EXPECT_EQ(Rows(**store->Snapshot(filter), {"host", "window_start"}), (Strings{"a|180"}));
  ASSERT_TRUE(store->AdvanceWatermark(kEndOfTime).ok());
  EXPECT_EQ((*store->Snapshot(filter))->num_rows(), 0);
  EXPECT_EQ(store->GetStats().retained_closed_bytes, 0);
}

TEST(WindowStoreTest, ClosedPanesAreEvictedFromMemory) {
  auto store = MakeStore(Spec({WindowDef::Tumbling(kMin)}, {AggregateKind::kSum}));
  ASSERT_NE(store, nullptr);
  for (int minute = 0; minute < 50; ++minute) {
    std::string ts = "[";
    ts += std::to_string(minute * 60);
    ts += ']';
    ASSERT_TRUE(store->Update(*Metrics(R"(["a"])", ts, "[1]")).ok());
  }
  auto stats = store->GetStats();
  EXPECT_EQ(stats.open_panes, 1);
  EXPECT_EQ(stats.closed_windows[0], 49);
  EXPECT_EQ(stats.pending_closed, 49);
  EXPECT_EQ(store->TakeClosed().size(), 49u);
  EXPECT_EQ(store->GetStats().pending_closed, 0);
}

TEST(WindowStoreTest, OnCloseCallbackReceivesWindowsInsteadOfTheQueue) {
  std::vector<int64_t> ends;
  WindowStoreOptions options;
  options.on_close = [&](const ClosedWindow& closed) {
    ends.push_back(closed.end_us / kSec);
    return closed.end_us >= 180 * kSec ? arrow::Status::IOError("history table is gone")
                                       : arrow::Status::OK();
  };
  auto store =
      MakeStore(Spec({WindowDef::Tumbling(kMin)}, {AggregateKind::kSum}), MetricsSchema(), options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Update(*Metrics(R"(["a", "a"])", "[0, 60]", "[1, 1]")).ok());
  auto failed = store->Update(*Metrics(R"(["a", "a"])", "[120, 190]", "[1, 1]"));
  EXPECT_TRUE(failed.status().IsIOError());
  EXPECT_EQ(ends, (std::vector<int64_t>{60, 120, 180}));
  EXPECT_TRUE(store->TakeClosed().empty());
}

TEST(WindowStoreTest, AdvanceWatermarkClosesEverythingAtEndOfTime) {
  auto store = MakeStore(Spec(DefaultMetricsWindows(), {AggregateKind::kRowCount}));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Update(*Metrics(R"(["a", "b"])", "[1000, 1010]", "[1, 2]")).ok());
  EXPECT_TRUE(store->TakeClosed().empty());
  ASSERT_TRUE(store->AdvanceWatermark(kEndOfTime).ok());
  auto closed = store->TakeClosed();
  ASSERT_EQ(closed.size(), 4u);  // one 5m, 30m, 1h and 1d window
  EXPECT_EQ(closed[0].rows->num_rows(), 2);
  EXPECT_EQ(store->GetStats().open_panes, 0);
  auto late = store->Update(*Metrics(R"(["a"])", "[3000]", "[1]"));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->late_rows, 1);
  // Never lowers.
  ASSERT_TRUE(store->AdvanceWatermark(0).ok());
  EXPECT_EQ(store->GetStats().watermark_us, kEndOfTime);
}

TEST(WindowStoreTest, SnapshotFiltersByKeysTimeRangeAndWindow) {
  auto store = MakeStore(Spec({WindowDef::Tumbling(kMin), WindowDef::Tumbling(10 * kMin)},
                              {AggregateKind::kRowCount}));
  ASSERT_NE(store, nullptr);
  WindowSpec spec = store->spec();
  ASSERT_TRUE(
      store->Update(*Metrics(R"(["a", "b", "c", "a"])", "[600, 610, 620, 660]", "[1, 1, 1, 1]"))
          .ok());
  SnapshotFilter filter;
  filter.window = 0;
  EXPECT_EQ(Rows(**store->Snapshot(filter), {"host", "window_start", "row_count"}),
            (Strings{"a|660|1"}));
  filter.window = 1;
  EXPECT_EQ(Rows(**store->Snapshot(filter), {"host", "window_start", "row_count"}),
            (Strings{"a|600|2", "b|600|1", "c|600|1"}));
  filter.keys =
      arrow::RecordBatch::Make(arrow::schema({arrow::field("host", arrow::large_utf8())}), 3,
                               {ArrayFromJson(arrow::large_utf8(), R"(["c", "nope", "a"])")});
  EXPECT_EQ(Rows(**store->Snapshot(filter), {"host"}), (Strings{"c", "a"}));
  filter.keys = nullptr;
  filter.window.reset();
  filter.from_us = 650 * kSec;
  filter.to_us = 700 * kSec;
  EXPECT_EQ(Rows(**store->Snapshot(filter), {"host", "window_start", "window_end"}),
            (Strings{"a|660|720", "a|600|1200", "b|600|1200", "c|600|1200"}));
  filter.to_us = 660 * kSec;  // [650, 660) misses the minute starting at 660
  EXPECT_EQ((*store->Snapshot(filter))->num_rows(), 3);
  filter.window = 7;
  EXPECT_TRUE(store->Snapshot(filter).status().IsInvalid());
}

TEST(WindowStoreTest, FirstAndLastFollowEventTimeWithArrivalOrderBreakingTies) {
  auto store =
      MakeStore(Spec({WindowDef::Tumbling(kMin)}, {AggregateKind::kFirst, AggregateKind::kLast}));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->Update(*Metrics(R"(["a", "a", "a", "a", "a"])", "[20, 10, 10, 30, 30]",
                                    "[1, 2, 3, 4, 5]"))
                  .ok());
  ASSERT_TRUE(store->Update(*Metrics(R"(["a", "a"])", "[10, 5]", "[null, null]")).ok());
  EXPECT_EQ(Rows(**store->Snapshot({}), {"value_first", "value_last"}), (Strings{"2|5"}));
}

TEST(WindowStoreTest, VarianceAndStddevMatchTextbookValues) {
  auto store = MakeStore(
      Spec({WindowDef::Tumbling(kMin)}, {AggregateKind::kVarPop, AggregateKind::kVarSamp,
                                         AggregateKind::kStddevPop, AggregateKind::kStddevSamp}));
  ASSERT_NE(store, nullptr);
  // Two batches so the values land in one pane in two folds; 2,4,4,4,5,5,7,9: var_pop 4.
  ASSERT_TRUE(
      store->Update(*Metrics(R"(["a", "a", "a", "a", "b"])", "[1, 2, 3, 4, 5]", "[2, 4, 4, 4, 7]"))
          .ok());
  ASSERT_TRUE(
      store->Update(*Metrics(R"(["a", "a", "a", "a"])", "[5, 6, 7, 8]", "[5, 5, 7, 9]")).ok());
  EXPECT_EQ(Rows(**store->Snapshot({}), {"host", "value_var_pop", "value_var_samp",
                                         "value_stddev_pop", "value_stddev_samp"}),
            (Strings{"a|4|4.57143|2|2.13809", "b|0|null|0|null"}));
}

TEST(WindowStoreTest, VarianceStaysAccurateForLargeOffsets) {
  // Naive sum-of-squares would lose everything here; Welford/Chan keep ~1e-7 relative.
  auto store = MakeStore(
      Spec({WindowDef::Tumbling(kMin), WindowDef::Tumbling(2 * kMin)}, {AggregateKind::kVarPop}),
      MetricsSchema(), MaxPanes(2));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->Update(*Metrics(R"(["a", "a", "a", "a"])", "[1, 2, 61, 62]",
                                    "[1e9, 1000000002, 1000000004, 1000000006]"))
                  .ok());
  SnapshotFilter filter;
  filter.window = 1;
  auto batch = *store->Snapshot(filter);
  auto var = std::static_pointer_cast<arrow::DoubleArray>(batch->GetColumnByName("value_var_pop"));
  EXPECT_NEAR(var->Value(0), 5.0, 1e-6);
}

TEST(WindowStoreTest, NaNIsIgnoredByMinAndWinsMax) {
  auto store = MakeStore(Spec({WindowDef::Tumbling(kMin)},
                              {AggregateKind::kMin, AggregateKind::kMax, AggregateKind::kCount}));
  ASSERT_NE(store, nullptr);
  auto host = ArrayFromJson(arrow::utf8(), R"(["a", "a", "b"])");
  auto ts = ArrayFromJson(arrow::timestamp(arrow::TimeUnit::SECOND), "[1, 2, 3]");
  arrow::DoubleBuilder values;
  ASSERT_TRUE(values.AppendValues({std::nan(""), 3.0, std::nan("")}).ok());
  auto batch = arrow::RecordBatch::Make(MetricsSchema(), 3, {host, ts, *values.Finish()});
  ASSERT_TRUE(store->Update(*batch).ok());
  EXPECT_EQ(Rows(**store->Snapshot({}), {"host", "value_min", "value_max", "value_count"}),
            (Strings{"a|3|nan|2", "b|nan|nan|1"}));
}

TEST(WindowStoreTest, TrailingWindowColumnsFollowEachRow) {
  WindowSpec spec = Spec({WindowDef::Trailing(10 * kSec)},
                         {AggregateKind::kSum, AggregateKind::kAvg, AggregateKind::kCount});
  auto store = MakeStore(spec);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->TrailingSchema()->field_names(),
            (Strings{"value_running_window_sum", "value_running_window_avg",
                     "value_running_window_count"}));
  auto batch = Metrics(R"(["a", "a", "b", "a", "a", "a"])", "[0, 5, 6, 10, 10, 20]",
                       "[1, 2, 100, 4, null, 8]");
  auto result = store->Update(*batch);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_NE(result->trailing, nullptr);
  // Row at 10: (0, 10] holds 5 and 10 -> 2 + 4; at 20: (10, 20] holds only 20.
  EXPECT_EQ(Rows(*result->trailing),
            (Strings{"1|1|1", "3|1.5|2", "100|100|1", "6|3|2", "6|3|2", "8|8|1"}));
  auto late = store->Update(*Metrics(R"(["a"])", "[19]", "[1]"));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->late_rows, 1);
  EXPECT_EQ(Rows(*late->trailing), (Strings{"null|null|null"}));
  auto joined = WindowStore::WithTrailingColumns(batch, *result);
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ((*joined)->num_columns(), 6);
  EXPECT_EQ((*joined)->schema()->field(3)->name(), "value_running_window_sum");
}

TEST(WindowStoreTest, TrailingOutOfOrderRowsWithinLateness) {
  WindowSpec spec = Spec({WindowDef::Trailing(10 * kSec)},
                         {AggregateKind::kSum, AggregateKind::kMin, AggregateKind::kMax,
                          AggregateKind::kFirst, AggregateKind::kLast});
  spec.allowed_lateness_us = 30 * kSec;
  auto store = MakeStore(spec);
  ASSERT_NE(store, nullptr);
  auto result = store->Update(
      *Metrics(R"(["a", "a", "a", "a", "a"])", "[10, 30, 25, 21, 31]", "[1, 2, 3, 4, 5]"));
  ASSERT_TRUE(result.ok());
  // 25 sees (15, 25]: only itself; 21 sees only itself (25 is later in event time); 31
  // sees (21, 31]: 25, 30 and 31 (21 is just outside).
  EXPECT_EQ(Rows(*result->trailing),
            (Strings{"1|1|1|1|1", "2|2|2|2|2", "3|3|3|3|3", "4|4|4|4|4", "10|2|5|3|5"}));
}

TEST(WindowStoreTest, MultiColumnIntegerAndNullKeys) {
  auto schema =
      arrow::schema({arrow::field("region", arrow::utf8()), arrow::field("shard", arrow::int16()),
                     arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI)),
                     arrow::field("value", arrow::int32())});
  WindowSpec spec =
      Spec({WindowDef::Tumbling(kMin)}, {AggregateKind::kRowCount, AggregateKind::kSum});
  spec.key_columns = {"region", "shard"};
  auto store = MakeStore(spec, schema);
  ASSERT_NE(store, nullptr);
  auto batch = arrow::RecordBatch::Make(
      schema, 5,
      {ArrayFromJson(arrow::utf8(), R"(["eu", "eu", null, "eu", null])"),
       ArrayFromJson(arrow::int16(), "[1, 2, 1, 1, 1]"),
       ArrayFromJson(schema->field(2)->type(), "[1000, 2000, 3000, 4000, 5000]"),
       ArrayFromJson(arrow::int32(), "[1, 2, 3, 4, 5]")});
  ASSERT_TRUE(store->Update(*batch).ok());
  auto snapshot = *store->Snapshot({});
  EXPECT_EQ(snapshot->schema()->field(1)->type()->id(), arrow::Type::INT16);
  EXPECT_EQ(Rows(*snapshot, {"region", "shard", "row_count", "value_sum"}),
            (Strings{"eu|1|2|5", "eu|2|1|2", "null|1|2|8"}));
}

TEST(WindowStoreTest, GlobalAggregateWithoutKeys) {
  WindowSpec spec = Spec({WindowDef::Tumbling(kMin)}, {AggregateKind::kRowCount});
  spec.key_columns = {};
  auto store = MakeStore(spec);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Update(*Metrics(R"(["a", "b"])", "[1, 2]", "[1, 2]")).ok());
  EXPECT_EQ(Rows(**store->Snapshot({}), {"row_count"}), (Strings{"2"}));
}

TEST(WindowStoreTest, EmptyBatchesAndNullTimes) {
  auto store = MakeStore(
      Spec({WindowDef::Tumbling(kMin), WindowDef::Trailing(kMin)}, {AggregateKind::kRowCount}));
  ASSERT_NE(store, nullptr);
  auto empty = store->Update(*Metrics("[]", "[]", "[]"));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->rows, 0);
  EXPECT_EQ(empty->trailing->num_rows(), 0);
  auto result = store->Update(*Metrics(R"(["a", "a"])", "[null, 5]", "[1, 2]"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->null_time_rows, 1);
  EXPECT_EQ(Rows(*result->trailing), (Strings{"null", "1"}));
  EXPECT_EQ(Rows(**store->Snapshot({}), {"row_count"}), (Strings{"1"}));
  EXPECT_EQ(store->GetStats().null_time_rows, 1);
}

TEST(WindowStoreTest, ErrorsSayWhatIsWrongAndWhatToDo) {
  WindowSpec spec = Spec({WindowDef::Tumbling(kMin)});
  auto no_time = WindowStore::Make(spec, arrow::schema({arrow::field("host", arrow::utf8()),
                                                        arrow::field("value", arrow::float64())}));
  ASSERT_FALSE(no_time.ok());
  EXPECT_NE(no_time.status().message().find("no time column 'ts'"), std::string::npos)
      << no_time.status().message();

  auto int_time = WindowStore::Make(
      spec, arrow::schema({arrow::field("host", arrow::utf8()), arrow::field("ts", arrow::int64()),
                           arrow::field("value", arrow::float64())}));
  ASSERT_FALSE(int_time.ok());
  EXPECT_NE(int_time.status().message().find("integer_time_unit"), std::string::npos);
  spec.integer_time_unit = arrow::TimeUnit::MILLI;
  EXPECT_TRUE(WindowStore::Make(spec, arrow::schema({arrow::field("host", arrow::utf8()),
                                                     arrow::field("ts", arrow::int64()),
                                                     arrow::field("value", arrow::float64())}))
                  .ok());
  spec.integer_time_unit.reset();

  auto text_value = WindowStore::Make(
      spec, arrow::schema({arrow::field("host", arrow::utf8()),
                           arrow::field("ts", arrow::timestamp(arrow::TimeUnit::SECOND)),
                           arrow::field("value", arrow::utf8())}));
  ASSERT_FALSE(text_value.ok());
  EXPECT_NE(text_value.status().message().find("must be numeric"), std::string::npos);

  auto float_key = WindowStore::Make(
      spec, arrow::schema({arrow::field("host", arrow::float32()),
                           arrow::field("ts", arrow::timestamp(arrow::TimeUnit::SECOND)),
                           arrow::field("value", arrow::float64())}));
  ASSERT_FALSE(float_key.ok());
  EXPECT_NE(float_key.status().message().find("key column 'host'"), std::string::npos);

  auto store = MakeStore(spec);
  ASSERT_NE(store, nullptr);
  // Batch without the value column.
  auto missing = store->Update(*arrow::RecordBatch::Make(
      arrow::schema({arrow::field("host", arrow::utf8()),
                     arrow::field("ts", arrow::timestamp(arrow::TimeUnit::SECOND))}),
      1,
      {ArrayFromJson(arrow::utf8(), R"(["a"])"),
       ArrayFromJson(arrow::timestamp(arrow::TimeUnit::SECOND), "[1]")}));
  ASSERT_TRUE(missing.status().IsInvalid());
  EXPECT_NE(missing.status().message().find("no value column 'value'"), std::string::npos);
  // Key with a different integer width.
  auto wrong_key = store->Update(*arrow::RecordBatch::Make(
      arrow::schema({arrow::field("host", arrow::int32()),
                     arrow::field("ts", arrow::timestamp(arrow::TimeUnit::SECOND)),
                     arrow::field("value", arrow::float64())}),
      1,
      {ArrayFromJson(arrow::int32(), "[1]"),
       ArrayFromJson(arrow::timestamp(arrow::TimeUnit::SECOND), "[1]"),
       ArrayFromJson(arrow::float64(), "[1]")}));
  ASSERT_TRUE(wrong_key.status().IsInvalid());
  EXPECT_NE(wrong_key.status().message().find("created for string"), std::string::npos)
      << wrong_key.status().message();
  // Seconds far beyond the supported range, and nothing changed.
  auto overflow = store->Update(*Metrics(R"(["a", "a"])", "[1, 9000000000000000]", "[1, 2]"));
  ASSERT_TRUE(overflow.status().IsInvalid());
  EXPECT_NE(overflow.status().message().find("row 1"), std::string::npos);
  EXPECT_EQ(store->GetStats().rows, 0);
  EXPECT_EQ((*store->Snapshot({}))->num_rows(), 0);
  // Other time units are fine in later batches.
  auto ns = arrow::schema({arrow::field("host", arrow::utf8()),
                           arrow::field("ts", arrow::timestamp(arrow::TimeUnit::NANO, "UTC")),
                           arrow::field("value", arrow::float64())});
  auto ok =
      store->Update(*arrow::RecordBatch::Make(ns, 1,
                                              {ArrayFromJson(arrow::utf8(), R"(["a"])"),
                                               ArrayFromJson(ns->field(1)->type(), "[1500000000]"),
                                               ArrayFromJson(arrow::float64(), "[1]")}));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(store->GetStats().max_event_time_us, 1500000);
}

TEST(WindowStoreTest, StatsReportMemoryPerKeyAndPane) {
  auto store = MakeStore(Spec(DefaultMetricsWindows()));
  ASSERT_NE(store, nullptr);
  auto stats = store->GetStats();
  EXPECT_EQ(stats.pane_widths, 4);
  // row_count + count, sum, min, max.
  EXPECT_EQ(stats.slot_bytes, 5 * 8);
  ASSERT_TRUE(store->Update(*Metrics(R"(["a", "b", "c"])", "[1, 2, 3]", "[1, 2, 3]")).ok());
  stats = store->GetStats();
  EXPECT_EQ(stats.keys, 3);
  // Rows fold into the 5m pane only; the 30m, 1h and 1d panes are fed from it.
  EXPECT_EQ(stats.open_panes, 1);
  EXPECT_GE(stats.pane_bytes, 3 * stats.slot_bytes);
  ASSERT_TRUE(store->Update(*Metrics(R"(["a"])", "[301]", "[1]")).ok());
  // The new 5m pane, and the 30m pane the first one was merged into; 30m feeds 1h and 1h
  // feeds 1d only when those 30m and 1h panes end.
  EXPECT_EQ(store->GetStats().open_panes, 2);
  SnapshotFilter filter;
  filter.window = 3;
  EXPECT_EQ(Rows(**store->Snapshot(filter), {"host", "row_count", "value_sum"}),
            (Strings{"a|2|2", "b|1|2", "c|1|3"}));
  EXPECT_GT(stats.key_bytes, 0);
  WindowStoreOptions merged;
  merged.max_panes_per_window = 12;
  auto coarse = MakeStore(Spec(DefaultMetricsWindows()), MetricsSchema(), merged);
  EXPECT_EQ(coarse->GetStats().pane_widths, 2);  // 5m (also 30m, 1h) and 1d
}

TEST(WindowStoreTest, GapsInTheDataCostNoPaneMemory) {
  WindowSpec spec = Spec({WindowDef::Tumbling(5 * kMin)}, {AggregateKind::kRowCount});
  spec.allowed_lateness_us = 60 * kMin;
  auto store = MakeStore(spec);
  ASSERT_NE(store, nullptr);
  // 0 and 55m: the watermark is -5m, so every 5m pane in between is open but empty.
  ASSERT_TRUE(store->Update(*Metrics(R"(["a", "a"])", "[0, 3300]", "[1, 1]")).ok());
  auto stats = store->GetStats();
  EXPECT_EQ(stats.open_panes, 12);
  EXPECT_EQ(stats.allocated_panes, 2);
  // A late row in a gap gets its pane then.
  ASSERT_TRUE(store->Update(*Metrics(R"(["b"])", "[1500]", "[1]")).ok());
  EXPECT_EQ(store->GetStats().allocated_panes, 3);
  EXPECT_EQ(Rows(**store->Snapshot({}), {"host", "window_start", "row_count"}),
            (Strings{"a|0|1", "b|1500|1", "a|3300|1"}));
}

// Applies `batches` to `store` while kReaders threads call read(reader, n) for n = 0, 1, ...
// until the writer is done (at least 5 times each).
constexpr int kReaders = 3;
template <typename Read>
void WriteWhileReading(WindowStore& store,
                       const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
                       Read&& read) {
  std::atomic<bool> done{false};
  std::atomic<int> started{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      ++started;
      for (int n = 0; !done.load() || n < 5; ++n) read(r, n);
    });
  }
  while (started.load() < kReaders) std::this_thread::yield();
  for (const auto& batch : batches) EXPECT_TRUE(store.Update(*batch).ok());
  done = true;
  for (auto& t : readers) t.join();
}

// hosts "<prefix><first>", ..., "<prefix><first + count - 1>", each with `rows` rows at times
// t, t + 1, ... seconds and value = its number.
std::shared_ptr<arrow::RecordBatch> Generation(const std::string& prefix, int first, int count,
                                               int rows, int64_t t_seconds) {
  arrow::StringBuilder hosts;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::SECOND),
                             arrow::default_memory_pool());
  arrow::DoubleBuilder values;
  for (int r = 0; r < rows; ++r) {
    for (int k = first; k < first + count; ++k) {
      std::string host = prefix;
      host += std::to_string(k);
      EXPECT_TRUE(hosts.Append(host).ok());
      EXPECT_TRUE(ts.Append(t_seconds + r).ok());
      EXPECT_TRUE(values.Append(k).ok());
    }
  }
  return arrow::RecordBatch::Make(MetricsSchema(), static_cast<int64_t>(rows) * count,
                                  {*hosts.Finish(), *ts.Finish(), *values.Finish()});
}

TEST(WindowStoreTest, KeysLeaveMemoryOnceTheirWindowsCloseAndNewKeysTakeTheirIds) {
  auto store = MakeStore(Spec({WindowDef::Tumbling(kMin), WindowDef::Trailing(30 * kSec)},
                              {AggregateKind::kRowCount, AggregateKind::kSum}));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Update(*Metrics(R"(["a", "b", "c"])", "[0, 10, 20]", "[1, 2, 3]")).ok());
  EXPECT_EQ(store->GetStats().keys, 3);
  // Watermark 60: [0, 60) closes and a, b, c have rows nowhere else (their trailing rows are
  // older than 60 - 30): they leave, and the new keys get their ids.
  ASSERT_TRUE(store->Update(*Metrics(R"(["d", "e"])", "[60, 61]", "[4, 5]")).ok());
  auto stats = store->GetStats();
  EXPECT_EQ(stats.keys, 2);
  EXPECT_EQ(stats.retired_keys, 3);
  EXPECT_EQ(stats.key_ids, 5);  // the pass ran after d, e took ids 3, 4
  ASSERT_TRUE(store->Update(*Metrics(R"(["f", "a"])", "[62, 63]", "[6, 7]")).ok());
  stats = store->GetStats();
  EXPECT_EQ(stats.keys, 4);
  EXPECT_EQ(stats.key_ids, 5);  // f and the returning a took free ids 0 and 1
  // A returning key starts from nothing: "a" has only its new row, in the right name.
  EXPECT_EQ(Rows(**store->Snapshot({}), {"host", "window_start", "row_count", "value_sum"}),
            (Strings{"f|60|1|6", "a|60|1|7", "d|60|1|4", "e|60|1|5"}));
  auto closed = store->TakeClosed();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(Rows(*closed[0].rows, {"host", "row_count", "value_sum"}),
            (Strings{"a|1|1", "b|1|2", "c|1|3"}));
  // Per-row trailing columns see only the returning key's own new rows.
  auto update = store->Update(*Metrics(R"(["a"])", "[64]", "[10]"));
  ASSERT_TRUE(update.ok());
  EXPECT_TRUE(update->trailing->GetColumnByName("value_running_window_sum")
                  ->Equals(*ArrayFromJson(arrow::float64(), "[17]")));
  // Every window closed: no key is left.
  ASSERT_TRUE(store->AdvanceWatermark(kEndOfTime).ok());
  stats = store->GetStats();
  EXPECT_EQ(stats.keys, 0);
  EXPECT_EQ(stats.key_ids, 0);
  EXPECT_EQ(stats.retired_keys, 3 + 4);
}

TEST(WindowStoreTest, KeysAreKeptWhileAnyWindowOrRetainedWindowHoldsThem) {
  // Hopping 2m/1m: a row's pane stays open until both windows containing it close.
  WindowSpec spec = Spec({WindowDef::Hopping(2 * kMin, kMin)}, {AggregateKind::kRowCount});
  spec.retention_us = 2 * kMin;
  auto store = MakeStore(spec);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Update(*Metrics(R"(["a"])", "[30]", "[1]")).ok());
  // Watermark 60: [-60, 60) closed, [0, 120) still open: "a" stays.
  ASSERT_TRUE(store->Update(*Metrics(R"(["b"])", "[60]", "[1]")).ok());
  EXPECT_EQ(store->GetStats().keys, 2);
  // Watermark 120: [0, 120) closed but retained for 2m: "a" stays, readable by name.
  ASSERT_TRUE(store->Update(*Metrics(R"(["c"])", "[120]", "[1]")).ok());
  EXPECT_EQ(store->GetStats().keys, 3);
  SnapshotFilter closed_only;
  closed_only.include_open = false;
  closed_only.from_us = 0;
  closed_only.to_us = 1;
  EXPECT_EQ(Rows(**store->Snapshot(closed_only), {"host", "window_start", "row_count"}),
            (Strings{"a|-60|1", "a|0|1", "b|0|1"}));
  // Watermark 240: [0, 120) has expired; "a" is gone and "d" takes its id, yet no retained
  // window shows "d".
  ASSERT_TRUE(store->Update(*Metrics(R"(["d"])", "[240]", "[1]")).ok());
  ASSERT_TRUE(store->Update(*Metrics(R"(["e"])", "[241]", "[1]")).ok());
  auto stats = store->GetStats();
  EXPECT_GE(stats.retired_keys, 1);
  EXPECT_LE(stats.key_ids, 4);
  closed_only.from_us.reset();
  closed_only.to_us.reset();
  for (const auto& row : Rows(**store->Snapshot(closed_only), {"host", "window_start"})) {
    EXPECT_TRUE(row.rfind("d|", 0) != 0 && row.rfind("e|", 0) != 0) << row;
  }
}

TEST(WindowStoreTest, MemoryStaysFlatUnderKeyChurnAndFallsWhenItEnds) {
  // Metrics-like windows (5m, 30m, 1h tumbling, running 5m trailing columns, lateness 1m).
  // Every 5 minutes of event time 1,000 new keys replace the previous ones: 48 generations,
  // 48,000 distinct keys over 4 hours, about 13,000 with open state at a time (the 1h window
  // holds a key until its hour closes).
  WindowSpec spec = Spec({WindowDef::Tumbling(5 * kMin), WindowDef::Tumbling(30 * kMin),
                          WindowDef::Tumbling(60 * kMin), WindowDef::Trailing(5 * kMin)});
  spec.allowed_lateness_us = kMin;
  auto store = MakeStore(spec);
  ASSERT_NE(store, nullptr);
  constexpr int kGenerations = 48, kKeys = 1000;
  int64_t warm_bytes = 0, warm_ids = 0, peak_bytes = 0;
  for (int g = 0; g < kGenerations; ++g) {
    for (int minute = 0; minute < 5; ++minute) {
      auto batch = Generation("host-", g * kKeys, kKeys, 2, (g * 5 + minute) * 60);
      ASSERT_TRUE(store->Update(*batch).ok());
    }
    auto stats = store->GetStats();
    peak_bytes = std::max(peak_bytes, stats.total_bytes());
    EXPECT_LE(stats.keys, 15 * kKeys) << "generation " << g;
    if (g < 16) {  // warm-up: past the first 1h window and a second one
      warm_bytes = std::max(warm_bytes, stats.total_bytes());
      warm_ids = std::max(warm_ids, stats.key_ids);
      continue;
    }
    // Flat: no more ids than during warm-up and as many bytes give or take the key bytes of
    // retired keys waiting for compaction, however many keys have come and gone.
    EXPECT_LE(stats.key_ids, warm_ids) << "generation " << g;
    EXPECT_LE(stats.total_bytes(), warm_bytes + warm_bytes / 10) << "generation " << g;
  }
  auto stats = store->GetStats();
  EXPECT_GE(stats.retired_keys, (kGenerations - 15) * kKeys);
  // The stream stops: once every window has closed, memory falls to a fraction of the peak.
  ASSERT_TRUE(store->AdvanceWatermark(kEndOfTime).ok());
  stats = store->GetStats();
  EXPECT_EQ(stats.keys, 0);
  EXPECT_EQ(stats.key_ids, 0);
  EXPECT_LT(stats.total_bytes(), peak_bytes / 8)
      << "panes " << stats.pane_bytes << " keys " << stats.key_bytes << " trailing "
      << stats.trailing_bytes;
}

TEST(WindowStoreTest, ReadersNeverSeeAKeysValuesUnderAnotherKeyWhileKeysChurn) {
  // Each key's rows all carry its own number as value, so every row a reader gets must have
  // min = max = the number in its name. Keys last a few batches and ids are reused as the
  // writer goes; readers take snapshots (all keys and a few by name) meanwhile.
  WindowSpec spec = Spec({WindowDef::Tumbling(kMin), WindowDef::Hopping(2 * kMin, kMin)},
                         {AggregateKind::kRowCount, AggregateKind::kMin, AggregateKind::kMax});
  auto store = MakeStore(spec);
  ASSERT_NE(store, nullptr);
  constexpr int kBatches = 300, kKeys = 200;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  for (int b = 0; b < kBatches; ++b) {
    batches.push_back(Generation("k", (b / 3) * kKeys / 2, kKeys, 1, b * 20));
  }
  auto key_filter = [](int first) {
    arrow::StringBuilder hosts;
    for (int k = first; k < first + 5; ++k) {
      std::string host = "k";
      host += std::to_string(k);
      EXPECT_TRUE(hosts.Append(host).ok());
    }
    return arrow::RecordBatch::Make(arrow::schema({arrow::field("host", arrow::utf8())}), 5,
                                    {*hosts.Finish()});
  };
  std::atomic<int> bad{0}, reads{0};
  WriteWhileReading(*store, batches, [&](int reader, int read) {
    SnapshotFilter filter;
    if ((read + reader) % 2 == 0) filter.keys = key_filter((read * 37 + reader * 11) % 20000);
    auto snapshot = store->Snapshot(filter);
    if (!snapshot.ok()) {
      ++bad;
      return;
    }
    const arrow::RecordBatch& batch = **snapshot;
    auto hosts = std::static_pointer_cast<arrow::StringArray>(batch.GetColumnByName("host"));
    auto mins = std::static_pointer_cast<arrow::DoubleArray>(batch.GetColumnByName("value_min"));
    auto maxes = std::static_pointer_cast<arrow::DoubleArray>(batch.GetColumnByName("value_max"));
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      const double number = std::stod(hosts->GetString(r).substr(1));
      if (mins->Value(r) != number || maxes->Value(r) != number) ++bad;
    }
    ++reads;
  });
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  auto stats = store->GetStats();
  EXPECT_GT(stats.retired_keys, 0);
  EXPECT_LT(stats.key_ids, 2000);  // 10,100 distinct keys went through
}

TEST(WindowStoreTest, ReadersSeeWholeBatchesWhileTheWriterRuns) {
  // One writer, three readers: every snapshot must show a state between two batches —
  // total row_count a multiple of the batch size — and never go backwards.
  WindowSpec spec = Spec({WindowDef::Tumbling(24 * 60 * kMin)}, {AggregateKind::kRowCount});
  auto store = MakeStore(spec);
  ASSERT_NE(store, nullptr);
  constexpr int kBatches = 200, kRows = 500;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  for (int b = 0; b < kBatches; ++b) {
    arrow::StringBuilder hosts;
    arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::SECOND),
                               arrow::default_memory_pool());
    arrow::DoubleBuilder values;
    for (int r = 0; r < kRows; ++r) {
      std::string host = "h";
      host += std::to_string((b * kRows + r) % 97);
      ASSERT_TRUE(hosts.Append(host).ok());
      ASSERT_TRUE(ts.Append(b).ok());
      ASSERT_TRUE(values.Append(r).ok());
    }
    batches.push_back(arrow::RecordBatch::Make(MetricsSchema(), kRows,
                                               {*hosts.Finish(), *ts.Finish(), *values.Finish()}));
  }
  std::atomic<int> bad{0}, reads{0};
  std::vector<int64_t> last(kReaders, 0);
  WriteWhileReading(*store, batches, [&](int reader, int) {
    auto snapshot = store->Snapshot({});
    if (!snapshot.ok()) {
      ++bad;
      return;
    }
    auto counts =
        std::static_pointer_cast<arrow::Int64Array>((*snapshot)->GetColumnByName("row_count"));
    int64_t total = 0;
    for (int64_t i = 0; i < counts->length(); ++i) total += counts->Value(i);
    if (total % kRows != 0 || total < last[reader]) ++bad;
    last[reader] = total;
    ++reads;
    store->GetStats();
  });
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store->GetStats().rows, kBatches * kRows);
}

}  // namespace
}  // namespace hyprstream::window
