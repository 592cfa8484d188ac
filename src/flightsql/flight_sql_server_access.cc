// FlightSqlServer's role and grant checks: every RPC that can run SQL or change state calls
// Authorize (descriptors) or AuthorizeAction (actions) before doing anything, so the policy is
// applied at one place per RPC. Prepared statements carry the role requirement decided when
// they were prepared; executing one checks it, and the grants its SQL needs, against the
// caller again. Metadata results are filtered by the caller's grants.
#include <arrow/builder.h>
#include <arrow/compute/api_vector.h>
#include <arrow/datum.h>
#include <arrow/flight/types.h>

#include "access/statement_needs.h"

#include "flightsql/call_record.h"
#include "flightsql/catalog_metadata.h"
#include "flightsql/flight_sql_server.h"
#include "flightsql/flight_wire.h"

namespace hyprstream::flightsql {
namespace fl = arrow::flight;

namespace {

Role AtLeast(Role a, Role b) { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }

access::Subject SubjectOf(const CallIdentity& identity) {
  return access::Subject{identity.user, identity.groups};
}

arrow::Status GrantDenied(const CallIdentity& who, const std::string& what) {
  return fl::MakeFlightError(fl::FlightStatusCode::Unauthorized,
                             "permission denied: user '" + who.user + "' (role " +
                                 std::string(RoleName(who.role)) + ") " + what);
}

arrow::Status NeedDenied(const CallIdentity& who, const access::Need& need) {
  return GrantDenied(who, "has no " + std::string(access::PrivilegeName(need.privilege)) +
                              " grant on " + need.table.ToString() +
                              (need.via.empty() ? "" : " (reached through " + need.via + ")") +
                              (need.window.empty() ? "" : " nor on window:" + need.window));
}

// The string in `column` of `batch` at `row`, or "" (null, or no such column).
std::string TextAt(const arrow::RecordBatch& batch, const std::string& column, int64_t row) {
  auto array = batch.GetColumnByName(column);
  if (!array || array->IsNull(row)) return "";
  auto scalar = array->GetScalar(row);
  return scalar.ok() ? (*scalar)->ToString() : "";
}

}  // namespace

const CallRecord* FlightSqlServer::GrantsApplyTo(const fl::ServerCallContext& context) const {
  if (!options_.grants || !options_.grants->enforced()) return nullptr;
  const CallRecord* record = CallRecordOf(context);
  if (record == nullptr || record->identity().role == Role::kAdmin) return nullptr;
  return record;
}

arrow::Status FlightSqlServer::RequireGrantsForSql(const fl::ServerCallContext& context,
                                                   engine::EngineConnection& connection,
                                                   const std::string& sql) {
  const CallRecord* record = GrantsApplyTo(context);
  if (record == nullptr) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto needs, access::NeedsOfSql(connection, sql));
  if (needs.untellable) {
    return GrantDenied(record->identity(), "may not run " + *needs.untellable +
                                               " while grants are in force (only an admin may)");
  }
  const access::Subject subject = SubjectOf(record->identity());
  for (const access::Need& need : needs.needs) {
    const bool through_window =
        !need.window.empty() && options_.grants->AllowsWindow(subject, need.window);
    if (!through_window && !options_.grants->Allows(subject, need.privilege, need.table)) {
      return NeedDenied(record->identity(), need);
    }
  }
  return arrow::Status::OK();
}

arrow::Status FlightSqlServer::RequireWriteGrant(const fl::ServerCallContext& context,
                                                 engine::EngineConnection& connection,
                                                 const std::vector<std::string>& parts) {
  const CallRecord* record = GrantsApplyTo(context);
  if (record == nullptr) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto tables, access::ResolveTable(connection, parts));
  const access::Subject subject = SubjectOf(record->identity());
  for (const auto& table : tables) {
    if (!options_.grants->Allows(subject, access::Privilege::kWrite, table)) {
      return NeedDenied(record->identity(), access::Need{access::Privilege::kWrite, table, "", ""});
    }
  }
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> FlightSqlServer::FilterByGrants(
    const fl::ServerCallContext& context, std::shared_ptr<arrow::RecordBatch> batch) {
  const CallRecord* record = GrantsApplyTo(context);
  if (record == nullptr || batch->num_rows() == 0) return batch;
  const access::Subject subject = SubjectOf(record->identity());
  const access::GrantSet& grants = *options_.grants;
  const auto& schema = *batch->schema();
  // The objects a row names: GetCatalogs a catalog, GetDbSchemas a schema, GetTables and
  // GetPrimaryKeys a table, the foreign-key commands two tables (pk_ and fk_ columns).
  struct Object {
    std::string prefix;
    bool has_schema;
    bool has_table;
  };
  std::vector<Object> objects;
  for (const std::string prefix : {"", "pk_", "fk_"}) {
    if (schema.GetFieldIndex(prefix + "catalog_name") < 0) continue;
    objects.push_back(Object{prefix, schema.GetFieldIndex(prefix + "db_schema_name") >= 0,
                             schema.GetFieldIndex(prefix + "table_name") >= 0});
  }
  if (objects.empty()) return batch;  // GetTableTypes, GetSqlInfo, ...
  arrow::BooleanBuilder keep;
  ARROW_RETURN_NOT_OK(keep.Reserve(batch->num_rows()));
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    bool visible = true;
    for (const Object& object : objects) {
      const std::string catalog = TextAt(*batch, object.prefix + "catalog_name", row);
      const std::string db_schema = TextAt(*batch, object.prefix + "db_schema_name", row);
      if (object.has_table) {
        const std::string table = TextAt(*batch, object.prefix + "table_name", row);
        visible = visible && grants.Allows(subject, access::Privilege::kRead,
                                           access::QualifiedTable{catalog, db_schema, table});
      } else {
        visible =
            visible && grants.MayReadIn(subject, catalog,
                                        object.has_schema ? std::optional<std::string>(db_schema)
                                                          : std::nullopt);
      }
    }
    keep.UnsafeAppend(visible);
  }
  ARROW_ASSIGN_OR_RAISE(auto mask, keep.Finish());
  ARROW_ASSIGN_OR_RAISE(auto filtered,
                        arrow::compute::Filter(arrow::Datum(batch), arrow::Datum(mask)));
  return filtered.record_batch();
}

arrow::Status FlightSqlServer::Authorize(const fl::ServerCallContext& context,
                                         const fl::FlightDescriptor& descriptor, bool put) {
  CallRecord* record = CallRecordOf(context);
  if (record == nullptr) return arrow::Status::OK();
  if (descriptor.type == fl::FlightDescriptor::PATH) {
    const std::string table = QualifiedName(descriptor.path);
    if (put) {
      record->NoteCommand("DoPut PATH stream", table);
      ARROW_RETURN_NOT_OK(RequireRole(context, Role::kReadWrite, "streaming ingest into " + table));
      if (GrantsApplyTo(context) == nullptr) return arrow::Status::OK();
      ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.ConnectionFor(context, ""));
      return RequireWriteGrant(context, *connection, descriptor.path);
    }
    const std::string sql = "SELECT * FROM " + table;
    record->NoteCommand("PATH", sql);
    ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.ConnectionFor(context, ""));
    ARROW_RETURN_NOT_OK(RequireRoleForSql(context, *connection, sql));
    return RequireGrantsForSql(context, *connection, sql);
  }
  ARROW_ASSIGN_OR_RAISE(auto command, DecodeCommand(descriptor.cmd));
  const std::string name = CommandName(command);
  if (auto* c = std::get_if<pb::CommandStatementQuery>(&command)) {
    record->NoteCommand(name, c->query());
    ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.ConnectionFor(context, c->transaction_id()));
    ARROW_RETURN_NOT_OK(RequireRoleForSql(context, *connection, c->query()));
    return RequireGrantsForSql(context, *connection, c->query());
  }
  if (auto* c = std::get_if<pb::CommandStatementUpdate>(&command)) {
    record->NoteCommand(name, c->query());
    ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.ConnectionFor(context, c->transaction_id()));
    ARROW_RETURN_NOT_OK(RequireRoleForSql(context, *connection, c->query(), Role::kReadWrite));
    return RequireGrantsForSql(context, *connection, c->query());
  }
  if (auto* c = std::get_if<pb::CommandStatementIngest>(&command)) {
    record->NoteCommand(name, c->table());
    ARROW_RETURN_NOT_OK(RequireRole(context, Role::kReadWrite, "bulk ingest into " + c->table()));
    // A temporary table is the session's own.
    if (c->temporary() || GrantsApplyTo(context) == nullptr) return arrow::Status::OK();
    std::vector<std::string> parts;
    if (c->has_catalog()) parts.push_back(c->catalog());
    if (c->has_schema()) {
      parts.push_back(c->schema());
    } else if (c->has_catalog()) {
      parts.push_back("main");
    }
    parts.push_back(c->table());
    ARROW_ASSIGN_OR_RAISE(auto connection, sessions_.ConnectionFor(context, c->transaction_id()));
    return RequireWriteGrant(context, *connection, parts);
  }
  if (auto* c = std::get_if<pb::CommandPreparedStatementQuery>(&command)) {
    ARROW_ASSIGN_OR_RAISE(auto prepared,
                          sessions_.GetPreparedStatement(context, c->prepared_statement_handle()));
    record->NoteCommand(name, prepared->sql);
    ARROW_RETURN_NOT_OK(RequireRole(context, prepared->required_role,
                                    "prepared statement (" + prepared->required_for + ")"));
    // Again at every execution: a grant may have been revoked since it was prepared.
    return RequireGrantsForSql(context, *prepared->connection, prepared->sql);
  }
  if (auto* c = std::get_if<pb::CommandPreparedStatementUpdate>(&command)) {
    ARROW_ASSIGN_OR_RAISE(auto prepared,
                          sessions_.GetPreparedStatement(context, c->prepared_statement_handle()));
    record->NoteCommand(name, prepared->sql);
    ARROW_RETURN_NOT_OK(RequireRole(
        context, AtLeast(prepared->required_role, RequiredRoleForUpdate(prepared->required_class)),
        "prepared update (" + prepared->required_for + ")"));
    return RequireGrantsForSql(context, *prepared->connection, prepared->sql);
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
