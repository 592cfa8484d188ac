// FlightSqlServer's role checks: every RPC that can run SQL or change state calls Authorize
// (descriptors) or AuthorizeAction (actions) before doing anything, so the policy is applied
// at one place per RPC. Prepared statements carry the requirement decided when they were
// prepared; executing one checks it against the caller again.
#include <arrow/flight/types.h>

#include "flightsql/call_record.h"
#include "flightsql/catalog_metadata.h"
#include "flightsql/flight_sql_server.h"
#include "flightsql/flight_wire.h"

namespace hyprstream::flightsql {
namespace fl = arrow::flight;

namespace {

Role AtLeast(Role a, Role b) { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }

}  // namespace

arrow::Status FlightSqlServer::Authorize(const fl::ServerCallContext& context,
                                         const fl::FlightDescriptor& descriptor, bool put) {
  CallRecord* record = CallRecordOf(context);
  if (record == nullptr) return arrow::Status::OK();
  if (descriptor.type == fl::FlightDescriptor::PATH) {
    const std::string table = QualifiedName(descriptor.path);
    if (put) {
      record->NoteCommand("DoPut PATH stream", table);
      return RequireRole(context, Role::kReadWrite, "streaming ingest into " + table);
    }
    const std::string sql = "SELECT * FROM " + table;
    record->NoteCommand("PATH", sql);
    ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.ConnectionFor(context, ""));
    return RequireRoleForSql(context, *connection, sql);
  }
  ARROW_ASSIGN_OR_RAISE(auto command, DecodeCommand(descriptor.cmd));
  const std::string name = CommandName(command);
  if (auto* c = std::get_if<pb::CommandStatementQuery>(&command)) {
    record->NoteCommand(name, c->query());
    ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.ConnectionFor(context, c->transaction_id()));
    return RequireRoleForSql(context, *connection, c->query());
  }
  if (auto* c = std::get_if<pb::CommandStatementUpdate>(&command)) {
    record->NoteCommand(name, c->query());
    ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.ConnectionFor(context, c->transaction_id()));
    return RequireRoleForSql(context, *connection, c->query(), Role::kReadWrite);
  }
  if (auto* c = std::get_if<pb::CommandStatementIngest>(&command)) {
    record->NoteCommand(name, c->table());
    return RequireRole(context, Role::kReadWrite, "bulk ingest into " + c->table());
  }
  if (auto* c = std::get_if<pb::CommandPreparedStatementQuery>(&command)) {
    ARROW_ASSIGN_OR_RAISE(auto prepared,
                          sessions_.GetPreparedStatement(context, c->prepared_statement_handle()));
    record->NoteCommand(name, prepared->sql);
    return RequireRole(context, prepared->required_role,
                       "prepared statement (" + prepared->required_for + ")");
  }
  if (auto* c = std::get_if<pb::CommandPreparedStatementUpdate>(&command)) {
    ARROW_ASSIGN_OR_RAISE(auto prepared,
                          sessions_.GetPreparedStatement(context, c->prepared_statement_handle()));
    record->NoteCommand(name, prepared->sql);
    return RequireRole(
        context, AtLeast(prepared->required_role, RequiredRoleForUpdate(prepared->required_class)),
        "prepared update (" + prepared->required_for + ")");
  }
  if (std::holds_alternative<pb::CommandStatementSubstraitPlan>(command)) {
    record->NoteCommand(name);
    return RequireRole(context, Role::kAdmin, "a Substrait plan");
  }
  // Metadata commands and result tickets: reading only.
  record->NoteCommand(name);
  return arrow::Status::OK();
}

arrow::Status FlightSqlServer::AuthorizeAction(const fl::ServerCallContext& context,
                                               const fl::Action& action) {
  CallRecord* record = CallRecordOf(context);
  if (record == nullptr) return arrow::Status::OK();
  record->NoteCommand(action.type);
  // BeginTransaction and EndTransaction change nothing by themselves: every role may run
  // them (what runs inside is checked statement by statement). CreatePreparedStatement and
  // SetSessionOptions check what they carry in their handlers (PrepareRequirement,
  // SetSessionOptions); the other actions only read or release.
  return arrow::Status::OK();
}

}  // namespace hyprstream::flightsql
