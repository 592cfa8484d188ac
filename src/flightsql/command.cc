#include "flightsql/command.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/empty.pb.h>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

namespace hyprstream::flightsql {
namespace {

constexpr std::string_view kTypePrefix = "type.googleapis.com/";

arrow::Result<google::protobuf::Any> ParseAny(std::string_view bytes, std::string_view what) {
  google::protobuf::Any any;
  if (!any.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return arrow::Status::Invalid(what, " is not a valid serialized google.protobuf.Any (",
                                  bytes.size(), " bytes); send a Flight SQL command message");
  }
  return any;
}

std::string_view TypeName(const google::protobuf::Any& any) {
  std::string_view url = any.type_url();
  auto slash = url.rfind('/');
  return slash == std::string_view::npos ? url : url.substr(slash + 1);
}

template <typename T>
arrow::Result<T> ParsePayload(const google::protobuf::Any& any) {
  T message;
  if (!any.UnpackTo(&message)) {
    // Well-formed protobuf wire data that still does not parse as T has a string field that
    // is not UTF-8 (proto3 rejects those) or a bad nested message: say so, since SQL text is
    // the usual culprit.
    google::protobuf::Empty wire;
    if (wire.ParseFromString(any.value())) {
      return arrow::Status::Invalid(
          "malformed ", T::descriptor()->name(),
          ": a string field (such as the SQL text) is not valid UTF-8, or a "
          "nested message is malformed");
    }
    return arrow::Status::Invalid("malformed ", T::descriptor()->name(),
                                  ": the payload of the Any does not parse");
  }
  return message;
}

template <size_t I = 0>
arrow::Result<Command> DecodeAlternative(const google::protobuf::Any& any) {
  if constexpr (I == std::variant_size_v<Command>) {
    return arrow::Status::NotImplemented("unsupported Flight SQL command type_url '",
                                         any.type_url(), "'");
  } else {
    using T = std::variant_alternative_t<I, Command>;
    if (TypeName(any) == T::descriptor()->full_name()) {
      ARROW_ASSIGN_OR_RAISE(T message, ParsePayload<T>(any));
      return Command(std::move(message));
    }
    return DecodeAlternative<I + 1>(any);
  }
}

}  // namespace

namespace {
// protobuf writes every string field that is not UTF-8 to stderr at ERROR level, so any client
// could flood the log; the client gets the error instead, and the log sees it at debug level.
void RouteProtobufLogs() {
  static const bool routed = [] {
    google::protobuf::SetLogHandler([](google::protobuf::LogLevel level, const char* file, int line,
                                       const std::string& message) {
      if (level >= google::protobuf::LOGLEVEL_FATAL) {
        spdlog::critical("protobuf {}:{}: {}", file, line, message);
      } else {
        spdlog::debug("protobuf {}:{}: {}", file, line, message);
      }
    });
    return true;
  }();
  (void)routed;
}
}  // namespace

arrow::Result<Command> DecodeCommand(std::string_view any_bytes) {
  RouteProtobufLogs();
  ARROW_ASSIGN_OR_RAISE(auto any, ParseAny(any_bytes, "command"));
  if (any.type_url().empty()) {
    return arrow::Status::Invalid(
        "command has no type_url; send a Flight SQL command packed in "
        "a google.protobuf.Any");
  }
  return DecodeAlternative(any);
}

std::string CommandName(const Command& command) {
  return std::visit([](const auto& m) { return m.GetDescriptor()->name(); }, command);
}

std::string DescribeCommand(const Command& command) {
  return std::visit(
      [](const auto& m) {
        std::string text = m.ShortDebugString();
        constexpr size_t kMax = 300;
        if (text.size() > kMax) text = text.substr(0, kMax) + "...";
        return m.GetDescriptor()->name() + " {" + text + "}";
      },
      command);
}

template <typename T>
arrow::Result<T> UnpackAs(std::string_view any_bytes, std::string_view what) {
  RouteProtobufLogs();
  ARROW_ASSIGN_OR_RAISE(auto any, ParseAny(any_bytes, what));
  if (TypeName(any) != T::descriptor()->full_name()) {
    return arrow::Status::Invalid(what, " expects ", T::descriptor()->full_name(),
                                  " but got type_url '", any.type_url(), "'");
  }
  return ParsePayload<T>(any);
}

template arrow::Result<pb::ActionCreatePreparedStatementRequest> UnpackAs(std::string_view,
                                                                          std::string_view);
template arrow::Result<pb::ActionClosePreparedStatementRequest> UnpackAs(std::string_view,
                                                                         std::string_view);
template arrow::Result<pb::ActionBeginTransactionRequest> UnpackAs(std::string_view,
                                                                   std::string_view);
template arrow::Result<pb::ActionEndTransactionRequest> UnpackAs(std::string_view,
                                                                 std::string_view);
template arrow::Result<pb::ActionCancelQueryRequest> UnpackAs(std::string_view, std::string_view);
template arrow::Result<pb::TicketStatementQuery> UnpackAs(std::string_view, std::string_view);

std::string PackAny(const google::protobuf::Message& message) {
  google::protobuf::Any any;
  any.PackFrom(message);
  return any.SerializeAsString();
}

}  // namespace hyprstream::flightsql
