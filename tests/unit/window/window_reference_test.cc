// Randomised check of WindowStore against a brute-force reference that replays the raw rows
// one at a time with the documented semantics (watermark = max time - lateness, a window
// closes when the watermark reaches its end, late rows leave closed windows alone, trailing
// windows over (t - width, t] of the rows seen so far). Each seed draws a spec (window kinds
// and widths, lateness, retention, aggregate set, pane sharing), a key shape (utf8, int64,
// two columns with nulls, mixed string encodings), a time unit, a stream with ties,
// out-of-order and late rows, null times and null values, and random batch sizes from 0 to
// everything. After every batch the emitted closed windows, a snapshot of every window (all
// keys, a key subset, the current window) and the late counters must match; per-row trailing
// columns must match for every row. Seeds above 200 churn keys: a small set of keys is active
// at a time and new ones keep replacing it while time advances, so the store retires keys and
// hands their ids to new ones, and late rows come for keys already retired; the answers must
// still be the replay's. After the final flush no key may be left in memory.
#include "window/window_store.h"

#include "window/duration.h"
#include "window/event_time.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace hyprstream::window {
namespace {

constexpr int64_t kSec = kMicrosPerSecond;

enum class KeyShape { kUtf8, kInt64, kTwoColumns, kMixedStrings };

struct RawRow {
  std::optional<std::string> key_text;  // utf8 part
  std::optional<int64_t> key_int;       // integer part
  std::optional<int64_t> time_raw;      // in the column's unit
  std::optional<double> v0;
  std::optional<int32_t> v1;
};

struct Scenario {
  WindowSpec spec;
  WindowStoreOptions options;
  KeyShape shape;
  arrow::TimeUnit::type unit;
  std::vector<RawRow> rows;
  std::vector<int64_t> batch_sizes;
};

int64_t ToMicros(int64_t raw, arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      return raw * kSec;
    case arrow::TimeUnit::MILLI:
      return raw * 1000;
    case arrow::TimeUnit::MICRO:
      return raw;
    case arrow::TimeUnit::NANO:
      return raw / 1000;  // toward zero, as DuckDB stores it
  }
  return raw;
}

int64_t UnitsPerSecond(arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      return 1;
    case arrow::TimeUnit::MILLI:
      return 1000;
    case arrow::TimeUnit::MICRO:
      return 1000000;
    case arrow::TimeUnit::NANO:
      return 1000000000;
  }
  return 1;
}

std::string KeyOf(KeyShape shape, const RawRow& row) {
  auto text = [&] { return row.key_text ? "s:" + *row.key_text : std::string("null"); };
  auto num = [&] {
    return row.key_int ? "i:" + std::to_string(*row.key_int) : std::string("null");
  };
  switch (shape) {
    case KeyShape::kUtf8:
    case KeyShape::kMixedStrings:
      return text();
    case KeyShape::kInt64:
      return num();
    case KeyShape::kTwoColumns:
      return text() + "/" + num();
  }
  return "";
}

constexpr uint64_t kChurnSeeds = 200;  // seeds above this churn keys

Scenario Draw(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  Scenario s;
  s.shape = static_cast<KeyShape>(pick(0, 3));
  s.unit = static_cast<arrow::TimeUnit::type>(pick(0, 3));
  WindowSpec& spec = s.spec;
  switch (s.shape) {
    case KeyShape::kUtf8:
      spec.key_columns = {"host"};
      break;
    case KeyShape::kInt64:
      spec.key_columns = {"id"};
      break;
    case KeyShape::kTwoColumns:
      spec.key_columns = {"host", "id"};
      break;
    case KeyShape::kMixedStrings:
      spec.key_columns = {"host"};
      break;
  }
  spec.time_column = "ts";
  spec.value_columns = {"v0", "v1"};
  const std::vector<WindowDef> pool = {WindowDef::Tumbling(5 * kSec),
                                       WindowDef::Tumbling(7 * kSec),
                                       WindowDef::Tumbling(10 * kSec),
                                       WindowDef::Tumbling(30 * kSec),
                                       WindowDef::Hopping(20 * kSec, 5 * kSec),
                                       WindowDef::Hopping(30 * kSec, 20 * kSec),
                                       WindowDef::Hopping(25 * kSec, 10 * kSec),
                                       WindowDef::Hopping(12 * kSec, 8 * kSec),
                                       WindowDef::Trailing(6 * kSec),
                                       WindowDef::Trailing(15 * kSec),
                                       WindowDef::Trailing(40 * kSec)};
  const int window_count = static_cast<int>(pick(1, 4));
  while (static_cast<int>(spec.windows.size()) < window_count) {
    const WindowDef& w = pool[pick(0, pool.size() - 1)];
    if (std::find(spec.windows.begin(), spec.windows.end(), w) == spec.windows.end()) {
      spec.windows.push_back(w);
    }
  }
  for (int k = 0; k < kAggregateKindCount; ++k) {
    if (seed % 3 != 0 || chance(0.4)) spec.aggregates.push_back(static_cast<AggregateKind>(k));
  }
  if (spec.aggregates.empty()) spec.aggregates.push_back(AggregateKind::kRowCount);
  spec.allowed_lateness_us = std::vector<int64_t>{0, 2 * kSec, 10 * kSec, 60 * kSec}[pick(0, 3)];
  spec.retention_us = std::vector<int64_t>{0, 15 * kSec, 60 * kSec}[pick(0, 2)];
  s.options.max_panes_per_window = static_cast<int>(std::vector<int64_t>{1, 4, 100}[pick(0, 2)]);

  // Every fifth seed has thousands of keys, so the dictionary and the pane columns grow
  // while windows are open.
  const int keys = static_cast<int>(seed % 5 == 4 ? pick(1500, 5000) : pick(1, 40));
  const int64_t rows = pick(50, 2500);
  const int64_t per_second = UnitsPerSecond(s.unit);
  // Some seeds start before 1970 to exercise negative times and floor division.
  int64_t now = pick(-100000, 100000) * per_second + pick(0, per_second - 1);
  const double late_p = std::vector<double>{0.0, 0.05, 0.2}[pick(0, 2)];
  int64_t max_step = std::vector<int64_t>{0, 1, 3}[pick(0, 2)] * per_second;
  // Churn: `keys` keys active at a time, the newest replacing the oldest every few rows.
  const bool churn = seed > kChurnSeeds;
  const int64_t rows_per_new_key = churn ? pick(1, 6) : 0;
  if (churn) max_step = std::max(max_step, per_second);  // time moves, so windows close
  for (int64_t i = 0; i < rows; ++i) {
    RawRow row;
    int64_t key = pick(0, keys - 1);
    bool null_key = s.shape == KeyShape::kTwoColumns && chance(0.1);
    if (churn) {
      key += i / rows_per_new_key;
      row.key_text = "k" + std::to_string(key);
    } else {
      row.key_text = "k" + std::to_string(key * 7919 % 1000);
    }
    row.key_int = key * 1000003 - 500;
    if (null_key) {
      if (chance(0.5))
        row.key_text.reset();
      else
        row.key_int.reset();
    }
    now += max_step > 0 ? pick(0, max_step) : 0;
    if (chance(0.02)) {
      row.time_raw.reset();
    } else if (chance(late_p)) {
      row.time_raw = now - pick(0, 50 * per_second);
      if (churn) {  // a key of that time, likely retired by now
        key = std::max<int64_t>(0, key - pick(0, 3 * keys + 20));
        if (row.key_text) row.key_text = "k" + std::to_string(key);
        if (row.key_int) row.key_int = key * 1000003 - 500;
      }
    } else {
      row.time_raw = now;
    }
    if (!chance(0.1)) row.v0 = static_cast<double>(pick(-200, 200)) * 0.25 + 1e3 * (key % 3);
    if (row.v0 && seed % 7 == 0 && chance(0.03)) {
      row.v0 = std::vector<double>{NAN, INFINITY, -INFINITY}[pick(0, 2)];
    }
    if (!chance(0.1)) row.v1 = static_cast<int32_t>(pick(-1000, 1000));
    s.rows.push_back(row);
  }
  for (int64_t done = 0; done < rows;) {
    int64_t size;
    switch (pick(0, 5)) {
      case 0:
        size = 0;
        break;
      case 1:
        size = 1;
        break;
      case 2:
        size = pick(2, 7);
        break;
      case 3:
        size = pick(8, 64);
        break;
      case 4:
        size = pick(65, 600);
        break;
      default:
        size = rows;
        break;
    }
    size = std::min(size, rows - done);
    s.batch_sizes.push_back(size);
    done += size;
  }
  return s;
}

std::shared_ptr<arrow::Schema> DeclaredSchema(const Scenario& s) {
  arrow::FieldVector fields;
  switch (s.shape) {
    case KeyShape::kUtf8:
      fields.push_back(arrow::field("host", arrow::utf8()));
      break;
    case KeyShape::kInt64:
      fields.push_back(arrow::field("id", arrow::int64()));
      break;
    case KeyShape::kTwoColumns:
      fields.push_back(arrow::field("host", arrow::utf8()));
      fields.push_back(arrow::field("id", arrow::int64()));
      break;
    case KeyShape::kMixedStrings:
      fields.push_back(arrow::field("host", arrow::large_utf8()));
      break;
  }
  fields.push_back(arrow::field("extra", arrow::int8()));
  fields.push_back(arrow::field("ts", arrow::timestamp(s.unit)));
  fields.push_back(arrow::field("v0", arrow::float64()));
  fields.push_back(arrow::field("v1", arrow::int32()));
  return arrow::schema(fields);
}

std::shared_ptr<arrow::Array> StringColumn(const std::vector<std::optional<std::string>>& values,
                                           int encoding) {
  if (encoding == 2) {  // dictionary<int16, utf8>
    std::map<std::string, int16_t> codes;
    arrow::StringBuilder dict;
    arrow::Int16Builder indices;
    for (const auto& v : values) {
      if (!v) {
        EXPECT_TRUE(indices.AppendNull().ok());
        continue;
      }
      auto [it, added] = codes.emplace(*v, static_cast<int16_t>(codes.size()));
      if (added) {
        EXPECT_TRUE(dict.Append(*v).ok());
      }
      EXPECT_TRUE(indices.Append(it->second).ok());
    }
    auto type = arrow::dictionary(arrow::int16(), arrow::utf8());
    return *arrow::DictionaryArray::FromArrays(type, *indices.Finish(), *dict.Finish());
  }
  std::shared_ptr<arrow::Array> out;
  auto fill = [&](auto& builder) {
    for (const auto& v : values) {
      EXPECT_TRUE((v ? builder.Append(*v) : builder.AppendNull()).ok());
    }
    EXPECT_TRUE(builder.Finish(&out).ok());
  };
  if (encoding == 1) {
    arrow::LargeStringBuilder b;
    fill(b);
  } else {
    arrow::StringBuilder b;
    fill(b);
  }
  return out;
}

std::shared_ptr<arrow::RecordBatch> MakeBatch(const Scenario& s, int64_t begin, int64_t end,
                                              int encoding) {
  std::vector<std::optional<std::string>> texts;
  arrow::Int64Builder ints;
  arrow::Int8Builder extra;
  arrow::TimestampBuilder ts(arrow::timestamp(s.unit), arrow::default_memory_pool());
  arrow::DoubleBuilder v0;
  arrow::Int32Builder v1;
  for (int64_t i = begin; i < end; ++i) {
    const RawRow& r = s.rows[i];
    texts.push_back(r.key_text);
    EXPECT_TRUE((r.key_int ? ints.Append(*r.key_int) : ints.AppendNull()).ok());
    EXPECT_TRUE(extra.Append(1).ok());
    EXPECT_TRUE((r.time_raw ? ts.Append(*r.time_raw) : ts.AppendNull()).ok());
    EXPECT_TRUE((r.v0 ? v0.Append(*r.v0) : v0.AppendNull()).ok());
    EXPECT_TRUE((r.v1 ? v1.Append(*r.v1) : v1.AppendNull()).ok());
  }
  arrow::ArrayVector columns;
  arrow::FieldVector fields;
  auto add = [&](std::shared_ptr<arrow::Array> a, const std::string& name) {
    fields.push_back(arrow::field(name, a->type()));
    columns.push_back(std::move(a));
  };
  // Columns in a different order than declared, with an extra one: matched by name.
  add(*v1.Finish(), "v1");
  add(*ts.Finish(), "ts");
  switch (s.shape) {
    case KeyShape::kUtf8:
      add(StringColumn(texts, 0), "host");
      break;
    case KeyShape::kInt64:
      add(*ints.Finish(), "id");
      break;
    case KeyShape::kTwoColumns:
      add(*ints.Finish(), "id");
      add(StringColumn(texts, 0), "host");
      break;
    case KeyShape::kMixedStrings:
      add(StringColumn(texts, encoding), "host");
      break;
  }
  add(*extra.Finish(), "extra");
  add(*v0.Finish(), "v0");
  return arrow::RecordBatch::Make(arrow::schema(fields), end - begin, columns);
}

// ---------------------------------------------------------------- the reference model

struct RefRow {
  std::string key;
  int64_t time;
  int64_t seq;
  std::optional<double> v[2];
};

// Output values of one key-window, by output column name. std::nullopt = SQL null.
using Values = std::map<std::string, std::optional<double>>;

Values Aggregate(const WindowSpec& spec, const std::vector<const RefRow*>& rows,
                 const std::vector<WindowSpec::OutputColumn>& columns) {
  Values out;
  for (const auto& column : columns) {
    if (column.kind == AggregateKind::kRowCount) {
      out[column.name] = static_cast<double>(rows.size());
      continue;
    }
    std::vector<const RefRow*> valid;
    for (const RefRow* r : rows) {
      if (r->v[column.value_index]) valid.push_back(r);
    }
    auto x = [&](const RefRow* r) { return *r->v[column.value_index]; };
    const size_t n = valid.size();
    long double sum = 0;
    for (const RefRow* r : valid) sum += x(r);
    long double mean = n > 0 ? sum / n : 0;
    long double m2 = 0;
    for (const RefRow* r : valid) m2 += (x(r) - mean) * (x(r) - mean);
    std::optional<double> value;
    switch (column.kind) {
      case AggregateKind::kCount:
        value = static_cast<double>(n);
        break;
      case AggregateKind::kSum:
        if (n > 0) value = static_cast<double>(sum);
        break;
      case AggregateKind::kAvg:
        if (n > 0) value = static_cast<double>(mean);
        break;
      case AggregateKind::kMin:
      case AggregateKind::kMax: {
        // NaN: ignored by min unless every value is NaN; wins max.
        if (n == 0) break;
        bool any_nan = false, all_nan = true;
        double best = column.kind == AggregateKind::kMin ? INFINITY : -INFINITY;
        for (const RefRow* r : valid) {
          if (std::isnan(x(r))) {
            any_nan = true;
            continue;
          }
          all_nan = false;
          best = column.kind == AggregateKind::kMin ? std::min(best, x(r)) : std::max(best, x(r));
        }
        if (column.kind == AggregateKind::kMin ? all_nan : any_nan) best = NAN;
        value = best;
        break;
      }
      case AggregateKind::kFirst:
      case AggregateKind::kLast: {
        if (n == 0) break;
        const RefRow* pick = valid[0];
        for (const RefRow* r : valid) {
          auto key = std::make_pair(r->time, r->seq);
          auto best = std::make_pair(pick->time, pick->seq);
          if (column.kind == AggregateKind::kFirst ? key < best : key > best) pick = r;
        }
        value = x(pick);
        break;
      }
      case AggregateKind::kVarPop:
        if (n > 0) value = static_cast<double>(m2 / n);
        break;
      case AggregateKind::kVarSamp:
        if (n > 1) value = static_cast<double>(m2 / (n - 1));
        break;
      case AggregateKind::kStddevPop:
        if (n > 0) value = static_cast<double>(std::sqrt(m2 / n));
        break;
      case AggregateKind::kStddevSamp:
        if (n > 1) value = static_cast<double>(std::sqrt(m2 / (n - 1)));
        break;
      case AggregateKind::kRowCount:
        break;
    }
    out[column.name] = value;
  }
  return out;
}

// (window index, window start, key)
using InstanceKey = std::tuple<size_t, int64_t, std::string>;

class Reference {
 public:
  explicit Reference(const WindowSpec& spec)
      : spec_(spec), columns_(spec.AggregateColumns()), late_(spec.windows.size(), 0) {
    for (const auto& w : spec.windows) {
      trailing_columns_.push_back(w.is_paned() ? std::vector<WindowSpec::OutputColumn>{}
                                               : spec.TrailingColumns(w));
    }
  }

  // Returns per trailing window the row's outputs (nullopt when late or no time).
  std::vector<std::optional<Values>> Add(const std::string& key, std::optional<int64_t> time,
                                         std::optional<double> v0, std::optional<double> v1) {
    std::vector<std::optional<Values>> trailing_out;
    if (!time) {
      for (const auto& w : spec_.windows) {
        if (!w.is_paned()) trailing_out.push_back(std::nullopt);
      }
      return trailing_out;
    }
    const int64_t t = *time;
    max_time_ = max_time_ == kNoTime ? t : std::max(max_time_, t);
    watermark_ = std::max(watermark_, max_time_ - spec_.allowed_lateness_us);
    CloseUpTo(watermark_);
    auto row = std::make_unique<RefRow>(RefRow{key, t, seq_++, {v0, v1}});
    bool late_any = false;
    for (size_t w = 0; w < spec_.windows.size(); ++w) {
      const WindowDef& def = spec_.windows[w];
      if (!def.is_paned()) {
        if (t < watermark_) {
          ++late_[w];
          late_any = true;
          trailing_out.push_back(std::nullopt);
          continue;
        }
        auto& mine = applied_[{w, key}];
        mine.push_back(row.get());
        std::vector<const RefRow*> in_window;
        for (const RefRow* r : mine) {
          if (r->time > t - def.width_us && r->time <= t) in_window.push_back(r);
        }
        trailing_out.push_back(Aggregate(spec_, in_window, trailing_columns_[w]));
        continue;
      }
      bool late = false;
      for (int64_t k = FloorDiv(t - def.width_us, def.slide_us) + 1; k <= FloorDiv(t, def.slide_us);
           ++k) {
        const int64_t start = k * def.slide_us;
        if (watermark_ >= start + def.width_us) {
          late = true;
        } else {
          open_[{w, start, key}].push_back(row.get());
        }
      }
      late_[w] += late;
      late_any |= late;
    }
    late_rows_any_ += late_any;
    rows_.push_back(std::move(row));
    return trailing_out;
  }

  void AdvanceWatermark(int64_t watermark) {
    watermark_ = std::max(watermark_, watermark);
    CloseUpTo(watermark_);
  }

  // Every key-window emitted so far, closed = 1.
  const std::map<InstanceKey, Values>& emitted() const { return emitted_; }
  const std::vector<int64_t>& late() const { return late_; }
  int64_t late_rows_any() const { return late_rows_any_; }
  int64_t max_time() const { return max_time_; }

  // What Snapshot({window = w}) must return, keyed like emitted(); value "closed" 0/1.
  std::map<InstanceKey, Values> Expected(size_t w, bool current_only) const {
    std::map<InstanceKey, Values> out;
    const WindowDef& def = spec_.windows[w];
    const int64_t current =
        max_time_ == kNoTime ? kNoTime : FloorDiv(max_time_, def.slide_us) * def.slide_us;
    for (const auto& [key, rows] : open_) {
      if (std::get<0>(key) != w) continue;
      if (current_only && std::get<1>(key) != current) continue;
      Values v = Aggregate(spec_, rows, columns_);
      v["closed"] = 0;
      out[key] = v;
    }
    for (const auto& [key, values] : emitted_) {
      if (std::get<0>(key) != w) continue;
      if (current_only && std::get<1>(key) != current) continue;
      if (std::get<1>(key) + def.width_us + spec_.retention_us <= watermark_) continue;
      out[key] = values;
    }
    return out;
  }

 private:
  void CloseUpTo(int64_t watermark) {
    for (auto it = open_.begin(); it != open_.end();) {
      const auto& [w, start, key] = it->first;
      if (start + spec_.windows[w].width_us <= watermark) {
        Values v = Aggregate(spec_, it->second, columns_);
        v["closed"] = 1;
        emitted_[it->first] = v;
        it = open_.erase(it);
      } else {
        ++it;
      }
    }
  }

  const WindowSpec& spec_;
  std::vector<WindowSpec::OutputColumn> columns_;
  std::vector<std::vector<WindowSpec::OutputColumn>> trailing_columns_;
  int64_t max_time_ = kNoTime;
  int64_t watermark_ = kNoTime;
  int64_t seq_ = 0;
  std::vector<std::unique_ptr<RefRow>> rows_;
  std::map<InstanceKey, std::vector<const RefRow*>> open_;
  std::map<InstanceKey, Values> emitted_;
  std::map<std::pair<size_t, std::string>, std::vector<const RefRow*>> applied_;
  std::vector<int64_t> late_;
  int64_t late_rows_any_ = 0;
};

// ---------------------------------------------------------------- comparing

std::string KeyFromOutput(KeyShape shape, const arrow::RecordBatch& batch, int64_t row) {
  RawRow raw;
  if (auto host = batch.GetColumnByName("host")) {
    if (host->IsValid(row)) {
      raw.key_text =
          host->type_id() == arrow::Type::LARGE_STRING
              ? std::string(static_cast<const arrow::LargeStringArray&>(*host).GetView(row))
              : std::string(static_cast<const arrow::StringArray&>(*host).GetView(row));
    }
  }
  if (auto id = batch.GetColumnByName("id")) {
    if (id->IsValid(row)) raw.key_int = static_cast<const arrow::Int64Array&>(*id).Value(row);
  }
  return KeyOf(shape, raw);
}

std::optional<double> Cell(const arrow::Array& array, int64_t row) {
  if (array.IsNull(row)) return std::nullopt;
  switch (array.type_id()) {
    case arrow::Type::INT64:
      return static_cast<double>(static_cast<const arrow::Int64Array&>(array).Value(row));
    case arrow::Type::DOUBLE:
      return static_cast<const arrow::DoubleArray&>(array).Value(row);
    case arrow::Type::BOOL:
      return static_cast<const arrow::BooleanArray&>(array).Value(row) ? 1 : 0;
    default:
      ADD_FAILURE() << "unexpected type " << array.type()->ToString();
      return std::nullopt;
  }
}

// Magnitudes: values are below ~1.1e3, so sums stay below ~3e6 and variances below ~1e6.
bool Close(const std::string& name, std::optional<double> got, std::optional<double> want) {
  if (got.has_value() != want.has_value()) return false;
  if (!got) return true;
  double a = *got, b = *want;
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  auto ends_with = [&](const char* suffix) {
    std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with("_stddev_pop") || ends_with("_stddev_samp")) {
    return std::fabs(a * a - b * b) <= 1e-9 * std::max(1.0, b * b) + 1e-7;
  }
  if (ends_with("_var_pop") || ends_with("_var_samp")) {
    return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b)) + 1e-7;
  }
  return std::fabs(a - b) <= 1e-11 * std::max(1.0, std::fabs(b)) + 1e-9;
}

std::string Describe(const Values& v) {
  std::string out;
  for (const auto& [k, x] : v) out += k + "=" + (x ? std::to_string(*x) : "null") + " ";
  return out;
}

void ExpectSame(const std::map<InstanceKey, Values>& got, const std::map<InstanceKey, Values>& want,
                const std::string& what) {
  EXPECT_EQ(got.size(), want.size()) << what;
  for (const auto& [key, values] : want) {
    auto it = got.find(key);
    if (it == got.end()) {
      ADD_FAILURE() << what << ": missing window " << std::get<0>(key) << " start "
                    << std::get<1>(key) << " key " << std::get<2>(key) << ": " << Describe(values);
      continue;
    }
    for (const auto& [name, x] : values) {
      auto g = it->second.find(name);
      if (g == it->second.end() || !Close(name, g->second, x)) {
        ADD_FAILURE() << what << ": window " << std::get<0>(key) << " start " << std::get<1>(key)
                      << " key " << std::get<2>(key) << " column " << name << "\n got  "
                      << Describe(it->second) << "\n want " << Describe(values);
        break;
      }
    }
  }
  for (const auto& [key, values] : got) {
    if (want.count(key) == 0) {
      ADD_FAILURE() << what << ": unexpected window " << std::get<0>(key) << " start "
                    << std::get<1>(key) << " key " << std::get<2>(key) << ": " << Describe(values);
    }
  }
}

void Collect(KeyShape shape, size_t window, const arrow::RecordBatch& batch,
             std::map<InstanceKey, Values>* out) {
  auto starts =
      std::static_pointer_cast<arrow::TimestampArray>(batch.GetColumnByName("window_start"));
  auto ends = std::static_pointer_cast<arrow::TimestampArray>(batch.GetColumnByName("window_end"));
  for (int64_t r = 0; r < batch.num_rows(); ++r) {
    Values v;
    for (int c = 0; c < batch.num_columns(); ++c) {
      const std::string& name = batch.schema()->field(c)->name();
      if (name == "host" || name == "id" || name == "window_start" || name == "window_end")
        continue;
      v[name] = Cell(*batch.column(c), r);
    }
    InstanceKey key{window, starts->Value(r), KeyFromOutput(shape, batch, r)};
    EXPECT_EQ(out->count(key), 0u)
        << "duplicate row for window " << window << " start " << std::get<1>(key) << " key "
        << std::get<2>(key) << " closed " << *v["closed"];
    (*out)[key] = v;
    (void)ends;
  }
}

class WindowReferenceTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(WindowReferenceTest, MatchesBruteForce) {
  const uint64_t seed = GetParam();
  Scenario s = Draw(seed);
  SCOPED_TRACE("seed " + std::to_string(seed) + ": " + s.spec.ToString() +
               " max_panes_per_window=" + std::to_string(s.options.max_panes_per_window) +
               " rows=" + std::to_string(s.rows.size()));
  auto made = WindowStore::Make(s.spec, DeclaredSchema(s), s.options);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto store = std::move(made).ValueOrDie();
  Reference ref(s.spec);
  std::mt19937_64 rng(seed * 31 + 7);

  std::map<InstanceKey, Values> emitted;
  int64_t late_any = 0;
  int64_t retired_before_flush = 0;
  int64_t begin = 0;
  for (size_t b = 0; b < s.batch_sizes.size(); ++b) {
    const int64_t end = begin + s.batch_sizes[b];
    auto batch = MakeBatch(s, begin, end, static_cast<int>(b % 3));
    auto result = store->Update(*batch);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    late_any += result->late_rows;
    // Replay in the reference and compare the trailing columns row by row.
    for (int64_t i = begin; i < end; ++i) {
      const RawRow& raw = s.rows[i];
      std::optional<int64_t> t;
      if (raw.time_raw) t = ToMicros(*raw.time_raw, s.unit);
      std::optional<double> v1;
      if (raw.v1) v1 = static_cast<double>(*raw.v1);
      auto trailing = ref.Add(KeyOf(s.shape, raw), t, raw.v0, v1);
      size_t t_index = 0;
      for (size_t w = 0; w < s.spec.windows.size(); ++w) {
        if (s.spec.windows[w].is_paned()) continue;
        const auto& want = trailing[t_index++];
        for (const auto& column : s.spec.TrailingColumns(s.spec.windows[w])) {
          auto array = result->trailing->GetColumnByName(column.name);
          ASSERT_NE(array, nullptr) << column.name;
          std::optional<double> got = Cell(*array, i - begin);
          std::optional<double> expected = want ? (*want).at(column.name) : std::nullopt;
          if (!want) {
            ASSERT_FALSE(got.has_value()) << "row " << i << " " << column.name << " should be null";
          } else {
            ASSERT_TRUE(Close(column.name, got, expected))
                << "row " << i << " " << column.name << " got "
                << (got ? std::to_string(*got) : "null") << " want "
                << (expected ? std::to_string(*expected) : "null");
          }
        }
      }
    }
    for (const auto& closed : store->TakeClosed())
      Collect(s.shape, closed.window, *closed.rows, &emitted);
    ExpectSame(emitted, ref.emitted(), "emitted after batch " + std::to_string(b));
    EXPECT_EQ(store->GetStats().late_rows, ref.late());
    EXPECT_EQ(late_any, ref.late_rows_any());

    // Snapshots: every window, all keys; sometimes the current window or a key subset.
    for (size_t w = 0; w < s.spec.windows.size(); ++w) {
      if (!s.spec.windows[w].is_paned()) continue;
      SnapshotFilter filter;
      filter.window = w;
      filter.current_only = rng() % 4 == 0;
      auto snapshot = store->Snapshot(filter);
      ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
      std::map<InstanceKey, Values> got;
      Collect(s.shape, w, **snapshot, &got);
      ExpectSame(got, ref.Expected(w, filter.current_only),
                 "snapshot of window " + std::to_string(w) + " after batch " + std::to_string(b) +
                     (filter.current_only ? " (current)" : ""));
      if (rng() % 3 == 0 && end > 0) {
        // Keys of a few random earlier rows plus one never seen.
        std::vector<int64_t> picks;
        for (int k = 0; k < 3; ++k) picks.push_back(static_cast<int64_t>(rng() % end));
        std::set<std::string> wanted_keys;
        std::vector<RawRow> key_rows;
        for (int64_t p : picks) {
          key_rows.push_back(s.rows[p]);
          wanted_keys.insert(KeyOf(s.shape, s.rows[p]));
        }
        RawRow unknown;
        unknown.key_text = "never";
        unknown.key_int = -1;
        key_rows.push_back(unknown);
        Scenario key_scenario = s;
        key_scenario.rows = key_rows;
        auto keys_batch = MakeBatch(key_scenario, 0, key_rows.size(), static_cast<int>(rng() % 3));
        filter.keys = keys_batch;
        auto subset = store->Snapshot(filter);
        ASSERT_TRUE(subset.ok()) << subset.status().ToString();
        std::map<InstanceKey, Values> got_subset, want_subset;
        Collect(s.shape, w, **subset, &got_subset);
        for (const auto& [key, values] : ref.Expected(w, filter.current_only)) {
          if (wanted_keys.count(std::get<2>(key))) want_subset[key] = values;
        }
        ExpectSame(got_subset, want_subset, "key subset snapshot of window " + std::to_string(w));
      }
    }
    if (::testing::Test::HasFailure()) return;
    retired_before_flush = store->GetStats().retired_keys;
    begin = end;
  }
  // Flush: every window closes and is emitted exactly once.
  ASSERT_TRUE(store->AdvanceWatermark(kEndOfTime).ok());
  ref.AdvanceWatermark(kEndOfTime);
  for (const auto& closed : store->TakeClosed())
    Collect(s.shape, closed.window, *closed.rows, &emitted);
  ExpectSame(emitted, ref.emitted(), "emitted at end of time");
  auto stats = store->GetStats();
  EXPECT_EQ(stats.open_panes, 0);
  EXPECT_EQ(stats.retained_closed_bytes, 0);
  // Every window closed and every trailing row expired: no key holds state, so none is kept.
  EXPECT_EQ(stats.keys, 0);
  EXPECT_EQ(stats.trailing_rows, 0);
  if (seed > kChurnSeeds && s.rows.size() >= 1500) {
    EXPECT_GT(retired_before_flush, 0) << "churn without a key retired before the flush";
  }
}

std::vector<uint64_t> Seeds() {
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= kChurnSeeds + 100; ++s) seeds.push_back(s);
  return seeds;
}

INSTANTIATE_TEST_SUITE_P(Seeds, WindowReferenceTest, ::testing::ValuesIn(Seeds()));

}  // namespace
}  // namespace hyprstream::window
