// FlightSqlServer: the Flight SQL protocol over an Engine. Each Flight RPC decodes its
// command (command.h) and dispatches to one small handler; engine errors come back as
// arrow::Status and are turned into Flight status codes here (flight_status.h).
//
// Files: flight_sql_server.cc (queries, metadata, DoGet, DoPut), flight_sql_server_actions.cc
// (DoAction: prepared statements, transactions, cancel, session options),
// flight_sql_server_poll.cc (PollFlightInfo), flight_sql_server_access.cc (the role check
// every RPC passes before it runs anything: access_policy.h, call_record.h).
//
// Threading: every RPC may run concurrently; state lives in SessionRegistry (thread-safe)
// and in per-connection engine objects (serialised by the engine).
#pragma once

#include <arrow/flight/server.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <thread>

#include "access/grant_set.h"
#include "engine/engine.h"
#include "flightsql/command.h"
#include "flightsql/server_metrics.h"
#include "flightsql/session_registry.h"
#include "flightsql/sql_info.h"

namespace hyprstream::flightsql {

struct FlightSqlServerOptions {
  ServerLimits limits;
  // Grants in force (null: none possible). Enforced for non-admin callers once any exists.
  std::shared_ptr<access::GrantSet> grants;
};

class CallRecord;

class FlightSqlServer : public arrow::flight::FlightServerBase {
 public:
  FlightSqlServer(std::shared_ptr<engine::Engine> engine, FlightSqlServerOptions options);
  ~FlightSqlServer() override;

  arrow::Status GetFlightInfo(const arrow::flight::ServerCallContext& context,
                              const arrow::flight::FlightDescriptor& request,
                              std::unique_ptr<arrow::flight::FlightInfo>* info) override;
  arrow::Status PollFlightInfo(const arrow::flight::ServerCallContext& context,
                               const arrow::flight::FlightDescriptor& request,
                               std::unique_ptr<arrow::flight::PollInfo>* info) override;
  arrow::Status GetSchema(const arrow::flight::ServerCallContext& context,
                          const arrow::flight::FlightDescriptor& request,
                          std::unique_ptr<arrow::flight::SchemaResult>* schema) override;
  arrow::Status DoGet(const arrow::flight::ServerCallContext& context,
                      const arrow::flight::Ticket& request,
                      std::unique_ptr<arrow::flight::FlightDataStream>* stream) override;
  arrow::Status DoPut(const arrow::flight::ServerCallContext& context,
                      std::unique_ptr<arrow::flight::FlightMessageReader> reader,
                      std::unique_ptr<arrow::flight::FlightMetadataWriter> writer) override;
  arrow::Status DoAction(const arrow::flight::ServerCallContext& context,
                         const arrow::flight::Action& action,
                         std::unique_ptr<arrow::flight::ResultStream>* result) override;
  arrow::Status ListActions(const arrow::flight::ServerCallContext& context,
                            std::vector<arrow::flight::ActionType>* actions) override;

  SessionRegistry& sessions() { return sessions_; }
  ServerMetrics& metrics() { return metrics_; }
  // The metrics of the protocol layer (metrics(), sessions, statements) as Prometheus text.
  std::string MetricsText() const;

 private:
  // The role check of a descriptor's command (GetFlightInfo, PollFlightInfo, GetSchema,
  // DoPut) and of an action; notes the command for the audit log. OK when no CallRecord.
  arrow::Status Authorize(const arrow::flight::ServerCallContext& context,
                          const arrow::flight::FlightDescriptor& descriptor, bool put);
  arrow::Status AuthorizeAction(const arrow::flight::ServerCallContext& context,
                                const arrow::flight::Action& action);
  // The grant checks (access/): the caller grants apply to (null for admins, without a
  // CallRecord and while no grant exists); what `sql` needs; write on a table given by parts
  // (ingest, streaming DoPut). Refusals are Unauthorized (PERMISSION_DENIED) naming the user,
  // the privilege and the table.
  const CallRecord* GrantsApplyTo(const arrow::flight::ServerCallContext& context) const;
  arrow::Status RequireGrantsForSql(const arrow::flight::ServerCallContext& context,
                                    engine::EngineConnection& connection, const std::string& sql);
  arrow::Status RequireWriteGrant(const arrow::flight::ServerCallContext& context,
                                  engine::EngineConnection& connection,
                                  const std::vector<std::string>& parts);
  // Drops the rows of a metadata result (GetCatalogs, GetDbSchemas, GetTables, key commands)
  // about objects the caller may not read.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> FilterByGrants(
      const arrow::flight::ServerCallContext& context, std::shared_ptr<arrow::RecordBatch> batch);

  // GetFlightInfo handlers: each returns the result schema and the ticket that DoGet reads.
  struct Announced {
    std::shared_ptr<arrow::Schema> schema;
    std::string ticket;
  };
  arrow::Result<Announced> AnnounceStatement(const arrow::flight::ServerCallContext& context,
                                             const pb::CommandStatementQuery& command);
  arrow::Result<Announced> AnnouncePrepared(const arrow::flight::ServerCallContext& context,
                                            const pb::CommandPreparedStatementQuery& command);
  arrow::Result<Announced> AnnounceTable(const arrow::flight::ServerCallContext& context,
                                         const std::vector<std::string>& path);
  arrow::Result<Announced> AnnounceMetadata(const Command& command);
  // A prepared statement as it executes now (SessionRegistry::ConnectionToExecute): the
  // handle's own, moved to the session's connection first once its transaction has ended, or
  // for this execution only a copy prepared on the connection it runs on. `connection` is
  // where it runs, leased when it is the session's: hold it until the execution is over.
  struct Executable {
    std::shared_ptr<PreparedStatement> prepared;
    std::shared_ptr<engine::EngineConnection> connection;
  };
  arrow::Result<Executable> ExecutablePrepared(const arrow::flight::ServerCallContext& context,
                                               std::shared_ptr<PreparedStatement> prepared);
  // Runs or defers `statement` so that its side effects happen exactly once.
  arrow::Result<Announced> AnnounceExecution(const arrow::flight::ServerCallContext& context,
                                             Executable statement,
                                             std::shared_ptr<arrow::RecordBatch> parameters);
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> OpenPendingResult(
      const arrow::flight::ServerCallContext& context, const std::string& id);
  arrow::Result<std::shared_ptr<arrow::Schema>> MetadataSchema(const Command& command);
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> MetadataResult(
      const arrow::flight::ServerCallContext& context, const Command& command);

  // DoPut handlers.
  arrow::Status PutStatementUpdate(const arrow::flight::ServerCallContext& context,
                                   const pb::CommandStatementUpdate& command,
                                   arrow::flight::FlightMetadataWriter* writer);
  arrow::Status PutPreparedQueryParameters(const arrow::flight::ServerCallContext& context,
                                           const pb::CommandPreparedStatementQuery& command,
                                           arrow::flight::FlightMessageReader* reader,
                                           arrow::flight::FlightMetadataWriter* writer);
  arrow::Status PutPreparedUpdate(const arrow::flight::ServerCallContext& context,
                                  const pb::CommandPreparedStatementUpdate& command,
                                  arrow::flight::FlightMessageReader* reader,
                                  arrow::flight::FlightMetadataWriter* writer);
  arrow::Status PutIngest(const arrow::flight::ServerCallContext& context,
                          const pb::CommandStatementIngest& command,
                          std::unique_ptr<arrow::flight::FlightMessageReader> reader,
                          arrow::flight::FlightMetadataWriter* writer);
  arrow::Status PutStream(const arrow::flight::ServerCallContext& context,
                          const std::vector<std::string>& path,
                          arrow::flight::FlightMessageReader* reader,
                          arrow::flight::FlightMetadataWriter* writer);

  // DoAction handlers; each returns the serialized result bodies.
  arrow::Result<std::vector<std::string>> CreatePreparedStatement(
      const arrow::flight::ServerCallContext& context, std::string_view body);
  arrow::Result<std::vector<std::string>> ClosePreparedStatement(
      const arrow::flight::ServerCallContext& context, std::string_view body);
  arrow::Result<std::vector<std::string>> BeginTransaction(
      const arrow::flight::ServerCallContext& context, std::string_view body);
  arrow::Result<std::vector<std::string>> EndTransaction(
      const arrow::flight::ServerCallContext& context, std::string_view body);
  arrow::Result<std::vector<std::string>> CancelFlightInfo(
      const arrow::flight::ServerCallContext& context, std::string_view body);
  arrow::Result<std::vector<std::string>> CancelQuery(
      const arrow::flight::ServerCallContext& context, std::string_view body);
  arrow::Status ApplySessionOption(engine::EngineConnection& connection, const std::string& name,
                                   const arrow::flight::SessionOptionValue& value,
                                   arrow::flight::SetSessionOptionErrorValue* kind);
  arrow::Result<std::vector<std::string>> SetSessionOptions(
      const arrow::flight::ServerCallContext& context, std::string_view body);
  arrow::Result<std::vector<std::string>> GetSessionOptions(
      const arrow::flight::ServerCallContext& context, std::string_view body);
  arrow::Result<std::vector<std::string>> CloseSession(
      const arrow::flight::ServerCallContext& context, std::string_view body);
  arrow::Result<arrow::flight::CancelStatus> Cancel(const arrow::flight::ServerCallContext& context,
                                                    const arrow::flight::FlightInfo& info);

  // PollFlightInfo: starts a background job for a statement or prepared query; its id.
  arrow::Result<std::string> StartPollJob(const arrow::flight::ServerCallContext& context,
                                          const Command& command);

  // A script of several statements becomes an engine::ScriptStatement whose statements are
  // each prepared this way when their turn comes.
  arrow::Result<std::unique_ptr<engine::EngineStatement>> PrepareStatement(
      const std::shared_ptr<engine::EngineConnection>& connection, const std::string& sql,
      const std::string& transaction_id);
  // Runs `work` (returning Status or Result) as a statement of `context` on `connection`:
  // admitted by the statement gate, interruptible by cancel and (when `timed`) by its query
  // timeout.
  template <typename Work>
  auto RunStatement(const arrow::flight::ServerCallContext& context,
                    std::shared_ptr<engine::EngineConnection> connection, Work&& work,
                    bool timed = true) -> decltype(work());

  void SweepLoop();

  std::shared_ptr<engine::Engine> engine_;
  FlightSqlServerOptions options_;
  SessionRegistry sessions_;
  ServerMetrics metrics_;
  SqlInfo sql_info_;

  std::mutex sweep_mutex_;
  std::condition_variable sweep_wakeup_;
  bool stopping_ = false;
  std::thread sweeper_;
};

}  // namespace hyprstream::flightsql
