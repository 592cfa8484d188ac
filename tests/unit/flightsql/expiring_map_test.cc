// ExpiringMap: entries are bound to their owner (another owner finds nothing and changes
// nothing, but is told the id is held), two owners may share an id, expiry.
#include "flightsql/expiring_map.h"

#include <arrow/result.h>
#include <gtest/gtest.h>

namespace hyprstream::flightsql {
namespace {

using std::chrono::seconds;

TEST(ExpiringMapTest, OnlyTheOwnerSeesAnEntry) {
  ExpiringMap<int> map(seconds(60));
  const std::string id = map.Insert("alice", std::make_shared<int>(7));
  EXPECT_EQ(id.size(), 32u);

  auto mine = map.Get(id, "alice");
  ASSERT_NE(mine.value, nullptr);
  EXPECT_EQ(*mine.value, 7);
  EXPECT_FALSE(mine.foreign);

  auto theirs = map.Get(id, "bob");
  EXPECT_EQ(theirs.value, nullptr);
  EXPECT_TRUE(theirs.foreign);
  EXPECT_EQ(theirs.held_by, "alice");
  auto unknown = map.Get(NewHandleId(), "bob");
  EXPECT_EQ(unknown.value, nullptr);
  EXPECT_FALSE(unknown.foreign);

  // Another owner's Take removes nothing.
  EXPECT_TRUE(map.Take(id, "bob").foreign);
  EXPECT_EQ(map.size(), 1u);
  auto taken = map.Take(id, "alice");
  ASSERT_NE(taken.value, nullptr);
  EXPECT_EQ(map.size(), 0u);
  EXPECT_FALSE(map.Get(id, "alice").foreign);  // gone: unknown to everyone
  EXPECT_FALSE(map.Get(id, "bob").foreign);
}

TEST(ExpiringMapTest, TwoOwnersUnderOneIdAreSeparate) {
  ExpiringMap<int> map(seconds(60));
  auto make = [](int v) {
    return [v]() -> arrow::Result<std::shared_ptr<int>> { return std::make_shared<int>(v); };
  };
  auto a = map.GetOrCreate("cookie:x", "alice", make(1));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(map.Get("cookie:x", "bob").foreign);
  auto b = map.GetOrCreate("cookie:x", "bob", make(2));
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->get(), b->get());
  EXPECT_EQ(**map.GetOrCreate("cookie:x", "alice", make(3)), 1);
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ(*map.Take("cookie:x", "bob").value, 2);
  EXPECT_EQ(*map.Get("cookie:x", "alice").value, 1);
  map.Put("cookie:x", "alice", std::make_shared<int>(4));
  EXPECT_EQ(*map.Get("cookie:x", "alice").value, 4);
  EXPECT_EQ(map.size(), 1u);
}

TEST(ExpiringMapTest, SweepDropsOnlyIdleEntries) {
  ExpiringMap<int> map(seconds(10));
  map.Put("shared", "alice", std::make_shared<int>(1));
  map.Put("shared", "bob", std::make_shared<int>(2));
  map.Put("other", "alice", std::make_shared<int>(3));
  const auto now = ExpiringMap<int>::Clock::now();
  EXPECT_TRUE(map.Sweep(now).empty());
  auto dropped = map.Sweep(now + seconds(11));
  EXPECT_EQ(dropped.size(), 3u);
  EXPECT_EQ(map.size(), 0u);
}

}  // namespace
}  // namespace hyprstream::flightsql
