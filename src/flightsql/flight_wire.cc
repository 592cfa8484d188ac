#include "flightsql/flight_wire.h"

#include <arrow/ipc/writer.h>

#include "engine/arrow_to_duckdb_type.h"

namespace hyprstream::flightsql {

std::shared_ptr<arrow::Buffer> SerializeMessage(const google::protobuf::Message& message) {
  return arrow::Buffer::FromString(message.SerializeAsString());
}

arrow::Result<std::string> SerializeSchema(const std::shared_ptr<arrow::Schema>& schema) {
  if (!schema) return std::string();
  ARROW_ASSIGN_OR_RAISE(auto buffer, arrow::ipc::SerializeSchema(*schema));
  return buffer->ToString();
}

arrow::flight::FlightInfo MakeFlightInfo(const std::shared_ptr<arrow::Schema>& schema,
                                         const arrow::flight::FlightDescriptor& descriptor,
                                         std::string ticket) {
  arrow::flight::FlightEndpoint endpoint;
  endpoint.ticket.ticket = std::move(ticket);
  auto info = arrow::flight::FlightInfo::Make(*schema, descriptor, {endpoint}, -1, -1,
                                              /*ordered=*/false);
  return std::move(info).ValueOrDie();  // only fails when the schema cannot be serialized
}

std::string QualifiedName(const std::vector<std::string>& path) {
  std::string name;
  for (const auto& part : path) {
    if (!name.empty()) name += '.';
    name += engine::QuoteIdentifier(part);
  }
  return name;
}

}  // namespace hyprstream::flightsql
