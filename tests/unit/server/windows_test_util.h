// Helpers shared by the tests of the windows over other engines: the stack over a backend (its
// rows directly, or behind the cache), the trailing query every one of them checks, and asking
// a connection for an answer with its provenance.
#pragma once

#include <arrow/api.h>
#include <arrow/util/key_value_metadata.h>

#include <chrono>
#include <memory>
#include <string>

#include "../engine/engine_test_util.h"
#include "cache/cached_engine.h"
#include "window/windowed_engine.h"

namespace hyprstream::testing {

// What a window `w` over t(sym, ts, v), keys sym, trailing 1h, answers from its state.
constexpr char kTrailing[] =
    "SELECT sym, count(v) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t "
    "WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym ORDER BY sym";

// Windows (without the metrics table) over `backend`, or over `backend` behind the cache (a new
// in-memory DuckDB copy, refreshed every 50 ms, results not kept) when `cached`; `windows` as
// given but for the metrics table.
inline arrow::Result<std::shared_ptr<window::WindowedEngine>> OpenWindowedStack(
    std::shared_ptr<engine::Engine> backend, bool cached,
    window::WindowCatalogOptions windows = {}) {
  using namespace std::chrono_literals;
  std::shared_ptr<engine::Engine> below = std::move(backend);
  if (cached) {
    cache::CacheOptions options;
    options.refresh_interval = 50ms;
    options.result_ttl = 0ms;
    ARROW_ASSIGN_OR_RAISE(
        below, cache::OpenCachedEngine(below, engine::testing::OpenMemoryEngine(), options));
  }
  windows.metrics_table = false;
  return window::WindowedEngine::Open(below, windows);
}

inline int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Answer {
  std::shared_ptr<arrow::Table> rows;
  std::string source, as_of;  // hyprstream.source, hyprstream.as_of
};

inline arrow::Result<Answer> Ask(engine::EngineConnection& connection, const std::string& sql) {
  ARROW_ASSIGN_OR_RAISE(auto statement, connection.Prepare(sql));
  ARROW_ASSIGN_OR_RAISE(auto reader, statement->ExecuteQuery());
  Answer answer;
  ARROW_ASSIGN_OR_RAISE(answer.rows, engine::testing::ReadAll(*reader));
  if (auto metadata = reader->schema()->metadata()) {
    answer.source = metadata->Get("hyprstream.source").ValueOr("");
    answer.as_of = metadata->Get("hyprstream.as_of").ValueOr("");
  }
  return answer;
}

}  // namespace hyprstream::testing
