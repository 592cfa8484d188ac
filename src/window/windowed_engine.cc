#include "window/windowed_engine.h"

#include <spdlog/spdlog.h>

#include "engine/duckdb_engine.h"
#include "window/window_rebuilder.h"
#include "window/windowed_connection.h"

namespace hyprstream::window {
namespace {

// A streaming append through the windows layer: each batch, inside the table's write gate,
// gets its rows prepared (metrics: running columns), is appended (committed), then folded into
// the table's windows. A table without windows when the stream opened may get some while it
// runs: its later batches are folded, and a definition being created waits for a batch in
// flight and reads its rows (with no windows, preparing and folding do nothing).
class WindowedAppender : public engine::TableAppender {
 public:
  WindowedAppender(std::unique_ptr<engine::TableAppender> inner,
                   std::shared_ptr<WindowCatalog> catalog, TableName table)
      : inner_(std::move(inner)), catalog_(std::move(catalog)), table_(std::move(table)) {}

  const std::shared_ptr<arrow::Schema>& schema() const override { return inner_->schema(); }

  arrow::Result<int64_t> Append(const arrow::RecordBatch& batch) override {
    auto shared = arrow::RecordBatch::Make(batch.schema(), batch.num_rows(), batch.column_data());
    auto hold = catalog_->write_gate().Enter({table_});
    ARROW_ASSIGN_OR_RAISE(auto rows, catalog_->PrepareAppend(table_, shared));
    auto appended = inner_->Append(*rows);
    if (!appended.ok()) {
      catalog_->Abandoned(table_);
      return appended;
    }
    arrow::Status folded = catalog_->Committed(table_, {rows});
    if (!folded.ok()) {
      spdlog::error("windows of {} missed committed rows: {}", table_.key(), folded.ToString());
    }
    return appended;
  }

 private:
  std::unique_ptr<engine::TableAppender> inner_;
  std::shared_ptr<WindowCatalog> catalog_;
  TableName table_;
};

}  // namespace

arrow::Result<std::shared_ptr<WindowedEngine>> WindowedEngine::Open(
    std::shared_ptr<engine::Engine> inner, WindowCatalogOptions options) {
  auto shared = std::make_shared<WindowedShared>();
  shared->inner = inner;
  shared->inner_hosts_functions = inner->hosts_table_functions();
  if (shared->inner_hosts_functions) shared->host = inner->FunctionHost();
  if (shared->host == nullptr) {
    // Window functions and answers from window state run on a DuckDB of this layer.
    engine::EngineOptions host;
    host.connection = ":memory:";
    host.options = {{"threads", "1"}};
    ARROW_ASSIGN_OR_RAISE(shared->host, engine::OpenDuckDbEngine(host));
    shared->inner_hosts_functions = false;
  }
  shared->registrar = shared->inner_hosts_functions ? inner : shared->host;
  shared->host_is_inner = shared->host.get() == inner.get();
  ARROW_ASSIGN_OR_RAISE(shared->catalog, WindowCatalog::Open(inner, shared->registrar, options));
  // Rows others write straight into a backend table reach its windows when the cache copies
  // them in; a load of the cache's copy (what changed unknown) rebuilds them from the copy.
  std::weak_ptr<WindowCatalog> weak = shared->catalog;
  shared->rebuilder = std::make_shared<WindowRebuilder>(weak);
  std::weak_ptr<WindowRebuilder> rebuilder = shared->rebuilder;
  engine::ExternalRowsListener listener;
  listener.added = [weak](const std::string& schema, const std::string& table,
                          const arrow::RecordBatchVector& rows) {
    auto catalog = weak.lock();
    if (!catalog) return;
    const TableName name = catalog->Canonical(
        schema.empty() ? std::nullopt : std::optional<std::string>(schema), table);
    if (!catalog->Watches(name)) return;
    arrow::Status status = catalog->Committed(name, rows);
    if (!status.ok()) {
      spdlog::error("windows of {} missed rows others wrote: {}", name.key(), status.ToString());
    }
  };
  listener.loaded = [weak, rebuilder](const std::string& schema, const std::string& table) {
    auto catalog = weak.lock();
    auto rebuild = rebuilder.lock();
    if (!catalog || !rebuild) return;
    rebuild->Wanted(catalog->Canonical(
        schema.empty() ? std::nullopt : std::optional<std::string>(schema), table));
  };
  inner->WatchExternalRows(std::move(listener));
  shared->catalog->OnNeedsRebuild([rebuilder](const TableName& table) {
    if (auto rebuild = rebuilder.lock()) rebuild->Wanted(table);
  });
  // States published at start to be built in the background, and loads of the engine's
  // copies that finished before the listener was set.
  for (const TableName& table : shared->catalog->TablesToBuild()) {
    shared->rebuilder->Wanted(table);
  }
  return std::shared_ptr<WindowedEngine>(new WindowedEngine(std::move(shared)));
}

std::string WindowedEngine::name() const { return shared_->inner->name() + " (with windows)"; }

arrow::Result<std::shared_ptr<engine::EngineConnection>> WindowedEngine::Connect() {
  ARROW_ASSIGN_OR_RAISE(auto inner, shared_->inner->Connect());
  return std::make_shared<WindowedConnection>(shared_, std::move(inner));
}

arrow::Result<std::unique_ptr<engine::TableAppender>> WindowedEngine::OpenAppender(
    const std::vector<std::string>& path, const std::shared_ptr<arrow::Schema>& schema) {
  const TableName table = TableName::OfPath(path);
  ARROW_ASSIGN_OR_RAISE(auto stored, shared_->catalog->AppendSchema(table, schema));
  ARROW_ASSIGN_OR_RAISE(auto inner, shared_->inner->OpenAppender(path, stored));
  return std::make_unique<WindowedAppender>(std::move(inner), shared_->catalog, table);
}

}  // namespace hyprstream::window
