#include "flightsql/flight_sql_server.h"

#include <arrow/array.h>
#include <arrow/buffer.h>
#include <arrow/flight/types.h>
#include <arrow/ipc/writer.h>
#include <arrow/scalar.h>
#include <arrow/table.h>
#include <arrow/util/key_value_metadata.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <type_traits>
#include <utility>

#include "engine/aligned_batches.h"
#include "engine/script_statement.h"
#include "flightsql/call_record.h"
#include "flightsql/catalog_metadata.h"
#include "flightsql/flight_status.h"
#include "flightsql/flight_wire.h"
#include "flightsql/read_freshness.h"
#include "flightsql/xdbc_type_info.h"
#include "sql/sql_script.h"

namespace hyprstream::flightsql {
namespace fl = arrow::flight;

namespace {

// Passes batches through, counting their rows, and calls `on_finish` once, when the stream
// ends, fails or is dropped (a client that goes away mid-stream); a failure is reported as
// `on_finish` rewrites it (e.g. a query timeout).
class FinishNotifyingReader : public arrow::RecordBatchReader {
 public:
  using OnFinish = std::function<arrow::Status(arrow::Status)>;
  // `record` (may be null) counts the rows streamed for the audit log.
  FinishNotifyingReader(std::shared_ptr<arrow::RecordBatchReader> inner, OnFinish on_finish,
                        ServerMetrics* metrics, CallRecord* record)
      : inner_(std::move(inner)),
        on_finish_(std::move(on_finish)),
        metrics_(metrics),
        record_(record) {}
  ~FinishNotifyingReader() override { (void)Finish(arrow::Status::OK()); }

  std::shared_ptr<arrow::Schema> schema() const override { return inner_->schema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
    arrow::Status status = inner_->ReadNext(batch);
    if (!status.ok() || *batch == nullptr) return Finish(std::move(status));
    metrics_->AddRowsStreamed((*batch)->num_rows());
    if (record_ != nullptr) record_->AddRows((*batch)->num_rows());
    return status;
  }
  arrow::Status Close() override {
    (void)Finish(arrow::Status::OK());
    return inner_->Close();
  }

 private:
  arrow::Status Finish(arrow::Status status) {
    if (on_finish_) return std::exchange(on_finish_, nullptr)(std::move(status));
    return status;
  }
  std::shared_ptr<arrow::RecordBatchReader> inner_;
  OnFinish on_finish_;
  ServerMetrics* metrics_;
  CallRecord* record_;
};

// Who answers SQL: the backend's name and version when the engine fronts another database.
std::optional<engine::BackendInfo> EngineBackendInfo(engine::Engine& engine) {
  auto info = [&]() -> arrow::Result<engine::BackendInfo> {
    ARROW_ASSIGN_OR_RAISE(auto connection, engine.Connect());
    return connection->GetBackendInfo();
  }();
  if (info.ok()) return *info;
  if (!info.status().IsNotImplemented()) {
    spdlog::warn("cannot read the backend's name and version: {}", info.status().ToString());
  }
  return std::nullopt;
}

// The engine's reserved words for SqlInfo; none (logged) if the engine cannot list them.
std::vector<std::string> EngineKeywords(engine::Engine& engine) {
  // ADBC has no call that lists a backend's keywords.
  if (engine.dialect() != engine::Engine::Dialect::kDuckDb) return {};
  auto keywords = [&]() -> arrow::Result<std::vector<std::string>> {
    ARROW_ASSIGN_OR_RAISE(auto connection, engine.Connect());
    return ReservedKeywords(*connection);
  }();
  if (!keywords.ok()) {
    spdlog::warn("cannot list the engine's SQL keywords: {}", keywords.status().ToString());
    return {};
  }
  return *keywords;
}

// A failure to read the client's Arrow IPC stream (truncated or malformed messages, a batch
// before the schema) is the client's fault: Invalid, saying so. Transport statuses that carry
// a Flight code pass through.
arrow::Status ClientDataError(const arrow::Status& status) {
  if (status.ok() || fl::FlightStatusDetail::UnwrapStatus(status)) return status;
  return arrow::Status::Invalid("malformed Arrow IPC data in the DoPut: ", status.message());
}

// Wraps the batches of a DoPut so read errors come out as ClientDataError.
class ClientDataReader : public arrow::RecordBatchReader {
 public:
  explicit ClientDataReader(std::shared_ptr<arrow::RecordBatchReader> inner)
      : inner_(std::move(inner)) {}
  std::shared_ptr<arrow::Schema> schema() const override { return inner_->schema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
    return ClientDataError(inner_->ReadNext(batch));
  }

 private:
  std::shared_ptr<arrow::RecordBatchReader> inner_;
};

// Reads every batch a client sent with a DoPut. A descriptor-only DoPut (no schema, no
// data) and a stream whose schema has no columns both yield no batch.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> ReadParameterRows(
    fl::FlightMessageReader* reader) {
  auto schema = reader->GetSchema();
  if (!schema.ok() || (*schema)->num_fields() == 0) {
    // Drain whatever is left so the client sees a clean end of stream.
    while (true) {
      auto chunk = reader->Next();
      if (!chunk.ok() || !chunk->data) break;
    }
    return nullptr;
  }
  auto read = reader->ToRecordBatches();
  ARROW_RETURN_NOT_OK(ClientDataError(read.status()));
  auto& batches = *read;
  if (batches.empty()) return arrow::RecordBatch::MakeEmpty(*schema);
  if (batches.size() == 1) return engine::AlignedBatch(batches.front());
  ARROW_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches(*schema, batches));
  return table->CombineChunksToBatch();
}

}  // namespace

FlightSqlServer::FlightSqlServer(std::shared_ptr<engine::Engine> engine,
                                 FlightSqlServerOptions options)
    : engine_(std::move(engine)),
      options_(options),
      sessions_(engine_, options.limits),
      sql_info_(SqlInfo::ForServer(EngineKeywords(*engine_), EngineBackendInfo(*engine_))) {
  sweeper_ = std::thread([this] { SweepLoop(); });
}

FlightSqlServer::~FlightSqlServer() {
  {
    std::lock_guard<std::mutex> lock(sweep_mutex_);
    stopping_ = true;
  }
  sweep_wakeup_.notify_all();
  sweeper_.join();
}

template <typename Work>
auto FlightSqlServer::RunStatement(const fl::ServerCallContext& context,
                                   std::shared_ptr<engine::EngineConnection> connection,
                                   Work&& work, bool timed) -> decltype(work()) {
  ARROW_ASSIGN_OR_RAISE(auto permit, sessions_.Admit(context));
  const std::string call_id = NewHandleId();
  const std::string owner = SessionRegistry::OwnerOf(context);
  sessions_.MarkRunning(call_id, std::move(connection), &context, std::move(permit), timed);
  auto result = work();
  arrow::Status outcome;
  if constexpr (std::is_same_v<decltype(result), arrow::Status>) {
    outcome = result;
  } else {
    outcome = result.status();
  }
  ARROW_RETURN_NOT_OK(sessions_.MarkFinished(call_id, owner, std::move(outcome)));
  return result;
}

std::string FlightSqlServer::MetricsText() const {
  std::string text = metrics_.Render();
  auto gauge = [&](const char* name, const char* help, int64_t value) {
    text += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name +
            " " + std::to_string(value) + "\n";
  };
  auto counter = [&](const char* name, const char* help, int64_t value) {
    text += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
            " " + std::to_string(value) + "\n";
  };
  gauge("hyprstream_sessions_open", "Client sessions open.",
        static_cast<int64_t>(sessions_.session_count()));
  gauge("hyprstream_statements_running", "Statements holding a slot (running or streaming).",
        sessions_.gate().running());
  gauge("hyprstream_statements_queued", "Statements waiting for a slot.",
        sessions_.gate().queued());
  counter("hyprstream_statements_rejected_total",
          "Statements refused after waiting --statement-queue-timeout for a slot.",
          sessions_.gate().rejected());
  counter("hyprstream_query_timeouts_total", "Statements interrupted by their query timeout.",
          sessions_.query_timeouts());
  counter("hyprstream_sessions_rejected_total", "New sessions refused by --max-sessions.",
          sessions_.sessions_rejected());
  return text;
}

void FlightSqlServer::SweepLoop() {
  std::unique_lock<std::mutex> lock(sweep_mutex_);
  // Every 100 ms: stop engine work whose client cancelled its call or stopped polling; every
  // 5 s: expire handles.
  int ticks = 0;
  while (
      !sweep_wakeup_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; })) {
    lock.unlock();
    sessions_.InterruptCancelledCalls();
    if (size_t stopped = sessions_.ExpireUnpolledJobs()) {
      spdlog::info("stopped {} polled quer{} not polled within the {} s poll lease", stopped,
                   stopped == 1 ? "y" : "ies", options_.limits.poll_lease.count());
    }
    if (++ticks % 50 == 0) sessions_.Sweep();
    lock.lock();
  }
}

arrow::Result<std::unique_ptr<engine::EngineStatement>> FlightSqlServer::PrepareStatement(
    const std::shared_ptr<engine::EngineConnection>& shared_connection, const std::string& sql,
    const std::string& transaction_id) {
  if (auto script = sql::Analyze(sql); script->statements.size() > 1) {
    // A script: its statements run one by one, each prepared this same way when its turn comes.
    return engine::ScriptStatement::Make(shared_connection, std::move(script),
                                         [this, shared_connection, transaction_id](
                                             engine::EngineConnection&, const std::string& one) {
                                           return PrepareStatement(shared_connection, one,
                                                                   transaction_id);
                                         });
  }
  return shared_connection->Prepare(sql);
}

// --- GetFlightInfo / GetSchema / DoGet ---------------------------------------------------

namespace {
// A cached engine marks where a result came from (hyprstream.cache / .source / .as_of schema
// metadata); DoGet repeats it as response headers (x-hyprstream-cache, ...) for clients that
// read headers rather than schema metadata.
void AnnounceProvenance(const fl::ServerCallContext& context, const arrow::Schema& schema) {
  const auto& metadata = schema.metadata();
  if (!metadata) return;
  for (int64_t i = 0; i < metadata->size(); ++i) {
    const std::string& key = metadata->key(i);
    if (key.rfind("hyprstream.", 0) != 0) continue;
    std::string header = "x-" + key;
    std::replace(header.begin(), header.end(), '.', '-');
    std::replace(header.begin(), header.end(), '_', '-');
    context.AddHeader(header, metadata->value(i));
  }
}
}  // namespace

arrow::Status FlightSqlServer::GetFlightInfo(const fl::ServerCallContext& context,
                                             const fl::FlightDescriptor& request,
                                             std::unique_ptr<fl::FlightInfo>* info) {
  auto announced = [&]() -> arrow::Result<Announced> {
    ARROW_RETURN_NOT_OK(Authorize(context, request, /*put=*/false));
    if (request.type == fl::FlightDescriptor::PATH) return AnnounceTable(context, request.path);
    ARROW_ASSIGN_OR_RAISE(auto command, DecodeCommand(request.cmd));
    spdlog::debug("GetFlightInfo {}", DescribeCommand(command));
    if (auto* c = std::get_if<pb::CommandStatementQuery>(&command)) {
      return AnnounceStatement(context, *c);
    }
    if (auto* c = std::get_if<pb::CommandPreparedStatementQuery>(&command)) {
      return AnnouncePrepared(context, *c);
    }
    return AnnounceMetadata(command);
  }();
  if (!announced.ok()) return ToFlightStatus(announced.status(), "GetFlightInfo");
  *info = std::make_unique<fl::FlightInfo>(
      MakeFlightInfo(announced->schema, request, std::move(announced->ticket)));
  return arrow::Status::OK();
}

arrow::Status FlightSqlServer::GetSchema(const fl::ServerCallContext& context,
                                         const fl::FlightDescriptor& request,
                                         std::unique_ptr<fl::SchemaResult>* schema) {
  auto result = [&]() -> arrow::Result<std::shared_ptr<arrow::Schema>> {
    ARROW_RETURN_NOT_OK(Authorize(context, request, /*put=*/false));
    if (request.type == fl::FlightDescriptor::PATH) {
      ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.ConnectionFor(context, ""));
      ARROW_ASSIGN_OR_RAISE(auto statement,
                            connection->Prepare("SELECT * FROM " + QualifiedName(request.path)));
      return statement->dataset_schema();
    }
    ARROW_ASSIGN_OR_RAISE(auto command, DecodeCommand(request.cmd));
    if (auto* c = std::get_if<pb::CommandStatementQuery>(&command)) {
      ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.ConnectionFor(context, c->transaction_id()));
      ARROW_ASSIGN_OR_RAISE(auto statement,
                            PrepareStatement(connection, c->query(), c->transaction_id()));
      auto dataset = statement->dataset_schema();
      return dataset ? dataset : arrow::schema({});
    }
    if (auto* c = std::get_if<pb::CommandPreparedStatementQuery>(&command)) {
      ARROW_ASSIGN_OR_RAISE(
          auto prepared, sessions_.GetPreparedStatement(context, c->prepared_statement_handle()));
      std::lock_guard<std::mutex> lock(prepared->mutex);
      auto dataset = prepared->statement->dataset_schema();
      return dataset ? dataset : arrow::schema({});
    }
    return MetadataSchema(command);
  }();
  if (!result.ok()) return ToFlightStatus(result.status(), "GetSchema");
  ARROW_ASSIGN_OR_RAISE(*schema, fl::SchemaResult::Make(**result));
  return arrow::Status::OK();
}

arrow::Status FlightSqlServer::DoGet(const fl::ServerCallContext& context,
                                     const fl::Ticket& request,
                                     std::unique_ptr<fl::FlightDataStream>* stream) {
  auto reader = [&]() -> arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> {
    ARROW_ASSIGN_OR_RAISE(auto command, DecodeCommand(request.ticket));
    if (CallRecord* record = CallRecordOf(context)) record->NoteCommand(CommandName(command));
    if (auto* ticket = std::get_if<pb::TicketStatementQuery>(&command)) {
      return OpenPendingResult(context, ticket->statement_handle());
    }
    if (std::holds_alternative<pb::CommandStatementQuery>(command) ||
        std::holds_alternative<pb::CommandPreparedStatementQuery>(command) ||
        std::holds_alternative<pb::CommandStatementUpdate>(command) ||
        std::holds_alternative<pb::CommandPreparedStatementUpdate>(command) ||
        std::holds_alternative<pb::CommandStatementIngest>(command)) {
      return arrow::Status::Invalid(CommandName(command),
                                    " is not a ticket: send it to GetFlightInfo (queries) or "
                                    "DoPut (updates, ingest) and DoGet the ticket returned");
    }
    return MetadataResult(context, command);
  }();
  if (!reader.ok()) return ToFlightStatus(reader.status(), "DoGet");
  AnnounceProvenance(context, *(*reader)->schema());
  *stream = std::make_unique<fl::RecordBatchStream>(*reader);
  return arrow::Status::OK();
}

arrow::Result<FlightSqlServer::Announced> FlightSqlServer::AnnounceStatement(
    const fl::ServerCallContext& context, const pb::CommandStatementQuery& command) {
  ARROW_ASSIGN_OR_RAISE(auto connection,
                        sessions_.ConnectionFor(context, command.transaction_id()));
  auto prepared = std::make_shared<PreparedStatement>();
  prepared->sql = command.query();
  prepared->transaction_id = command.transaction_id();
  prepared->connection = connection;
  ARROW_ASSIGN_OR_RAISE(prepared->statement,
                        PrepareStatement(connection, command.query(), command.transaction_id()));
  return AnnounceExecution(context, Executable{std::move(prepared), connection}, nullptr);
}

arrow::Result<FlightSqlServer::Executable> FlightSqlServer::ExecutablePrepared(
    const fl::ServerCallContext& context, std::shared_ptr<PreparedStatement> prepared) {
  std::shared_ptr<engine::EngineConnection> prepared_on;
  {
    std::lock_guard<std::mutex> lock(prepared->mutex);
    prepared_on = prepared->connection;
  }
  ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.ConnectionToExecute(
                                             context, prepared->transaction_id, prepared_on));
  if (connection.get() == prepared_on.get()) return Executable{std::move(prepared), connection};
  if (!prepared->transaction_id.empty()) {
    // Its transaction has ended: from now on it lives on the session's connection.
    auto home = sessions_.Unleased(context, connection);
    ARROW_ASSIGN_OR_RAISE(auto statement, PrepareStatement(home, prepared->sql, ""));
    std::lock_guard<std::mutex> lock(prepared->mutex);
    prepared->statement = std::move(statement);
    prepared->connection = std::move(home);
    return Executable{std::move(prepared), connection};
  }
  // Autocommit while the session's connection is in a transaction: run it on the connection
  // the session's other calls use meanwhile, not inside that transaction.
  auto copy = std::make_shared<PreparedStatement>();
  copy->sql = prepared->sql;
  copy->connection = connection;
  copy->required_role = prepared->required_role;
  copy->required_class = prepared->required_class;
  copy->required_for = prepared->required_for;
  {
    std::lock_guard<std::mutex> lock(prepared->mutex);
    copy->parameters = prepared->parameters;
  }
  ARROW_ASSIGN_OR_RAISE(copy->statement, PrepareStatement(connection, copy->sql, ""));
  return Executable{std::move(copy), std::move(connection)};
}

arrow::Result<FlightSqlServer::Announced> FlightSqlServer::AnnouncePrepared(
    const fl::ServerCallContext& context, const pb::CommandPreparedStatementQuery& command) {
  ARROW_ASSIGN_OR_RAISE(
      auto prepared, sessions_.GetPreparedStatement(context, command.prepared_statement_handle()));
  ARROW_ASSIGN_OR_RAISE(auto executable, ExecutablePrepared(context, std::move(prepared)));
  std::shared_ptr<arrow::RecordBatch> parameters;
  {
    std::lock_guard<std::mutex> lock(executable.prepared->mutex);
    parameters = executable.prepared->parameters;
  }
  return AnnounceExecution(context, std::move(executable), std::move(parameters));
}

arrow::Result<FlightSqlServer::Announced> FlightSqlServer::AnnounceTable(
    const fl::ServerCallContext& context, const std::vector<std::string>& path) {
  if (path.empty() || path.size() > 3) {
    return arrow::Status::Invalid(
        "a PATH descriptor names a table as [catalog, schema,] table; got ", path.size(), " parts");
  }
  return AnnounceStatement(context, [&] {
    pb::CommandStatementQuery query;
    query.set_query("SELECT * FROM " + QualifiedName(path));
    return query;
  }());
}

arrow::Result<FlightSqlServer::Announced> FlightSqlServer::AnnounceExecution(
    const fl::ServerCallContext& context, Executable executable,
    std::shared_ptr<arrow::RecordBatch> parameters) {
  auto& prepared = executable.prepared;
  auto pending = std::make_shared<PendingResult>();
  pending->connection = executable.connection;
  {
    std::lock_guard<std::mutex> lock(prepared->mutex);
    auto& statement = *prepared->statement;
    auto schema = statement.dataset_schema();
    if (statement.kind() == engine::StatementKind::kQuery && schema) {
      // No side effects: DoGet runs it, so an unread FlightInfo costs nothing.
      pending->schema = schema;
      pending->statement = prepared;
      pending->parameters = std::move(parameters);
    } else {
      // Side effects (or a schema only known after running): run exactly once, now.
      ARROW_RETURN_NOT_OK(RunStatement(context, executable.connection, [&]() -> arrow::Status {
        ARROW_ASSIGN_OR_RAISE(auto max_staleness, StalenessOfCall(context));
        statement.SetMaxStaleness(max_staleness);
        ARROW_RETURN_NOT_OK(statement.Bind(std::move(parameters)));
        ARROW_ASSIGN_OR_RAISE(pending->reader, statement.ExecuteQuery());
        return arrow::Status::OK();
      }));
      pending->schema = pending->reader->schema();
    }
  }
  pb::TicketStatementQuery ticket;
  ticket.set_statement_handle(sessions_.AddPendingResult(context, pending));
  return Announced{pending->schema, PackAny(ticket)};
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> FlightSqlServer::OpenPendingResult(
    const fl::ServerCallContext& context, const std::string& id) {
  // Wait for a statement slot first, so that a refused DoGet leaves its ticket to retry.
  ARROW_ASSIGN_OR_RAISE(auto permit, sessions_.Admit(context));
  ARROW_ASSIGN_OR_RAISE(auto pending, sessions_.TakePendingResult(context, id));
  // While it runs and streams, a cancelled call, CancelFlightInfo or its timeout interrupts it.
  sessions_.MarkRunning(id, pending->connection, &context, std::move(permit));
  auto finished = [this, id, owner = SessionRegistry::OwnerOf(context)](arrow::Status outcome) {
    return sessions_.MarkFinished(id, owner, std::move(outcome));
  };
  std::shared_ptr<arrow::RecordBatchReader> reader = pending->reader;
  if (!reader) {
    auto executed = [&]() -> arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> {
      std::lock_guard<std::mutex> lock(pending->statement->mutex);
      auto& statement = *pending->statement->statement;
      ARROW_ASSIGN_OR_RAISE(auto max_staleness, StalenessOfCall(context));
      statement.SetMaxStaleness(max_staleness);
      ARROW_RETURN_NOT_OK(statement.Bind(pending->parameters));
      ARROW_ASSIGN_OR_RAISE(auto result, statement.ExecuteQuery());
      if (!result->schema()->Equals(*pending->schema, /*check_metadata=*/false)) {
        return arrow::Status::Invalid("the result's columns changed since GetFlightInfo (was ",
                                      pending->schema->ToString(), ", now ",
                                      result->schema()->ToString(), "); call GetFlightInfo again");
      }
      return result;
    }();
    if (!executed.ok()) return finished(executed.status());
    reader = std::move(*executed);
  }
  return std::make_shared<FinishNotifyingReader>(std::move(reader), std::move(finished), &metrics_,
                                                 CallRecordOf(context));
}

arrow::Result<FlightSqlServer::Announced> FlightSqlServer::AnnounceMetadata(
    const Command& command) {
  ARROW_ASSIGN_OR_RAISE(auto schema, MetadataSchema(command));
  // Metadata tickets are the command itself: stateless, answered by DoGet.
  return Announced{std::move(schema),
                   std::visit([](const auto& m) { return PackAny(m); }, command)};
}

arrow::Result<std::shared_ptr<arrow::Schema>> FlightSqlServer::MetadataSchema(
    const Command& command) {
  if (std::holds_alternative<pb::CommandGetSqlInfo>(command)) return SqlInfo::ResultSchema();
  if (std::holds_alternative<pb::CommandGetXdbcTypeInfo>(command)) return XdbcTypeInfoSchema();
  auto schema = CatalogResultSchema(command);
  if (!schema.ok()) {
    return arrow::Status::NotImplemented(CommandName(command), " is not supported by this server");
  }
  return schema;
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> FlightSqlServer::MetadataResult(
    const fl::ServerCallContext& context, const Command& command) {
  std::shared_ptr<arrow::RecordBatch> batch;
  if (auto* c = std::get_if<pb::CommandGetSqlInfo>(&command)) {
    std::vector<uint32_t> ids(c->info().begin(), c->info().end());
    ARROW_ASSIGN_OR_RAISE(batch, sql_info_.Build(ids));
  } else if (auto* c = std::get_if<pb::CommandGetXdbcTypeInfo>(&command)) {
    ARROW_ASSIGN_OR_RAISE(
        batch,
        XdbcTypeInfo(c->has_data_type() ? std::optional<int32_t>(c->data_type()) : std::nullopt));
  } else {
    ARROW_RETURN_NOT_OK(MetadataSchema(command).status());
    // The session's connection even inside its transaction: catalogs show what it sees.
    ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.SessionConnection(context));
    ARROW_ASSIGN_OR_RAISE(batch, QueryCatalog(*connection, command));
    ARROW_ASSIGN_OR_RAISE(batch, FilterByGrants(context, std::move(batch)));
  }
  return arrow::RecordBatchReader::Make({batch}, batch->schema());
}

// --- DoPut ------------------------------------------------------------------------------

arrow::Status FlightSqlServer::DoPut(const fl::ServerCallContext& context,
                                     std::unique_ptr<fl::FlightMessageReader> reader,
                                     std::unique_ptr<fl::FlightMetadataWriter> writer) {
  const fl::FlightDescriptor& descriptor = reader->descriptor();
  arrow::Status status = [&]() -> arrow::Status {
    ARROW_RETURN_NOT_OK(Authorize(context, descriptor, /*put=*/true));
    if (descriptor.type == fl::FlightDescriptor::PATH) {
      return PutStream(context, descriptor.path, reader.get(), writer.get());
    }
    ARROW_ASSIGN_OR_RAISE(auto command, DecodeCommand(descriptor.cmd));
    spdlog::debug("DoPut {}", DescribeCommand(command));
    if (auto* c = std::get_if<pb::CommandStatementUpdate>(&command)) {
      return PutStatementUpdate(context, *c, writer.get());
    }
    if (auto* c = std::get_if<pb::CommandPreparedStatementQuery>(&command)) {
      return PutPreparedQueryParameters(context, *c, reader.get(), writer.get());
    }
    if (auto* c = std::get_if<pb::CommandPreparedStatementUpdate>(&command)) {
      return PutPreparedUpdate(context, *c, reader.get(), writer.get());
    }
    if (auto* c = std::get_if<pb::CommandStatementIngest>(&command)) {
      return PutIngest(context, *c, std::move(reader), writer.get());
    }
    return arrow::Status::Invalid(CommandName(command),
                                  " cannot be sent with DoPut; use GetFlightInfo");
  }();
  return ToFlightStatus(status, "DoPut");
}

arrow::Status FlightSqlServer::PutStatementUpdate(const fl::ServerCallContext& context,
                                                  const pb::CommandStatementUpdate& command,
                                                  fl::FlightMetadataWriter* writer) {
  ARROW_ASSIGN_OR_RAISE(auto connection,
                        sessions_.ConnectionFor(context, command.transaction_id()));
  ARROW_ASSIGN_OR_RAISE(auto statement,
                        PrepareStatement(connection, command.query(), command.transaction_id()));
  ARROW_ASSIGN_OR_RAISE(
      int64_t count, RunStatement(context, connection, [&] { return statement->ExecuteUpdate(); }));
  if (CallRecord* record = CallRecordOf(context)) record->AddRows(count);
  // Answer at once: some clients wait for this before half-closing their stream.
  pb::DoPutUpdateResult result;
  result.set_record_count(count);
  return writer->WriteMetadata(*SerializeMessage(result));
}

arrow::Status FlightSqlServer::PutPreparedQueryParameters(
    const fl::ServerCallContext& context, const pb::CommandPreparedStatementQuery& command,
    fl::FlightMessageReader* reader, fl::FlightMetadataWriter* writer) {
  ARROW_ASSIGN_OR_RAISE(
      auto prepared, sessions_.GetPreparedStatement(context, command.prepared_statement_handle()));
  ARROW_ASSIGN_OR_RAISE(auto rows, ReadParameterRows(reader));
  {
    std::lock_guard<std::mutex> lock(prepared->mutex);
    // Validate now so a bad binding is reported by this DoPut, not by the later query.
    ARROW_RETURN_NOT_OK(prepared->statement->Bind(rows));
    prepared->parameters = rows;
  }
  pb::DoPutPreparedStatementResult result;
  result.set_prepared_statement_handle(command.prepared_statement_handle());
  return writer->WriteMetadata(*SerializeMessage(result));
}

arrow::Status FlightSqlServer::PutPreparedUpdate(const fl::ServerCallContext& context,
                                                 const pb::CommandPreparedStatementUpdate& command,
                                                 fl::FlightMessageReader* reader,
                                                 fl::FlightMetadataWriter* writer) {
  ARROW_ASSIGN_OR_RAISE(
      auto handle, sessions_.GetPreparedStatement(context, command.prepared_statement_handle()));
  ARROW_ASSIGN_OR_RAISE(auto rows, ReadParameterRows(reader));
  ARROW_ASSIGN_OR_RAISE(auto executable, ExecutablePrepared(context, std::move(handle)));
  auto& prepared = executable.prepared;
  int64_t count = 0;
  {
    std::lock_guard<std::mutex> lock(prepared->mutex);
    if (!rows) rows = prepared->parameters;
    if (rows && rows->num_rows() == 0) {
      count = 0;  // executemany with no rows: nothing to run
    } else {
      ARROW_RETURN_NOT_OK(prepared->statement->Bind(rows));
      ARROW_ASSIGN_OR_RAISE(count, RunStatement(context, executable.connection, [&] {
                              return prepared->statement->ExecuteUpdate();
                            }));
    }
  }
  if (CallRecord* record = CallRecordOf(context)) record->AddRows(count);
  pb::DoPutUpdateResult result;
  result.set_record_count(count);
  return writer->WriteMetadata(*SerializeMessage(result));
}

arrow::Status FlightSqlServer::PutIngest(const fl::ServerCallContext& context,
                                         const pb::CommandStatementIngest& command,
                                         std::unique_ptr<fl::FlightMessageReader> reader,
                                         fl::FlightMetadataWriter* writer) {
  if (command.table().empty()) {
    return arrow::Status::Invalid("CommandStatementIngest needs a target table name");
  }
  engine::IngestRequest request;
  request.table = command.table();
  if (command.has_schema()) request.schema = command.schema();
  if (command.has_catalog()) request.catalog = command.catalog();
  request.temporary = command.temporary();
  const auto& options = command.table_definition_options();
  using NotExist = pb::CommandStatementIngest::TableDefinitionOptions;
  switch (options.if_not_exist()) {
    case NotExist::TABLE_NOT_EXIST_OPTION_CREATE:
      request.if_not_exists = engine::IngestRequest::IfNotExists::kCreate;
      break;
    case NotExist::TABLE_NOT_EXIST_OPTION_FAIL:
      request.if_not_exists = engine::IngestRequest::IfNotExists::kFail;
      break;
    default:
      return arrow::Status::Invalid(
          "CommandStatementIngest.table_definition_options.if_not_exist must be CREATE or FAIL");
  }
  switch (options.if_exists()) {
    case NotExist::TABLE_EXISTS_OPTION_FAIL:
      request.if_exists = engine::IngestRequest::IfExists::kFail;
      break;
    case NotExist::TABLE_EXISTS_OPTION_APPEND:
      request.if_exists = engine::IngestRequest::IfExists::kAppend;
      break;
    case NotExist::TABLE_EXISTS_OPTION_REPLACE:
      request.if_exists = engine::IngestRequest::IfExists::kReplace;
      break;
    default:
      return arrow::Status::Invalid(
          "CommandStatementIngest.table_definition_options.if_exists must be FAIL, APPEND or "
          "REPLACE");
  }
  // A temp table is the session connection's own: an ingest into one without a transaction
  // id (the ADBC DB-API's, whose transaction is then open there) runs on it.
  ARROW_ASSIGN_OR_RAISE(auto connection,
                        command.temporary() && command.transaction_id().empty()
                            ? sessions_.SessionConnectionForWrites(context)
                            : sessions_.ConnectionFor(context, command.transaction_id()));
  auto client_batches = fl::MakeRecordBatchReader(std::move(reader));
  ARROW_RETURN_NOT_OK(ClientDataError(client_batches.status()));
  // (Aligned: see engine/aligned_batches.h.)
  std::shared_ptr<arrow::RecordBatchReader> batches =
      engine::AlignedBatches(std::make_shared<ClientDataReader>(std::move(*client_batches)));
  // Holds a statement slot, but no query timeout: an ingest lasts as long as the upload.
  ARROW_ASSIGN_OR_RAISE(
      int64_t rows,
      RunStatement(
          context, connection, [&] { return connection->Ingest(request, batches.get()); },
          /*timed=*/false));
  metrics_.AddRowsIngested(rows);
  if (CallRecord* record = CallRecordOf(context)) record->AddRows(rows);
  pb::DoPutUpdateResult result;
  result.set_record_count(rows);
  return writer->WriteMetadata(*SerializeMessage(result));
}

arrow::Status FlightSqlServer::PutStream(const fl::ServerCallContext& context,
                                         const std::vector<std::string>& path,
                                         fl::FlightMessageReader* reader,
                                         fl::FlightMetadataWriter* writer) {
  if (path.empty() || path.size() > 3) {
    return arrow::Status::Invalid(
        "a streaming DoPut names its table with a PATH descriptor [catalog, schema,] table");
  }
  auto read_schema = reader->GetSchema();
  ARROW_RETURN_NOT_OK(ClientDataError(read_schema.status()));
  ARROW_ASSIGN_OR_RAISE(auto appender, engine_->OpenAppender(path, *read_schema));
  int64_t total = 0;
  while (true) {
    auto next = reader->Next();
    ARROW_RETURN_NOT_OK(ClientDataError(next.status()));
    fl::FlightStreamChunk chunk = std::move(*next);
    if (!chunk.data) break;
    ARROW_ASSIGN_OR_RAISE(auto batch, engine::AlignedBatch(std::move(chunk.data)));
    ARROW_ASSIGN_OR_RAISE(int64_t rows, appender->Append(*batch));
    total += rows;
    if (CallRecord* record = CallRecordOf(context)) record->AddRows(rows);
    metrics_.AddRowsIngested(rows);
    // Acknowledge every batch once it is committed, so the client knows what is durable.
    std::string ack =
        "{\"rows\":" + std::to_string(rows) + ",\"total_rows\":" + std::to_string(total) + "}";
    ARROW_RETURN_NOT_OK(writer->WriteMetadata(*arrow::Buffer::FromString(std::move(ack))));
  }
  return arrow::Status::OK();
}

// --- DoAction ---------------------------------------------------------------------------

}  // namespace hyprstream::flightsql
