// KeyDictionary and event-time reading: ids are dense and stable across batches and string
// encodings, nulls are keys of their own, growth keeps every id, lookups never insert, and
// Gather returns the declared types; retiring keys frees their ids for new keys (lowest
// first) without disturbing the others, checked against a std::unordered_map under
// randomised inserts and retires, and gives memory back. Event times: every unit, nanoseconds
// truncated toward zero (as DuckDB stores them), overflow.
#include "window/key_dictionary.h"

#include "window/event_time.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <arrow/util/bit_util.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace hyprstream::window {
namespace {

std::shared_ptr<arrow::Array> Json(const std::shared_ptr<arrow::DataType>& type,
                                   const std::string& json) {
  auto array = arrow::json::ArrayFromJSONString(type, json);
  EXPECT_TRUE(array.ok()) << array.status().ToString();
  return *array;
}

std::unique_ptr<KeyDictionary> Make(arrow::FieldVector fields) {
  auto dict = KeyDictionary::Make(std::move(fields));
  EXPECT_TRUE(dict.ok()) << dict.status().ToString();
  return std::move(dict).ValueOrDie();
}

std::vector<int32_t> Intern(KeyDictionary& dict,
                            std::vector<std::shared_ptr<arrow::Array>> columns) {
  std::vector<const arrow::Array*> raw;
  for (const auto& c : columns) raw.push_back(c.get());
  std::vector<int32_t> ids(columns.empty() ? 0 : columns[0]->length());
  auto status = dict.Intern(raw, static_cast<int64_t>(ids.size()), ids.data());
  EXPECT_TRUE(status.ok()) << status.ToString();
  return ids;
}

TEST(KeyDictionaryTest, DenseIdsStableAcrossBatchesAndEncodings) {
  auto dict = Make({arrow::field("host", arrow::utf8())});
  EXPECT_EQ(Intern(*dict, {Json(arrow::utf8(), R"(["a", "b", "a", "", null, "c"])")}),
            (std::vector<int32_t>{0, 1, 0, 2, 3, 4}));
  EXPECT_EQ(Intern(*dict, {Json(arrow::large_utf8(), R"(["c", null, "d", "a"])")}),
            (std::vector<int32_t>{4, 3, 5, 0}));
  auto dictionary = *arrow::DictionaryArray::FromArrays(
      arrow::dictionary(arrow::int8(), arrow::utf8()), Json(arrow::int8(), "[1, 0, null, 1]"),
      Json(arrow::utf8(), R"(["d", "e"])"));
  EXPECT_EQ(Intern(*dict, {dictionary}), (std::vector<int32_t>{6, 5, 3, 6}));
  EXPECT_EQ(dict->size(), 7);

  std::vector<int32_t> ids = {6, 0, 3, 2};
  auto gathered = dict->Gather(ids.data(), 4);
  ASSERT_TRUE(gathered.ok());
  EXPECT_TRUE((*gathered)[0]->Equals(*Json(arrow::utf8(), R"(["e", "a", null, ""])")))
      << (*gathered)[0]->ToString();
}

TEST(KeyDictionaryTest, FindNeverInserts) {
  auto dict = Make({arrow::field("id", arrow::int32())});
  Intern(*dict, {Json(arrow::int32(), "[5, 7]")});
  auto probe = Json(arrow::int32(), "[7, 6, 5, null]");
  std::vector<const arrow::Array*> raw = {probe.get()};
  std::vector<int32_t> ids(4);
  ASSERT_TRUE(dict->Find(raw, 4, ids.data()).ok());
  EXPECT_EQ(ids, (std::vector<int32_t>{1, -1, 0, -1}));
  EXPECT_EQ(dict->size(), 2);
}

TEST(KeyDictionaryTest, MultiColumnKeysWithNullsInEitherColumn) {
  auto dict = Make({arrow::field("region", arrow::utf8()), arrow::field("shard", arrow::uint16())});
  auto ids = Intern(*dict, {Json(arrow::utf8(), R"(["eu", "eu", null, "eu", null, "us"])"),
                            Json(arrow::uint16(), "[1, 2, 1, null, 1, 65535]")});
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 1, 2, 3, 2, 4}));
  std::vector<int32_t> order = {4, 3};
  auto gathered = *dict->Gather(order.data(), 2);
  EXPECT_TRUE(gathered[0]->Equals(*Json(arrow::utf8(), R"(["us", "eu"])")));
  EXPECT_TRUE(gathered[1]->Equals(*Json(arrow::uint16(), "[65535, null]")));
}

TEST(KeyDictionaryTest, GrowsToManyKeysKeepingIds) {
  auto dict = Make({arrow::field("host", arrow::utf8()), arrow::field("n", arrow::int64())});
  const int kKeys = 200000;
  arrow::StringBuilder hosts;
  arrow::Int64Builder ns;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(hosts.Append("host-" + std::to_string(i % 1000)).ok());
    ASSERT_TRUE(ns.Append(i / 1000).ok());
  }
  std::shared_ptr<arrow::Array> h = *hosts.Finish(), n = *ns.Finish();
  auto first = Intern(*dict, {h, n});
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(first[i], i);
  auto again = Intern(*dict, {h->Slice(1000), n->Slice(1000)});
  for (int i = 0; i < kKeys - 1000; ++i) ASSERT_EQ(again[i], i + 1000);
  EXPECT_EQ(dict->size(), kKeys);
  EXPECT_GT(dict->memory_bytes(), kKeys * 8);
}

TEST(KeyDictionaryTest, NoKeyColumnsMeansOneKey) {
  auto dict = Make({});
  std::vector<int32_t> ids(3, -7);
  ASSERT_TRUE(dict->Intern({}, 3, ids.data()).ok());
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 0, 0}));
  EXPECT_EQ(dict->size(), 1);
}

TEST(KeyDictionaryTest, RejectsUnsupportedAndMismatchedTypes) {
  auto bad = KeyDictionary::Make({arrow::field("f", arrow::float64())});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("key column 'f' is double"), std::string::npos);
  auto dict = Make({arrow::field("id", arrow::int32())});
  EXPECT_TRUE(dict->CheckColumnType(0, *arrow::int32()).ok());
  auto wrong = dict->CheckColumnType(0, *arrow::int64());
  EXPECT_NE(wrong.message().find("integer keys must match exactly"), std::string::npos);
  auto strings = Make({arrow::field("s", arrow::large_binary())});
  EXPECT_TRUE(strings->CheckColumnType(0, *arrow::binary()).ok());
  EXPECT_FALSE(strings->CheckColumnType(0, *arrow::utf8()).ok());
}

TEST(KeyDictionaryTest, RetiredIdsGoToNewKeysLowestFirst) {
  auto dict = Make({arrow::field("host", arrow::utf8())});
  EXPECT_EQ(Intern(*dict, {Json(arrow::utf8(), R"(["a", "b", "c", "d", "e"])")}),
            (std::vector<int32_t>{0, 1, 2, 3, 4}));
  dict->Retire({1, 3});
  EXPECT_EQ(dict->size(), 3);
  EXPECT_EQ(dict->id_limit(), 5);
  // Retired keys are not found; their ids serve new keys, lowest first, and "b" is new again.
  auto probe = Json(arrow::utf8(), R"(["b", "d", "e"])");
  std::vector<const arrow::Array*> raw = {probe.get()};
  std::vector<int32_t> found(3);
  ASSERT_TRUE(dict->Find(raw, 3, found.data()).ok());
  EXPECT_EQ(found, (std::vector<int32_t>{-1, -1, 4}));
  EXPECT_EQ(Intern(*dict, {Json(arrow::utf8(), R"(["x", "e", "b", "y"])")}),
            (std::vector<int32_t>{1, 4, 3, 5}));
  std::vector<int32_t> ids = {0, 1, 2, 3, 4, 5};
  auto gathered = dict->Gather(ids.data(), 6);
  ASSERT_TRUE(gathered.ok());
  EXPECT_TRUE((*gathered)[0]->Equals(*Json(arrow::utf8(), R"(["a", "x", "c", "b", "e", "y"])")))
      << (*gathered)[0]->ToString();
  // Free ids at the top leave the id space.
  dict->Retire({2, 4, 5});
  EXPECT_EQ(dict->id_limit(), 4);
  dict->Retire({0, 1, 3});
  EXPECT_EQ(dict->id_limit(), 0);
  EXPECT_EQ(dict->size(), 0);
  EXPECT_EQ(Intern(*dict, {Json(arrow::utf8(), R"(["c", "a"])")}), (std::vector<int32_t>{0, 1}));
}

TEST(KeyDictionaryTest, NoKeyColumnsKeyCanBeRetiredAndComesBack) {
  auto dict = Make({});
  std::vector<int32_t> ids(2, -7);
  ASSERT_TRUE(dict->Intern({}, 2, ids.data()).ok());
  dict->Retire({0});
  EXPECT_EQ(dict->size(), 0);
  ASSERT_TRUE(dict->Find({}, 2, ids.data()).ok());
  EXPECT_EQ(ids, (std::vector<int32_t>{-1, -1}));
  ASSERT_TRUE(dict->Intern({}, 2, ids.data()).ok());
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 0}));
  EXPECT_EQ(dict->size(), 1);
}

// Randomised: batches of keys drawn from a pool (many more keys than stay in use, so probe
// chains fill, and retired keys come back) interned and retired at random, against a
// reference that models the documented id assignment (lowest free id, else id_limit; free
// ids at the top leave the id space).
enum class Shape { kShortStrings, kLongStrings, kInt, kTwoColumnsWithNulls };

struct PoolKey {
  std::optional<std::string> text;
  std::optional<int64_t> number;
  std::string Name() const {
    return (text ? "s" + *text : std::string("null")) + "/" +
           (number ? std::to_string(*number) : std::string("null"));
  }
};

// prefix + n (appended: GCC 12 warns falsely about "literal" + std::string, PR 105329).
std::string Text(const char* prefix, int64_t n) {
  std::string text = prefix;
  text += std::to_string(n);
  return text;
}

class KeyDictionaryChurnTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(KeyDictionaryChurnTest, MatchesAMapUnderInsertsAndRetires) {
  const uint64_t seed = GetParam();
  std::mt19937_64 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  const auto shape = static_cast<Shape>(seed % 4);
  arrow::FieldVector fields;
  switch (shape) {
    case Shape::kShortStrings:
    case Shape::kLongStrings:
      fields = {arrow::field("k", arrow::utf8())};
      break;
    case Shape::kInt:
      fields = {arrow::field("k", arrow::int64())};
      break;
    case Shape::kTwoColumnsWithNulls:
      fields = {arrow::field("k", arrow::utf8()), arrow::field("n", arrow::uint16())};
      break;
  }
  auto dict = Make(fields);
  const int pool_size = static_cast<int>(pick(50, 6000));
  std::vector<PoolKey> pool(pool_size);
  for (int k = 0; k < pool_size; ++k) {
    PoolKey& key = pool[k];
    switch (shape) {
      case Shape::kShortStrings:
        key.text = std::string();  // the empty key
        if (k > 0) key.text = Text("k", k);
        break;
      case Shape::kLongStrings:  // past the inline prefix: compared and compacted in the arena
        key.text = Text("a-rather-long-key-name-", k * 7919) + std::string(k % 40, 'x');
        break;
      case Shape::kInt:
        key.number = static_cast<int64_t>(k) * 1000003 - 77;
        break;
      case Shape::kTwoColumnsWithNulls:
        if (k % 11 != 1) key.text = Text("r", k % 97);
        if (k % 13 != 2) key.number = k / 97;
        break;
    }
  }
  auto batch_of = [&](const std::vector<int>& keys, bool as_dictionary) {
    std::vector<std::shared_ptr<arrow::Array>> columns;
    if (shape == Shape::kInt) {
      arrow::Int64Builder b;
      for (int k : keys) EXPECT_TRUE(b.Append(*pool[k].number).ok());
      columns.push_back(*b.Finish());
      return columns;
    }
    if (as_dictionary) {
      arrow::StringDictionaryBuilder b;
      for (int k : keys) {
        EXPECT_TRUE((pool[k].text ? b.Append(*pool[k].text) : b.AppendNull()).ok());
      }
      columns.push_back(*b.Finish());
    } else {
      arrow::StringBuilder b;
      for (int k : keys) {
        EXPECT_TRUE((pool[k].text ? b.Append(*pool[k].text) : b.AppendNull()).ok());
      }
      columns.push_back(*b.Finish());
    }
    if (shape == Shape::kTwoColumnsWithNulls) {
      arrow::UInt16Builder b;
      for (int k : keys) {
        EXPECT_TRUE(
            (pool[k].number ? b.Append(static_cast<uint16_t>(*pool[k].number)) : b.AppendNull())
                .ok());
      }
      columns.push_back(*b.Finish());
    }
    return columns;
  };

  std::unordered_map<std::string, int32_t> id_of;  // key name -> id, keys in use
  std::map<int32_t, int> key_of;                   // id -> pool index, keys in use
  std::set<int32_t> free_ids;
  int32_t id_limit = 0;
  for (int step = 0; step < 300; ++step) {
    // Intern a batch, sometimes with repeats inside it.
    const int64_t n = pick(0, 300);
    std::vector<int> keys;
    for (int64_t i = 0; i < n; ++i) {
      keys.push_back(i > 0 && pick(0, 4) == 0 ? keys[pick(0, i - 1)]
                                              : static_cast<int>(pick(0, pool_size - 1)));
    }
    auto columns = batch_of(keys, shape != Shape::kInt && pick(0, 3) == 0);
    std::vector<int32_t> ids = Intern(*dict, columns);
    ASSERT_EQ(ids.size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string name = pool[keys[i]].Name();
      auto it = id_of.find(name);
      int32_t want;
      if (it != id_of.end()) {
        want = it->second;
      } else if (!free_ids.empty()) {
        want = *free_ids.begin();
        free_ids.erase(free_ids.begin());
      } else {
        want = id_limit++;
      }
      ASSERT_EQ(ids[i], want) << "step " << step << " row " << i << " key " << name;
      id_of[name] = want;
      key_of[want] = keys[i];
    }
    ASSERT_EQ(dict->size(), static_cast<int32_t>(id_of.size()));
    ASSERT_EQ(dict->id_limit(), id_limit);

    // Retire a random share of the keys in use (sometimes all of them).
    std::vector<int32_t> retire;
    const int64_t share = pick(0, 3) == 0 ? 100 : pick(0, 60);
    for (const auto& [id, k] : key_of) {
      if (pick(0, 99) < share) retire.push_back(id);
    }
    dict->Retire(retire);
    for (int32_t id : retire) {
      id_of.erase(pool[key_of[id]].Name());
      key_of.erase(id);
      free_ids.insert(id);
    }
    while (!free_ids.empty() && *free_ids.rbegin() == id_limit - 1) {
      free_ids.erase(std::prev(free_ids.end()));
      --id_limit;
    }
    ASSERT_EQ(dict->size(), static_cast<int32_t>(id_of.size()));
    ASSERT_EQ(dict->id_limit(), id_limit);
    for (int32_t id = 0; id < id_limit; ++id) {
      const bool bit = (dict->in_use()[id / 64] >> (id % 64)) & 1;
      ASSERT_EQ(bit, key_of.count(id) == 1) << "id " << id;
    }

    // Every key in use comes back from Gather under its id, and Find agrees with the map for
    // keys in use, retired and never seen.
    std::vector<int32_t> live;
    std::vector<int> live_keys;
    for (const auto& [id, k] : key_of) {
      live.push_back(id);
      live_keys.push_back(k);
    }
    auto gathered = dict->Gather(live.data(), static_cast<int64_t>(live.size()));
    ASSERT_TRUE(gathered.ok()) << gathered.status().ToString();
    auto expected = batch_of(live_keys, false);
    for (size_t c = 0; c < expected.size(); ++c) {
      ASSERT_TRUE((*gathered)[c]->Equals(*expected[c])) << "step " << step << " column " << c;
    }
    std::vector<int> probes;
    for (int i = 0; i < 200; ++i) probes.push_back(static_cast<int>(pick(0, pool_size - 1)));
    auto probe_columns = batch_of(probes, false);
    std::vector<const arrow::Array*> raw;
    for (const auto& c : probe_columns) raw.push_back(c.get());
    std::vector<int32_t> found(probes.size());
    ASSERT_TRUE(dict->Find(raw, static_cast<int64_t>(probes.size()), found.data()).ok());
    for (size_t i = 0; i < probes.size(); ++i) {
      auto it = id_of.find(pool[probes[i]].Name());
      ASSERT_EQ(found[i], it == id_of.end() ? -1 : it->second)
          << "step " << step << " probe " << pool[probes[i]].Name();
    }
  }
  std::vector<int32_t> all;
  for (const auto& [id, k] : key_of) all.push_back(id);
  dict->Retire(all);
  EXPECT_EQ(dict->size(), 0);
  EXPECT_EQ(dict->id_limit(), 0);
}

std::vector<uint64_t> ChurnSeeds() {
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= 24; ++s) seeds.push_back(s);
  return seeds;
}
INSTANTIATE_TEST_SUITE_P(Seeds, KeyDictionaryChurnTest, ::testing::ValuesIn(ChurnSeeds()));

TEST(KeyDictionaryTest, MemoryFollowsTheKeysInUse) {
  // 100,000 keys of 30 bytes, then all but 10 retired: the table, the per-id arrays and the
  // key bytes shrink to a small multiple of what 10 keys need.
  auto dict = Make({arrow::field("host", arrow::utf8())});
  arrow::StringBuilder hosts;
  for (int i = 0; i < 100000; ++i) {
    ASSERT_TRUE(hosts.Append("host-with-a-long-name-" + std::to_string(1000000 + i)).ok());
  }
  auto ids = Intern(*dict, {*hosts.Finish()});
  const int64_t full = dict->memory_bytes();
  EXPECT_GT(full, 100000 * 30);
  // Keep ids 5000..5009: the id space ends at 5010 (free ids below it stay reusable).
  std::vector<int32_t> retire;
  for (int32_t id = 0; id < 100000; ++id) {
    if (id < 5000 || id >= 5010) retire.push_back(id);
  }
  dict->Retire(retire);
  EXPECT_EQ(dict->size(), 10);
  EXPECT_EQ(dict->id_limit(), 5010);
  EXPECT_LT(dict->memory_bytes(), full / 10);
  std::vector<int32_t> kept = {5000, 5009};
  auto gathered = dict->Gather(kept.data(), 2);
  ASSERT_TRUE(gathered.ok());
  EXPECT_TRUE((*gathered)[0]->Equals(*Json(
      arrow::utf8(), R"(["host-with-a-long-name-1005000", "host-with-a-long-name-1005009"])")))
      << (*gathered)[0]->ToString();
  // None left: as small as a new dictionary's, give or take the arena's last bytes.
  dict->Retire({5000, 5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008, 5009});
  EXPECT_EQ(dict->id_limit(), 0);
  EXPECT_LE(dict->memory_bytes(),
            Make({arrow::field("host", arrow::utf8())})->memory_bytes() + 64 * 1024);
}

TEST(EventTimeTest, EveryUnitToMicrosWithFloorForNanos) {
  struct Case {
    std::shared_ptr<arrow::DataType> type;
    std::string json;
    std::vector<int64_t> micros;
  };
  std::vector<Case> cases = {
      {arrow::timestamp(arrow::TimeUnit::SECOND), "[1, -1, null]", {1000000, -1000000, kNoTime}},
      {arrow::timestamp(arrow::TimeUnit::MILLI, "Europe/Paris"), "[1, -1]", {1000, -1000}},
      {arrow::timestamp(arrow::TimeUnit::MICRO), "[7]", {7}},
      {arrow::timestamp(arrow::TimeUnit::NANO),
       "[1999, -1, -999, -1000, -1001, -2500]",
       {1, 0, 0, -1, -1, -2}},
  };
  for (const auto& c : cases) {
    auto array = Json(c.type, c.json);
    std::vector<int64_t> out(array->length());
    ASSERT_TRUE(ReadEventTime(*array, std::nullopt, "ts", out.data()).ok());
    EXPECT_EQ(out, c.micros) << c.type->ToString();
  }
  auto ints = Json(arrow::int32(), "[2, null]");
  std::vector<int64_t> out(2);
  ASSERT_TRUE(ReadEventTime(*ints, arrow::TimeUnit::SECOND, "ts", out.data()).ok());
  EXPECT_EQ(out, (std::vector<int64_t>{2000000, kNoTime}));
}

TEST(EventTimeTest, ErrorsForUndeclaredIntegersWrongTypesAndOverflow) {
  auto ints = Json(arrow::int64(), "[1]");
  int64_t out[3];
  auto undeclared = ReadEventTime(*ints, std::nullopt, "ts", out);
  EXPECT_NE(undeclared.message().find("without a declared unit"), std::string::npos);
  auto text = Json(arrow::utf8(), R"(["2024-01-01"])");
  EXPECT_NE(ReadEventTime(*text, std::nullopt, "when", out)
                .message()
                .find("time column 'when' is string"),
            std::string::npos);
  auto huge = Json(arrow::timestamp(arrow::TimeUnit::SECOND), "[0, null, 9223372036854775807]");
  auto overflow = ReadEventTime(*huge, std::nullopt, "ts", out);
  ASSERT_TRUE(overflow.IsInvalid());
  EXPECT_NE(overflow.message().find("row 2: 9223372036854775807 s is outside"), std::string::npos)
      << overflow.message();
  // The range is +-2^62 inclusive.
  auto edge =
      Json(arrow::timestamp(arrow::TimeUnit::MICRO), "[4611686018427387904, -4611686018427387904]");
  EXPECT_TRUE(ReadEventTime(*edge, std::nullopt, "ts", out).ok());
  auto beyond = Json(arrow::timestamp(arrow::TimeUnit::MICRO), "[4611686018427387905]");
  EXPECT_FALSE(ReadEventTime(*beyond, std::nullopt, "ts", out).ok());
  // A garbage value under a null slot is not an error.
  auto values = *arrow::AllocateBuffer(16);
  reinterpret_cast<int64_t*>(values->mutable_data())[0] = INT64_MAX;
  reinterpret_cast<int64_t*>(values->mutable_data())[1] = 5;
  auto validity = *arrow::AllocateEmptyBitmap(2);
  arrow::bit_util::SetBit(validity->mutable_data(), 1);
  auto masked = arrow::MakeArray(arrow::ArrayData::Make(
      arrow::timestamp(arrow::TimeUnit::SECOND), 2, {std::move(validity), std::move(values)}, 1));
  ASSERT_TRUE(ReadEventTime(*masked, std::nullopt, "ts", out).ok());
  EXPECT_EQ(out[0], kNoTime);
  EXPECT_EQ(out[1], 5000000);
}

}  // namespace
}  // namespace hyprstream::window
