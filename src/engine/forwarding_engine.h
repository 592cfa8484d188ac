// ForwardingEngine / ForwardingConnection / ForwardingStatement: the base of engine layers
// (in the spirit of RocksDB's StackableDB). Every call goes to the wrapped target unchanged, so a
// layer such as Windowed(...) or Cached(...) overrides only what it changes and every other
// capability — metadata, transactions, interrupts, table functions, the dialect — passes
// through by default.
//
// Ownership: a forwarder owns (statement) or shares (connection, engine) its target.
// Threading: exactly the target's; a forwarder adds no state of its own.
#pragma once

#include <memory>
#include <utility>

#include "engine/engine.h"

namespace hyprstream::engine {

class ForwardingStatement : public EngineStatement {
 public:
  explicit ForwardingStatement(std::unique_ptr<EngineStatement> target)
      : target_(std::move(target)) {}

  StatementKind kind() const override { return target_->kind(); }
  std::shared_ptr<arrow::Schema> dataset_schema() const override {
    return target_->dataset_schema();
  }
  std::shared_ptr<arrow::Schema> parameter_schema() const override {
    return target_->parameter_schema();
  }
  arrow::Status Bind(std::shared_ptr<arrow::RecordBatch> parameters) override {
    return target_->Bind(std::move(parameters));
  }
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override {
    return target_->ExecuteQuery();
  }
  arrow::Result<int64_t> ExecuteUpdate() override { return target_->ExecuteUpdate(); }
  void SetMaxStaleness(std::optional<std::chrono::milliseconds> max_staleness) override {
    target_->SetMaxStaleness(max_staleness);
  }

 protected:
  EngineStatement& target() const { return *target_; }

 private:
  std::unique_ptr<EngineStatement> target_;
};

class ForwardingConnection : public EngineConnection {
 public:
  explicit ForwardingConnection(std::shared_ptr<EngineConnection> target)
      : target_(std::move(target)) {}

  arrow::Result<std::unique_ptr<EngineStatement>> Prepare(const std::string& sql) override {
    return target_->Prepare(sql);
  }
  arrow::Result<int64_t> Ingest(const IngestRequest& request,
                                arrow::RecordBatchReader* batches) override {
    return target_->Ingest(request, batches);
  }
  arrow::Status BeginTransaction() override { return target_->BeginTransaction(); }
  arrow::Status Commit() override { return target_->Commit(); }
  arrow::Status Rollback() override { return target_->Rollback(); }
  bool InTransaction() const override { return target_->InTransaction(); }
  void Interrupt() override { target_->Interrupt(); }
  std::optional<double> QueryProgress() const override { return target_->QueryProgress(); }
  arrow::Status SetMaxStaleness(std::optional<std::chrono::milliseconds> max_staleness) override {
    return target_->SetMaxStaleness(max_staleness);
  }
  std::optional<std::chrono::milliseconds> max_staleness() const override {
    return target_->max_staleness();
  }
  arrow::Result<CatalogObjects> GetCatalogObjects(const CatalogObjectsRequest& request) override {
    return target_->GetCatalogObjects(request);
  }
  arrow::Result<std::vector<std::string>> GetTableTypes() override {
    return target_->GetTableTypes();
  }
  arrow::Result<std::shared_ptr<arrow::Schema>> GetTableSchema(
      const std::optional<std::string>& catalog, const std::optional<std::string>& schema,
      const std::string& table) override {
    return target_->GetTableSchema(catalog, schema, table);
  }
  arrow::Result<BackendInfo> GetBackendInfo() override { return target_->GetBackendInfo(); }
  arrow::Status SetCurrentCatalog(const std::string& catalog) override {
    return target_->SetCurrentCatalog(catalog);
  }
  arrow::Status SetCurrentSchema(const std::string& schema) override {
    return target_->SetCurrentSchema(schema);
  }
  arrow::Result<std::vector<std::string>> StatementTypes(const std::string& sql) override {
    return target_->StatementTypes(sql);
  }

 protected:
  EngineConnection& target() const { return *target_; }
  const std::shared_ptr<EngineConnection>& shared_target() const { return target_; }

 private:
  std::shared_ptr<EngineConnection> target_;
};

class ForwardingEngine : public Engine {
 public:
  explicit ForwardingEngine(std::shared_ptr<Engine> target) : target_(std::move(target)) {}

  std::string name() const override { return target_->name(); }
  Dialect dialect() const override { return target_->dialect(); }
  bool hosts_table_functions() const override { return target_->hosts_table_functions(); }
  std::shared_ptr<Engine> FunctionHost() override { return target_->FunctionHost(); }
  arrow::Result<std::shared_ptr<EngineConnection>> Connect() override { return target_->Connect(); }
  arrow::Result<std::unique_ptr<TableAppender>> OpenAppender(
      const std::vector<std::string>& path, const std::shared_ptr<arrow::Schema>& schema) override {
    return target_->OpenAppender(path, schema);
  }
  arrow::Status RegisterTableFunction(TableFunctionSpec spec) override {
    return target_->RegisterTableFunction(std::move(spec));
  }
  arrow::Status DefineMacro(const std::string& create_macro) override {
    return target_->DefineMacro(create_macro);
  }
  void WatchExternalRows(ExternalRowsListener listener) override {
    target_->WatchExternalRows(std::move(listener));
  }
  std::optional<std::chrono::system_clock::time_point> RowsAsOf(const std::string& schema,
                                                                const std::string& table) override {
    return target_->RowsAsOf(schema, table);
  }
  bool FollowTable(const std::string& schema, const std::string& table,
                   const std::string& time_column) override {
    return target_->FollowTable(schema, table, time_column);
  }
  arrow::Result<std::optional<int64_t>> ReadCopy(const std::string& schema,
                                                 const std::string& table,
                                                 const CopyReader& read) override {
    return target_->ReadCopy(schema, table, read);
  }
  std::optional<int64_t> CopyGeneration(const std::string& schema,
                                        const std::string& table) override {
    return target_->CopyGeneration(schema, table);
  }
  bool reads_snapshots() const override { return target_->reads_snapshots(); }
  std::string MetricsText() const override { return target_->MetricsText(); }
  arrow::Result<std::shared_ptr<EngineConnection>> SnapshotConnection(
      const std::string& schema, const std::string& table) override {
    return target_->SnapshotConnection(schema, table);
  }
  // The writer is this layer's connection, which passes its transaction and statements on to
  // the target's; a layer whose connections send statements elsewhere overrides this (the
  // cache begins it through its session, CachedConnection::BeginSharingSnapshot).
  arrow::Result<std::shared_ptr<EngineConnection>> BeginSharingSnapshot(
      EngineConnection& writer, const std::string& schema, const std::string& table) override {
    return target_->BeginSharingSnapshot(writer, schema, table);
  }

 protected:
  Engine& target() const { return *target_; }
  const std::shared_ptr<Engine>& shared_target() const { return target_; }

 private:
  std::shared_ptr<Engine> target_;
};

}  // namespace hyprstream::engine
