// TableWriteGate: an exclusion waits for the writes in flight on its table and keeps new ones
// out until it ends; other tables are not held up. "Still waiting" is checked after a pause
// (it cannot pass by accident: a wrongly granted wait would be seen as done).
#include "window/table_write_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <thread>
#include <vector>

namespace hyprstream::window {
namespace {

using namespace std::chrono_literals;

const TableName kA{"main", "a"};
const TableName kB{"main", "b"};

TEST(TableWriteGateTest, AnExclusionWaitsForTheWritesInFlightOnItsTable) {
  TableWriteGate gate;
  std::optional<TableWriteGate::Hold> write(gate.Enter({kA}));
  auto excluded = std::async(std::launch::async, [&] {
    auto exclusion = gate.Exclude(kA);
    return true;
  });
  EXPECT_EQ(excluded.wait_for(100ms), std::future_status::timeout);
  write.reset();
  EXPECT_TRUE(excluded.get());
}

TEST(TableWriteGateTest, NewWritesWaitWhileTheTableIsExcluded) {
  TableWriteGate gate;
  std::optional<TableWriteGate::Exclusion> exclusion(gate.Exclude(kA));
  auto entered = std::async(std::launch::async, [&] {
    auto hold = gate.Enter({kA});
    return true;
  });
  EXPECT_EQ(entered.wait_for(100ms), std::future_status::timeout);
  // Another table is not held up.
  { auto other = gate.Enter({kB}); }
  exclusion.reset();
  EXPECT_TRUE(entered.get());
}

TEST(TableWriteGateTest, AHoldOfSeveralTablesWaitsForEachAndReleasesAll) {
  TableWriteGate gate;
  std::optional<TableWriteGate::Exclusion> exclusion(gate.Exclude(kB));
  auto entered = std::async(std::launch::async, [&] {
    auto hold = gate.Enter({kB, kA, kA});
    return true;
  });
  EXPECT_EQ(entered.wait_for(100ms), std::future_status::timeout);
  exclusion.reset();
  EXPECT_TRUE(entered.get());
  // Both released: exclusions of either table do not wait.
  { auto a = gate.Exclude(kA); }
  { auto b = gate.Exclude(kB); }
}

TEST(TableWriteGateTest, ConcurrentWritersAndExclusionsNeverOverlap) {
  TableWriteGate gate;
  std::atomic<int> writers{0};
  std::atomic<bool> overlap{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto hold = gate.Enter({kA});
        ++writers;
        --writers;
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 200; ++i) {
      auto exclusion = gate.Exclude(kA);
      if (writers.load() != 0) overlap = true;
    }
  });
  for (auto& thread : threads) thread.join();
  EXPECT_FALSE(overlap.load());
}

}  // namespace
}  // namespace hyprstream::window
