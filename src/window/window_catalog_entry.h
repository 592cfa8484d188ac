// WindowCatalog's private parts shared by its source files (window_catalog.cc: definitions,
// writes, reads; window_catalog_build.cc: building and rebuilding states): a definition's
// entry, the handoff of rows committed while a state is built, and small helpers. Include
// only from those files.
#pragma once

#include <arrow/record_batch.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "window/window_catalog.h"

namespace hyprstream::window {

// Trailing buffers keep this much beyond their width: a minute, or the lateness if more, so a
// read "since now - width" made while rows keep arriving still finds every row it needs.
inline int64_t TrailingSlackUs(const WindowSpec& spec) {
  return std::max<int64_t>(60LL * 1000000, spec.allowed_lateness_us);
}

struct WindowCatalog::Entry {
  std::string name;
  TableName table;
  WindowArguments arguments;
  WindowSpec spec;
  std::shared_ptr<arrow::Schema> input_schema;  // the table's columns
  std::unique_ptr<WindowStore> store;
  std::shared_ptr<arrow::Schema> result_schema;  // "window" + store output
  bool persist_history = false;                  // closed windows go to the history table
  // Trailing windows kept as panes, their edges read from the table (ReadPartials/ReadRows)
  // with this request (bounds set per read).
  bool trailing_panes = false;
  PartialsRequest edge_request;

  std::mutex write_mutex;  // one writer: Update, closing, history appends
  // Rows of the table were changed or removed (metrics UPDATE/DELETE): its windows no longer
  // equal a GROUP BY over the table, so queries are not answered from them. Set by Diverge;
  // cleared only by a rebuild (a new entry).
  std::atomic<bool> diverged{false};
  // Marks the state diverged; true when it was not already.
  bool Diverge() { return !diverged.exchange(true); }
  // The engine keeps a copy of the table (a cache) that others may write too: the state
  // answers queries only while it was built from the copy's current generation, so the two
  // agree on which rows exist (FollowTable). built_from: set before the entry is published.
  bool follows = false;
  std::optional<int64_t> built_from;
  bool retired = false;  // GUARDED_BY(write_mutex): replaced by a rebuilt state
  // Published at start before its state was built (from the engine's copy or a snapshot of
  // the stored rows, in the background, so the start does not wait): it is diverged (answers no
  // query), is given no rows (the copy or the rebuild's handoff has them), and its direct
  // reads wait for the rebuild that replaces it (FindBuilt). Set before it is published.
  bool pending = false;
  // Published by a build from a snapshot before its history was replaced (the old state's
  // closed windows may still be there), or following a DELETE of the oldest rows until its
  // history is trimmed (WindowCatalog::CheckDelete): until then, reads that need the history
  // wait (FindBuilt) and queries that do go to the engine (Needs::kHistory); reads of the
  // state alone are answered. The windows folds close meanwhile wait in the store. Changed
  // under write_mutex once the entry is published.
  std::atomic<bool> history_pending{false};
};

// The rows committed to a table while a state of it is built from a snapshot of its copy:
// folded into that state before it is published.
struct WindowCatalog::Handoff {
  std::mutex mutex;
  arrow::RecordBatchVector rows;  // GUARDED_BY(mutex): as committed
  bool closed = false;            // GUARDED_BY(mutex): the state was published (or given up)
  bool missed = false;  // GUARDED_BY(mutex): rows were committed it cannot be given (MissedRows)
};

inline bool IsMetricsName(const TableName& table) {
  return table == WindowCatalog::MetricsTableName();
}

}  // namespace hyprstream::window
