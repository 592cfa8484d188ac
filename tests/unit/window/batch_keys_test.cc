// BatchKeys: a batch's keys looked up once. Checks that the distinct keys and the row map
// give back every row's key, in order of first occurrence, for string (with nulls, as a
// dictionary), integer and two-column keys; and, randomised, that a WindowStore fed the shared
// keys ends in exactly the state of one interning the rows itself — same per-row trailing
// columns, snapshots, closed windows, counters and key retirement (ids reused) — over batches
// whose keys come and go.
#include "window/batch_keys.h"

#include "window/duration.h"
#include "window/event_time.h"
#include "window/window_store.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

namespace hyprstream::window {
namespace {

constexpr int64_t kSec = kMicrosPerSecond;

// Row i's key as text ("null" for a null value), columns joined by '|'.
std::string KeyText(const std::vector<std::shared_ptr<arrow::Array>>& columns, int64_t row) {
  std::string text;
  for (const auto& column : columns) {
    auto scalar = column->GetScalar(row).ValueOrDie();
    if (scalar->type->id() == arrow::Type::DICTIONARY) {
      scalar = static_cast<const arrow::DictionaryScalar&>(*scalar).GetEncodedValue().ValueOrDie();
    }
    text += (scalar->is_valid ? scalar->ToString() : "null") + "|";
  }
  return text;
}

void ExpectRoundTrip(const arrow::RecordBatch& batch, const std::vector<std::string>& names) {
  auto made = BatchKeys::Make(batch, names);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const BatchKeys& keys = **made;
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (const auto& name : names) columns.push_back(batch.GetColumnByName(name));
  ASSERT_EQ(keys.row_key.size(), static_cast<size_t>(batch.num_rows()));
  ASSERT_EQ(keys.distinct.size(), names.size());
  std::set<std::string> seen;
  int32_t next_new = 0;
  for (int64_t i = 0; i < batch.num_rows(); ++i) {
    const int32_t k = keys.row_key[i];
    ASSERT_GE(k, 0);
    ASSERT_LT(k, keys.distinct_count);
    EXPECT_EQ(KeyText(keys.distinct, k), KeyText(columns, i)) << "row " << i;
    if (seen.insert(KeyText(columns, i)).second) {
      EXPECT_EQ(k, next_new++) << "first occurrence";
    }
  }
  EXPECT_EQ(keys.distinct_count, static_cast<int64_t>(seen.size()));
}

TEST(BatchKeysTest, StringKeysWithNullsAndAsADictionary) {
  arrow::StringBuilder hosts;
  ASSERT_TRUE(hosts.AppendValues({"b", "a", "b", "a-much-longer-host-name", "c"}).ok());
  ASSERT_TRUE(hosts.AppendNull().ok());
  ASSERT_TRUE(hosts.Append("b").ok());
  ASSERT_TRUE(hosts.AppendNull().ok());
  auto host = hosts.Finish().ValueOrDie();
  auto schema = arrow::schema({arrow::field("host", arrow::utf8())});
  ExpectRoundTrip(*arrow::RecordBatch::Make(schema, host->length(), {host}), {"host"});

  auto encoded = arrow::compute::DictionaryEncode(host).ValueOrDie().make_array();
  auto dict_schema = arrow::schema({arrow::field("host", encoded->type())});
  ExpectRoundTrip(*arrow::RecordBatch::Make(dict_schema, encoded->length(), {encoded}), {"host"});
}

TEST(BatchKeysTest, IntegerAndTwoColumnKeys) {
  std::mt19937_64 rng(7);
  arrow::Int32Builder region;
  arrow::StringBuilder host;
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(region.Append(static_cast<int32_t>(rng() % 4)).ok());
    ASSERT_TRUE(host.Append("h" + std::to_string(rng() % 20)).ok());
  }
  auto schema =
      arrow::schema({arrow::field("region", arrow::int32()), arrow::field("host", arrow::utf8())});
  auto batch = arrow::RecordBatch::Make(schema, 500,
                                        {region.Finish().ValueOrDie(), host.Finish().ValueOrDie()});
  ExpectRoundTrip(*batch, {"region"});
  ExpectRoundTrip(*batch, {"host", "region"});
}

TEST(BatchKeysTest, MissingColumnIsInvalid) {
  auto schema = arrow::schema({arrow::field("host", arrow::utf8())});
  auto batch =
      arrow::RecordBatch::Make(schema, 0, {arrow::MakeEmptyArray(arrow::utf8()).ValueOrDie()});
  EXPECT_TRUE(BatchKeys::Make(*batch, {"region"}).status().IsInvalid());
}

// A batch of `rows` rows cycling over `distinct` keys.
std::shared_ptr<arrow::RecordBatch> Cycling(int64_t rows, int64_t distinct) {
  arrow::StringBuilder hosts;
  for (int64_t i = 0; i < rows; ++i)
    EXPECT_TRUE(hosts.Append("h" + std::to_string(i % distinct)).ok());
  auto schema = arrow::schema({arrow::field("host", arrow::utf8())});
  return arrow::RecordBatch::Make(schema, rows, {hosts.Finish().ValueOrDie()});
}

TEST(BatchKeysTest, MadeIfRepeatedOnlyWhereSharingPays) {
  constexpr int64_t per_key = BatchKeys::kRowsPerKey;
  auto made = [](int64_t rows, int64_t distinct, int64_t held) {
    auto keys = BatchKeys::MakeIfRepeated(*Cycling(rows, distinct), {"host"}, held);
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    return keys.ok() && *keys != nullptr;
  };
  EXPECT_TRUE(made(per_key * 100, 10, 100));       // enough rows per held key
  EXPECT_FALSE(made(per_key * 100 - 1, 10, 100));  // one row short
  EXPECT_TRUE(made(per_key, 1, 0));                // nothing held yet: counted as one key
  EXPECT_TRUE(made(1000, 500, 1));                 // half the rows distinct
  EXPECT_FALSE(made(1000, 501, 1));                // more than half
  auto keys = BatchKeys::MakeIfRepeated(*Cycling(80, 4), {"host"}, 10).ValueOrDie();
  ASSERT_NE(keys, nullptr);
  EXPECT_EQ(keys->distinct_count, 4);
  EXPECT_EQ(keys->row_key.size(), 80u);
  EXPECT_TRUE(BatchKeys::MakeIfRepeated(*Cycling(80, 4), {"region"}, 1).status().IsInvalid());
}

TEST(BatchKeysTest, StoreFedSharedKeysEqualsStoreInterningRows) {
  // Keys come and go (a sliding range of hosts, some null), times mostly in order with late
  // rows, tumbling and hopping windows plus a per-row trailing window: two stores, one fed
  // BatchKeys, must agree on every output and counter.
  auto schema = arrow::schema({arrow::field("host", arrow::utf8()),
                               arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                               arrow::field("value", arrow::float64())});
  WindowSpec spec;
  spec.key_columns = {"host"};
  spec.time_column = "ts";
  spec.value_columns = {"value"};
  spec.aggregates = {AggregateKind::kRowCount, AggregateKind::kSum, AggregateKind::kAvg,
                     AggregateKind::kMin, AggregateKind::kMax};
  spec.windows = {WindowDef::Tumbling(10 * kSec), WindowDef::Hopping(20 * kSec, 10 * kSec),
                  WindowDef::Trailing(15 * kSec)};
  spec.allowed_lateness_us = 5 * kSec;
  for (int seed = 1; seed <= 8; ++seed) {
    std::mt19937_64 rng(seed);
    auto plain = WindowStore::Make(spec, schema).ValueOrDie();
    auto shared = WindowStore::Make(spec, schema).ValueOrDie();
    int64_t now = 1'700'000'000LL * kSec;
    for (int b = 0; b < 40; ++b) {
      const int64_t rows = 1 + static_cast<int64_t>(rng() % 300);
      arrow::StringBuilder host;
      arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                                 arrow::default_memory_pool());
      arrow::DoubleBuilder value;
      for (int64_t i = 0; i < rows; ++i) {
        if (rng() % 50 == 0) {
          ASSERT_TRUE(host.AppendNull().ok());
        } else {
          ASSERT_TRUE(host.Append("host-" + std::to_string(b * 3 + rng() % 12)).ok());
        }
        now += static_cast<int64_t>(rng() % (kSec / 4));
        const int64_t late = rng() % 20 == 0 ? static_cast<int64_t>(rng() % (8 * kSec)) : 0;
        ASSERT_TRUE(ts.Append(now - late).ok());
        ASSERT_TRUE(value.Append(static_cast<double>(rng() % 1000) / 8).ok());
      }
      auto batch = arrow::RecordBatch::Make(
          schema, rows,
          {host.Finish().ValueOrDie(), ts.Finish().ValueOrDie(), value.Finish().ValueOrDie()});
      auto keys = BatchKeys::Make(*batch, spec.key_columns).ValueOrDie();
      auto a = plain->Update(*batch);
      auto c = shared->Update(*batch, keys.get());
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      ASSERT_TRUE(a->trailing->Equals(*c->trailing)) << "seed " << seed << " batch " << b;
      EXPECT_EQ(a->late_rows, c->late_rows);
      EXPECT_EQ(a->closed_windows, c->closed_windows);
      auto closed_a = plain->TakeClosed(), closed_c = shared->TakeClosed();
      ASSERT_EQ(closed_a.size(), closed_c.size());
      for (size_t w = 0; w < closed_a.size(); ++w) {
        EXPECT_TRUE(closed_a[w].rows->Equals(*closed_c[w].rows));
      }
      auto snap_a = plain->Snapshot({}).ValueOrDie(), snap_c = shared->Snapshot({}).ValueOrDie();
      ASSERT_TRUE(snap_a->Equals(*snap_c)) << "seed " << seed << " batch " << b;
      const WindowStoreStats sa = plain->GetStats(), sc = shared->GetStats();
      EXPECT_EQ(sa.keys, sc.keys);
      EXPECT_EQ(sa.retired_keys, sc.retired_keys);
      EXPECT_EQ(sa.key_ids, sc.key_ids);
      EXPECT_EQ(sa.late_rows, sc.late_rows);
    }
    EXPECT_GT(plain->GetStats().retired_keys, 0) << "keys should have left memory";
  }
}

TEST(BatchKeysTest, StoreRefusesKeysOfOtherColumnsOrRows) {
  auto schema = arrow::schema({arrow::field("host", arrow::utf8()),
                               arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO))});
  WindowSpec spec;
  spec.key_columns = {"host"};
  spec.time_column = "ts";
  spec.value_columns = {};
  spec.aggregates = {AggregateKind::kRowCount};
  spec.windows = {WindowDef::Tumbling(10 * kSec)};
  auto store = WindowStore::Make(spec, schema).ValueOrDie();
  arrow::StringBuilder host;
  ASSERT_TRUE(host.AppendValues({"a", "b"}).ok());
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                             arrow::default_memory_pool());
  ASSERT_TRUE(ts.AppendValues({1, 2}).ok());
  auto batch =
      arrow::RecordBatch::Make(schema, 2, {host.Finish().ValueOrDie(), ts.Finish().ValueOrDie()});
  auto keys = BatchKeys::Make(*batch->Slice(0, 1), {"host"}).ValueOrDie();
  EXPECT_TRUE(store->Update(*batch, keys.get()).status().IsInvalid());
  EXPECT_EQ(store->GetStats().rows, 0);
}

}  // namespace
}  // namespace hyprstream::window
