// FlightSqlServer's DoAction handlers: prepared statements, transactions, cancellation and
// session options. Each handler parses its request and returns the serialized result bodies.
#include <arrow/array.h>
#include <arrow/flight/types.h>
#include <arrow/table.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <sstream>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "flightsql/call_record.h"
#include "flightsql/flight_sql_server.h"
#include "flightsql/flight_status.h"
#include "flightsql/flight_wire.h"
#include "flightsql/read_freshness.h"

namespace hyprstream::flightsql {
namespace fl = arrow::flight;

namespace {

// Action names, as the Flight and Flight SQL specs spell them.
constexpr char kCreatePreparedStatement[] = "CreatePreparedStatement";
constexpr char kClosePreparedStatement[] = "ClosePreparedStatement";
constexpr char kBeginTransaction[] = "BeginTransaction";
constexpr char kEndTransaction[] = "EndTransaction";
constexpr char kCancelQuery[] = "CancelQuery";
constexpr char kCancelFlightInfo[] = "CancelFlightInfo";
constexpr char kSetSessionOptions[] = "SetSessionOptions";
constexpr char kGetSessionOptions[] = "GetSessionOptions";
constexpr char kCloseSession[] = "CloseSession";

// The server-side ids a FlightInfo names: its endpoints' result tickets and, for a running
// PollFlightInfo query, the poll descriptor.
std::vector<std::string> HandlesOf(const fl::FlightInfo& info) {
  std::vector<std::string> ids;
  auto add = [&](std::string_view bytes) {
    auto command = DecodeCommand(bytes);
    if (!command.ok()) return;
    if (auto* ticket = std::get_if<pb::TicketStatementQuery>(&*command)) {
      ids.push_back(ticket->statement_handle());
    }
  };
  for (const auto& endpoint : info.endpoints()) add(endpoint.ticket.ticket);
  if (info.descriptor().type == fl::FlightDescriptor::CMD) add(info.descriptor().cmd);
  return ids;
}

// The SQL text of a session option value; nullopt for values SQL SET cannot take.
std::optional<std::string> SqlValue(const fl::SessionOptionValue& value) {
  if (auto* s = std::get_if<std::string>(&value)) return engine::QuoteLiteral(*s);
  if (auto* b = std::get_if<bool>(&value)) return std::string(*b ? "true" : "false");
  if (auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&value)) {
    if (!std::isfinite(*d)) return std::nullopt;
    std::ostringstream out;
    out.precision(17);
    out << *d;
    return out.str();
  }
  return std::nullopt;
}

// current_database() and current_schema() of a connection.
arrow::Result<std::pair<std::string, std::string>> CurrentCatalogAndSchema(
    engine::EngineConnection& connection) {
  ARROW_ASSIGN_OR_RAISE(
      auto table, engine::QueryTable(connection, "SELECT current_database(), current_schema()"));
  ARROW_ASSIGN_OR_RAISE(auto batch, table->CombineChunksToBatch());
  if (batch->num_rows() != 1) return arrow::Status::IOError("no current catalog");
  auto text = [&](int i) {
    return static_cast<const arrow::StringArray&>(*batch->column(i)).GetString(0);
  };
  return std::make_pair(text(0), text(1));
}

}  // namespace

arrow::Status FlightSqlServer::ListActions(const fl::ServerCallContext&,
                                           std::vector<fl::ActionType>* actions) {
  *actions = {
      {kCreatePreparedStatement, "Prepare a SQL statement; returns a handle and its schemas"},
      {kClosePreparedStatement, "Release a prepared statement handle"},
      {kBeginTransaction, "Open a transaction; returns its transaction_id"},
      {kEndTransaction, "Commit or roll back a transaction"},
      {kCancelFlightInfo, "Cancel the query behind a FlightInfo (running or not yet read)"},
      {kCancelQuery, "Deprecated Flight SQL form of CancelFlightInfo"},
      {kSetSessionOptions, "Set session options: catalog, schema, or any DuckDB setting"},
      {kGetSessionOptions, "Current catalog, schema and the options this session set"},
      {kCloseSession, "Close this session and release its connection"},
  };
  return arrow::Status::OK();
}

arrow::Status FlightSqlServer::DoAction(const fl::ServerCallContext& context,
                                        const fl::Action& action,
                                        std::unique_ptr<fl::ResultStream>* result) {
  std::string_view body = action.body ? std::string_view(*action.body) : std::string_view();
  spdlog::debug("DoAction {} ({} bytes)", action.type, body.size());
  arrow::Result<std::vector<std::string>> bodies =
      [&]() -> arrow::Result<std::vector<std::string>> {
    ARROW_RETURN_NOT_OK(AuthorizeAction(context, action));
    if (action.type == kCreatePreparedStatement) return CreatePreparedStatement(context, body);
    if (action.type == kClosePreparedStatement) return ClosePreparedStatement(context, body);
    if (action.type == kBeginTransaction) return BeginTransaction(context, body);
    if (action.type == kEndTransaction) return EndTransaction(context, body);
    if (action.type == kCancelFlightInfo) return CancelFlightInfo(context, body);
    if (action.type == kCancelQuery) return CancelQuery(context, body);
    if (action.type == kSetSessionOptions) return SetSessionOptions(context, body);
    if (action.type == kGetSessionOptions) return GetSessionOptions(context, body);
    if (action.type == kCloseSession) return CloseSession(context, body);
    return arrow::Status::NotImplemented("unknown action '", action.type,
                                         "'; ListActions shows the actions this server serves");
  }();
  if (!bodies.ok()) return ToFlightStatus(bodies.status(), action.type);
  std::vector<fl::Result> results;
  for (auto& b : *bodies) results.push_back(fl::Result{arrow::Buffer::FromString(std::move(b))});
  *result = std::make_unique<fl::SimpleResultStream>(std::move(results));
  return arrow::Status::OK();
}

arrow::Result<std::vector<std::string>> FlightSqlServer::CreatePreparedStatement(
    const fl::ServerCallContext& context, std::string_view body) {
  ARROW_ASSIGN_OR_RAISE(auto request, UnpackAs<pb::ActionCreatePreparedStatementRequest>(
                                          body, kCreatePreparedStatement));
  spdlog::debug("CreatePreparedStatement {}", request.ShortDebugString().substr(0, 300));
  ARROW_ASSIGN_OR_RAISE(auto connection,
                        sessions_.ConnectionFor(context, request.transaction_id()));
  auto prepared = std::make_shared<PreparedStatement>();
  prepared->sql = request.query();
  // The handle outlives this call: it keeps the connection without this call's lease.
  prepared->connection = sessions_.Unleased(context, connection);
  prepared->transaction_id = request.transaction_id();
  if (CallRecord* record = CallRecordOf(context)) {
    record->NoteCommand(kCreatePreparedStatement, request.query());
    if (record->identity().role == Role::kAdmin) {
      // Not classified (admins may run anything): only admins may execute it.
      prepared->required_role = Role::kAdmin;
      prepared->required_class = StatementClass::kUnknown;
      prepared->required_for = "a statement prepared by an admin";
    } else {
      ARROW_ASSIGN_OR_RAISE(auto requirement, ClassifySql(*connection, request.query()));
      prepared->required_role = requirement.role();
      prepared->required_class = requirement.statement_class;
      prepared->required_for = requirement.what;
      ARROW_RETURN_NOT_OK(RequireRole(context, requirement.role(), requirement.what));
      ARROW_RETURN_NOT_OK(RequireGrantsForSql(context, *connection, request.query()));
    }
  }
  ARROW_ASSIGN_OR_RAISE(prepared->statement, PrepareStatement(prepared->connection, request.query(),
                                                              request.transaction_id()));

  pb::ActionCreatePreparedStatementResult result;
  // Updates announce no result columns: JDBC tells an update from a query by an empty
  // dataset_schema (it ignores is_update).
  const bool is_update = prepared->statement->kind() == engine::StatementKind::kUpdate;
  if (!is_update) {
    ARROW_ASSIGN_OR_RAISE(*result.mutable_dataset_schema(),
                          SerializeSchema(prepared->statement->dataset_schema()));
  }
  ARROW_ASSIGN_OR_RAISE(*result.mutable_parameter_schema(),
                        SerializeSchema(prepared->statement->parameter_schema()));
  result.set_is_update(is_update);
  result.set_prepared_statement_handle(
      sessions_.AddPreparedStatement(context, std::move(prepared)));
  return std::vector<std::string>{PackAny(result)};
}

arrow::Result<std::vector<std::string>> FlightSqlServer::ClosePreparedStatement(
    const fl::ServerCallContext& context, std::string_view body) {
  ARROW_ASSIGN_OR_RAISE(auto request, UnpackAs<pb::ActionClosePreparedStatementRequest>(
                                          body, kClosePreparedStatement));
  // Closing an unknown or expired handle is not an error: the goal state holds. Another
  // user's handle is unknown to this caller: the same answer, and the handle stays.
  sessions_.ClosePreparedStatement(context, request.prepared_statement_handle());
  return std::vector<std::string>{};
}

arrow::Result<std::vector<std::string>> FlightSqlServer::BeginTransaction(
    const fl::ServerCallContext& context, std::string_view body) {
  ARROW_ASSIGN_OR_RAISE(auto request,
                        UnpackAs<pb::ActionBeginTransactionRequest>(body, kBeginTransaction));
  (void)request;
  // The transaction runs on the session's connection when it is free. Otherwise it runs on a
  // connection of its own, and while it is lent the session's other calls do: that
  // connection gets the session's options, its current catalog and schema first (where the
  // client chose them) as SetSessionOptions applies them.
  std::vector<std::pair<std::string, fl::SessionOptionValue>> options;
  if (auto session = sessions_.FindSession(context)) {
    bool catalog = false;
    bool schema = false;
    {
      std::lock_guard<std::mutex> lock(session->mutex);
      catalog = session->catalog_chosen;
      schema = session->schema_chosen;
      for (const auto& [name, value] : session->options) {
        if (name != kQueryTimeoutOption) options.emplace_back(name, value);  // (read per call)
      }
    }
    if (catalog || schema) {
      ARROW_ASSIGN_OR_RAISE(auto current, CurrentCatalogAndSchema(*session->connection));
      options.insert(options.begin(), {"schema", current.second});
      if (catalog) options.insert(options.begin(), {"catalog", current.first});
    }
  }
  auto setup = [this, options](engine::EngineConnection& connection) -> arrow::Status {
    for (const auto& [name, value] : options) {
      auto kind = fl::SetSessionOptionErrorValue::kInvalidValue;
      auto status = ApplySessionOption(connection, name, value, &kind);
      if (!status.ok()) {
        return status.WithMessage("the session's option ", name,
                                  " cannot be set for the transaction: ", status.message());
      }
    }
    return arrow::Status::OK();
  };
  ARROW_ASSIGN_OR_RAISE(auto id, sessions_.BeginTransaction(context, setup));
  pb::ActionBeginTransactionResult result;
  result.set_transaction_id(id);
  return std::vector<std::string>{PackAny(result)};
}

arrow::Result<std::vector<std::string>> FlightSqlServer::EndTransaction(
    const fl::ServerCallContext& context, std::string_view body) {
  ARROW_ASSIGN_OR_RAISE(auto request,
                        UnpackAs<pb::ActionEndTransactionRequest>(body, kEndTransaction));
  switch (request.action()) {
    case pb::ActionEndTransactionRequest::END_TRANSACTION_COMMIT:
      ARROW_RETURN_NOT_OK(sessions_.EndTransaction(context, request.transaction_id(), true));
      break;
    case pb::ActionEndTransactionRequest::END_TRANSACTION_ROLLBACK:
      ARROW_RETURN_NOT_OK(sessions_.EndTransaction(context, request.transaction_id(), false));
      break;
    default:
      return arrow::Status::Invalid("EndTransaction.action must be COMMIT or ROLLBACK");
  }
  return std::vector<std::string>{};
}

// --- Cancellation ---------------------------------------------------------------------------

arrow::Result<fl::CancelStatus> FlightSqlServer::Cancel(const fl::ServerCallContext& context,
                                                        const fl::FlightInfo& info) {
  auto ids = HandlesOf(info);
  if (ids.empty()) {
    return arrow::Status::Invalid(
        "the FlightInfo names no query of this server (no hyprstream ticket or poll descriptor)");
  }
  fl::CancelStatus status = fl::CancelStatus::kNotCancellable;
  for (const auto& id : ids) {
    if (sessions_.Cancel(context, id) == SessionRegistry::CancelOutcome::kCancelled) {
      status = fl::CancelStatus::kCancelled;
    }
  }
  return status;
}

arrow::Result<std::vector<std::string>> FlightSqlServer::CancelFlightInfo(
    const fl::ServerCallContext& context, std::string_view body) {
  fl::CancelFlightInfoRequest request;
  ARROW_RETURN_NOT_OK(fl::CancelFlightInfoRequest::Deserialize(body, &request));
  if (!request.info) return arrow::Status::Invalid("CancelFlightInfo needs the FlightInfo");
  ARROW_ASSIGN_OR_RAISE(auto status, Cancel(context, *request.info));
  ARROW_ASSIGN_OR_RAISE(auto result, fl::CancelFlightInfoResult{status}.SerializeToString());
  return std::vector<std::string>{std::move(result)};
}

arrow::Result<std::vector<std::string>> FlightSqlServer::CancelQuery(
    const fl::ServerCallContext& context, std::string_view body) {
  ARROW_ASSIGN_OR_RAISE(auto request, UnpackAs<pb::ActionCancelQueryRequest>(body, kCancelQuery));
  ARROW_ASSIGN_OR_RAISE(auto info, fl::FlightInfo::Deserialize(request.info()));
  ARROW_ASSIGN_OR_RAISE(auto status, Cancel(context, *info));
  pb::ActionCancelQueryResult result;
  result.set_result(status == fl::CancelStatus::kCancelled
                        ? pb::ActionCancelQueryResult::CANCEL_RESULT_CANCELLED
                        : pb::ActionCancelQueryResult::CANCEL_RESULT_NOT_CANCELLABLE);
  return std::vector<std::string>{PackAny(result)};
}

// --- Session options --------------------------------------------------------------------------

// Applies one session option to `connection` (a session's, or a transaction's begun in that
// session); on failure `kind` says whether the name or the value was refused.
arrow::Status FlightSqlServer::ApplySessionOption(engine::EngineConnection& connection,
                                                  const std::string& name,
                                                  const fl::SessionOptionValue& value,
                                                  fl::SetSessionOptionErrorValue* kind) {
  arrow::Status status;
  const bool reset = std::holds_alternative<std::monostate>(value);
  if (name == kMaxStalenessOption) {
    // The cache's freshness bound for this session's reads (--enable-cache).
    std::optional<std::chrono::milliseconds> bound;
    if (!reset) {
      auto parsed = ParseStaleness(value);
      if (!parsed.ok()) {
        *kind = fl::SetSessionOptionErrorValue::kInvalidValue;
        return parsed.status();
      }
      bound = *parsed;
    }
    status = connection.SetMaxStaleness(bound);
    if (!status.ok()) {
      *kind = status.IsNotImplemented() ? fl::SetSessionOptionErrorValue::kInvalidName
                                        : fl::SetSessionOptionErrorValue::kInvalidValue;
      return status;
    }
  } else if (name == kQueryTimeoutOption) {
    // This session's query timeout, overriding --query-timeout (0: none).
    if (!reset) {
      auto parsed = ParseStaleness(value);
      if (!parsed.ok()) {
        *kind = fl::SetSessionOptionErrorValue::kInvalidValue;
        return arrow::Status::Invalid(
            "hyprstream.query_timeout must be a duration (500ms, 30s, "
            "10m) or a number of milliseconds");
      }
    }
  } else if (name == "catalog" || name == "schema") {
    auto* text = std::get_if<std::string>(&value);
    if (text == nullptr || text->empty()) {
      *kind = fl::SetSessionOptionErrorValue::kInvalidValue;
      return arrow::Status::Invalid(name, " must be a non-empty string");
    }
    // Engines that front another database set these through their own API.
    status = name == "catalog" ? connection.SetCurrentCatalog(*text)
                               : connection.SetCurrentSchema(*text);
    if (status.IsNotImplemented() && engine_->dialect() == engine::Engine::Dialect::kDuckDb) {
      status = engine::ExecuteStatement(
          connection, name == "catalog" ? "USE " + engine::QuoteIdentifier(*text)
                                        : "SET schema = " + engine::QuoteLiteral(*text));
    }
    if (!status.ok()) {
      *kind = fl::SetSessionOptionErrorValue::kInvalidValue;
      return status;
    }
  } else if (engine_->dialect() != engine::Engine::Dialect::kDuckDb) {
    *kind = fl::SetSessionOptionErrorValue::kInvalidName;
    return arrow::Status::Invalid("engine ", engine_->name(),
                                  " accepts only the catalog and schema session options");
  } else {
    // Anything else is a DuckDB setting (SET name = value; an empty value resets it).
    auto sql_value = SqlValue(value);
    if (!reset && !sql_value) {
      *kind = fl::SetSessionOptionErrorValue::kInvalidValue;
      return arrow::Status::Invalid("a list or non-finite value cannot be set");
    }
    std::string quoted = engine::QuoteIdentifier(name);
    status = engine::ExecuteStatement(
        connection, reset ? "RESET " + quoted : "SET " + quoted + " = " + *sql_value);
    if (!status.ok()) {
      bool unknown = status.message().find("unrecognized configuration") != std::string::npos;
      *kind = unknown ? fl::SetSessionOptionErrorValue::kInvalidName
                      : fl::SetSessionOptionErrorValue::kInvalidValue;
      return status;
    }
  }
  return arrow::Status::OK();
}

arrow::Result<std::vector<std::string>> FlightSqlServer::SetSessionOptions(
    const fl::ServerCallContext& context, std::string_view body) {
  fl::SetSessionOptionsRequest request;
  ARROW_RETURN_NOT_OK(fl::SetSessionOptionsRequest::Deserialize(body, &request));
  ARROW_ASSIGN_OR_RAISE(auto session, sessions_.SessionOf(context));
  if (CallRecordOf(context) != nullptr) {
    // All or nothing: no option is applied when one needs a role the caller lacks.
    for (const auto& [name, value] : request.session_options) {
      if (name == "catalog" || name == "schema") continue;
      ARROW_ASSIGN_OR_RAISE(auto statement_class, ClassifySetting(*session->connection, name));
      ARROW_RETURN_NOT_OK(RequireRole(context, RequiredRole(statement_class),
                                      "SetSessionOptions of setting " + name));
    }
  }
  fl::SetSessionOptionsResult result;
  auto fail = [&](const std::string& name, fl::SetSessionOptionErrorValue value,
                  const arrow::Status& why) {
    spdlog::debug("SetSessionOptions {}: {}", name, why.ToString());
    result.errors[name] = fl::SetSessionOptionsResult::Error{value};
  };
  // The catalog first, so that a schema given in the same request is looked up in it.
  std::vector<std::string> names;
  if (request.session_options.count("catalog")) names.push_back("catalog");
  for (const auto& [name, value] : request.session_options) {
    if (name != "catalog") names.push_back(name);
  }
  for (const auto& name : names) {
    const auto& value = request.session_options.at(name);
    const bool reset = std::holds_alternative<std::monostate>(value);
    auto kind = fl::SetSessionOptionErrorValue::kInvalidValue;
    arrow::Status status = ApplySessionOption(*session->connection, name, value, &kind);
    if (!status.ok()) {
      fail(name, kind, status);
      continue;
    }
    std::lock_guard<std::mutex> lock(session->mutex);
    if (name == "catalog" || name == "schema") {
      // The current ones are read back from the connection (GetSessionOptions, transactions).
      (name == "catalog" ? session->catalog_chosen : session->schema_chosen) = true;
    } else if (reset) {
      session->options.erase(name);
    } else {
      session->options[name] = value;
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto serialized, result.SerializeToString());
  return std::vector<std::string>{std::move(serialized)};
}

arrow::Result<std::vector<std::string>> FlightSqlServer::GetSessionOptions(
    const fl::ServerCallContext& context, std::string_view body) {
  fl::GetSessionOptionsRequest request;
  ARROW_RETURN_NOT_OK(fl::GetSessionOptionsRequest::Deserialize(body, &request));
  ARROW_ASSIGN_OR_RAISE(auto session, sessions_.SessionOf(context));
  fl::GetSessionOptionsResult result;
  {
    std::lock_guard<std::mutex> lock(session->mutex);
    result.session_options = session->options;
  }
  ARROW_ASSIGN_OR_RAISE(auto current, CurrentCatalogAndSchema(*session->connection));
  result.session_options["catalog"] = current.first;
  result.session_options["schema"] = current.second;
  ARROW_ASSIGN_OR_RAISE(auto serialized, result.SerializeToString());
  return std::vector<std::string>{std::move(serialized)};
}

arrow::Result<std::vector<std::string>> FlightSqlServer::CloseSession(
    const fl::ServerCallContext& context, std::string_view body) {
  fl::CloseSessionRequest request;
  ARROW_RETURN_NOT_OK(fl::CloseSessionRequest::Deserialize(body, &request));
  // Closing a session that was never opened (or is gone) leaves the goal state: closed.
  sessions_.CloseSession(context);
  ARROW_ASSIGN_OR_RAISE(
      auto serialized, fl::CloseSessionResult{fl::CloseSessionStatus::kClosed}.SerializeToString());
  return std::vector<std::string>{std::move(serialized)};
}

}  // namespace hyprstream::flightsql
