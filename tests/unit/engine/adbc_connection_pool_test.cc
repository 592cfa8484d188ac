// The ADBC connection pool with the real SQLite driver: the maximum is enforced, connections
// are reused, broken ones are replaced, and waiting for a busy pool times out clearly.
#include "engine/adbc_connection_pool.h"

#include <gtest/gtest.h>

#include <thread>

#include "adbc_test_util.h"
#include "engine/adbc_statement_handle.h"

namespace hyprstream::engine {
namespace {

class AdbcConnectionPoolTest : public ::testing::Test {
 protected:
  std::shared_ptr<AdbcConnectionPool> Open(int max, int min, int timeout_ms,
                                           std::vector<std::string> setup = {},
                                           int check_idle_ms = 1000,
                                           std::string check_sql = "SELECT 1",
                                           int idle_timeout_ms = 600000,
                                           int max_lifetime_ms = 1800000) {
    auto where = ResolveAdbcDriver({{"driver", "sqlite"}}, "");
    EXPECT_TRUE(where.ok());
    auto library = AdbcDriverLibrary::Load(*where);
    EXPECT_TRUE(library.ok()) << library.status().ToString();
    AdbcPoolOptions options;
    options.max_connections = max;
    options.min_connections = min;
    options.acquire_timeout = std::chrono::milliseconds(timeout_ms);
    options.backend = file_.path();
    options.connection_setup = std::move(setup);
    options.check_idle_after = std::chrono::milliseconds(check_idle_ms);
    options.check_sql = std::move(check_sql);
    options.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
    options.max_lifetime = std::chrono::milliseconds(max_lifetime_ms);
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
  EXPECT_EQ(pool->Stats().busy, 1);
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

// A caller that holds a lock others wait for asks for a shorter wait than the pool's: a busy
// pool answers it after that wait (saying how long), and gives it a connection given back
// meanwhile.
TEST_F(AdbcConnectionPoolTest, AnAcquireMayWaitLessThanThePoolsTimeout) {
  auto pool = Open(1, 0, 600000);  // the pool's own wait: 10 minutes
  auto held = pool->Acquire();
  ASSERT_TRUE(held.ok());
  auto refused = pool->Acquire(std::chrono::milliseconds(50));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(IsBackendUnavailable(refused.status()));
  EXPECT_NE(refused.status().message().find("all 1 backend connections are busy (waited 50 ms)"),
            std::string::npos)
      << refused.status().ToString();
  std::thread giver([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    held->reset();
  });
  auto given = pool->Acquire(std::chrono::milliseconds(60000));
  giver.join();
  EXPECT_TRUE(given.ok()) << given.status().ToString();
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
  EXPECT_EQ(pool->Stats().broken, 1);
  EXPECT_EQ(pool->Stats().opened, 2);
}

// Every new connection runs the setup statements before it is lent (SQLite's busy timeout).
TEST_F(AdbcConnectionPoolTest, NewConnectionsRunTheSetupStatements) {
  auto pool = Open(2, 1, 100, {"PRAGMA busy_timeout = 4321"});
  auto a = pool->Acquire();
  auto b = pool->Acquire();  // the one opened at startup and a new one
  ASSERT_TRUE(a.ok() && b.ok());
  for (auto* lease : {&*a, &*b}) {
    auto statement = AdbcStatementHandle::New(std::move(*lease), nullptr);
    ASSERT_TRUE(statement.ok()) << statement.status().ToString();
    ASSERT_TRUE((*statement)->SetSqlQuery("PRAGMA busy_timeout").ok());
    auto rows = (*statement)->ExecuteQuery();
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    auto table = (*rows)->ToTable();
    ASSERT_TRUE(table.ok());
    EXPECT_EQ((*(*table)->column(0)->GetScalar(0))->ToString(), "4321");
  }
}

TEST_F(AdbcConnectionPoolTest, AFailingSetupStatementFailsTheConnection) {
  auto pool = Open(2, 0, 100, {"PRAGMA nonsense(("});
  auto lease = pool->Acquire();
  ASSERT_FALSE(lease.ok());
  EXPECT_NE(lease.status().message().find("setting up a backend connection"), std::string::npos)
      << lease.status().ToString();
  EXPECT_EQ(pool->open_connections(), 0);
}

// The newest idle connection is lent first (the others may age and be checked); one lent within
// check_idle_after of its return is not checked.
TEST_F(AdbcConnectionPoolTest, LendsTheNewestIdleConnectionWithoutACheckWhileFresh) {
  auto pool = Open(2, 0, 100);
  auto a = pool->Acquire();
  auto b = pool->Acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  AdbcConnection* newest = (*b)->get();
  a->reset();
  b->reset();  // returned last
  auto again = pool->Acquire();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->get(), newest);
  EXPECT_TRUE((*again)->reused());
  EXPECT_EQ(pool->Stats().checked, 0);
  EXPECT_EQ(pool->Stats().opened, 2);
}

// A connection idle for check_idle_after runs the check first; it is lent when the backend
// answers, even with an error (only "unreachable" means dead), and nothing is closed.
TEST_F(AdbcConnectionPoolTest, AnIdleConnectionIsCheckedAndKeptWhenTheBackendAnswers) {
  for (const char* check : {"SELECT 1", "SELECT no_such_column"}) {
    auto pool = Open(2, 2, 100, {}, 0, check);
    auto lease = pool->Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status().ToString();
    EXPECT_TRUE((*lease)->reused()) << check;
    EXPECT_EQ(pool->Stats().checked, 1) << check;
    EXPECT_EQ(pool->Stats().found_dead, 0) << check;
    EXPECT_EQ(pool->open_connections(), 2) << check;
    EXPECT_EQ(pool->idle_connections(), 1) << check;
  }
}

// A burst's connections are closed once idle for idle_timeout, down to min_connections; one in
// use is not, and the pool opens new ones on demand afterwards.
TEST_F(AdbcConnectionPoolTest, ConnectionsIdleForTheTimeoutAreClosedDownToTheMinimum) {
  auto pool = Open(4, 1, 100, {}, 1000, "SELECT 1", /*idle_timeout_ms=*/50);
  std::vector<std::unique_ptr<AdbcConnectionLease>> burst;
  for (int i = 0; i < 4; ++i) {
    auto lease = pool->Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status().ToString();
    burst.push_back(std::move(*lease));
  }
  burst.pop_back();
  burst.pop_back();  // two idle, two in use
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (pool->Stats().closed_idle < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(pool->Stats().closed_idle, 2);
  EXPECT_EQ(pool->open_connections(), 2);  // the two in use
  burst.clear();                           // both idle now: one is closed, the minimum stays
  while (pool->Stats().closed_idle < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // nothing more is closed
  EXPECT_EQ(pool->Stats().closed_idle, 3);
  EXPECT_EQ(pool->open_connections(), 1);
  auto again = pool->Acquire();
  ASSERT_TRUE(again.ok());
  auto more = pool->Acquire();
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  EXPECT_EQ(pool->open_connections(), 2);
}

// A connection open for max_lifetime is closed when it is returned, and while it sits idle;
// the pool opens new ones on demand.
TEST_F(AdbcConnectionPoolTest, ConnectionsOpenForTheirLifetimeAreRetired) {
  auto pool = Open(2, 0, 100, {}, 1000, "SELECT 1", 600000, /*max_lifetime_ms=*/300);
  {
    auto lease = pool->Acquire();
    ASSERT_TRUE(lease.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }  // returned after its lifetime: closed, not kept
  EXPECT_EQ(pool->Stats().retired, 1);
  EXPECT_EQ(pool->open_connections(), 0);
  {
    auto lease = pool->Acquire();
    ASSERT_TRUE(lease.ok());
    EXPECT_FALSE((*lease)->reused());
  }  // returned young: idle, then retired by the housekeeper
  EXPECT_EQ(pool->idle_connections(), 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (pool->Stats().retired < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(pool->Stats().retired, 2);
  EXPECT_EQ(pool->open_connections(), 0);
  auto again = pool->Acquire();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
}

TEST(AdbcPoolMetricsTest, EverySeriesOnceWithItsValue) {
  AdbcPoolStats stats;
  stats.open = 5;
  stats.idle = 2;
  stats.max = 8;
  stats.opened = 11;
  stats.checked = 7;
  stats.found_dead = 3;
  stats.broken = 1;
  stats.busy = 4;
  stats.closed_idle = 6;
  stats.retired = 9;
  const std::string text = AdbcPoolMetricsText(stats);
  for (const char* line : {"hyprstream_backend_connections{state=\"in_use\"} 3\n",
                           "hyprstream_backend_connections{state=\"idle\"} 2\n",
                           "hyprstream_backend_connections_max 8\n",
                           "hyprstream_backend_connections_opened_total 11\n",
                           "hyprstream_backend_connection_checks_total 7\n",
                           "hyprstream_backend_connections_found_dead_total 3\n",
                           "hyprstream_backend_connections_broken_total 1\n",
                           "hyprstream_backend_connections_closed_idle_total 6\n",
                           "hyprstream_backend_connections_retired_total 9\n",
                           "hyprstream_backend_connection_waits_timed_out_total 4\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " in\n" << text;
  }
  size_t types = 0;
  for (size_t at = text.find("# TYPE "); at != std::string::npos; at = text.find("# TYPE ", at + 1))
    ++types;
  EXPECT_EQ(types, 9u);
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
