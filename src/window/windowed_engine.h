// WindowedEngine: time windows as an engine layer — Windowed(DuckDB), Windowed(Cached(Adbc)),
// Windowed(Adbc). Every committed change to a table with windows reaches them exactly once,
// whatever the path: bulk ingest, streaming appends (OpenAppender), INSERT of every form
// (RETURNING * tells which rows were stored; metrics rows get their running columns before
// the write: metrics_insert.h), prepared statements, API and SQL transactions (folded at
// commit, dropped at rollback), autocommit. A change the windows cannot follow (UPDATE,
// DELETE, upserts, COPY ... FROM, DDL on such a table) is refused with an error naming the
// table, except on `metrics`, where it is allowed and its windows stop answering queries.
// Over an engine that keeps a copy of the tables others write too (a cache), the windows are
// built from that copy and rebuilt from it whenever it is loaded whole (WindowRebuilder).
// Queries a definition answers exactly are answered from window state (window_query_rewriter.h),
// checked again at each execution; anything else runs on the engine below.
//
// Window functions (hyprstream_window, hyprstream_create_window, tumble, ...) run where table
// functions are hosted: the engine below when it hosts them (DuckDB, the DuckDB cache), else a
// private in-memory DuckDB of this layer.
//
// Thread-safe like every Engine. The catalog (definitions and state) is shared by all
// connections; each connection keeps the rows of its open transaction.
#pragma once

#include <memory>

#include "engine/forwarding_engine.h"
#include "window/window_catalog.h"

namespace hyprstream::window {

class WindowRebuilder;

// What the layer's connections share.
struct WindowedShared {
  std::shared_ptr<engine::Engine> inner;  // the engine below
  // Where window functions and answers from window state run: the engine below when it
  // hosts functions (`inner`), and the DuckDB that runs them (its FunctionHost, or one of
  // this layer's own when it hosts none).
  std::shared_ptr<engine::Engine> registrar;
  std::shared_ptr<engine::Engine> host;
  std::shared_ptr<WindowCatalog> catalog;
  // Rebuilds windows when the engine's copy of their table is loaded (a cache).
  std::shared_ptr<WindowRebuilder> rebuilder;
  bool inner_hosts_functions = false;
  bool host_is_inner = false;  // embedded DuckDB: a session's own connection is the host
};

class WindowedEngine : public engine::ForwardingEngine {
 public:
  // Opens the catalog over `inner` (definitions and history persist there; state is rebuilt
  // from its rows) and registers the window functions.
  static arrow::Result<std::shared_ptr<WindowedEngine>> Open(std::shared_ptr<engine::Engine> inner,
                                                             WindowCatalogOptions options);

  std::string name() const override;
  bool hosts_table_functions() const override { return true; }
  arrow::Result<std::shared_ptr<engine::EngineConnection>> Connect() override;
  arrow::Result<std::unique_ptr<engine::TableAppender>> OpenAppender(
      const std::vector<std::string>& path, const std::shared_ptr<arrow::Schema>& schema) override;
  std::shared_ptr<engine::Engine> FunctionHost() override { return shared_->host; }
  arrow::Status RegisterTableFunction(engine::TableFunctionSpec spec) override {
    return shared_->registrar->RegisterTableFunction(std::move(spec));
  }
  arrow::Status DefineMacro(const std::string& create_macro) override {
    return shared_->registrar->DefineMacro(create_macro);
  }

  WindowCatalog& catalog() const { return *shared_->catalog; }

 private:
  explicit WindowedEngine(std::shared_ptr<WindowedShared> shared)
      : ForwardingEngine(shared->inner), shared_(std::move(shared)) {}

  std::shared_ptr<WindowedShared> shared_;
};

}  // namespace hyprstream::window
