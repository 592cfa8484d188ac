// The forwarding bases pass every call of the Engine interfaces to their target: a recording
// target notes each call, and a forwarder over it must produce exactly the same notes. A
// method added to the interfaces without a forwarding override shows up here as a missing note.
#include "engine/forwarding_engine.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hyprstream::engine {
namespace {

using Calls = std::vector<std::string>;

class RecordingStatement : public EngineStatement {
 public:
  explicit RecordingStatement(Calls* calls) : calls_(calls) {}
  StatementKind kind() const override {
    calls_->push_back("kind");
    return StatementKind::kOther;
  }
  std::shared_ptr<arrow::Schema> dataset_schema() const override {
    calls_->push_back("dataset_schema");
    return nullptr;
  }
  std::shared_ptr<arrow::Schema> parameter_schema() const override {
    calls_->push_back("parameter_schema");
    return nullptr;
  }
  arrow::Status Bind(std::shared_ptr<arrow::RecordBatch>) override {
    calls_->push_back("Bind");
    return arrow::Status::OK();
  }
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override {
    calls_->push_back("ExecuteQuery");
    return arrow::Status::NotImplemented("recorded");
  }
  arrow::Result<int64_t> ExecuteUpdate() override {
    calls_->push_back("ExecuteUpdate");
    return 7;
  }
  void SetMaxStaleness(std::optional<std::chrono::milliseconds>) override {
    calls_->push_back("SetMaxStaleness");
  }

 private:
  Calls* calls_;
};

class RecordingConnection : public EngineConnection {
 public:
  explicit RecordingConnection(Calls* calls) : calls_(calls) {}
  arrow::Result<std::unique_ptr<EngineStatement>> Prepare(const std::string& sql) override {
    calls_->push_back("Prepare " + sql);
    return std::make_unique<RecordingStatement>(calls_);
  }
  arrow::Result<int64_t> Ingest(const IngestRequest& request, arrow::RecordBatchReader*) override {
    calls_->push_back("Ingest " + request.table);
    return 3;
  }
  arrow::Status BeginTransaction() override { return Note("BeginTransaction"); }
  arrow::Status Commit() override { return Note("Commit"); }
  arrow::Status Rollback() override { return Note("Rollback"); }
  bool InTransaction() const override {
    calls_->push_back("InTransaction");
    return true;
  }
  void Interrupt() override { calls_->push_back("Interrupt"); }
  std::optional<double> QueryProgress() const override {
    calls_->push_back("QueryProgress");
    return 0.5;
  }
  arrow::Status SetMaxStaleness(std::optional<std::chrono::milliseconds>) override {
    return Note("SetMaxStaleness");
  }
  arrow::Result<CatalogObjects> GetCatalogObjects(const CatalogObjectsRequest&) override {
    calls_->push_back("GetCatalogObjects");
    return CatalogObjects{};
  }
  arrow::Result<std::vector<std::string>> GetTableTypes() override {
    calls_->push_back("GetTableTypes");
    return std::vector<std::string>{"TABLE"};
  }
  arrow::Result<std::shared_ptr<arrow::Schema>> GetTableSchema(const std::optional<std::string>&,
                                                               const std::optional<std::string>&,
                                                               const std::string& table) override {
    calls_->push_back("GetTableSchema " + table);
    return arrow::schema({});
  }
  arrow::Result<BackendInfo> GetBackendInfo() override {
    calls_->push_back("GetBackendInfo");
    return BackendInfo{"recorder", "1"};
  }
  arrow::Status SetCurrentCatalog(const std::string& catalog) override {
    return Note("SetCurrentCatalog " + catalog);
  }
  arrow::Status SetCurrentSchema(const std::string& schema) override {
    return Note("SetCurrentSchema " + schema);
  }
  arrow::Result<std::vector<std::string>> StatementTypes(const std::string& sql) override {
    calls_->push_back("StatementTypes " + sql);
    return std::vector<std::string>{"SELECT"};
  }

 private:
  arrow::Status Note(std::string call) {
    calls_->push_back(std::move(call));
    return arrow::Status::OK();
  }
  Calls* calls_;
};

class RecordingEngine : public Engine {
 public:
  explicit RecordingEngine(Calls* calls) : calls_(calls) {}
  std::string name() const override { return "recorder"; }
  Dialect dialect() const override { return Dialect::kBackend; }
  bool hosts_table_functions() const override { return true; }
  std::shared_ptr<Engine> FunctionHost() override {
    calls_->push_back("FunctionHost");
    return nullptr;
  }
  arrow::Result<std::shared_ptr<EngineConnection>> Connect() override {
    calls_->push_back("Connect");
    return std::make_shared<RecordingConnection>(calls_);
  }
  arrow::Result<std::unique_ptr<TableAppender>> OpenAppender(
      const std::vector<std::string>& path, const std::shared_ptr<arrow::Schema>&) override {
    calls_->push_back("OpenAppender " + path.back());
    return arrow::Status::NotImplemented("recorded");
  }
  arrow::Status RegisterTableFunction(TableFunctionSpec spec) override {
    calls_->push_back("RegisterTableFunction " + spec.name);
    return arrow::Status::OK();
  }
  arrow::Status DefineMacro(const std::string& create_macro) override {
    calls_->push_back("DefineMacro " + create_macro);
    return arrow::Status::OK();
  }
  void WatchExternalRows(ExternalRowsListener) override { calls_->push_back("WatchExternalRows"); }
  std::optional<std::chrono::system_clock::time_point> RowsAsOf(const std::string&,
                                                                const std::string& table) override {
    calls_->push_back("RowsAsOf " + table);
    return std::nullopt;
  }

 private:
  Calls* calls_;
};

// Every call of the three interfaces, made on `engine`.
void CallEverything(Engine& engine) {
  TableFunctionSpec function;
  function.name = "f";
  (void)engine.RegisterTableFunction(std::move(function));
  (void)engine.DefineMacro("CREATE MACRO m() AS 1");
  (void)engine.FunctionHost();
  engine.WatchExternalRows({});
  (void)engine.RowsAsOf("", "t");
  (void)engine.OpenAppender({"t"}, arrow::schema({}));
  auto connection = *engine.Connect();
  IngestRequest request;
  request.table = "t";
  (void)connection->Ingest(request, nullptr);
  (void)connection->BeginTransaction();
  (void)connection->Commit();
  (void)connection->Rollback();
  (void)connection->InTransaction();
  connection->Interrupt();
  (void)connection->QueryProgress();
  (void)connection->SetMaxStaleness(std::chrono::milliseconds(5));
  (void)connection->GetCatalogObjects({});
  (void)connection->GetTableTypes();
  (void)connection->GetTableSchema(std::nullopt, std::nullopt, "t");
  (void)connection->GetBackendInfo();
  (void)connection->SetCurrentCatalog("c");
  (void)connection->SetCurrentSchema("s");
  (void)connection->StatementTypes("SELECT 1");
  auto statement = *connection->Prepare("SELECT 1");
  (void)statement->kind();
  (void)statement->dataset_schema();
  (void)statement->parameter_schema();
  (void)statement->Bind(nullptr);
  (void)statement->ExecuteQuery();
  (void)statement->ExecuteUpdate();
  statement->SetMaxStaleness(std::nullopt);
}

// A layer that changes nothing: the forwarding bases as they are.
class PassThroughConnection : public ForwardingConnection {
 public:
  using ForwardingConnection::ForwardingConnection;
  arrow::Result<std::unique_ptr<EngineStatement>> Prepare(const std::string& sql) override {
    ARROW_ASSIGN_OR_RAISE(auto statement, ForwardingConnection::Prepare(sql));
    return std::make_unique<ForwardingStatement>(std::move(statement));
  }
};
class PassThroughEngine : public ForwardingEngine {
 public:
  using ForwardingEngine::ForwardingEngine;
  arrow::Result<std::shared_ptr<EngineConnection>> Connect() override {
    ARROW_ASSIGN_OR_RAISE(auto connection, ForwardingEngine::Connect());
    return std::make_shared<PassThroughConnection>(std::move(connection));
  }
};

TEST(ForwardingEngine, EveryCallReachesTheTarget) {
  Calls direct, forwarded;
  RecordingEngine target(&direct);
  CallEverything(target);

  PassThroughEngine layer(std::make_shared<RecordingEngine>(&forwarded));
  CallEverything(layer);
  EXPECT_EQ(forwarded, direct);
  EXPECT_EQ(layer.name(), "recorder");
  EXPECT_EQ(layer.dialect(), Engine::Dialect::kBackend);
  EXPECT_TRUE(layer.hosts_table_functions());
}

TEST(ForwardingEngine, LayersStack) {
  Calls direct, forwarded;
  RecordingEngine target(&direct);
  CallEverything(target);

  PassThroughEngine outer(
      std::make_shared<PassThroughEngine>(std::make_shared<RecordingEngine>(&forwarded)));
  CallEverything(outer);
  EXPECT_EQ(forwarded, direct);
}

}  // namespace
}  // namespace hyprstream::engine
