#include "access/grant_log.h"

#include <gtest/gtest.h>

#include "engine/duckdb_engine.h"

namespace hyprstream::access {
namespace {

TEST(GrantLogTest, ChangesComeBackInOrder) {
  engine::EngineOptions options;
  options.connection = ":memory:";
  auto engine = engine::OpenDuckDbEngine(options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto log = GrantLog::Open(*engine);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto empty = (*log)->Load();
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty());

  auto read = Grant::Parse("read", "memory.main.t", "user:alice");
  auto write = Grant::Parse("write", "*", "group:ops");
  ASSERT_TRUE(read.ok() && write.ok());
  ASSERT_TRUE((*log)->Append(GrantChange{true, *read}).ok());
  ASSERT_TRUE((*log)->Append(GrantChange{true, *write}).ok());
  ASSERT_TRUE((*log)->Append(GrantChange{false, *read}).ok());

  // Opening again (a restart) keeps what was written.
  auto reopened = GrantLog::Open(*engine);
  ASSERT_TRUE(reopened.ok());
  auto changes = (*reopened)->Load();
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_TRUE((*changes)[0].granted);
  EXPECT_EQ((*changes)[0].grant, *read);
  EXPECT_EQ((*changes)[1].grant, *write);
  EXPECT_FALSE((*changes)[2].granted);
  EXPECT_EQ((*changes)[2].grant, *read);
}

}  // namespace
}  // namespace hyprstream::access
