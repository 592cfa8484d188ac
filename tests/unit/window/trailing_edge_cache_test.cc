// TrailingEdgeCache: panes are loaded once on the background thread, found afterwards, kept a
// few per definition window (the least recently used going first), dropped when stale,
// forgotten with their definition; the loader's failures and "not now" answers keep nothing;
// the destructor stops a loader mid-queue; all definitions' panes stay within the cache's bytes
// (least recently used first), and a pane larger on its own is read once and never kept.
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

// A loader for any definition whose panes each hold `rows` rows; counts its calls.
TrailingEdgeCache::Loader SizedLoader(std::atomic<int>* calls, int64_t rows) {
  return [calls, rows](const std::string&, size_t window, int64_t begin,
                       int64_t end) -> arrow::Result<std::shared_ptr<const TrailingEdgeRows>> {
    ++*calls;
    auto loaded = std::make_shared<TrailingEdgeRows>();
    loaded->window = window;
    loaded->pane_begin = begin;
    loaded->pane_end = end;
    loaded->ids.assign(static_cast<size_t>(rows), 0);
    loaded->times.assign(static_cast<size_t>(rows), begin);
    return loaded;
  };
}

// What TrailingEdgeRows::memory_bytes() says of a SizedLoader pane: ids and times.
int64_t PaneBytes(int64_t rows) { return rows * (4 + 8); }

TEST(TrailingEdgeCache, KeepsAllDefinitionsPanesWithinTheBytesLeastRecentlyUsedFirst) {
  std::atomic<int> loads{0};
  const int64_t rows = 1000;
  TrailingEdgeCache cache(SizedLoader(&loads, rows), 3 * PaneBytes(rows) + PaneBytes(rows) / 2);
  auto load = [&](const std::string& definition, int64_t begin) {
    cache.Request(definition, 0, begin, begin + 10);
    return Eventually([&] { return cache.Find(definition, 0, begin) != nullptr; });
  };
  ASSERT_TRUE(load("a", 0));
  ASSERT_TRUE(load("b", 0));
  ASSERT_TRUE(load("a", 10));
  EXPECT_EQ(cache.memory_bytes(), 3 * PaneBytes(rows));
  ASSERT_NE(cache.Find("a", 0, 0), nullptr);  // used: b's pane is now the least recent
  ASSERT_TRUE(load("b", 10));
  EXPECT_EQ(cache.memory_bytes(), 3 * PaneBytes(rows));
  EXPECT_EQ(cache.Find("b", 0, 0), nullptr);
  EXPECT_NE(cache.Find("a", 0, 0), nullptr);
  EXPECT_NE(cache.Find("a", 0, 10), nullptr);
  EXPECT_NE(cache.Find("b", 0, 10), nullptr);
  EXPECT_EQ(cache.memory_bytes("a"), 2 * PaneBytes(rows));
  EXPECT_EQ(cache.memory_bytes("b"), PaneBytes(rows));
  cache.Drop("a", cache.Find("a", 0, 10).get());
  cache.Forget("b");
  EXPECT_EQ(cache.memory_bytes(), PaneBytes(rows));
  EXPECT_EQ(loads.load(), 4);
  EXPECT_EQ(cache.counts().kept, 4u);
  EXPECT_EQ(cache.counts().too_large, 0u);
}

TEST(TrailingEdgeCache, APaneLargerThanTheBytesIsReadOnceAndNotKept) {
  std::atomic<int> loads{0};
  const int64_t rows = 1000;
  TrailingEdgeCache cache(SizedLoader(&loads, rows), PaneBytes(rows) - 1);
  cache.Request("d", 0, 0, 10);
  ASSERT_TRUE(Eventually([&] { return loads.load() == 1; }));
  for (int i = 0; i < 20; ++i) {  // asked again and again: found too large, not read again
    cache.Request("d", 0, 0, 10);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(loads.load(), 1);
  EXPECT_EQ(cache.Find("d", 0, 0), nullptr);
  EXPECT_EQ(cache.memory_bytes(), 0);
  EXPECT_EQ(cache.counts().too_large, 1u);
  EXPECT_EQ(cache.counts().kept, 0u);
  cache.Forget("d");  // a new definition of that name: asked for again
  cache.Request("d", 0, 0, 10);
  EXPECT_TRUE(Eventually([&] { return loads.load() == 2; }));
}

TEST(TrailingEdgeCache, ALoaderSayingTooLargeIsNotAskedAgain) {
  std::atomic<int> calls{0};
  TrailingEdgeCache cache([&](const std::string&, size_t, int64_t,
                              int64_t) -> arrow::Result<std::shared_ptr<const TrailingEdgeRows>> {
    ++calls;
    return arrow::Status::CapacityError("more rows than fit");
  });
  cache.Request("d", 0, 0, 10);
  ASSERT_TRUE(Eventually([&] { return cache.counts().too_large == 1; }));
  for (int i = 0; i < 10; ++i) cache.Request("d", 0, 0, 10);
  cache.Request("d", 0, 10, 20);  // another pane is asked for
  ASSERT_TRUE(Eventually([&] { return cache.counts().too_large == 2; }));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(cache.counts().kept, 0u);
  EXPECT_EQ(cache.Find("d", 0, 0), nullptr);
}

TEST(TrailingEdgeCache, NoBytesLoadsNothing) {
  std::atomic<int> loads{0};
  TrailingEdgeCache cache(SizedLoader(&loads, 10), 0);
  cache.Request("d", 0, 0, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(loads.load(), 0);
  EXPECT_EQ(cache.Find("d", 0, 0), nullptr);
}

}  // namespace
}  // namespace hyprstream::window
