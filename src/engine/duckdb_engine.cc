#include "engine/duckdb_engine.h"

#include "engine/arrow_to_duckdb_type.h"
#include "engine/duckdb_connection.h"
#include "engine/duckdb_database.h"
#include "engine/duckdb_session.h"
#include "engine/duckdb_status.h"
#include "engine/duckdb_table_appender.h"
#include "engine/duckdb_table_function.h"
#include "engine/engine_sql.h"
#include "engine/snapshot_read.h"

namespace hyprstream::engine {

namespace {

class DuckDbEngine : public Engine, public std::enable_shared_from_this<DuckDbEngine> {
 public:
  explicit DuckDbEngine(std::shared_ptr<DuckDbDatabase> database)
      : database_(std::move(database)) {}

  std::string name() const override { return "duckdb"; }
  Dialect dialect() const override { return Dialect::kDuckDb; }
  bool hosts_table_functions() const override { return true; }

  arrow::Result<std::shared_ptr<EngineConnection>> Connect() override {
    ARROW_ASSIGN_OR_RAISE(auto session, DuckDbSession::Open(database_));
    return std::make_shared<DuckDbConnection>(std::move(session));
  }

  arrow::Status RegisterTableFunction(TableFunctionSpec spec) override {
    std::shared_ptr<const TableFunctionSpec> direct;
    if (spec.direct_read) direct = std::make_shared<const TableFunctionSpec>(spec);
    ARROW_ASSIGN_OR_RAISE(duckdb_connection raw, database_->Connect());
    arrow::Status status = RegisterDuckDbTableFunction(raw, std::move(spec));
    duckdb_disconnect(&raw);
    if (status.ok() && direct) database_->AddDirectFunction(std::move(direct));
    return status;
  }

  std::shared_ptr<Engine> FunctionHost() override { return shared_from_this(); }

  arrow::Status DefineMacro(const std::string& create_macro) override {
    ARROW_ASSIGN_OR_RAISE(duckdb_connection raw, database_->Connect());
    ResultHandle result;
    arrow::Status status = duckdb_query(raw, create_macro.c_str(), result.out()) == DuckDBSuccess
                               ? arrow::Status::OK()
                               : StatusFromResult(result.get(), "defining a macro");
    result.Reset();
    duckdb_disconnect(&raw);
    return status;
  }

  bool reads_snapshots() const override { return true; }
  arrow::Result<std::shared_ptr<EngineConnection>> SnapshotConnection(
      const std::string& schema, const std::string& table) override {
    ARROW_ASSIGN_OR_RAISE(auto connection, Connect());
    return PinSnapshot(std::move(connection), PinQuery(schema, table));
  }
  // The reader's snapshot, then the writer's: the caller keeps writes out meanwhile.
  arrow::Result<std::shared_ptr<EngineConnection>> BeginSharingSnapshot(
      EngineConnection& writer, const std::string& schema, const std::string& table) override {
    ARROW_ASSIGN_OR_RAISE(auto reader, SnapshotConnection(schema, table));
    ARROW_RETURN_NOT_OK(writer.BeginTransaction());
    if (auto pinned = QueryValue(writer, PinQuery(schema, table)); !pinned.ok()) {
      (void)writer.Rollback();
      return pinned.status();
    }
    return reader;
  }

  arrow::Result<std::unique_ptr<TableAppender>> OpenAppender(
      const std::vector<std::string>& path, const std::shared_ptr<arrow::Schema>& schema) override {
    ARROW_ASSIGN_OR_RAISE(auto appender, DuckDbTableAppender::Open(database_, path, schema));
    return std::unique_ptr<TableAppender>(std::move(appender));
  }

 private:
  // A cheap read of the table that gives a transaction its snapshot.
  static std::string PinQuery(const std::string& schema, const std::string& table) {
    return "SELECT count(*) FROM " + (schema.empty() ? "" : QuoteIdentifier(schema) + ".") +
           QuoteIdentifier(table);
  }

  std::shared_ptr<DuckDbDatabase> database_;
};

}  // namespace

arrow::Result<std::shared_ptr<Engine>> OpenDuckDbEngine(const EngineOptions& options) {
  ARROW_ASSIGN_OR_RAISE(auto database, DuckDbDatabase::Open(options));
  return std::make_shared<DuckDbEngine>(std::move(database));
}

}  // namespace hyprstream::engine
