#include "window/windowed_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/engine_sql.h"
#include "engine/result_provenance.h"
#include "sql/sql_script.h"
#include "window/changing_write.h"
#include "window/metrics_insert.h"
#include "window/preparing_reader.h"
#include "window/unwatched_write.h"
#include "window/window_feeding_insert.h"
#include "window/window_query_rewriter.h"

namespace hyprstream::window {
namespace {

// A DELETE that writes nothing else: ChangingWrite may follow it (a retention DELETE).
bool DeletesOnly(const sql::StatementInfo& statement, sql::WriteMode mode) {
  return mode == sql::WriteMode::kDelete && statement.writes.size() == 1;
}

bool IsTransactionControl(sql::StatementKind kind) {
  return kind == sql::StatementKind::kBegin || kind == sql::StatementKind::kCommit ||
         kind == sql::StatementKind::kRollback;
}

bool IsWindowTableMacro(const std::string& name) { return name == "tumble" || name == "hop"; }

// Whether a statement only calls table functions of hyprstream (hyprstream_window, ...): it
// reads no table of the engine, so the host answers it whatever the session's transaction.
bool OnlyCallsHyprstreamFunctions(const sql::StatementReads& reads) {
  return reads.known && reads.tables.empty() && !reads.table_functions.empty() &&
         std::all_of(reads.table_functions.begin(), reads.table_functions.end(),
                     [](const std::string& name) { return name.rfind("hyprstream_", 0) == 0; });
}

// Functions that change state (window definitions; grants, registered by src/access/ on the
// same host): a query in form that must run once, when executed.
bool ChangesDefinitions(const sql::StatementReads& reads) {
  return std::any_of(
      reads.table_functions.begin(), reads.table_functions.end(), [](const std::string& name) {
        return name == "hyprstream_create_window" || name == "hyprstream_drop_window" ||
               name == "hyprstream_grant" || name == "hyprstream_revoke";
      });
}

// A statement whose effect happens when it runs (a query in form only): the protocol runs it
// exactly once, when it is executed, instead of when its result is read.
class SideEffectStatement : public engine::ForwardingStatement {
 public:
  using ForwardingStatement::ForwardingStatement;
  engine::StatementKind kind() const override { return engine::StatementKind::kOther; }
};

bool CallsWindowTableMacros(const sql::StatementReads& reads) {
  return std::any_of(reads.table_functions.begin(), reads.table_functions.end(),
                     IsWindowTableMacro);
}

// A transaction-control statement run as SQL: the connection learns that a transaction began
// or ended (and, before COMMIT, whether it can still commit).
class TransactionControlStatement : public engine::ForwardingStatement {
 public:
  TransactionControlStatement(std::unique_ptr<engine::EngineStatement> target,
                              std::shared_ptr<WindowedConnection> connection,
                              sql::StatementKind kind)
      : ForwardingStatement(std::move(target)), connection_(std::move(connection)), kind_(kind) {}

  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override {
    const bool alive = kind_ != sql::StatementKind::kCommit || connection_->TransactionAlive();
    auto hold = Hold();
    auto result = target().ExecuteQuery();
    connection_->TransactionStatementRan(kind_, result.ok(), alive);
    return result;
  }
  arrow::Result<int64_t> ExecuteUpdate() override {
    const bool alive = kind_ != sql::StatementKind::kCommit || connection_->TransactionAlive();
    auto hold = Hold();
    auto result = target().ExecuteUpdate();
    connection_->TransactionStatementRan(kind_, result.ok(), alive);
    return result;
  }

 private:
  // A COMMIT's rows reach the engine's copy and then the windows: see HoldForCommit.
  TableWriteGate::Hold Hold() {
    return kind_ == sql::StatementKind::kCommit ? connection_->HoldForCommit()
                                                : TableWriteGate::Hold();
  }

  std::shared_ptr<WindowedConnection> connection_;
  sql::StatementKind kind_;
};

// A write to a table with windows: each execution holds the table's write gate from before its
// rows are stored until they are folded (or kept for the commit), so a rebuild of the windows
// sees it whole.
class HeldWrite : public engine::ForwardingStatement {
 public:
  HeldWrite(std::unique_ptr<engine::EngineStatement> target, std::shared_ptr<WindowCatalog> catalog,
            TableName table)
      : ForwardingStatement(std::move(target)),
        catalog_(std::move(catalog)),
        table_(std::move(table)) {}

  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override {
    auto hold = catalog_->write_gate().Enter({table_});
    return target().ExecuteQuery();
  }
  arrow::Result<int64_t> ExecuteUpdate() override {
    auto hold = catalog_->write_gate().Enter({table_});
    return target().ExecuteUpdate();
  }

 private:
  std::shared_ptr<WindowCatalog> catalog_;
  TableName table_;
};

// A query answered from window state when it runs, if the state still answers it exactly and
// the session is not inside a transaction; else by the engine (same columns and types).
class AnsweredStatement : public engine::EngineStatement {
 public:
  AnsweredStatement(WindowAnswer answer, std::shared_ptr<WindowedShared> shared,
                    std::shared_ptr<WindowedConnection> connection)
      : answer_(std::move(answer)),
        catalog_(shared->catalog),
        shared_(std::move(shared)),
        connection_(std::move(connection)) {}

  engine::StatementKind kind() const override { return engine::StatementKind::kQuery; }
  std::shared_ptr<arrow::Schema> dataset_schema() const override {
    return answer_.original->dataset_schema();
  }
  std::shared_ptr<arrow::Schema> parameter_schema() const override { return arrow::schema({}); }
  arrow::Status Bind(std::shared_ptr<arrow::RecordBatch> parameters) override {
    return answer_.original->Bind(std::move(parameters));
  }
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override {
    const auto as_of = RowsAsOf();
    engine::EngineStatement& chosen = Chosen(as_of);
    auto executed = chosen.ExecuteQuery();
    if (!executed.ok() && &chosen == answer_.from_windows.get()) {
      // The state could not answer after all (a trailing bound older than what it keeps, or
      // rows at the bound arriving while it was read): the engine answers.
      spdlog::debug("window '{}' could not answer ({}): the engine runs the query",
                    answer_.definition, executed.status().message());
      return answer_.original->ExecuteQuery();
    }
    ARROW_ASSIGN_OR_RAISE(auto reader, std::move(executed));
    if (&chosen != answer_.from_windows.get()) return reader;
    LogAnswered();
    return engine::WithProvenance(std::move(reader), "hit", "windows",
                                  as_of.value_or(std::chrono::system_clock::now()));
  }
  arrow::Result<int64_t> ExecuteUpdate() override {
    engine::EngineStatement& chosen = Chosen(RowsAsOf());
    auto count = chosen.ExecuteUpdate();
    if (count.ok() && &chosen == answer_.from_windows.get()) LogAnswered();
    return count;
  }
  void SetMaxStaleness(std::optional<std::chrono::milliseconds> max_staleness) override {
    max_staleness_ = max_staleness;
    answer_.original->SetMaxStaleness(max_staleness);
  }

 private:
  // Window state is as current as the rows the windows have seen, which (behind a cache)
  // include what others wrote to the backend up to the cache's last refresh; nullopt: current.
  std::optional<std::chrono::system_clock::time_point> RowsAsOf() const {
    auto described = catalog_->Describe(answer_.definition);
    if (!described.ok()) return std::nullopt;
    const TableName& table = described->table;
    return shared_->inner->RowsAsOf(table.EngineSchema(), table.table);
  }
  // Whether window state as of `as_of` is fresh enough for the bound on staleness the
  // statement or the session asks for (as the cache's own answers are).
  bool FreshEnough(std::optional<std::chrono::system_clock::time_point> as_of) const {
    const auto bound = max_staleness_ ? max_staleness_ : connection_->max_staleness();
    return !bound || !as_of || std::chrono::system_clock::now() - *as_of <= *bound;
  }

  engine::EngineStatement& Chosen(std::optional<std::chrono::system_clock::time_point> as_of) {
    const bool answers =
        !connection_->InTransaction() &&
        catalog_->Answers(answer_.definition, answer_.exact ? WindowCatalog::Needs::kHistory
                                                            : WindowCatalog::Needs::kState) &&
        (!answer_.exact || catalog_->AnswersExactly(answer_.definition, answer_.exact->width_us,
                                                    answer_.exact->slide_us)) &&
        FreshEnough(as_of);
    // Logged for each execution: here when the engine is chosen, once the state's read
    // succeeded when the windows are (LogAnswered; a read the state refuses falls back to the
    // engine and says so instead).
    if (!answers) {
      spdlog::debug("window '{}' no longer answers exactly: the engine runs the query",
                    answer_.definition);
    }
    return answers ? *answer_.from_windows : *answer_.original;
  }
  void LogAnswered() const {
    spdlog::debug("answered from the maintained windows of '{}': {}", answer_.definition,
                  answer_.sql);
  }

  WindowAnswer answer_;
  std::optional<std::chrono::milliseconds> max_staleness_;  // this statement's own bound
  std::shared_ptr<WindowCatalog> catalog_;
  std::shared_ptr<WindowedShared> shared_;
  std::shared_ptr<WindowedConnection> connection_;
};

TableName TableNameOf(const sql::TableRef& ref) { return TableName::Of(ref.schema, ref.table); }

}  // namespace

arrow::Result<std::unique_ptr<engine::EngineStatement>> WindowedConnection::Prepare(
    const std::string& sql) {
  const auto script = sql::Analyze(sql);
  if (const sql::StatementInfo* statement = script->Single()) return PrepareOne(*statement, sql);
  // Several statements in one text (the protocol layer splits scripts; other callers may not):
  // passed on as they are only when none of them writes a table with windows.
  const auto writes = script->Writes();
  const bool touches_windows =
      !script->WritesKnown() ||
      std::any_of(writes.begin(), writes.end(), [&](const sql::TableWrite& write) {
        return shared_->catalog->Watches(TableNameOf(write.table));
      });
  if (touches_windows && shared_->catalog->HasDefinitions()) {
    return arrow::Status::Invalid(
        "a text of several statements that may write a table with windows; run its statements "
        "one at a time");
  }
  return target().Prepare(sql);
}

arrow::Result<std::unique_ptr<engine::EngineStatement>> WindowedConnection::PrepareOne(
    const sql::StatementInfo& statement, const std::string& sql) {
  WindowCatalog& catalog = *shared_->catalog;
  if (IsTransactionControl(statement.kind)) {
    ARROW_ASSIGN_OR_RAISE(auto prepared, target().Prepare(sql));
    return std::make_unique<TransactionControlStatement>(std::move(prepared), shared_from_this(),
                                                         statement.kind);
  }
  // (A statement whose writes cannot be told lists none: the classifier clears them.)
  for (const sql::TableWrite& write : statement.writes) {
    const TableName table = TableNameOf(write.table);
    if (!catalog.Watches(table)) continue;
    return PrepareWrite(statement, sql, table, write.mode);
  }
  if (!statement.writes_known) {
    // EXECUTE, CALL, DROP ... CASCADE: the windows cannot tell what changed.
    ARROW_ASSIGN_OR_RAISE(auto prepared, target().Prepare(sql));
    return std::make_unique<ChangingWrite>(std::move(prepared), shared_from_this(), std::nullopt);
  }
  // A cheap filter before asking the parse which functions are called.
  const std::string lower = Lower(sql);
  const bool mentions_functions = lower.find("hyprstream_") != std::string::npos ||
                                  lower.find("hop") != std::string::npos ||
                                  lower.find("tumble") != std::string::npos;
  if (mentions_functions && ChangesDefinitions(statement.reads())) {
    // Defining or dropping a window (or changing a grant) is not a read: it runs once, when
    // executed (a client that never fetches the result still gets it done).
    ARROW_ASSIGN_OR_RAISE(auto host, Host());
    ARROW_ASSIGN_OR_RAISE(auto prepared,
                          shared_->host_is_inner ? target().Prepare(sql) : host->Prepare(sql));
    return std::make_unique<SideEffectStatement>(std::move(prepared));
  }
  if (mentions_functions && !shared_->host_is_inner &&
      OnlyCallsHyprstreamFunctions(statement.reads())) {
    ARROW_ASSIGN_OR_RAISE(auto host, Host());
    return host->Prepare(sql);
  }
  if (statement.kind == sql::StatementKind::kQuery && !InTransaction() && catalog.MayAnswer(sql)) {
    ARROW_ASSIGN_OR_RAISE(auto host, Host());
    auto answer = RewriteFromWindows(catalog, target(), *host, sql);
    if (answer.ok()) {
      return std::make_unique<AnsweredStatement>(std::move(*answer), shared_, shared_from_this());
    }
  }
  if (mentions_functions && !shared_->inner_hosts_functions &&
      CallsWindowTableMacros(statement.reads())) {
    return arrow::Status::Invalid(
        "tumble() and hop() run in DuckDB over the table's rows, which this engine keeps in ",
        shared_->inner->name(),
        ": start with --enable-cache (the DuckDB cache mirrors the table), or define a window "
        "whose state answers the query (hyprstream_create_window)");
  }
  ARROW_ASSIGN_OR_RAISE(auto prepared, target().Prepare(sql));
  if (statement.writes.empty()) return prepared;
  // A write to tables without windows (yet): see unwatched_write.h.
  std::vector<TableName> tables;
  for (const sql::TableWrite& write : statement.writes) tables.push_back(TableNameOf(write.table));
  return std::make_unique<UnwatchedWrite>(std::move(prepared), shared_from_this(), sql,
                                          std::move(tables));
}

arrow::Result<std::unique_ptr<engine::EngineStatement>> WindowedConnection::PrepareWrite(
    const sql::StatementInfo& statement, const std::string& sql, const TableName& table,
    sql::WriteMode mode) {
  WindowCatalog& catalog = *shared_->catalog;
  auto self = shared_from_this();
  const bool appends = mode == sql::WriteMode::kAppend || mode == sql::WriteMode::kInsertIgnore;
  if (catalog.IsMetrics(table)) {
    if (mode == sql::WriteMode::kDdl) {
      return arrow::Status::Invalid(
          "the built-in metrics table cannot be dropped or altered while hyprstream keeps its "
          "windows; start with --metrics-table=false to manage it yourself");
    }
    if (!appends) {
      // Allowed (e.g. retention deletes): the windows are rebuilt after each.
      ARROW_ASSIGN_OR_RAISE(auto prepared, target().Prepare(sql));
      return std::make_unique<ChangingWrite>(
          std::move(prepared), self, std::vector<TableName>{table}, DeletesOnly(statement, mode));
    }
    ARROW_ASSIGN_OR_RAISE(auto insert,
                          MetricsInsert::Make(shared_target(), shared_->catalog, statement,
                                              [self](arrow::RecordBatchVector rows) {
                                                self->Written(WindowCatalog::MetricsTableName(),
                                                              std::move(rows));
                                              }));
    return std::make_unique<HeldWrite>(std::move(insert), shared_->catalog, table);
  }
  if (mode == sql::WriteMode::kDdl) {
    return arrow::Status::Invalid(
        "table ", table.key(), " feeds windows, which cannot follow a change of its shape (",
        sql::WriteModeName(mode),
        "): drop its windows first (hyprstream_drop_window), then create them again to "
        "back-fill");
  }
  if (!appends) {
    // The windows cannot follow it: they are rebuilt after each, in the background (a state
    // being built misses it and is rebuilt too).
    ARROW_ASSIGN_OR_RAISE(auto prepared, target().Prepare(sql));
    return std::make_unique<ChangingWrite>(std::move(prepared), self, std::vector<TableName>{table},
                                           DeletesOnly(statement, mode));
  }
  if (!statement.insert) {
    return arrow::Status::Invalid("table ", table.key(),
                                  " feeds windows: insert into it with a plain INSERT");
  }
  auto returning = statement.insert->WithReturningAll(sql);
  if (!returning) {
    return arrow::Status::Invalid("INSERT ... RETURNING into ", table.key(),
                                  ", which feeds windows, is not supported; insert without "
                                  "RETURNING");
  }
  ARROW_ASSIGN_OR_RAISE(auto prepared, target().Prepare(*returning));
  return std::make_unique<HeldWrite>(
      std::make_unique<WindowFeedingInsert>(
          std::move(prepared),
          [self, table](arrow::RecordBatchVector rows) { self->Written(table, std::move(rows)); }),
      shared_->catalog, table);
}

arrow::Result<int64_t> WindowedConnection::Ingest(const engine::IngestRequest& request,
                                                  arrow::RecordBatchReader* batches) {
  WindowCatalog& catalog = *shared_->catalog;
  const TableName table = TableName::Of(request.schema, request.table);
  if (request.temporary) return target().Ingest(request, batches);
  if (!catalog.Watches(table)) {
    // Held while it runs: windows defined on the table meanwhile wait for it and read its rows.
    auto hold = catalog.write_gate().Enter({table});
    if (!catalog.Watches(table)) {
      if (InTransaction()) WroteUnwatched({table});
      return target().Ingest(request, batches);
    }
  }
  if (request.if_exists == engine::IngestRequest::IfExists::kReplace) {
    return arrow::Status::Invalid("ingest mode replace would replace table ", table.key(),
                                  ", which feeds windows; append to it, or drop its windows "
                                  "first (hyprstream_drop_window)");
  }
  ARROW_ASSIGN_OR_RAISE(auto schema, catalog.AppendSchema(table, batches->schema()));
  auto hold = catalog.write_gate().Enter({table});
  PreparingReader reader(batches, std::move(schema),
                         [&catalog, &table](const std::shared_ptr<arrow::RecordBatch>& batch) {
                           return catalog.PrepareAppend(table, batch);
                         });
  auto rows = target().Ingest(request, &reader);
  reader.Settle();
  if (!rows.ok()) {
    // Batches read before the failure went through PrepareAppend but are not stored.
    if (reader.prepared_any()) catalog.Abandoned(table);
    return rows;
  }
  // An engine that stopped reading early stored none of the batch prepared ahead.
  if (reader.holds_unread()) catalog.Abandoned(table);
  Written(table, reader.TakeRows());
  return rows;
}

void WindowedConnection::Written(const TableName& table, arrow::RecordBatchVector rows) {
  if (rows.empty()) return;
  if (InTransaction()) {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.emplace_back(table, std::move(rows));
    return;
  }
  // The rows are committed whatever happens here: a failure only leaves the windows behind
  // the table, so it is logged, not returned to the writer.
  arrow::Status status = shared_->catalog->Committed(table, rows);
  if (!status.ok()) {
    spdlog::error("windows of {} missed committed rows: {}", table.key(), status.ToString());
  }
}

bool WindowedConnection::TransactionAlive() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pending_.empty()) return true;  // nothing of the windows' depends on it
  }
  const bool alive = engine::TransactionCanCommit(target());
  if (!alive) {
    spdlog::debug(
        "the transaction was aborted by an earlier failure: its rows will not reach "
        "the windows");
  }
  return alive;
}

void WindowedConnection::TransactionStatementRan(sql::StatementKind kind, bool succeeded,
                                                 bool alive) {
  switch (kind) {
    case sql::StatementKind::kBegin:
      if (succeeded) {
        std::lock_guard<std::mutex> lock(mutex_);
        sql_transaction_ = true;
      }
      break;
    case sql::StatementKind::kCommit:
      // A COMMIT that fails rolls back, in DuckDB and PostgreSQL alike.
      EndTransaction(succeeded && alive);
      break;
    case sql::StatementKind::kRollback:
      EndTransaction(false);
      break;
    default:
      break;
  }
}

arrow::Status WindowedConnection::BeginTransaction() { return target().BeginTransaction(); }

void WindowedConnection::WroteUnwatched(const std::vector<TableName>& tables) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& table : tables) {
    if (std::find(unwatched_written_.begin(), unwatched_written_.end(), table) ==
        unwatched_written_.end()) {
      unwatched_written_.push_back(table);
    }
  }
}

namespace {
void AddTable(std::vector<TableName>& tables, const TableName& table) {
  if (std::find(tables.begin(), tables.end(), table) == tables.end()) tables.push_back(table);
}
}  // namespace

void WindowedConnection::Changed(const std::optional<std::vector<TableName>>& tables) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!tables) {
    changed_unknown_ = true;
    return;
  }
  for (const auto& table : *tables) AddTable(changed_, table);
}

TableWriteGate::Hold WindowedConnection::HoldForCommit() {
  WindowCatalog& catalog = *shared_->catalog;
  std::vector<TableName> tables, changed;
  bool unknown = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [table, rows] : pending_) AddTable(tables, table);
    for (const auto& table : unwatched_written_) AddTable(tables, table);
    changed = changed_;
    unknown = changed_unknown_;
  }
  if (unknown) changed = catalog.WatchedTables();
  for (const auto& table : changed) AddTable(tables, table);
  if (tables.empty()) return {};
  auto hold = catalog.write_gate().Enter(tables);
  if (unknown) catalog.DivergedAll();
  for (const auto& table : changed) catalog.Diverged(table);
  return hold;
}

arrow::Status WindowedConnection::Commit() {
  const bool alive = TransactionAlive();
  auto hold = HoldForCommit();
  arrow::Status status = target().Commit();
  EndTransaction(status.ok() && alive);
  return status;
}

arrow::Status WindowedConnection::Rollback() {
  arrow::Status status = target().Rollback();
  EndTransaction(false);
  return status;
}

bool WindowedConnection::InTransaction() const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (sql_transaction_) return true;
  }
  return target().InTransaction();
}

void WindowedConnection::EndTransaction(bool committed) {
  std::vector<std::pair<TableName, arrow::RecordBatchVector>> ended;
  std::vector<TableName> unwatched, changed;
  bool changed_unknown = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    sql_transaction_ = false;
    ended.swap(pending_);
    unwatched.swap(unwatched_written_);
    changed.swap(changed_);
    std::swap(changed_unknown, changed_unknown_);
  }
  WindowCatalog& catalog = *shared_->catalog;
  // The commit marked the windows of what it changed (HoldForCommit): rebuilt, whether it
  // committed or not.
  if (changed_unknown) catalog.ChangeEndedAll();
  for (const auto& table : changed) catalog.ChangeEnded(table);
  for (const auto& table : unwatched) {
    // Windows defined since that write began were built without its rows.
    if (committed && catalog.Watches(table)) catalog.MissedRows(table);
  }
  bool metrics_abandoned = false;
  for (auto& [table, rows] : ended) {
    if (committed) {
      arrow::Status status = catalog.Committed(table, rows);
      if (!status.ok()) {
        spdlog::error("windows of {} missed committed rows: {}", table.key(), status.ToString());
      }
    } else if (catalog.IsMetrics(table) && !metrics_abandoned) {
      // Rows that will never be stored must not stay in the running-column state.
      catalog.Abandoned(table);
      metrics_abandoned = true;
    }
  }
}

arrow::Result<engine::CatalogObjects> WindowedConnection::GetCatalogObjects(
    const engine::CatalogObjectsRequest& request) {
  ARROW_ASSIGN_OR_RAISE(auto objects, target().GetCatalogObjects(request));
  std::erase_if(objects.schemas, [](const auto& s) { return s.second == kInternalSchema; });
  std::erase_if(objects.tables, [](const engine::CatalogTable& t) {
    return engine::IsInternalTable(t.schema, t.name);
  });
  return objects;
}

arrow::Result<std::shared_ptr<engine::EngineConnection>> WindowedConnection::Host() {
  if (shared_->host_is_inner) return shared_target();
  std::lock_guard<std::mutex> lock(mutex_);
  if (host_ == nullptr) {
    ARROW_ASSIGN_OR_RAISE(host_, shared_->host->Connect());
  }
  return host_;
}

}  // namespace hyprstream::window
