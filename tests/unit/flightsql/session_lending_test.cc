// Lending a session's connection to a Flight SQL transaction (session_registry.h): a
// transaction runs on the session's own connection when no call holds it, the session's calls
// without the transaction id run beside it, and a statement of an ended transaction runs where
// the session's statements run now. SessionRegistry over a real DuckDB engine, with threads.
#include <arrow/flight/types.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../engine/engine_test_util.h"
#include "flightsql/session_registry.h"
#include "peer_context.h"

namespace hyprstream::flightsql {
namespace {

using testing::PeerContext;

class SessionLendingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = engine::testing::OpenMemoryEngine();
    ASSERT_NE(engine_, nullptr);
  }

  std::unique_ptr<SessionRegistry> Registry(int64_t max_sessions = 0) {
    ServerLimits limits;
    limits.max_sessions = max_sessions;
    return std::make_unique<SessionRegistry>(engine_, limits);
  }

  // The session's own connection (read through the catalog-metadata path, which never leases).
  static engine::EngineConnection* Own(SessionRegistry& registry, const PeerContext& context) {
    auto connection = registry.SessionConnection(context);
    EXPECT_TRUE(connection.ok()) << connection.status().ToString();
    return connection.ok() ? connection->get() : nullptr;
  }

  std::shared_ptr<engine::Engine> engine_;
};

TEST_F(SessionLendingTest, ATransactionRunsOnTheSessionsConnectionAndOtherCallsBesideIt) {
  auto registry = Registry();
  PeerContext client("ipv4:10.1.0.1:1");
  auto* own = Own(*registry, client);
  auto id = registry->BeginTransaction(client);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto in_transaction = registry->ConnectionFor(client, *id);
  ASSERT_TRUE(in_transaction.ok());
  EXPECT_EQ(in_transaction->get(), own);
  EXPECT_TRUE((*in_transaction)->InTransaction());
  // Without the id: a side connection, not in the transaction, the same one each time.
  auto beside = registry->ConnectionFor(client, "");
  ASSERT_TRUE(beside.ok());
  EXPECT_NE(beside->get(), own);
  EXPECT_FALSE((*beside)->InTransaction());
  EXPECT_EQ(registry->ConnectionFor(client, "")->get(), beside->get());
  ASSERT_TRUE(registry->EndTransaction(client, *id, /*commit=*/true).ok());
  EXPECT_EQ(registry->ConnectionFor(client, "")->get(), own);
  EXPECT_FALSE(registry->ConnectionFor(client, "").ValueOrDie()->InTransaction());
}

TEST_F(SessionLendingTest, AHeldLeaseOrASqlTransactionKeepsTheConnectionFromBeingLent) {
  auto registry = Registry();
  PeerContext client("ipv4:10.1.0.2:1");
  auto* own = Own(*registry, client);
  {
    auto leased = registry->ConnectionFor(client, "");
    ASSERT_TRUE(leased.ok());
    EXPECT_EQ(leased->get(), own);
    auto id = registry->BeginTransaction(client);
    ASSERT_TRUE(id.ok());
    EXPECT_NE(registry->ConnectionFor(client, *id)->get(), own);  // a connection of its own
    EXPECT_FALSE((*leased)->InTransaction());
    ASSERT_TRUE(registry->EndTransaction(client, *id, false).ok());
  }
  // The lease is given back with the last copy of the pointer.
  auto id = registry->BeginTransaction(client);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(registry->ConnectionFor(client, *id)->get(), own);
  // A second transaction of the session gets a connection of its own.
  auto second = registry->BeginTransaction(client);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(registry->ConnectionFor(client, *second)->get(), own);
  ASSERT_TRUE(registry->EndTransaction(client, *second, true).ok());
  ASSERT_TRUE(registry->EndTransaction(client, *id, true).ok());
  // A SQL BEGIN on the session's connection: the transaction goes beside it.
  ASSERT_TRUE(registry->ConnectionFor(client, "").ValueOrDie()->BeginTransaction().ok());
  auto beside_sql = registry->BeginTransaction(client);
  ASSERT_TRUE(beside_sql.ok());
  EXPECT_NE(registry->ConnectionFor(client, *beside_sql)->get(), own);
  ASSERT_TRUE(registry->EndTransaction(client, *beside_sql, true).ok());
  ASSERT_TRUE(registry->ConnectionFor(client, "").ValueOrDie()->Rollback().ok());
}

TEST_F(SessionLendingTest, AStatementOfAnEndedTransactionRunsWhereTheSessionsStatementsRun) {
  auto registry = Registry();
  PeerContext client("ipv4:10.1.0.3:1");
  auto* own = Own(*registry, client);
  auto first = registry->BeginTransaction(client);
  ASSERT_TRUE(first.ok());
  auto prepared_on = registry->ConnectionFor(client, *first).ValueOrDie();
  // While its transaction is open: there.
  EXPECT_EQ(registry->ConnectionToExecute(client, *first, prepared_on)->get(), prepared_on.get());
  ASSERT_TRUE(registry->EndTransaction(client, *first, true).ok());
  // Ended, the session's connection in another transaction: inside that one.
  auto second = registry->BeginTransaction(client);
  ASSERT_TRUE(second.ok());
  auto runs_on = registry->ConnectionToExecute(client, *first, prepared_on);
  ASSERT_TRUE(runs_on.ok());
  EXPECT_EQ(runs_on->get(), own);
  EXPECT_TRUE((*runs_on)->InTransaction());
  // Prepared outside any transaction: beside the session's transaction.
  auto autocommit = registry->ConnectionToExecute(client, "", prepared_on);
  ASSERT_TRUE(autocommit.ok());
  EXPECT_NE(autocommit->get(), own);
  EXPECT_FALSE((*autocommit)->InTransaction());
  ASSERT_TRUE(registry->EndTransaction(client, *second, false).ok());
  // Ended, no transaction: the session's connection, leased (no transaction is lent it).
  auto leased = registry->ConnectionToExecute(client, *first, prepared_on);
  ASSERT_TRUE(leased.ok());
  EXPECT_EQ(leased->get(), own);
  auto third = registry->BeginTransaction(client);
  ASSERT_TRUE(third.ok());
  EXPECT_NE(registry->ConnectionFor(client, *third)->get(), own);
  ASSERT_TRUE(registry->EndTransaction(client, *third, true).ok());
}

TEST_F(SessionLendingTest, AClosedSessionsSlotIsFreeWhileItsConnectionIsLentOrLeased) {
  auto registry = Registry(/*max_sessions=*/1);
  PeerContext client("ipv4:10.1.0.4:1");
  PeerContext other("ipv4:10.1.0.4:2");
  auto leased = registry->ConnectionFor(client, "");
  ASSERT_TRUE(leased.ok());
  EXPECT_TRUE(registry->CloseSession(client));
  ASSERT_TRUE(registry->SessionOf(other).ok());  // the slot is free although the lease lives
  EXPECT_TRUE(registry->CloseSession(other));
  auto id = registry->BeginTransaction(client);  // a new session of `client`, lent at once
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(registry->CloseSession(client));
  ASSERT_TRUE(registry->SessionOf(other).ok());
  EXPECT_TRUE(registry->ConnectionFor(client, *id).ValueOrDie()->InTransaction());
  EXPECT_TRUE(registry->EndTransaction(client, *id, true).ok());
  leased->reset();  // the closed session's lease goes without it
}

// Threads sharing one session take leases (statements outside any transaction) while another
// begins and ends transactions: a leased connection is never inside a transaction.
TEST_F(SessionLendingTest, ALeasedConnectionIsNeverInsideALentTransaction) {
  auto registry = Registry();
  PeerContext client("ipv4:10.1.0.5:1");
  auto* own = Own(*registry, client);
  std::atomic<bool> stop{false};
  std::atomic<int> leased_own{0};
  std::atomic<int> inside{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        {
          auto connection = registry->ConnectionFor(client, "");
          if (connection.ok() && connection->get() == own) {
            ++leased_own;
            for (int i = 0; i < 20; ++i) {  // a statement's time on the connection
              inside += (*connection)->InTransaction() ? 1 : 0;
              std::this_thread::sleep_for(std::chrono::microseconds(10));
            }
          }
        }  // the lease goes: a transaction may be lent
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
    });
  }
  int lent = 0;
  for (int i = 0; i < 20000 && (lent < 100 || leased_own < 100); ++i) {
    auto id = registry->BeginTransaction(client);
    if (!id.ok()) {
      ADD_FAILURE() << id.status().ToString();  // (not ASSERT: the threads must be joined)
      break;
    }
    lent += registry->ConnectionFor(client, *id).ValueOrDie().get() == own ? 1 : 0;
    std::this_thread::sleep_for(std::chrono::microseconds(100));  // its statements
    EXPECT_TRUE(registry->EndTransaction(client, *id, i % 2 == 0).ok());
  }
  stop = true;
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(inside.load(), 0);
  EXPECT_GT(leased_own.load(), 0);
  EXPECT_GT(lent, 0);
}

}  // namespace
}  // namespace hyprstream::flightsql
