// Flight SQL command decoding: every Flight SQL request carries a protobuf message packed in
// a google.protobuf.Any (in a descriptor's cmd, a ticket, or an action body). DecodeCommand
// turns those bytes into one typed message; PackCommand does the reverse for replies.
//
// Errors: bytes that are not an Any, or an Any whose payload does not parse, are Invalid;
// a well-formed Any of a type we do not serve is NotImplemented naming its type_url.
#pragma once

#include <arrow/result.h>

#include <string>
#include <string_view>
#include <variant>

#include "flight_sql.pb.h"

namespace hyprstream::flightsql {

namespace pb = arrow::flight::protocol::sql;

// The commands a descriptor's cmd or a ticket may hold.
using Command =
    std::variant<pb::CommandStatementQuery, pb::CommandStatementUpdate, pb::CommandStatementIngest,
                 pb::CommandPreparedStatementQuery, pb::CommandPreparedStatementUpdate,
                 pb::TicketStatementQuery, pb::CommandGetSqlInfo, pb::CommandGetCatalogs,
                 pb::CommandGetDbSchemas, pb::CommandGetTables, pb::CommandGetTableTypes,
                 pb::CommandGetPrimaryKeys, pb::CommandGetExportedKeys, pb::CommandGetImportedKeys,
                 pb::CommandGetCrossReference, pb::CommandGetXdbcTypeInfo,
                 pb::CommandStatementSubstraitPlan>;

arrow::Result<Command> DecodeCommand(std::string_view any_bytes);

// The short message name of a command ("CommandStatementQuery"), for logs and errors.
std::string CommandName(const Command& command);
// Name and fields on one line (long values cut), for debug logs.
std::string DescribeCommand(const Command& command);

// Parses an Any that must hold a message of type T (action bodies). `what` names the request
// in error messages.
template <typename T>
arrow::Result<T> UnpackAs(std::string_view any_bytes, std::string_view what);

// Serialises `message` into an Any (type.googleapis.com/<full name>), as bytes.
std::string PackAny(const google::protobuf::Message& message);

}  // namespace hyprstream::flightsql
