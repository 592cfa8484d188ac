// The ADBC connection pool with the real SQLite driver: the maximum is enforced, connections
// are reused, broken ones are replaced, and waiting for a busy pool times out clearly.
#include "engine/adbc_connection_pool.h"

#include <gtest/gtest.h>

#include <thread>

#include "adbc_test_util.h"

namespace hyprstream::engine {
namespace {

class AdbcConnectionPoolTest : public ::testing::Test {
 protected:
  std::shared_ptr<AdbcConnectionPool> Open(int max, int min, int timeout_ms) {
    auto where = ResolveAdbcDriver({{"driver", "sqlite"}}, "");
    EXPECT_TRUE(where.ok());
    auto library = AdbcDriverLibrary::Load(*where);
    EXPECT_TRUE(library.ok()) << library.status().ToString();
    AdbcPoolOptions options;
    options.max_connections = max;
    options.min_connections = min;
    options.acquire_timeout = std::chrono::milliseconds(timeout_ms);
    options.backend = file_.path();
    auto pool = AdbcConnectionPool::Open(*library, {{"uri", file_.path()}}, options);
    EXPECT_TRUE(pool.ok()) << pool.status().ToString();
    return pool.ok() ? *pool : nullptr;
  }
  testing::TempSqliteFile file_;
};

TEST_F(AdbcConnectionPoolTest, MinConnectionsOpenAtStartup) {
  auto pool = Open(4, 2, 100);
  EXPECT_EQ(pool->open_connections(), 2);
  EXPECT_EQ(pool->idle_connections(), 2);
}

TEST_F(AdbcConnectionPoolTest, ReusesReturnedConnections) {
  auto pool = Open(2, 0, 100);
  AdbcConnection* first = nullptr;
  {
    auto lease = pool->Acquire();
    ASSERT_TRUE(lease.ok());
    EXPECT_FALSE((*lease)->reused());
    first = (*lease)->get();
  }
  auto lease = pool->Acquire();
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE((*lease)->reused());
  EXPECT_EQ((*lease)->get(), first);
  EXPECT_EQ(pool->open_connections(), 1);
}

TEST_F(AdbcConnectionPoolTest, MaximumEnforcedAndAcquireTimesOut) {
  auto pool = Open(2, 0, 200);
  auto a = pool->Acquire();
  auto b = pool->Acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(pool->open_connections(), 2);
  auto c = pool->Acquire();
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsIOError());
  EXPECT_TRUE(IsBackendUnavailable(c.status()));
  EXPECT_NE(c.status().message().find("all 2 backend connections are busy"), std::string::npos);
  EXPECT_NE(c.status().message().find("retry"), std::string::npos);
  // A waiter gets the connection another thread gives back.
  std::thread giver([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    a->reset();
  });
  auto d = pool->Acquire();
  giver.join();
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(pool->open_connections(), 2);
}

TEST_F(AdbcConnectionPoolTest, BrokenConnectionIsReplaced) {
  auto pool = Open(1, 1, 100);
  AdbcConnection* first = nullptr;
  {
    auto lease = pool->Acquire();
    ASSERT_TRUE(lease.ok());
    first = (*lease)->get();
    auto status = (*lease)->Check(BackendUnavailable("backend unreachable: test"));
    EXPECT_TRUE(IsBackendUnavailable(status));
  }
  EXPECT_EQ(pool->open_connections(), 0);
  auto lease = pool->Acquire();
  ASSERT_TRUE(lease.ok());
  EXPECT_FALSE((*lease)->reused());
  (void)first;
  EXPECT_EQ(pool->open_connections(), 1);
}

TEST_F(AdbcConnectionPoolTest, InvalidSizes) {
  auto where = ResolveAdbcDriver({{"driver", "sqlite"}}, "");
  auto library = AdbcDriverLibrary::Load(*where);
  ASSERT_TRUE(library.ok());
  AdbcPoolOptions options;
  options.max_connections = 0;
  EXPECT_TRUE(AdbcConnectionPool::Open(*library, {}, options).status().IsInvalid());
}

}  // namespace
}  // namespace hyprstream::engine
