// StatementGate: capacity, the bounded wait queue, cancellation while queued, release order.
#include "flightsql/statement_gate.h"

#include <arrow/flight/types.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace hyprstream::flightsql {
namespace {

using std::chrono::milliseconds;

bool IsUnavailable(const arrow::Status& status) {
  auto detail = arrow::flight::FlightStatusDetail::UnwrapStatus(status);
  return detail && detail->code() == arrow::flight::FlightStatusCode::Unavailable;
}

TEST(StatementGateTest, UnlimitedNeverWaits) {
  StatementGate gate(0, milliseconds(0));
  std::vector<StatementGate::Permit> permits;
  for (int i = 0; i < 1000; ++i) {
    auto permit = gate.Acquire();
    ASSERT_TRUE(permit.ok());
    permits.push_back(std::move(*permit));
  }
  EXPECT_EQ(gate.running(), 1000);
  permits.clear();
  EXPECT_EQ(gate.running(), 0);
}

TEST(StatementGateTest, BeyondCapacityWaitsThenIsRefusedWithRetryMessage) {
  StatementGate gate(2, milliseconds(50));
  auto first = gate.Acquire();
  auto second = gate.Acquire();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(gate.running(), 2);
  auto third = gate.Acquire();
  ASSERT_FALSE(third.ok());
  EXPECT_TRUE(IsUnavailable(third.status())) << third.status().ToString();
  EXPECT_NE(third.status().message().find("retry"), std::string::npos);
  EXPECT_NE(third.status().message().find("--max-concurrent-statements"), std::string::npos);
  EXPECT_EQ(gate.rejected(), 1);
  EXPECT_EQ(gate.queued(), 0);
  EXPECT_EQ(gate.running(), 2);
}

TEST(StatementGateTest, QueuedStatementRunsWhenASlotFrees) {
  StatementGate gate(1, milliseconds(60000));
  auto held = gate.Acquire();
  ASSERT_TRUE(held.ok());
  std::atomic<bool> admitted{false};
  std::thread waiter([&] {
    auto permit = gate.Acquire();
    ASSERT_TRUE(permit.ok()) << permit.status().ToString();
    admitted = true;
  });
  while (gate.queued() == 0) std::this_thread::yield();
  EXPECT_FALSE(admitted);
  EXPECT_EQ(gate.queued(), 1);
  held->Release();
  waiter.join();
  EXPECT_TRUE(admitted);
  EXPECT_EQ(gate.queued(), 0);
  EXPECT_EQ(gate.running(), 0);  // the waiter's permit went out of scope
  EXPECT_EQ(gate.rejected(), 0);
}

TEST(StatementGateTest, CancelledWhileQueued) {
  StatementGate gate(1, milliseconds(60000));
  auto held = gate.Acquire();
  ASSERT_TRUE(held.ok());
  auto refused = gate.Acquire([] { return true; });
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsCancelled()) << refused.status().ToString();
  EXPECT_EQ(gate.queued(), 0);
  EXPECT_EQ(gate.running(), 1);
}

TEST(StatementGateTest, MovedPermitReleasesOnce) {
  StatementGate gate(1, milliseconds(0));
  auto permit = gate.Acquire();
  ASSERT_TRUE(permit.ok());
  StatementGate::Permit moved = std::move(*permit);
  EXPECT_FALSE(permit->held());
  EXPECT_TRUE(moved.held());
  StatementGate::Permit other;
  other = std::move(moved);
  EXPECT_EQ(gate.running(), 1);
  other.Release();
  other.Release();
  EXPECT_EQ(gate.running(), 0);
  EXPECT_TRUE(gate.Acquire().ok());
}

TEST(StatementGateTest, ManyThreadsNeverExceedCapacity) {
  StatementGate gate(3, milliseconds(60000));
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto permit = gate.Acquire();
        ASSERT_TRUE(permit.ok());
        int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        --inside;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_EQ(gate.running(), 0);
  EXPECT_EQ(gate.rejected(), 0);
}

}  // namespace
}  // namespace hyprstream::flightsql
