// TrailingEdgeCache: panes are loaded once on the background thread, found afterwards, kept a
// few per definition window (the least recently used going first), dropped when stale,
// forgotten with their definition; the loader's failures and "not now" answers keep nothing;
// the destructor stops a loader mid-queue.
#include "window/trailing_edge_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace hyprstream::window {
namespace {

std::shared_ptr<const TrailingEdgeRows> RowsFor(size_t window, int64_t begin, int64_t end) {
  auto rows = std::make_shared<TrailingEdgeRows>();
  rows->window = window;
  rows->pane_begin = begin;
  rows->pane_end = end;
  rows->times = {begin};
  rows->ids = {0};
  return rows;
}

// A loader for definition "d" that counts its calls, takes `delay`, and returns one row for
// the pane.
TrailingEdgeCache::Loader CountingLoader(std::atomic<int>* calls,
                                         std::chrono::milliseconds delay = {}) {
  return [calls, delay](const std::string& definition, size_t window, int64_t begin,
                        int64_t end) -> arrow::Result<std::shared_ptr<const TrailingEdgeRows>> {
    EXPECT_EQ(definition, "d");
    ++*calls;
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    return RowsFor(window, begin, end);
  };
}

// Waits until `f` holds (the loader runs on its own thread).
template <typename F>
bool Eventually(F&& f) {
  for (int i = 0; i < 2000; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return f();
}

TEST(TrailingEdgeCache, LoadsOncePerPaneAndKeepsTheNewest) {
  std::atomic<int> loads{0};
  TrailingEdgeCache cache(CountingLoader(&loads));
  EXPECT_EQ(cache.Find("d", 1, 0), nullptr);
  cache.Request("d", 1, 0, 10);
  ASSERT_TRUE(Eventually([&] { return cache.Find("d", 1, 0) != nullptr; }));
  cache.Request("d", 1, 0, 10);  // kept: not loaded again
  for (int64_t pane = 1; pane <= 4; ++pane) cache.Request("d", 1, pane * 10, pane * 10 + 10);
  ASSERT_TRUE(Eventually([&] { return cache.Find("d", 1, 40) != nullptr; }));
  EXPECT_EQ(loads.load(), 5);
  // The four used last kept.
  EXPECT_EQ(cache.Find("d", 1, 0), nullptr);
  EXPECT_NE(cache.Find("d", 1, 10), nullptr);
  EXPECT_NE(cache.Find("d", 1, 20), nullptr);
  EXPECT_GT(cache.memory_bytes("d"), 0);
  EXPECT_EQ(cache.memory_bytes("c"), 0);
  EXPECT_EQ(cache.memory_bytes("e"), 0);

  auto kept = cache.Find("d", 1, 30);
  cache.Drop("d", kept.get());
  EXPECT_EQ(cache.Find("d", 1, 30), nullptr);
  cache.Forget("d");
  EXPECT_EQ(cache.Find("d", 1, 40), nullptr);
  EXPECT_EQ(cache.memory_bytes("d"), 0);
}

// Two reads with different bounds on one window, each using its pane and asking for the
// next: the panes used (found or asked for) last are kept, not the newest — a pane just loaded
// for the older bound is not pushed out by the newer bound's.
TEST(TrailingEdgeCache, KeepsThePanesUsedLastNotTheNewest) {
  std::atomic<int> loads{0};
  TrailingEdgeCache cache(CountingLoader(&loads));
  auto load = [&](int64_t pane) {
    cache.Request("d", 0, pane, pane + 10);
    return Eventually([&] { return cache.Find("d", 0, pane) != nullptr; });
  };
  // Bound A in pane 0 (next 10), bound B in pane 50 (next 60).
  ASSERT_TRUE(load(0));
  ASSERT_TRUE(load(10));
  ASSERT_TRUE(load(50));
  ASSERT_TRUE(load(60));
  EXPECT_NE(cache.Find("d", 0, 0), nullptr);  // A reads again
  // A's bound moves to pane 10 and asks for 20: pane 50 (used longest ago) goes, not 0 or 20.
  ASSERT_NE(cache.Find("d", 0, 10), nullptr);
  cache.Request("d", 0, 60, 70);  // B asks for its next again: kept, marked used
  ASSERT_TRUE(load(20));
  EXPECT_EQ(loads.load(), 5);
  EXPECT_EQ(cache.Find("d", 0, 50), nullptr);
  EXPECT_NE(cache.Find("d", 0, 60), nullptr);
  EXPECT_NE(cache.Find("d", 0, 10), nullptr);
  EXPECT_NE(cache.Find("d", 0, 20), nullptr);
  // Other definition windows keep their own panes.
  cache.Request("d", 1, 0, 10);
  ASSERT_TRUE(Eventually([&] { return cache.Find("d", 1, 0) != nullptr; }));
  EXPECT_NE(cache.Find("d", 0, 60), nullptr);
}

TEST(TrailingEdgeCache, KeepsNothingForFailuresOrNotNowAndAsksAgainLater) {
  std::atomic<int> calls{0};
  TrailingEdgeCache cache(
      [&](const std::string&, size_t window, int64_t begin,
          int64_t end) -> arrow::Result<std::shared_ptr<const TrailingEdgeRows>> {
        const int call = ++calls;
        if (call == 1) return arrow::Status::IOError("table gone");
        if (call == 2) return nullptr;  // keys not folded yet
        return RowsFor(window, begin, end);
      });
  cache.Request("d", 0, 0, 10);
  ASSERT_TRUE(Eventually([&] { return calls.load() == 1; }));
  ASSERT_TRUE(Eventually([&] {
    cache.Request("d", 0, 0, 10);  // no longer queued once the failure is handled
    return calls.load() >= 3 && cache.Find("d", 0, 0) != nullptr;
  }));
}

TEST(TrailingEdgeCache, DestructorStopsALoaderWithWorkQueued) {
  std::atomic<int> started{0};
  {
    TrailingEdgeCache cache(CountingLoader(&started, std::chrono::milliseconds(20)));
    for (int64_t pane = 0; pane < 50; ++pane) cache.Request("d", 0, pane, pane + 1);
    ASSERT_TRUE(Eventually([&] { return started.load() >= 1; }));
  }
  EXPECT_LT(started.load(), 50);
}

}  // namespace
}  // namespace hyprstream::window
