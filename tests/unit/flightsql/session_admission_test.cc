// Session admission: --max-sessions holds exactly under concurrent new sessions, and every way
// a session goes (closed, expired, failed to connect, made twice at once) gives its slot back
// exactly once. SessionAdmission alone, ExpiringMap::GetOrCreate, and SessionRegistry over a
// real DuckDB engine with many threads opening sessions at once.
#include "flightsql/session_admission.h"

#include <arrow/flight/types.h>
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../engine/engine_test_util.h"
#include "engine/duckdb_engine.h"
#include "engine/forwarding_engine.h"
#include "flightsql/expiring_map.h"
#include "flightsql/session_registry.h"
#include "peer_context.h"

namespace hyprstream::flightsql {
namespace {

bool IsUnavailable(const arrow::Status& status) {
  auto detail = arrow::flight::FlightStatusDetail::UnwrapStatus(status);
  return detail && detail->code() == arrow::flight::FlightStatusCode::Unavailable;
}

// Runs fn(i) on `threads` threads that all start at once.
template <typename Fn>
void Burst(int threads, Fn fn) {
  std::latch start(threads);
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      start.arrive_and_wait();
      fn(i);
    });
  }
  for (auto& worker : workers) worker.join();
}

TEST(SessionAdmissionTest, ExactlyCapacitySlotsUnderABurstAndAllComeBack) {
  SessionAdmission admission(5);
  std::vector<SessionAdmission::Slot> slots(64);
  std::atomic<int> refused{0};
  Burst(64, [&](int i) {
    auto slot = admission.TryReserve();
    if (slot.ok()) {
      slots[i] = std::move(*slot);
    } else {
      EXPECT_TRUE(IsUnavailable(slot.status())) << slot.status().ToString();
      EXPECT_NE(slot.status().message().find("--max-sessions"), std::string::npos);
      ++refused;
    }
  });
  int held = 0;
  for (const auto& slot : slots) held += slot.held() ? 1 : 0;
  EXPECT_EQ(held, 5);
  EXPECT_EQ(refused.load(), 59);
  EXPECT_EQ(admission.open(), 5);
  EXPECT_EQ(admission.rejected(), 59);
  slots.clear();
  EXPECT_EQ(admission.open(), 0);
}

TEST(SessionAdmissionTest, NeverMoreThanCapacityHeldWhileSlotsComeAndGo) {
  SessionAdmission admission(3);
  std::atomic<int> held{0};
  std::atomic<int> most{0};
  std::atomic<int> admitted{0};
  Burst(8, [&](int) {
    for (int round = 0; round < 2000; ++round) {
      auto slot = admission.TryReserve();
      if (!slot.ok()) continue;
      ++admitted;
      int now = ++held;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      --held;  // before the slot goes: `held` never counts a slot that is free
    }
  });
  EXPECT_LE(most.load(), 3);
  EXPECT_GT(admitted.load(), 0);
  EXPECT_EQ(admission.open(), 0);
}

TEST(SessionAdmissionTest, MovedSlotReleasesOnceAndZeroCapacityCountsWithoutLimit) {
  SessionAdmission admission(0);
  std::vector<SessionAdmission::Slot> slots;
  for (int i = 0; i < 100; ++i) {
    auto slot = admission.TryReserve();
    ASSERT_TRUE(slot.ok());
    slots.push_back(std::move(*slot));
  }
  EXPECT_EQ(admission.open(), 100);
  SessionAdmission::Slot moved = std::move(slots[0]);
  EXPECT_FALSE(slots[0].held());
  slots[1] = std::move(moved);  // releases what slots[1] held; moved holds nothing now
  EXPECT_EQ(admission.open(), 99);
  moved.Release();
  slots[1].Release();
  slots[1].Release();
  EXPECT_EQ(admission.open(), 98);
  slots.clear();
  EXPECT_EQ(admission.open(), 0);
}

struct Counted {
  SessionAdmission::Slot slot;
};

TEST(ExpiringMapTest, GetOrCreateMakesAnIdOnceForConcurrentCallers) {
  SessionAdmission admission(0);
  ExpiringMap<Counted> map(std::chrono::seconds(60));
  std::atomic<int> made{0};
  std::vector<std::shared_ptr<Counted>> got(16);
  Burst(16, [&](int i) {
    auto value = map.GetOrCreate("one", "alice", [&]() -> arrow::Result<std::shared_ptr<Counted>> {
      ++made;
      ARROW_ASSIGN_OR_RAISE(auto slot, admission.TryReserve());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // others arrive meanwhile
      auto counted = std::make_shared<Counted>();
      counted->slot = std::move(slot);
      return counted;
    });
    ASSERT_TRUE(value.ok());
    got[i] = *value;
  });
  EXPECT_EQ(made.load(), 1);
  for (const auto& value : got) EXPECT_EQ(value, got[0]);
  EXPECT_EQ(admission.open(), 1);
  got.clear();
  EXPECT_NE(map.Take("one", "alice").value, nullptr);
  EXPECT_EQ(admission.open(), 0);
}

TEST(ExpiringMapTest, AFailedMakeLetsTheNextCallerTryAndAValueMadeInVainIsDropped) {
  SessionAdmission admission(0);
  ExpiringMap<Counted> map(std::chrono::seconds(60));
  auto failed = map.GetOrCreate("k", "alice", [&]() -> arrow::Result<std::shared_ptr<Counted>> {
    ARROW_ASSIGN_OR_RAISE(auto slot, admission.TryReserve());
    (void)slot;  // released when the make fails
    return arrow::Status::IOError("cannot connect");
  });
  EXPECT_TRUE(failed.status().IsIOError());
  EXPECT_EQ(admission.open(), 0);
  EXPECT_EQ(map.size(), 0u);
  // An entry stored while the value was being made wins; the made value is dropped.
  auto value = map.GetOrCreate("k", "alice", [&]() -> arrow::Result<std::shared_ptr<Counted>> {
    ARROW_ASSIGN_OR_RAISE(auto slot, admission.TryReserve());
    map.Put("k", "alice", std::make_shared<Counted>());
    auto counted = std::make_shared<Counted>();
    counted->slot = std::move(slot);
    return counted;
  });
  ASSERT_TRUE(value.ok());
  EXPECT_FALSE((*value)->slot.held());
  EXPECT_EQ(admission.open(), 0);
}

using testing::PeerContext;

// DuckDB whose Connect takes a while (so that concurrent new sessions overlap in it) and can
// be made to fail.
class SlowEngine : public engine::ForwardingEngine {
 public:
  using ForwardingEngine::ForwardingEngine;
  arrow::Result<std::shared_ptr<engine::EngineConnection>> Connect() override {
    ++connects;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (fail) return arrow::Status::IOError("the backend refused the connection");
    return ForwardingEngine::Connect();
  }
  std::atomic<int> connects{0};
  std::atomic<bool> fail{false};
};

class SessionRegistryAdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto duckdb = engine::testing::OpenMemoryEngine();
    ASSERT_NE(duckdb, nullptr);
    engine_ = std::make_shared<SlowEngine>(duckdb);
  }

  std::unique_ptr<SessionRegistry> Registry(int64_t max_sessions, std::chrono::seconds idle) {
    ServerLimits limits;
    limits.max_sessions = max_sessions;
    limits.session_idle_timeout = idle;
    return std::make_unique<SessionRegistry>(engine_, limits);
  }

  // Every context opens its session at once; how many were admitted. The others must be
  // refused with UNAVAILABLE.
  int OpenAtOnce(SessionRegistry& registry, const std::vector<PeerContext>& contexts) {
    std::atomic<int> admitted{0};
    Burst(static_cast<int>(contexts.size()), [&](int i) {
      auto session = registry.SessionOf(contexts[i]);
      if (session.ok()) {
        ++admitted;
      } else {
        EXPECT_TRUE(IsUnavailable(session.status())) << session.status().ToString();
      }
    });
    return admitted.load();
  }

  static std::vector<PeerContext> Peers(const std::string& prefix, int n) {
    std::vector<PeerContext> contexts;
    for (int i = 0; i < n; ++i) contexts.emplace_back(prefix + std::to_string(i));
    return contexts;
  }

  std::shared_ptr<SlowEngine> engine_;
};

TEST_F(SessionRegistryAdmissionTest, ABurstOfNewSessionsAdmitsExactlyMaxThenAgainAfterClosing) {
  auto registry = Registry(4, std::chrono::seconds(3600));
  auto first = Peers("ipv4:10.0.0.1:", 24);
  EXPECT_EQ(OpenAtOnce(*registry, first), 4);
  EXPECT_EQ(registry->session_count(), 4u);
  EXPECT_EQ(registry->sessions_rejected(), 20);
  EXPECT_EQ(engine_->connects.load(), 4);  // refused sessions never connect
  // The admitted ones keep their sessions; nobody else gets in.
  auto late = Peers("ipv4:10.0.0.2:", 8);
  EXPECT_EQ(OpenAtOnce(*registry, late), 0);
  int closed = 0;
  for (const auto& context : first) closed += registry->CloseSession(context) ? 1 : 0;
  EXPECT_EQ(closed, 4);
  EXPECT_EQ(registry->session_count(), 0u);
  EXPECT_EQ(OpenAtOnce(*registry, late), 4);
}

TEST_F(SessionRegistryAdmissionTest, ConcurrentFirstCallsOfOneSessionAtTheLimitShareIt) {
  auto registry = Registry(2, std::chrono::seconds(3600));
  PeerContext one("ipv4:10.0.0.3:1");
  ASSERT_TRUE(registry->SessionOf(one).ok());
  // The second session's client sends several first calls at once: one session, all admitted.
  std::vector<PeerContext> same(12, PeerContext("ipv4:10.0.0.3:2"));
  EXPECT_EQ(OpenAtOnce(*registry, same), 12);
  EXPECT_EQ(registry->session_count(), 2u);
  EXPECT_EQ(registry->sessions_rejected(), 0);
}

TEST_F(SessionRegistryAdmissionTest, ExpiredAndFailedSessionsGiveTheirSlotsBack) {
  auto registry = Registry(3, std::chrono::seconds(0));  // every idle session expires at Sweep
  EXPECT_EQ(OpenAtOnce(*registry, Peers("ipv4:10.0.0.4:", 10)), 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));  // idle for longer than 0 s
  registry->Sweep();
  EXPECT_EQ(registry->session_count(), 0u);
  engine_->fail = true;
  for (const auto& context : Peers("ipv4:10.0.0.5:", 6)) {
    auto session = registry->SessionOf(context);
    EXPECT_TRUE(session.status().IsIOError()) << session.status().ToString();
  }
  engine_->fail = false;
  EXPECT_EQ(OpenAtOnce(*registry, Peers("ipv4:10.0.0.6:", 10)), 3);
}

}  // namespace
}  // namespace hyprstream::flightsql
