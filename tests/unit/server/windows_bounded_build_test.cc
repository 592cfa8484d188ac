// A build from a snapshot of the stored rows on embedded DuckDB, or of the cache's copy of
// them behind the cache (a new definition, a rebuild after a change, a start), folds only the
// rows its state still needs and takes the windows closed before them from DuckDB
// (ClosedWindowsQuery). Its windows must be the ones a fold of every row gives: those of the
// same definition on a reference stack of its own (embedded), defined before the same rows were
// written and folding them as they came, in time order. Every window listed (tumbling, hopping,
// a day; the history and the open ones), the trailing reads and the answers must be equal,
// after the first build and after a rebuild following a change that changes no row. Keys of
// two columns with nulls, values of two types with nulls, rows without a time, TIMESTAMP and
// TIMESTAMPTZ. Real DuckDB.
#include <gtest/gtest.h>

#include <arrow/api.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "../engine/engine_test_util.h"
#include "engine/result_provenance.h"
#include "windows_test_util.h"

namespace hyprstream {
namespace {

using engine::testing::Query;
using engine::testing::Update;
using namespace std::chrono_literals;

// Equal, doubles within a relative 1e-9 (DuckDB's and the windows' variance formulas differ
// in their last bits; the sums of integer values are exact either way).
void ExpectNearlyEqual(const arrow::Table& want, const arrow::Table& got, const std::string& when) {
  ASSERT_EQ(want.num_rows(), got.num_rows()) << when;
  ASSERT_TRUE(want.schema()->Equals(*got.schema())) << when << "\n"
                                                    << want.schema()->ToString() << "\n"
                                                    << got.schema()->ToString();
  int mismatches = 0;
  for (int c = 0; c < want.num_columns(); ++c) {
    for (int64_t r = 0; r < want.num_rows() && mismatches < 5; ++r) {
      auto a = *want.column(c)->GetScalar(r);
      auto b = *got.column(c)->GetScalar(r);
      if (a->Equals(*b)) continue;
      if (a->type->id() == arrow::Type::DOUBLE && a->is_valid && b->is_valid) {
        const double x = static_cast<const arrow::DoubleScalar&>(*a).value;
        const double y = static_cast<const arrow::DoubleScalar&>(*b).value;
        if (std::abs(x - y) <= 1e-9 * std::max(1.0, std::max(std::abs(x), std::abs(y)))) continue;
      }
      ++mismatches;
      ADD_FAILURE() << when << ": row " << r << ", " << want.schema()->field(c)->name()
                    << ": before " << a->ToString() << ", after " << b->ToString();
    }
  }
}

using ClosedWindows = window::WindowCatalogOptions::ClosedWindows;

// A windowed stack over a DuckDB of its own: embedded, or behind the cache (`cached`).
struct Stack {
  explicit Stack(bool cached, window::WindowCatalogOptions options = {})
      : stored(engine::testing::OpenMemoryEngine()) {
    auto opened = testing::OpenWindowedStack(stored, cached, options);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    windowed = *opened;
    client = *windowed->Connect();
  }
  std::shared_ptr<engine::Engine> stored;
  std::shared_ptr<window::WindowedEngine> windowed;
  std::shared_ptr<engine::EngineConnection> client;
};

// The tested stack (embedded or behind the cache) takes its closed windows as `how` says and
// reads its rows `rows_per_read` at a time (many time ranges per build).
class BuildTest {
 protected:
  BuildTest(bool cached, ClosedWindows how, int64_t rows_per_read)
      : tested_(cached, Options(how, rows_per_read)), reference_(false) {}
  static window::WindowCatalogOptions Options(ClosedWindows how, int64_t rows_per_read) {
    window::WindowCatalogOptions options;
    options.build_closed_windows = how;
    options.build_rows_per_read = rows_per_read;
    return options;
  }

  // Runs `sql` on both stacks.
  void Both(const std::string& sql) {
    ASSERT_TRUE(Update(*tested_.client, sql).ok()) << sql;
    ASSERT_TRUE(Update(*reference_.client, sql).ok()) << sql;
  }

  // `table`'s rows (`select`, a SELECT of its columns) and window `name` (`arguments` of
  // hyprstream_create_window after the table) on both stacks. The tested stack stores the rows
  // first, then builds the definition from them: it must say it was built from all `rows`,
  // folded or not (stored in time order, or not). The reference defines it first, then writes
  // the rows in time order.
  void Load(const std::string& table, const std::string& select, const std::string& name,
            const std::string& arguments, int64_t rows, bool stored_in_time_order = false) {
    const std::string create = "SELECT backfilled_rows FROM hyprstream_create_window('" + name +
                               "', '" + table + "', " + arguments + ")";
    ASSERT_TRUE(Update(*tested_.client, "INSERT INTO " + table + " " + select +
                                            (stored_in_time_order ? " ORDER BY ts" : ""))
                    .ok())
        << select;
    for (auto [stack, want] : {std::pair{&tested_, rows}, std::pair{&reference_, int64_t{0}}}) {
      auto created = ReadFrom(*stack, create);
      ASSERT_NE(created, nullptr);
      EXPECT_EQ((*created->column(0)->GetScalar(0))->ToString(), std::to_string(want)) << create;
    }
    ASSERT_TRUE(
        Update(*reference_.client, "INSERT INTO " + table + " " + select + " ORDER BY ts").ok());
    EXPECT_EQ(RowsFolded(name, &reference_), rows);
    // Behind the cache a background load of the new mirror may win the race with the
    // definition's own read of it: the build then follows that load, moments after the
    // definition returned.
    WaitUntilBuilt(name);
  }

  uint64_t Rebuilds(const std::string& name) const {
    for (const auto& definition : tested_.windowed->catalog().GetStats().definitions) {
      if (definition.name == name) return definition.rebuilds;
    }
    return 0;
  }

  // Waits until `name` answers on the tested stack, rebuilt more than `rebuilds` times.
  void WaitUntilAnswering(const std::string& name, uint64_t rebuilds) {
    std::string state;
    for (int attempt = 0; attempt < 500 && (state != "answering" || Rebuilds(name) <= rebuilds);
         ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(20ms);
      auto states = Read("SELECT state FROM hyprstream_windows() WHERE name = '" + name + "'");
      ASSERT_NE(states, nullptr);
      state = (*states->column(0)->GetScalar(0))->ToString();
    }
    ASSERT_EQ(state, "answering");
    ASSERT_GT(Rebuilds(name), rebuilds);
  }
  // Waits until `name` answers on the tested stack.
  void WaitUntilBuilt(const std::string& name) {
    std::string state;
    for (int attempt = 0; attempt < 500 && state != "answering"; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(20ms);
      auto states = Read("SELECT state FROM hyprstream_windows() WHERE name = '" + name + "'");
      ASSERT_NE(states, nullptr);
      state = (*states->column(0)->GetScalar(0))->ToString();
    }
    ASSERT_EQ(state, "answering");
  }
  // Runs `change` (the windows of `name` cannot follow it) and waits until they are rebuilt.
  void ChangeAndWaitForTheRebuild(const std::string& name, const std::string& change) {
    const uint64_t rebuilds = Rebuilds(name);
    ASSERT_TRUE(Update(*tested_.client, change).ok()) << change;
    WaitUntilAnswering(name, rebuilds);
  }
  // The rows `name` folded since it was built, on the tested stack or `on` another.
  int64_t RowsFolded(const std::string& name, const Stack* on = nullptr) {
    auto rows = ReadFrom(on ? *on : tested_,
                         "SELECT rows FROM hyprstream_windows() WHERE name = '" + name + "'");
    return rows ? std::static_pointer_cast<arrow::Int64Array>(rows->column(0)->chunk(0))->Value(0)
                : -1;
  }

  std::shared_ptr<arrow::Table> Read(const std::string& sql) { return ReadFrom(tested_, sql); }
  static std::shared_ptr<arrow::Table> ReadFrom(const Stack& stack, const std::string& sql) {
    auto rows = Query(*stack.client, sql);
    EXPECT_TRUE(rows.ok()) << sql << ": " << rows.status().ToString();
    return rows.ok() ? *rows : nullptr;
  }
  // `sql` read from both stacks must be equal.
  void ExpectAsTheReference(const std::string& sql, const std::string& when) {
    auto want = ReadFrom(reference_, sql);
    auto got = Read(sql);
    ASSERT_NE(want, nullptr);
    ASSERT_NE(got, nullptr);
    ExpectNearlyEqual(*want, *got, when + ": " + sql);
  }

  Stack tested_;
  Stack reference_;  // embedded, the definitions made before the rows
};

// Both ways of taking the closed windows, forced (the windows must be the same either way).
class WindowsBoundedBuildTest : public BuildTest,
                                public ::testing::TestWithParam<std::tuple<bool, ClosedWindows>> {
 protected:
  WindowsBoundedBuildTest() : BuildTest(std::get<0>(GetParam()), std::get<1>(GetParam()), 997) {}
  bool EngineComputes() const { return std::get<1>(GetParam()) == ClosedWindows::kEngine; }
};

TEST_P(WindowsBoundedBuildTest, ABuildListsTheWindowsOfAFoldOfEveryRowAsTheyCame) {
  const int64_t now = testing::NowMicros();
  for (const std::string time_type : {"TIMESTAMP", "TIMESTAMPTZ"}) {
    SCOPED_TRACE(time_type);
    const std::string table = time_type == "TIMESTAMP" ? "plain" : "zoned";
    const std::string name = "w_" + table;
    // 40k rows over the three days before `now`, the same on both stacks.
    Both("CREATE TABLE " + table + " (k VARCHAR, g BIGINT, ts " + time_type +
         ", v DOUBLE, i INTEGER)");
    Load(table,
         "SELECT CASE WHEN r % 53 = 0 THEN NULL ELSE 'k' || (hash(r) % 5) END, "
         "CASE WHEN r % 61 = 0 THEN NULL ELSE hash(r * 3) % 3 END, "
         "CASE WHEN r % 97 = 0 THEN NULL ELSE TIMESTAMP '" +
             engine::FormatTimestamp(now) +
             "' - to_microseconds((hash(r * 5) % 259200000000)::BIGINT) END AS ts, "
             "CASE WHEN r % 13 = 0 THEN NULL ELSE (hash(r * 7) % 1000)::DOUBLE END, "
             "CASE WHEN r % 17 = 0 THEN NULL ELSE (hash(r * 11) % 100)::INTEGER END "
             "FROM range(40000) AS t(r)",
         name,
         "keys := 'k,g', time_column := 'ts', value_columns := 'v,i', "
         "windows := '5m,hopping 1h/10m,1d,trailing 30m', aggregates := "
         "'count,sum,avg,min,max,var_pop,var_samp,stddev_pop,stddev_samp,count_star', "
         "lateness := '1m'",
         40000);
    const std::string listed = "SELECT * FROM hyprstream_window('" + name +
                               "') ORDER BY window_spec, k NULLS FIRST, g NULLS FIRST, "
                               "window_start";
    // (window_start is the bound, window_end the moment of the read.)
    const std::string trailing =
        "SELECT k, g, row_count, v_count, v_sum, v_min, v_max, v_var_samp, i_count, i_sum FROM "
        "hyprstream_window('" +
        name + "', since := " + std::to_string(now - 1790000000LL) +
        ") ORDER BY k NULLS FIRST, g NULLS FIRST";
    ASSERT_GT(ReadFrom(reference_, listed)->num_rows(), 5000);
    // The first build folded only the rows of its last day or so, or every row.
    auto expect_folded = [&] {
      if (EngineComputes()) {
        EXPECT_LT(RowsFolded(name), 40000 / 2);
      } else {
        EXPECT_EQ(RowsFolded(name), 40000);
      }
    };
    expect_folded();
    ExpectAsTheReference(listed, "every window listed, first build");
    ExpectAsTheReference(trailing, "trailing read, first build");
    // A change that changes no row: the windows are rebuilt from a snapshot of the rows.
    ChangeAndWaitForTheRebuild(name, "UPDATE " + table + " SET v = v WHERE false");
    expect_folded();
    ExpectAsTheReference(listed, "every window listed, rebuilt");
    ExpectAsTheReference(trailing, "trailing read, rebuilt");
    // Whatever answers a GROUP BY of the windows' buckets (not the windows: rows without a
    // time are a bucket of their own) gives DuckDB's answer over the stored rows.
    const std::string buckets =
        "SELECT k, g, time_bucket(INTERVAL '5 minutes', ts) AS b, count(v) AS n, sum(v) AS s, "
        "min(v) AS lo, max(v) AS hi FROM " +
        table + " GROUP BY ALL ORDER BY k, g, b";
    auto direct = *tested_.stored->Connect();
    auto want = Query(*direct, buckets);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    auto answer = testing::Ask(*tested_.client, buckets);
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    ExpectNearlyEqual(**want, *answer->rows, "5m buckets answered from " + answer->source);
    EXPECT_NE(answer->source, "windows");
    // Without those rows the windows answer it (TIMESTAMP).
    ChangeAndWaitForTheRebuild(name, "DELETE FROM " + table + " WHERE ts IS NULL");
    want = Query(*direct, buckets);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    answer = testing::Ask(*tested_.client, buckets);
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    ExpectNearlyEqual(**want, *answer->rows, "5m buckets answered from " + answer->source);
    // (Buckets of a TIMESTAMPTZ depend on the session's time zone: left to DuckDB.)
    if (time_type == "TIMESTAMP") {
      EXPECT_EQ(answer->source, "windows");
    }
  }
}

// A definition of trailing windows only folds the rows of its last width or so: its reads
// since any bound within the width are those of a fold of every row.
TEST_P(WindowsBoundedBuildTest, ABuildOfTrailingWindowsFoldsOnlyTheirRowsAndReadsAsAFoldOfAll) {
  const int64_t now = testing::NowMicros();
  Both("CREATE TABLE recent (k VARCHAR, ts TIMESTAMP, v DOUBLE)");
  Load("recent",
       "SELECT 'k' || (hash(r) % 7), TIMESTAMP '" + engine::FormatTimestamp(now) +
           "' - to_microseconds((hash(r * 5) % 10800000000)::BIGINT) AS ts, "
           "(hash(r * 7) % 1000)::DOUBLE FROM range(30000) AS t(r)",
       "last30",
       "keys := 'k', time_column := 'ts', value_columns := 'v', windows := 'trailing 30m', "
       "aggregates := 'count,sum,min,max'",
       30000);
  std::vector<std::string> reads;
  for (int64_t minutes : {29, 25, 20, 15, 10, 5, 1}) {
    reads.push_back(
        "SELECT k, v_count, v_sum, v_min, v_max FROM hyprstream_window('last30', since := " +
        std::to_string(now - minutes * 60000000LL) + ") ORDER BY k");
  }
  EXPECT_LT(RowsFolded("last30"), 30000 / 2);
  for (const auto& sql : reads) ExpectAsTheReference(sql, "first build");
  ChangeAndWaitForTheRebuild("last30", "UPDATE recent SET v = v WHERE false");
  EXPECT_LT(RowsFolded("last30"), 30000 / 2);
  for (const auto& sql : reads) ExpectAsTheReference(sql, "rebuilt");
}

// By default a build takes the closed windows the way that costs less (FoldingCostsLess): the
// engine's GROUP BY where there are many rows per key and window and few widths to scan for;
// a fold of every row with sparse keys (about a row per key and window: as many windows as
// rows) or with several widths (a scan each). Rows crowd towards the newest, so the time
// ranges read differ in width; they are stored in time order or not (each range is read in
// time order either way). Either way the windows are those of a fold of every row.
class WindowsBuildCostTest : public BuildTest, public ::testing::TestWithParam<bool> {
 protected:
  WindowsBuildCostTest() : BuildTest(GetParam(), ClosedWindows::kCheaper, 250) {}
};

TEST_P(WindowsBuildCostTest, ABuildTakesTheClosedWindowsTheCheaperWayAndListsTheSameWindows) {
  const int64_t now = testing::NowMicros();
  struct Case {
    const char* table;
    int keys;
    const char* windows;
    bool folds_every_row;
    bool stored_in_time_order;
  };
  for (const Case& c :
       {Case{"dense", 4, "1h", false, false}, Case{"widths", 4, "1h,6h,1d", true, true},
        Case{"sparse", 3000, "1h", true, false}}) {
    SCOPED_TRACE(c.table);
    const std::string table = c.table;
    const std::string name = "w_" + table;
    Both("CREATE TABLE " + table + " (k VARCHAR, ts TIMESTAMP, v DOUBLE)");
    // 6,000 rows over three days, (x/1000)^2 of them from the newest.
    Load(table,
         "SELECT 'k' || (r % " + std::to_string(c.keys) + "), TIMESTAMP '" +
             engine::FormatTimestamp(now) +
             "' - to_microseconds(((hash(r * 5) % 1000) * (hash(r * 5) % 1000) * 259200)::BIGINT)"
             " AS ts, (hash(r * 7) % 1000)::DOUBLE FROM range(6000) AS t(r)",
         name,
         "keys := 'k', time_column := 'ts', value_columns := 'v', windows := '" +
             std::string(c.windows) + "', aggregates := 'count,sum,min,max'",
         6000, c.stored_in_time_order);
    const std::string listed =
        "SELECT * FROM hyprstream_window('" + name + "') ORDER BY window_spec, k, window_start";
    auto expect_folded = [&] {
      if (c.folds_every_row) {
        EXPECT_EQ(RowsFolded(name), 6000);
      } else {
        EXPECT_LT(RowsFolded(name), 6000 / 2);
      }
    };
    expect_folded();
    ExpectAsTheReference(listed, "every window listed");
    ChangeAndWaitForTheRebuild(name, "UPDATE " + table + " SET v = v WHERE false");
    expect_folded();
    ExpectAsTheReference(listed, "every window listed, rebuilt");
  }
}

INSTANTIATE_TEST_SUITE_P(Stack, WindowsBuildCostTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Cached") : std::string("Embedded");
                         });

INSTANTIATE_TEST_SUITE_P(
    Stack, WindowsBoundedBuildTest,
    ::testing::Combine(::testing::Bool(),
                       ::testing::Values(ClosedWindows::kEngine, ClosedWindows::kFold)),
    [](const ::testing::TestParamInfo<std::tuple<bool, ClosedWindows>>& info) {
      return std::string(std::get<0>(info.param) ? "Cached" : "Embedded") +
             (std::get<1>(info.param) == ClosedWindows::kEngine ? "EngineComputes" : "FoldsAll");
    });

}  // namespace
}  // namespace hyprstream
