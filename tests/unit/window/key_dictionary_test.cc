// KeyDictionary and event-time reading: ids are dense and stable across batches and string
// encodings, nulls are keys of their own, growth keeps every id, lookups never insert, and
// Gather returns the declared types. Event times: every unit, nanoseconds truncated toward zero
// (as DuckDB stores them), overflow.
#include "window/key_dictionary.h"

#include "window/event_time.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <arrow/util/bit_util.h>
#include <gtest/gtest.h>

#include <string>
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
      {arrow::timestamp(arrow::TimeUnit::NANO), "[1999, -1, -999, -1000, -1001, -2500]", {1, 0, 0, -1, -1, -2}},
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
