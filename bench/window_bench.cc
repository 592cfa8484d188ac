// Window-aggregation benchmark, one thread. Generates `--rows` rows over `--keys` keys (utf8
// "host-000042"), event times in order over `--span` with ~1% late rows (up to 90s behind;
// allowed lateness 60s), in Arrow batches of `--batch` rows, all built before timing. Reports:
//   keys only       KeyDictionary::Intern over every batch (the hashing floor)
//   keys, 2 defs    two dictionaries each interning every row, then with the batch's keys
//                   looked up once (BatchKeys) and each interning only the distinct keys
//   4 windows       WindowStore::Update with tumbling 5m/30m/1h/1d and count,sum,avg,min,max,
//                   taking closed windows after every batch (as the persister would)
//   + trailing 5m   the same plus a per-row trailing window (metrics' running columns), or
//                   plus a trailing buffer for "last 5 minutes as of now" reads
//   snapshot        the current 5m window for all keys, for 1,000 keys and for 1 key; the
//                   last 5 minutes from the trailing buffer, likewise
//   memory          bytes per open key-window
// With --churn, instead: ever-new keys through the metrics windows (tumbling 5m/30m/1h/1d and
// the per-row trailing 5m), `--distinct` keys in all, `--active` of them sending at a time —
// each for `--lifetime` of event time, then replaced by a new one — with ~8 rows per key;
// every 24th of the stream it prints the keys in memory, the store's bytes and the
// process's resident memory (VmRSS), which stay flat after warm-up, and the ingest rate;
// at the end, what is left once every window has closed.
// Usage: window_bench [--rows N] [--keys K] [--batch B] [--span 2h] [--repeat R]
//                     [--max-panes P] [--quick] [--ingest-only]
//        window_bench --churn [--distinct 10000000] [--active 100000] [--lifetime 1d]
//                     [--rows-per-key 8] [--batch B] [--quick]
#include "window/batch_keys.h"
#include "window/duration.h"
#include "window/event_time.h"
#include "window/key_dictionary.h"
#include "window/window_store.h"

#include <arrow/api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace hw = hyprstream::window;

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// CPU time of this thread: less disturbed than wall time on a shared, noisy machine.
double ThreadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

struct Rate {
  double wall;  // rows per wall-clock second
  double cpu;   // rows per thread-CPU second
};

struct Options {
  int64_t rows = 10'000'000;
  int64_t keys = 100'000;
  int64_t batch = 65'536;
  int64_t span_us = 2 * hw::kMicrosPerHour;
  int repeat = 3;
  int max_panes = 1;
  bool ingest_only = false;  // for profiling: skip the hashing baseline and the queries
  // --churn
  int64_t distinct = 10'000'000;
  int64_t active = 100'000;
  int64_t lifetime_us = hw::kMicrosPerDay;
  int64_t rows_per_key = 8;
};

void Check(const arrow::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
    std::exit(1);
  }
}

template <typename T>
T Check(arrow::Result<T> result, const char* what) {
  Check(result.status(), what);
  return std::move(result).ValueOrDie();
}

std::shared_ptr<arrow::Schema> Schema() {
  return arrow::schema({arrow::field("host", arrow::utf8()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                        arrow::field("value", arrow::float64())});
}

std::string KeyName(int64_t k) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "host-%06lld", static_cast<long long>(k));
  return buf;
}

struct BenchRow {
  std::string_view host;
  int64_t time_us;
  double value;
};

// A Schema() batch of rows [begin, begin + n), row i being row_at(i) (called in order);
// hosts of about `host_bytes` each.
template <typename RowAt>
std::shared_ptr<arrow::RecordBatch> MakeBatch(int64_t begin, int64_t n, int64_t host_bytes,
                                              RowAt&& row_at) {
  arrow::StringBuilder hosts;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                             arrow::default_memory_pool());
  arrow::DoubleBuilder values;
  Check(hosts.Reserve(n), "reserve");
  Check(hosts.ReserveData(n * host_bytes), "reserve");
  Check(ts.Reserve(n), "reserve");
  Check(values.Reserve(n), "reserve");
  for (int64_t i = begin; i < begin + n; ++i) {
    const BenchRow row = row_at(i);
    hosts.UnsafeAppend(row.host);
    ts.UnsafeAppend(row.time_us);
    values.UnsafeAppend(row.value);
  }
  return arrow::RecordBatch::Make(Schema(), n,
                                  {Check(hosts.Finish(), "finish"), Check(ts.Finish(), "finish"),
                                   Check(values.Finish(), "finish")});
}

std::vector<std::shared_ptr<arrow::RecordBatch>> Generate(const Options& o, int64_t start_us) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> key(0, o.keys - 1);
  std::uniform_real_distribution<double> value(0, 100);
  std::uniform_int_distribution<int64_t> lateness(0, 90 * hw::kMicrosPerSecond);
  std::uniform_int_distribution<int> percent(0, 99);
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  std::vector<std::string> names(o.keys);
  for (int64_t k = 0; k < o.keys; ++k) names[k] = KeyName(k);
  for (int64_t begin = 0; begin < o.rows; begin += o.batch) {
    batches.push_back(MakeBatch(begin, std::min(o.batch, o.rows - begin), 12, [&](int64_t i) {
      int64_t t = start_us + i * o.span_us / o.rows;
      if (percent(rng) == 0) t -= lateness(rng);        // ~1% late
      return BenchRow{names[key(rng)], t, value(rng)};  // braces: evaluated left to right
    }));
  }
  return batches;
}

hw::WindowSpec MetricsSpec(bool with_trailing = false) {
  hw::WindowSpec spec;
  spec.key_columns = {"host"};
  spec.time_column = "ts";
  spec.value_columns = {"value"};
  spec.aggregates = {hw::AggregateKind::kCount, hw::AggregateKind::kSum, hw::AggregateKind::kAvg,
                     hw::AggregateKind::kMin, hw::AggregateKind::kMax};
  spec.windows = hw::DefaultMetricsWindows();
  if (with_trailing) spec.windows.push_back(hw::WindowDef::Trailing(5 * hw::kMicrosPerMinute));
  spec.allowed_lateness_us = 60 * hw::kMicrosPerSecond;
  return spec;
}

Rate KeysOnly(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches, int64_t rows) {
  auto dict = Check(hw::KeyDictionary::Make({Schema()->field(0)}), "dictionary");
  std::vector<int32_t> ids(batches[0]->num_rows());
  auto t0 = Clock::now();
  double c0 = ThreadSeconds();
  for (const auto& batch : batches) {
    const arrow::Array* host = batch->column(0).get();
    Check(dict->Intern({host}, batch->num_rows(), ids.data()), "intern");
  }
  return {rows / Seconds(Clock::now() - t0), rows / (ThreadSeconds() - c0)};
}

// Two definitions keyed alike (metrics and metrics_trailing): each interning every row, or
// the batch's keys looked up once (BatchKeys) and each interning only the distinct keys.
Rate KeysTwice(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches, int64_t rows,
               bool shared) {
  auto a = Check(hw::KeyDictionary::Make({Schema()->field(0)}), "dictionary");
  auto b = Check(hw::KeyDictionary::Make({Schema()->field(0)}), "dictionary");
  std::vector<int32_t> ids(batches[0]->num_rows()), distinct_ids;
  auto t0 = Clock::now();
  double c0 = ThreadSeconds();
  for (const auto& batch : batches) {
    const int64_t n = batch->num_rows();
    if (!shared) {
      const arrow::Array* host = batch->column(0).get();
      Check(a->Intern({host}, n, ids.data()), "intern");
      Check(b->Intern({host}, n, ids.data()), "intern");
      continue;
    }
    auto keys = Check(hw::BatchKeys::Make(*batch, {"host"}), "batch keys");
    distinct_ids.resize(keys->distinct_count);
    for (auto* dict : {a.get(), b.get()}) {
      Check(dict->Intern({keys->distinct[0].get()}, keys->distinct_count, distinct_ids.data()),
            "intern");
      for (int64_t i = 0; i < n; ++i) ids[i] = distinct_ids[keys->row_key[i]];
    }
  }
  return {rows / Seconds(Clock::now() - t0), rows / (ThreadSeconds() - c0)};
}

struct IngestResult {
  Rate rate;
  std::unique_ptr<hw::WindowStore> store;
  int64_t closed_windows;
  int64_t late_rows;
};

// Trailing 5m window: none, per-row running columns (metrics), or a buffer for "as of now" reads.
enum class Trailing { kNone, kPerRow, kBuffer };

IngestResult Ingest(const Options& o,
                    const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
                    Trailing trailing = Trailing::kNone) {
  const bool with_trailing = trailing != Trailing::kNone;
  hw::WindowStoreOptions options;
  options.max_panes_per_window = o.max_panes;
  options.trailing_as_buffers = trailing == Trailing::kBuffer;
  auto store = Check(hw::WindowStore::Make(MetricsSpec(with_trailing), Schema(), options), "make");
  int64_t closed = 0, late = 0;
  auto t0 = Clock::now();
  double c0 = ThreadSeconds();
  for (const auto& batch : batches) {
    auto result = Check(store->Update(*batch), "update");
    late += result.late_rows;
    closed += static_cast<int64_t>(store->TakeClosed().size());
  }
  Rate rate{o.rows / Seconds(Clock::now() - t0), o.rows / (ThreadSeconds() - c0)};
  return {rate, std::move(store), closed, late};
}

struct Percentiles {
  double p50_us, p99_us;
};

template <typename F>
Percentiles Time(int calls, F&& f) {
  std::vector<double> us;
  for (int i = 0; i < calls; ++i) {
    auto t0 = Clock::now();
    f();
    us.push_back(Seconds(Clock::now() - t0) * 1e6);
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

std::shared_ptr<arrow::RecordBatch> KeysBatch(int64_t count, int64_t keys) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> key(0, keys - 1);
  arrow::StringBuilder hosts;
  for (int64_t i = 0; i < count; ++i) Check(hosts.Append(KeyName(key(rng))), "append");
  return arrow::RecordBatch::Make(arrow::schema({arrow::field("host", arrow::utf8())}), count,
                                  {Check(hosts.Finish(), "finish")});
}

void Run(const Options& o, bool with_queries) {
  const int64_t start = 1'700'000'000LL * hw::kMicrosPerSecond;
  std::printf("\n== %lld rows, %lld keys, batches of %lld, span %s, max_panes_per_window=%d ==\n",
              static_cast<long long>(o.rows), static_cast<long long>(o.keys),
              static_cast<long long>(o.batch), hw::FormatDuration(o.span_us).c_str(), o.max_panes);
  auto t0 = Clock::now();
  auto batches = Generate(o, start);
  std::printf("generated in %.1f s\n", Seconds(Clock::now() - t0));

  std::vector<Rate> keys_only, keys_twice, keys_shared, windows;
  IngestResult last{};
  for (int r = 0; r < o.repeat; ++r) {
    if (!o.ingest_only) {
      keys_only.push_back(KeysOnly(batches, o.rows));
      keys_twice.push_back(KeysTwice(batches, o.rows, false));
      keys_shared.push_back(KeysTwice(batches, o.rows, true));
    }
    last = Ingest(o, batches);
    windows.push_back(last.rate);
  }
  auto report = [](const char* what, std::vector<Rate> rates) {
    if (rates.empty()) return;
    auto by_wall = [](const Rate& a, const Rate& b) { return a.wall < b.wall; };
    auto by_cpu = [](const Rate& a, const Rate& b) { return a.cpu < b.cpu; };
    std::sort(rates.begin(), rates.end(), by_wall);
    double wall_median = rates[rates.size() / 2].wall, wall_best = rates.back().wall;
    std::sort(rates.begin(), rates.end(), by_cpu);
    std::printf(
        "%-25s: wall best %6.1f / median %6.1f M rows/s; cpu-time best %6.1f / median "
        "%6.1f M rows/s\n",
        what, wall_best / 1e6, wall_median / 1e6, rates.back().cpu / 1e6,
        rates[rates.size() / 2].cpu / 1e6);
  };
  report("keys only (hashing)", keys_only);
  report("keys, 2 definitions", keys_twice);
  report("  looked up once", keys_shared);
  report("4 tumbling windows", windows);
  if (!o.ingest_only) {
    std::vector<Rate> trailing, buffered;
    for (int r = 0; r < o.repeat; ++r) {
      trailing.push_back(Ingest(o, batches, Trailing::kPerRow).rate);
    }
    report("4 tumbling + trailing 5m", trailing);
    IngestResult with_buffer{};
    for (int r = 0; r < o.repeat; ++r) {
      with_buffer = Ingest(o, batches, Trailing::kBuffer);
      buffered.push_back(with_buffer.rate);
    }
    report("4 tumbling + 5m buffer", buffered);
    if (with_queries) {
      // "The last 5 minutes as of now" (now = the newest event time) from the buffer.
      hw::WindowStoreStats stats = with_buffer.store->GetStats();
      hw::TrailingFilter last5;
      last5.until_us = stats.max_event_time_us;
      last5.since_us = last5.until_us - 5 * hw::kMicrosPerMinute;
      int64_t rows = 0;
      auto read = [&] {
        rows = Check(with_buffer.store->TrailingSnapshot(last5), "trailing")->num_rows();
      };
      auto all = Time(20, read);
      std::printf(
          "trailing last 5m, all    : p50 %8.1f us, p99 %8.1f us (%lld rows, %lld buffered)\n",
          all.p50_us, all.p99_us, static_cast<long long>(rows),
          static_cast<long long>(stats.trailing_rows));
      last5.keys = KeysBatch(1000, o.keys);
      auto thousand = Time(200, read);
      std::printf("trailing last 5m, 1000   : p50 %8.1f us, p99 %8.1f us (%lld rows)\n",
                  thousand.p50_us, thousand.p99_us, static_cast<long long>(rows));
      last5.keys = KeysBatch(1, o.keys);
      auto one = Time(1000, read);
      std::printf("trailing last 5m, 1      : p50 %8.1f us, p99 %8.1f us (%lld rows)\n", one.p50_us,
                  one.p99_us, static_cast<long long>(rows));
      std::printf("trailing buffer memory   : %.1f MB for %lld rows\n", stats.trailing_bytes / 1e6,
                  static_cast<long long>(stats.trailing_rows));
    }
  }
  std::printf("%-25s: %lld windows closed, %lld late rows (last run)\n", "",
              static_cast<long long>(last.closed_windows), static_cast<long long>(last.late_rows));

  hw::WindowStore& store = *last.store;
  hw::WindowStoreStats stats = store.GetStats();
  hw::SnapshotFilter all_open;
  all_open.include_closed = false;
  int64_t open_key_windows = Check(store.Snapshot(all_open), "snapshot")->num_rows();
  std::printf(
      "memory                   : %lld pane widths, %lld open panes (%lld with a column incl. "
      "spares), slot %lld B, panes %.1f MB, keys %.1f MB (%lld keys, %lld retired)\n",
      static_cast<long long>(stats.pane_widths), static_cast<long long>(stats.open_panes),
      static_cast<long long>(stats.allocated_panes), static_cast<long long>(stats.slot_bytes),
      stats.pane_bytes / 1e6, stats.key_bytes / 1e6, static_cast<long long>(stats.keys),
      static_cast<long long>(stats.retired_keys));
  std::printf(
      "open key-windows         : %lld -> %.1f bytes of pane state per open key-window "
      "(%.1f incl. key dictionary)\n",
      static_cast<long long>(open_key_windows),
      static_cast<double>(stats.pane_bytes) / open_key_windows,
      static_cast<double>(stats.pane_bytes + stats.key_bytes) / open_key_windows);
  if (!with_queries || o.ingest_only) return;

  hw::SnapshotFilter current;
  current.window = 0;
  current.current_only = true;
  int64_t rows = 0;
  auto all_keys = Time(50, [&] { rows = Check(store.Snapshot(current), "snapshot")->num_rows(); });
  std::printf("snapshot current 5m, all : p50 %8.1f us, p99 %8.1f us (%lld rows)\n",
              all_keys.p50_us, all_keys.p99_us, static_cast<long long>(rows));
  current.keys = KeysBatch(1000, o.keys);
  auto thousand =
      Time(1000, [&] { rows = Check(store.Snapshot(current), "snapshot")->num_rows(); });
  std::printf("snapshot current 5m, 1000: p50 %8.1f us, p99 %8.1f us (%lld rows)\n",
              thousand.p50_us, thousand.p99_us, static_cast<long long>(rows));
  current.keys = KeysBatch(1, o.keys);
  auto one = Time(1000, [&] { rows = Check(store.Snapshot(current), "snapshot")->num_rows(); });
  std::printf("snapshot current 5m, 1   : p50 %8.1f us, p99 %8.1f us (%lld rows)\n", one.p50_us,
              one.p99_us, static_cast<long long>(rows));
  hw::SnapshotFilter hour;
  hour.window = 2;
  hour.current_only = true;
  auto hour_all = Time(20, [&] { rows = Check(store.Snapshot(hour), "snapshot")->num_rows(); });
  std::printf("snapshot current 1h, all : p50 %8.1f us, p99 %8.1f us (%lld rows)\n",
              hour_all.p50_us, hour_all.p99_us, static_cast<long long>(rows));
}

// Resident and peak resident memory of this process in MB (VmRSS, VmHWM).
std::pair<double, double> ResidentMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  double rss = 0, hwm = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atof(line.c_str() + 6) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::atof(line.c_str() + 6) / 1024;
  }
  return {rss, hwm};
}

// Ever-new keys. Row i (of rows = distinct x rows_per_key, event time advancing evenly over
// distinct / active lifetimes) goes to a key drawn from the `active` keys [first, first +
// active) where first moves from 0 to distinct - active over the stream: each key sends for
// about one lifetime, ~rows_per_key rows, then never again. ~1% of rows are up to 90 s late.
void Churn(const Options& o) {
  const int64_t rows = o.distinct * o.rows_per_key;
  const int64_t span_us = o.lifetime_us / o.active * o.distinct;
  const int64_t start = 1'700'000'000LL * hw::kMicrosPerSecond;
  std::printf(
      "\n== churn: %lld distinct keys, %lld active at a time for %s each, %lld rows over %s, "
      "batches of %lld; tumbling 5m/30m/1h/1d + per-row trailing 5m, lateness 60s ==\n",
      static_cast<long long>(o.distinct), static_cast<long long>(o.active),
      hw::FormatDuration(o.lifetime_us).c_str(), static_cast<long long>(rows),
      hw::FormatDuration(span_us).c_str(), static_cast<long long>(o.batch));
  auto store = Check(hw::WindowStore::Make(MetricsSpec(/*with_trailing=*/true), Schema(),
                                           hw::WindowStoreOptions{}),
                     "make");
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> pick_active(0, o.active - 1);
  std::uniform_real_distribution<double> value(0, 100);
  std::uniform_int_distribution<int64_t> lateness(0, 90 * hw::kMicrosPerSecond);
  std::uniform_int_distribution<int> percent(0, 99);
  std::printf("%6s %9s %9s %9s %9s %10s %9s %9s %9s %9s %9s\n", "rows", "distinct", "in memory",
              "key ids", "retired", "store MB", "panes MB", "keys MB", "trail MB", "RSS MB",
              "M rows/s");
  // 24 reports: each 1/24 of the stream apart, so successive ones fall at other times of day.
  const int64_t report_every = std::max<int64_t>(rows / 24, 1);
  int64_t next_report = report_every;
  double cpu = 0, interval_cpu = 0;
  int64_t interval_rows = 0;
  // The oldest key still sending at row i.
  auto first_active = [&](int64_t i) {
    return static_cast<int64_t>(static_cast<double>(i) / static_cast<double>(rows) *
                                static_cast<double>(o.distinct - o.active));
  };
  char name[32];
  for (int64_t begin = 0; begin < rows; begin += o.batch) {
    const int64_t n = std::min(o.batch, rows - begin);
    auto batch = MakeBatch(begin, n, 15, [&](int64_t i) {
      const int length = std::snprintf(name, sizeof(name), "host-%010lld",
                                       static_cast<long long>(first_active(i) + pick_active(rng)));
      int64_t t = start + static_cast<int64_t>(static_cast<double>(i) / rows * span_us);
      if (percent(rng) == 0) t -= lateness(rng);
      return BenchRow{std::string_view(name, length), t, value(rng)};
    });
    const double c0 = ThreadSeconds();
    Check(store->Update(*batch).status(), "update");
    store->TakeClosed();  // as the persister would
    const double spent = ThreadSeconds() - c0;
    cpu += spent;
    interval_cpu += spent;
    interval_rows += n;
    if (begin + n >= next_report || begin + n == rows) {
      next_report += report_every;
      const hw::WindowStoreStats stats = store->GetStats();
      const int64_t distinct = first_active(begin + n - 1) + o.active;  // keys seen so far
      std::printf("%5.0f%% %9lld %9lld %9lld %9lld %10.1f %9.1f %9.1f %9.1f %9.1f %9.2f\n",
                  100.0 * static_cast<double>(begin + n) / rows, static_cast<long long>(distinct),
                  static_cast<long long>(stats.keys), static_cast<long long>(stats.key_ids),
                  static_cast<long long>(stats.retired_keys), stats.total_bytes() / 1e6,
                  stats.pane_bytes / 1e6, stats.key_bytes / 1e6, stats.trailing_bytes / 1e6,
                  ResidentMb().first, interval_rows / interval_cpu / 1e6);
      std::fflush(stdout);
      interval_cpu = 0;
      interval_rows = 0;
    }
  }
  std::printf("churn ingest: %.2f M rows/s (cpu-time of Update + TakeClosed), peak RSS %.1f MB\n",
              rows / cpu / 1e6, ResidentMb().second);
  Check(store->AdvanceWatermark(hw::kEndOfTime), "flush");
  store->TakeClosed();
  const hw::WindowStoreStats stats = store->GetStats();
  std::printf(
      "after the stream ends and every window closes: %lld keys in memory, store %.1f MB, "
      "RSS %.1f MB\n",
      static_cast<long long>(stats.keys), stats.total_bytes() / 1e6, ResidentMb().first);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool quick = false, churn = false;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--rows"))
      o.rows = std::atoll(next());
    else if (!std::strcmp(argv[i], "--keys"))
      o.keys = std::atoll(next());
    else if (!std::strcmp(argv[i], "--batch"))
      o.batch = std::atoll(next());
    else if (!std::strcmp(argv[i], "--span"))
      o.span_us = Check(hw::ParseDuration(next()), "--span");
    else if (!std::strcmp(argv[i], "--repeat"))
      o.repeat = std::atoi(next());
    else if (!std::strcmp(argv[i], "--max-panes"))
      o.max_panes = std::atoi(next());
    else if (!std::strcmp(argv[i], "--quick"))
      quick = true;
    else if (!std::strcmp(argv[i], "--ingest-only"))
      o.ingest_only = true;
    else if (!std::strcmp(argv[i], "--churn"))
      churn = true;
    else if (!std::strcmp(argv[i], "--distinct"))
      o.distinct = std::atoll(next());
    else if (!std::strcmp(argv[i], "--active"))
      o.active = std::atoll(next());
    else if (!std::strcmp(argv[i], "--lifetime"))
      o.lifetime_us = Check(hw::ParseDuration(next()), "--lifetime");
    else if (!std::strcmp(argv[i], "--rows-per-key"))
      o.rows_per_key = std::atoll(next());
    else {
      std::fprintf(stderr,
                   "usage: %s [--rows N] [--keys K] [--batch B] [--span 2h] [--repeat R] "
                   "[--max-panes P] [--quick] [--ingest-only]\n"
                   "       %s --churn [--distinct N] [--active A] [--lifetime 1d] "
                   "[--rows-per-key R] [--batch B] [--quick]\n",
                   argv[0], argv[0]);
      return 2;
    }
  }
  if (churn) {
    if (quick) {
      o.distinct = 1'000'000;
      o.active = 10'000;
    }
    if (o.active < 1 || o.distinct <= o.active || o.rows_per_key < 1) {
      std::fprintf(stderr, "--churn needs 0 < --active < --distinct and --rows-per-key >= 1\n");
      return 2;
    }
    Churn(o);
    return 0;
  }
  if (quick) {
    o.rows = 1'000'000;
    o.repeat = 1;
  }
  Run(o, true);
  if (!quick && o.keys == 100'000) {
    Options million = o;
    million.keys = 1'000'000;
    Run(million, false);
  }
  return 0;
}
