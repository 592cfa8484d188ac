// WindowSpec and durations: parsing, printing, validation messages and output column names.
#include "window/window_spec.h"

#include "window/duration.h"

#include <gtest/gtest.h>

namespace hyprstream::window {
namespace {

constexpr int64_t kSec = kMicrosPerSecond;
constexpr int64_t kMin = kMicrosPerMinute;

TEST(DurationTest, ParsesUnitsCompoundsAndPlainSeconds) {
  EXPECT_EQ(*ParseDuration("5m"), 5 * kMin);
  EXPECT_EQ(*ParseDuration("30m"), 30 * kMin);
  EXPECT_EQ(*ParseDuration("1h"), 60 * kMin);
  EXPECT_EQ(*ParseDuration("1d"), 24 * 60 * kMin);
  EXPECT_EQ(*ParseDuration("90s"), 90 * kSec);
  EXPECT_EQ(*ParseDuration("90"), 90 * kSec);
  EXPECT_EQ(*ParseDuration("250ms"), 250000);
  EXPECT_EQ(*ParseDuration("10us"), 10);
  EXPECT_EQ(*ParseDuration("1h30m"), 90 * kMin);
  EXPECT_EQ(*ParseDuration("2w"), 14 * 24 * 60 * kMin);
  EXPECT_EQ(*ParseDuration("0s"), 0);
}

TEST(DurationTest, RejectsGarbageAndOverflow) {
  for (const char* bad :
       {"", "m", "5x", "-5m", "5 m", "1m30", "1.5h", "99999999999999999999s", "2000000d"}) {
    auto parsed = ParseDuration(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_TRUE(parsed.status().IsInvalid());
    EXPECT_NE(parsed.status().message().find("not a duration"), std::string::npos) << bad;
  }
}

TEST(DurationTest, FormatsTheShortestExactForm) {
  EXPECT_EQ(FormatDuration(5 * kMin), "5m");
  EXPECT_EQ(FormatDuration(90 * kSec), "90s");
  EXPECT_EQ(FormatDuration(24 * 60 * kMin), "1d");
  EXPECT_EQ(FormatDuration(90 * kMin), "90m");
  EXPECT_EQ(FormatDuration(1500), "1500us");
  EXPECT_EQ(FormatDuration(2000), "2ms");
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(-kSec), "-1s");
  for (const char* text : {"5m", "90s", "1d", "7ms", "3us", "14d"}) {
    EXPECT_EQ(FormatDuration(*ParseDuration(text)), text);
  }
}

TEST(WindowDefTest, ParsesAndPrintsEveryKind) {
  EXPECT_EQ(*WindowDef::Parse("5m"), WindowDef::Tumbling(5 * kMin));
  EXPECT_EQ(*WindowDef::Parse("tumbling 1d"), WindowDef::Tumbling(24 * 60 * kMin));
  EXPECT_EQ(*WindowDef::Parse("hopping 1h/10m"), WindowDef::Hopping(60 * kMin, 10 * kMin));
  EXPECT_EQ(*WindowDef::Parse("  Trailing 90s "), WindowDef::Trailing(90 * kSec));
  for (const char* text : {"tumbling 5m", "hopping 1h/10m", "trailing 30s"}) {
    EXPECT_EQ(WindowDef::Parse(text)->ToString(), text);
  }
  EXPECT_NE(WindowDef::Parse("sliding 5m").status().message().find("tumbling, hopping or trailing"),
            std::string::npos);
  EXPECT_NE(WindowDef::Parse("hopping 1h").status().message().find("width/slide"),
            std::string::npos);
  EXPECT_FALSE(WindowDef::Parse("tumbling 5m/1m").ok());
}

TEST(AggregateTest, NamesAndAliases) {
  EXPECT_EQ(AggregateName(AggregateKind::kStddevSamp), "stddev_samp");
  EXPECT_EQ(*ParseAggregate("AVG"), AggregateKind::kAvg);
  EXPECT_EQ(*ParseAggregate("mean"), AggregateKind::kAvg);
  EXPECT_EQ(*ParseAggregate("count(*)"), AggregateKind::kRowCount);
  EXPECT_EQ(*ParseAggregate("variance"), AggregateKind::kVarSamp);
  EXPECT_EQ(*ParseAggregate("stddev"), AggregateKind::kStddevSamp);
  for (int k = 0; k < kAggregateKindCount; ++k) {
    auto kind = static_cast<AggregateKind>(k);
    EXPECT_EQ(*ParseAggregate(AggregateName(kind)), kind);
  }
  EXPECT_NE(ParseAggregate("median").status().message().find("use one of row_count"),
            std::string::npos);
}

WindowSpec Valid() {
  WindowSpec spec;
  spec.key_columns = {"host"};
  spec.value_columns = {"cpu"};
  spec.aggregates = {AggregateKind::kCount, AggregateKind::kAvg, AggregateKind::kRowCount};
  spec.windows = DefaultMetricsWindows();
  spec.windows.push_back(WindowDef::Trailing(5 * kMin));
  spec.allowed_lateness_us = 30 * kSec;
  return spec;
}

std::string Problem(const WindowSpec& spec) {
  auto status = spec.Validate();
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  return status.message();
}

TEST(WindowSpecTest, ValidSpecAndItsDescription) {
  WindowSpec spec = Valid();
  EXPECT_TRUE(spec.Validate().ok());
  EXPECT_EQ(spec.ToString(),
            "keys=(host) time=ts values=(cpu) aggregates=(count,avg,row_count) "
            "windows=(tumbling 5m, tumbling 30m, tumbling 1h, tumbling 1d, trailing 5m) "
            "lateness=30s retention=0s");
  spec.integer_time_unit = arrow::TimeUnit::MILLI;
  EXPECT_NE(spec.ToString().find("time=ts[epoch ms]"), std::string::npos);
}

TEST(WindowSpecTest, OutputColumnNames) {
  WindowSpec spec = Valid();
  spec.value_columns = {"cpu", "mem"};
  std::vector<std::string> names;
  for (const auto& c : spec.AggregateColumns()) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"row_count", "cpu_count", "cpu_avg", "mem_count",
                                             "mem_avg"}));
  names.clear();
  for (const auto& c : spec.TrailingColumns(spec.windows.back())) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"running_window_row_count", "cpu_running_window_count",
                                             "cpu_running_window_avg", "mem_running_window_count",
                                             "mem_running_window_avg"}));
  spec.windows.push_back(WindowDef::Trailing(kMin));
  EXPECT_EQ(spec.TrailingColumns(spec.windows.back())[1].name, "cpu_running_1m_count");
}

TEST(WindowSpecTest, ValidationNamesTheProblem) {
  WindowSpec spec = Valid();
  spec.aggregates.clear();
  EXPECT_NE(Problem(spec).find("no aggregates"), std::string::npos);

  spec = Valid();
  spec.aggregates.push_back(AggregateKind::kAvg);
  EXPECT_NE(Problem(spec).find("avg is listed twice"), std::string::npos);

  spec = Valid();
  spec.windows.clear();
  EXPECT_NE(Problem(spec).find("no windows"), std::string::npos);

  spec = Valid();
  spec.windows = {WindowDef::Tumbling(0)};
  EXPECT_NE(Problem(spec).find("width must be > 0"), std::string::npos);

  spec = Valid();
  spec.windows = {WindowDef::Hopping(kMin, 2 * kMin)};
  EXPECT_NE(Problem(spec).find("slide must be > 0 and at most the width"), std::string::npos);

  spec = Valid();
  spec.windows = {WindowDef::Hopping(kMin, 0)};
  EXPECT_NE(Problem(spec).find("slide must be > 0"), std::string::npos);

  spec = Valid();
  spec.windows = {WindowDef{WindowKind::kTumbling, kMin, kSec}};
  EXPECT_NE(Problem(spec).find("WindowDef::Hopping"), std::string::npos);

  spec = Valid();
  spec.windows.push_back(WindowDef::Tumbling(5 * kMin));
  EXPECT_NE(Problem(spec).find("listed twice"), std::string::npos);

  spec = Valid();
  spec.allowed_lateness_us = -1;
  EXPECT_NE(Problem(spec).find("allowed lateness"), std::string::npos);

  spec = Valid();
  spec.retention_us = -1;
  EXPECT_NE(Problem(spec).find("retention"), std::string::npos);

  spec = Valid();
  spec.time_column = "";
  EXPECT_NE(Problem(spec).find("time_column is empty"), std::string::npos);

  spec = Valid();
  spec.value_columns = {"host"};
  EXPECT_NE(Problem(spec).find("both a key and a value"), std::string::npos);

  spec = Valid();
  spec.key_columns = {"ts"};
  EXPECT_NE(Problem(spec).find("time column 'ts' is also"), std::string::npos);

  spec = Valid();
  spec.value_columns.clear();
  EXPECT_NE(Problem(spec).find("need at least one value column"), std::string::npos);
  spec.aggregates = {AggregateKind::kRowCount};
  EXPECT_TRUE(spec.Validate().ok());

  spec = Valid();
  spec.key_columns = {"window_start"};
  EXPECT_NE(Problem(spec).find("clashes with an output column"), std::string::npos);

  spec = Valid();
  spec.key_columns = {"cpu_avg"};
  spec.value_columns = {"cpu"};
  EXPECT_NE(Problem(spec).find("'cpu_avg' would appear twice"), std::string::npos);

  spec = Valid();
  spec.windows = {WindowDef::Tumbling(kMaxDurationMicros + 1)};
  EXPECT_NE(Problem(spec).find("at most"), std::string::npos);
}

}  // namespace
}  // namespace hyprstream::window
