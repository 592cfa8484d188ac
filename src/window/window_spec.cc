#include "window/window_spec.h"

#include "window/duration.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <sstream>

namespace hyprstream::window {
namespace {

constexpr std::array<std::string_view, kAggregateKindCount> kAggregateNames = {
    "row_count", "count", "sum",     "avg",      "min",        "max",
    "first",     "last",  "var_pop", "var_samp", "stddev_pop", "stddev_samp"};

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

template <typename T, typename F>
std::string Join(const std::vector<T>& items, F&& format, std::string_view separator = ",") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += format(items[i]);
  }
  return out;
}

std::string TrailingPrefix(const WindowSpec& spec, const WindowDef& trailing) {
  int trailing_count = 0;
  for (const auto& w : spec.windows) trailing_count += w.kind == WindowKind::kTrailing;
  return trailing_count <= 1 ? "running_window" : "running_" + FormatDuration(trailing.width_us);
}

}  // namespace

std::string_view AggregateName(AggregateKind kind) {
  return kAggregateNames[static_cast<size_t>(kind)];
}

arrow::Result<AggregateKind> ParseAggregate(std::string_view name) {
  std::string lower = Lower(Trim(name));
  for (size_t i = 0; i < kAggregateNames.size(); ++i) {
    if (lower == kAggregateNames[i]) return static_cast<AggregateKind>(i);
  }
  if (lower == "count_star" || lower == "count(*)") return AggregateKind::kRowCount;
  if (lower == "mean") return AggregateKind::kAvg;
  if (lower == "variance") return AggregateKind::kVarSamp;
  if (lower == "stddev") return AggregateKind::kStddevSamp;
  std::string known;
  for (auto n : kAggregateNames) known += (known.empty() ? "" : ", ") + std::string(n);
  return arrow::Status::Invalid("unknown aggregate '", name, "'; use one of ", known);
}

arrow::Result<WindowDef> WindowDef::Parse(std::string_view text) {
  std::string_view rest = Trim(text);
  WindowKind kind = WindowKind::kTumbling;
  size_t space = rest.find(' ');
  if (space != std::string_view::npos) {
    std::string word = Lower(rest.substr(0, space));
    rest = Trim(rest.substr(space + 1));
    if (word == "tumbling") {
      kind = WindowKind::kTumbling;
    } else if (word == "hopping") {
      kind = WindowKind::kHopping;
    } else if (word == "trailing") {
      kind = WindowKind::kTrailing;
    } else {
      return arrow::Status::Invalid("window '", text,
                                    "': kind must be tumbling, hopping or trailing, e.g. "
                                    "'tumbling 5m', 'hopping 1h/10m', 'trailing 5m'");
    }
  }
  size_t slash = rest.find('/');
  if (kind == WindowKind::kHopping) {
    if (slash == std::string_view::npos) {
      return arrow::Status::Invalid("window '", text,
                                    "': a hopping window needs width/slide, e.g. 'hopping 1h/10m'");
    }
    ARROW_ASSIGN_OR_RAISE(int64_t width, ParseDuration(Trim(rest.substr(0, slash))));
    ARROW_ASSIGN_OR_RAISE(int64_t slide, ParseDuration(Trim(rest.substr(slash + 1))));
    return Hopping(width, slide);
  }
  if (slash != std::string_view::npos) {
    return arrow::Status::Invalid("window '", text,
                                  "': only hopping windows take a slide ('hopping 1h/10m')");
  }
  ARROW_ASSIGN_OR_RAISE(int64_t width, ParseDuration(rest));
  return kind == WindowKind::kTrailing ? Trailing(width) : Tumbling(width);
}

std::string WindowDef::ToString() const {
  switch (kind) {
    case WindowKind::kTumbling:
      return "tumbling " + FormatDuration(width_us);
    case WindowKind::kHopping:
      return "hopping " + FormatDuration(width_us) + "/" + FormatDuration(slide_us);
    case WindowKind::kTrailing:
      return "trailing " + FormatDuration(width_us);
  }
  return "?";
}

std::vector<WindowDef> DefaultMetricsWindows() {
  return {WindowDef::Tumbling(5 * kMicrosPerMinute), WindowDef::Tumbling(30 * kMicrosPerMinute),
          WindowDef::Tumbling(kMicrosPerHour), WindowDef::Tumbling(kMicrosPerDay)};
}

std::string AggregateColumnName(std::string_view value_column, AggregateKind kind) {
  if (kind == AggregateKind::kRowCount) return "row_count";
  return std::string(value_column) + "_" + std::string(AggregateName(kind));
}

std::vector<WindowSpec::OutputColumn> WindowSpec::AggregateColumns() const {
  std::vector<OutputColumn> out;
  if (std::find(aggregates.begin(), aggregates.end(), AggregateKind::kRowCount) !=
      aggregates.end()) {
    out.push_back({"row_count", AggregateKind::kRowCount, -1});
  }
  for (size_t v = 0; v < value_columns.size(); ++v) {
    for (AggregateKind kind : aggregates) {
      if (kind == AggregateKind::kRowCount) continue;
      out.push_back({AggregateColumnName(value_columns[v], kind), kind, static_cast<int>(v)});
    }
  }
  return out;
}

std::vector<WindowSpec::OutputColumn> WindowSpec::TrailingColumns(const WindowDef& trailing) const {
  std::string prefix = TrailingPrefix(*this, trailing);
  std::vector<OutputColumn> out = AggregateColumns();
  for (auto& column : out) {
    column.name = column.kind == AggregateKind::kRowCount
                      ? prefix + "_row_count"
                      : value_columns[column.value_index] + "_" + prefix + "_" +
                            std::string(AggregateName(column.kind));
  }
  return out;
}

arrow::Status WindowSpec::Validate() const {
  auto invalid = [](auto&&... parts) {
    return arrow::Status::Invalid("window spec: ", std::forward<decltype(parts)>(parts)...);
  };
  if (time_column.empty()) return invalid("time_column is empty; name the event-time column");
  std::set<std::string> inputs;
  for (const auto& name : key_columns) {
    if (name.empty()) return invalid("a key column name is empty");
    if (!inputs.insert(name).second) return invalid("column '", name, "' is listed twice");
  }
  for (const auto& name : value_columns) {
    if (name.empty()) return invalid("a value column name is empty");
    if (std::find(key_columns.begin(), key_columns.end(), name) != key_columns.end()) {
      return invalid("column '", name, "' is both a key and a value column");
    }
    if (!inputs.insert(name).second) return invalid("value column '", name, "' is listed twice");
  }
  if (inputs.count(time_column) > 0) {
    return invalid("time column '", time_column, "' is also a key or value column");
  }
  if (aggregates.empty()) return invalid("no aggregates; list at least one (e.g. count, sum)");
  std::set<AggregateKind> seen_aggregates;
  bool needs_values = false;
  for (AggregateKind kind : aggregates) {
    if (static_cast<unsigned>(kind) >= static_cast<unsigned>(kAggregateKindCount)) {
      return invalid("aggregate #", static_cast<int>(kind), " does not exist");
    }
    if (!seen_aggregates.insert(kind).second) {
      return invalid("aggregate ", AggregateName(kind), " is listed twice");
    }
    needs_values |= kind != AggregateKind::kRowCount;
  }
  if (needs_values && value_columns.empty()) {
    return invalid("aggregates other than row_count need at least one value column");
  }
  if (value_columns.size() > 64) return invalid("at most 64 value columns per stream");
  if (windows.empty()) return invalid("no windows; add e.g. WindowDef::Tumbling(5 minutes)");
  if (allowed_lateness_us < 0 || allowed_lateness_us > kMaxDurationMicros) {
    return invalid("allowed lateness must be between 0 and ", FormatDuration(kMaxDurationMicros));
  }
  if (retention_us < 0 || retention_us > kMaxDurationMicros) {
    return invalid("retention must be between 0 and ", FormatDuration(kMaxDurationMicros));
  }
  for (size_t i = 0; i < windows.size(); ++i) {
    const WindowDef& w = windows[i];
    std::string which = "window #" + std::to_string(i) + " (" + w.ToString() + ")";
    if (w.width_us <= 0 || w.width_us > kMaxDurationMicros) {
      return invalid(which, ": width must be > 0 and at most ", FormatDuration(kMaxDurationMicros));
    }
    switch (w.kind) {
      case WindowKind::kTumbling:
        if (w.slide_us != w.width_us) {
          return invalid(which,
                         ": a tumbling window's slide equals its width; use "
                         "WindowDef::Hopping for a different slide");
        }
        break;
      case WindowKind::kHopping:
        if (w.slide_us <= 0 || w.slide_us > w.width_us) {
          return invalid(which, ": slide must be > 0 and at most the width");
        }
        break;
      case WindowKind::kTrailing:
        break;
      default:
        return invalid(which, ": unknown window kind");
    }
    for (size_t j = 0; j < i; ++j) {
      if (windows[j] == w) return invalid(which, " is listed twice");
    }
  }
  std::set<std::string> outputs(key_columns.begin(), key_columns.end());
  for (const char* fixed : {"window_start", "window_end", "closed"}) {
    if (!outputs.insert(fixed).second) {
      return invalid("key column '", fixed, "' clashes with an output column; rename it");
    }
  }
  for (const auto& column : AggregateColumns()) {
    if (!outputs.insert(column.name).second) {
      return invalid("output column '", column.name,
                     "' would appear twice (a key column or another aggregate has that name); "
                     "rename the value column");
    }
  }
  return arrow::Status::OK();
}

std::string WindowSpec::ToString() const {
  std::ostringstream out;
  auto same = [](const std::string& s) { return s; };
  out << "keys=(" << Join(key_columns, same) << ") time=" << time_column;
  if (integer_time_unit) {
    static constexpr std::array<const char*, 4> kUnitNames = {"s", "ms", "us", "ns"};
    out << "[epoch " << kUnitNames[static_cast<size_t>(*integer_time_unit)] << "]";
  }
  out << " values=(" << Join(value_columns, same) << ") aggregates=("
      << Join(aggregates, [](AggregateKind k) { return std::string(AggregateName(k)); })
      << ") windows=("
      << Join(
             windows, [](const WindowDef& w) { return w.ToString(); }, ", ")
      << ") lateness=" << FormatDuration(allowed_lateness_us)
      << " retention=" << FormatDuration(retention_us);
  return out.str();
}

}  // namespace hyprstream::window
