// Small helpers for building Flight replies: serialized protobuf bodies, IPC-encapsulated
// schemas, single-endpoint FlightInfos, quoted table names from PATH descriptors.
#pragma once

#include <arrow/buffer.h>
#include <arrow/flight/types.h>
#include <arrow/result.h>

#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <vector>

namespace hyprstream::flightsql {

std::shared_ptr<arrow::Buffer> SerializeMessage(const google::protobuf::Message& message);

// The schema as an IPC Schema message (Flight SQL's encoding); "" for a null schema.
arrow::Result<std::string> SerializeSchema(const std::shared_ptr<arrow::Schema>& schema);

// A FlightInfo with one endpoint (no location: "this server") holding `ticket`.
arrow::flight::FlightInfo MakeFlightInfo(const std::shared_ptr<arrow::Schema>& schema,
                                         const arrow::flight::FlightDescriptor& descriptor,
                                         std::string ticket);

// "catalog"."schema"."table" from a PATH descriptor's parts.
std::string QualifiedName(const std::vector<std::string>& path);

}  // namespace hyprstream::flightsql
