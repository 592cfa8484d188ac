// FlightSqlServer::PollFlightInfo: long queries submitted now and fetched later. A statement
// query (or prepared query) starts a PollJob and the first reply comes back at once with a
// retry descriptor; later polls report progress and the last one carries the complete
// FlightInfo whose ticket DoGet reads. Other descriptors complete in one poll.
#include <spdlog/spdlog.h>

#include <chrono>

#include "flightsql/flight_sql_server.h"
#include "flightsql/flight_status.h"
#include "flightsql/flight_wire.h"

namespace hyprstream::flightsql {
namespace fl = arrow::flight;

namespace {

// How long a follow-up poll waits for the query to finish before reporting progress.
constexpr std::chrono::milliseconds kPollWait{200};

std::unique_ptr<fl::PollInfo> Complete(std::unique_ptr<fl::FlightInfo> info) {
  return std::make_unique<fl::PollInfo>(std::move(info), std::nullopt, 1.0, std::nullopt);
}

}  // namespace

arrow::Result<std::string> FlightSqlServer::StartPollJob(const fl::ServerCallContext& context,
                                                         const Command& command) {
  std::shared_ptr<engine::EngineConnection> connection;
  PollJob::Run run;
  if (auto* c = std::get_if<pb::CommandStatementQuery>(&command)) {
    ARROW_ASSIGN_OR_RAISE(connection, sessions_.ConnectionFor(context, c->transaction_id()));
    run = [this, connection, sql = c->query(),
           transaction_id =
               c->transaction_id()]() -> arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> {
      ARROW_ASSIGN_OR_RAISE(auto statement, PrepareStatement(connection, sql, transaction_id));
      return statement->ExecuteQuery();
    };
  } else {
    const auto& query = std::get<pb::CommandPreparedStatementQuery>(command);
    ARROW_ASSIGN_OR_RAISE(
        auto handle, sessions_.GetPreparedStatement(context, query.prepared_statement_handle()));
    ARROW_ASSIGN_OR_RAISE(auto executable, ExecutablePrepared(context, std::move(handle)));
    connection = executable.connection;
    run = [prepared =
               executable.prepared]() -> arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> {
      std::lock_guard<std::mutex> lock(prepared->mutex);
      ARROW_RETURN_NOT_OK(prepared->statement->Bind(prepared->parameters));
      return prepared->statement->ExecuteQuery();
    };
  }
  // A statement like any other: it waits for a slot, counts as running (gauges, drain), has
  // the session's query timeout, and gives the slot back when it ends.
  ARROW_ASSIGN_OR_RAISE(auto permit, sessions_.Admit(context));
  const std::string id = NewHandleId();
  sessions_.MarkRunningInBackground(id, connection, context, std::move(permit));
  auto job = std::make_shared<PollJob>(
      connection, std::move(run),
      [this, id, owner = SessionRegistry::OwnerOf(context)](arrow::Status outcome) {
        return sessions_.MarkFinished(id, owner, std::move(outcome));
      });
  sessions_.AddPollJob(context, id, std::move(job));
  return id;
}

arrow::Status FlightSqlServer::PollFlightInfo(const fl::ServerCallContext& context,
                                              const fl::FlightDescriptor& request,
                                              std::unique_ptr<fl::PollInfo>* info) {
  auto result = [&]() -> arrow::Result<std::unique_ptr<fl::PollInfo>> {
    std::string job_id;
    bool first_poll = false;
    if (request.type == fl::FlightDescriptor::CMD) {
      ARROW_ASSIGN_OR_RAISE(auto command, DecodeCommand(request.cmd));
      spdlog::debug("PollFlightInfo {}", DescribeCommand(command));
      ARROW_RETURN_NOT_OK(Authorize(context, request, /*put=*/false));
      if (auto* retry = std::get_if<pb::TicketStatementQuery>(&command)) {
        job_id = retry->statement_handle();
      } else if (std::holds_alternative<pb::CommandStatementQuery>(command) ||
                 std::holds_alternative<pb::CommandPreparedStatementQuery>(command)) {
        ARROW_ASSIGN_OR_RAISE(job_id, StartPollJob(context, command));
        first_poll = true;
      }
    }
    if (job_id.empty()) {
      // Metadata and PATH descriptors answer at once: their FlightInfo is the final one.
      std::unique_ptr<fl::FlightInfo> flight_info;
      ARROW_RETURN_NOT_OK(GetFlightInfo(context, request, &flight_info));
      return Complete(std::move(flight_info));
    }

    ARROW_ASSIGN_OR_RAISE(auto job, sessions_.GetPollJob(context, job_id));
    if (job->WaitFor(first_poll ? std::chrono::milliseconds(0) : kPollWait)) {
      sessions_.ForgetPollJob(context, job_id);
      ARROW_ASSIGN_OR_RAISE(auto reader, job->result());
      auto pending = std::make_shared<PendingResult>();
      pending->schema = reader->schema();
      pending->reader = std::move(reader);
      pb::TicketStatementQuery ticket;
      ticket.set_statement_handle(sessions_.AddPendingResult(context, pending));
      return Complete(std::make_unique<fl::FlightInfo>(
          MakeFlightInfo(pending->schema, request, PackAny(ticket))));
    }
    // Still running: the retry descriptor names the job; the partial FlightInfo carries it
    // too, so CancelFlightInfo on it stops the query.
    pb::TicketStatementQuery retry;
    retry.set_statement_handle(job_id);
    auto descriptor = fl::FlightDescriptor::Command(PackAny(retry));
    ARROW_ASSIGN_OR_RAISE(auto partial,
                          fl::FlightInfo::Make(*arrow::schema({}), descriptor, {}, -1, -1));
    // Poll again before this, or the query is stopped (nobody would read it).
    auto expiration = std::chrono::system_clock::now() + options_.limits.poll_lease;
    return std::make_unique<fl::PollInfo>(std::make_unique<fl::FlightInfo>(std::move(partial)),
                                          descriptor, job->progress(), expiration);
  }();
  if (!result.ok()) return ToFlightStatus(result.status(), "PollFlightInfo");
  *info = std::move(*result);
  return arrow::Status::OK();
}

}  // namespace hyprstream::flightsql
