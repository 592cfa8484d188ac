// ResultCache: TTL, byte budget with LRU order, invalidation by table, and the epoch that keeps
// a result racing with a write out.
#include "cache/result_cache.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <thread>

namespace hyprstream::cache {
namespace {

CachedResult ResultOf(int64_t rows, std::vector<TableKey> tables) {
  arrow::Int64Builder builder;
  for (int64_t i = 0; i < rows; ++i) EXPECT_TRUE(builder.Append(i).ok());
  auto array = *builder.Finish();
  auto schema = arrow::schema({arrow::field("x", arrow::int64())});
  auto batch = arrow::RecordBatch::Make(schema, rows, {array});
  return CachedResult{
      schema, {batch}, std::move(tables), std::chrono::system_clock::now(), BatchBytes(*batch)};
}

TEST(ResultCacheTest, HitUntilTtl) {
  ResultCache cache(std::chrono::milliseconds(200), 1 << 20);
  cache.Insert("q", ResultOf(10, {{"", "t"}}), cache.epoch());
  auto hit = cache.Lookup("q", std::nullopt);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->batches[0]->num_rows(), 10);
  EXPECT_FALSE(cache.Lookup("other", std::nullopt));
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_FALSE(cache.Lookup("q", std::nullopt));
  auto stats = cache.stats();
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.misses, 2);
  EXPECT_EQ(stats.expirations, 1);
  EXPECT_EQ(stats.entries, 0);
  EXPECT_EQ(stats.bytes, 0);
}

TEST(ResultCacheTest, MaxAgeMakesAnOldEntryAMiss) {
  ResultCache cache(std::chrono::seconds(60), 1 << 20);
  cache.Insert("q", ResultOf(1, {}), cache.epoch());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(cache.Lookup("q", std::chrono::milliseconds(10)));
  EXPECT_TRUE(cache.Lookup("q", std::chrono::milliseconds(10000)));
}

TEST(ResultCacheTest, LeastRecentlyUsedLeavesFirst) {
  const int64_t one = ResultOf(1000, {}).bytes;
  ResultCache cache(std::chrono::seconds(60), one * 4 + one / 2);  // entries up to one each
  for (const char* key : {"a", "b", "c", "d"}) cache.Insert(key, ResultOf(1000, {}), cache.epoch());
  ASSERT_TRUE(cache.Lookup("a", std::nullopt));  // a is now the most recent
  cache.Insert("e", ResultOf(1000, {}), cache.epoch());
  EXPECT_TRUE(cache.Lookup("a", std::nullopt));
  EXPECT_FALSE(cache.Lookup("b", std::nullopt));
  EXPECT_TRUE(cache.Lookup("e", std::nullopt));
  EXPECT_EQ(cache.stats().evictions, 1);
  EXPECT_LE(cache.stats().bytes, one * 4 + one / 2);
}

TEST(ResultCacheTest, TooLargeIsNotKept) {
  ResultCache cache(std::chrono::seconds(60), 4096);
  cache.Insert("big", ResultOf(10000, {}), cache.epoch());
  EXPECT_FALSE(cache.Lookup("big", std::nullopt));
}

TEST(ResultCacheTest, WritesInvalidateTheTablesTheyTouch) {
  ResultCache cache(std::chrono::seconds(60), 1 << 20);
  cache.Insert("t", ResultOf(1, {{"", "t"}}), cache.epoch());
  cache.Insert("tu", ResultOf(1, {{"", "t"}, {"s", "u"}}), cache.epoch());
  cache.Insert("v", ResultOf(1, {{"", "v"}}), cache.epoch());
  cache.Invalidate({{"s", "u"}});
  EXPECT_TRUE(cache.Lookup("t", std::nullopt));
  EXPECT_FALSE(cache.Lookup("tu", std::nullopt));
  cache.InvalidateAll();
  EXPECT_FALSE(cache.Lookup("v", std::nullopt));
}

TEST(ResultCacheTest, ResultThatRacedWithAWriteIsDropped) {
  ResultCache cache(std::chrono::seconds(60), 1 << 20);
  uint64_t before = cache.epoch();
  cache.Invalidate({{"", "t"}});  // a write lands while the query runs
  cache.Insert("q", ResultOf(1, {{"", "t"}}), before);
  EXPECT_FALSE(cache.Lookup("q", std::nullopt));
}

}  // namespace
}  // namespace hyprstream::cache
