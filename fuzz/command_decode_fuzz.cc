// libFuzzer target: Flight SQL command decoding (flightsql/command.h). Feeds arbitrary bytes to
// DecodeCommand and to UnpackAs for every action body type, then describes and re-packs what
// decoded, as the server does with a descriptor's cmd, a ticket or an action body.
// Single-threaded; stateless between inputs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "flightsql/command.h"

namespace fs = hyprstream::flightsql;
namespace pb = hyprstream::flightsql::pb;

namespace {

template <typename T>
void TryUnpack(std::string_view bytes) {
  auto message = fs::UnpackAs<T>(bytes, "fuzz input");
  if (message.ok()) (void)fs::PackAny(*message);
}

}  // namespace

// protobuf logs every string field that is not UTF-8 at ERROR level: keep the output readable.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto command = fs::DecodeCommand(bytes);
  if (command.ok()) {
    (void)fs::CommandName(*command);
    (void)fs::DescribeCommand(*command);
    std::visit([](const auto& m) { (void)fs::PackAny(m); }, *command);
  } else {
    (void)command.status().ToString();
  }
  TryUnpack<pb::ActionCreatePreparedStatementRequest>(bytes);
  TryUnpack<pb::ActionClosePreparedStatementRequest>(bytes);
  TryUnpack<pb::ActionBeginTransactionRequest>(bytes);
  TryUnpack<pb::ActionEndTransactionRequest>(bytes);
  TryUnpack<pb::ActionCancelQueryRequest>(bytes);
  TryUnpack<pb::TicketStatementQuery>(bytes);
  return 0;
}
