#include "server/auth_middleware.h"

#include <arrow/flight/middleware.h>
#include <arrow/flight/server.h>
#include <arrow/flight/types.h>

#include <cctype>

#include "server/base64.h"

namespace hyprstream::server {
namespace {

namespace fl = arrow::flight;

// The value after `scheme ` in the authorization header, if the header uses that scheme.
std::optional<std::string_view> Credentials(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return std::nullopt;
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(scheme[i]))) {
      return std::nullopt;
    }
  }
  std::string_view value = header.substr(scheme.size() + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
  return value;
}

// The user name of Basic credentials, for the audit line of a refused handshake.
std::string BasicUser(std::string_view encoded) {
  auto decoded = Base64Decode(encoded);
  if (!decoded.ok()) return "";
  return decoded->substr(0, std::min(decoded->find(':'), size_t{128}));
}

}  // namespace

arrow::Result<flightsql::CallIdentity> AuthMiddlewareFactory::Authenticate(
    const fl::CallInfo& info, const fl::ServerCallContext& context, std::string* bearer_to_send,
    std::string* claimed_user) const {
  const Authenticator& auth = *options_.authenticator;
  std::string_view header;
  const auto& headers = context.incoming_headers();
  if (auto it = headers.find("authorization"); it != headers.end()) header = it->second;
  if (auto token = Credentials(header, "Bearer")) return auth.CheckBearer(*token);
  if (info.method == fl::FlightMethod::Handshake) {
    if (auto basic = Credentials(header, "Basic")) {
      *claimed_user = BasicUser(*basic);
      ARROW_ASSIGN_OR_RAISE(auto identity, auth.CheckBasic(*basic));
      *bearer_to_send = auth.IssueToken(identity);
      return identity;
    }
    return arrow::Status::Invalid(
        "authentication required: send the Handshake with 'authorization: Basic' credentials");
  }
  return arrow::Status::Invalid(
      "authentication required: call Handshake with user name and password first and send the "
      "bearer token it returns with every call");
}

arrow::Status AuthMiddlewareFactory::StartCall(const fl::CallInfo& info,
                                               const fl::ServerCallContext& context,
                                               std::shared_ptr<fl::ServerMiddleware>* middleware) {
  flightsql::CallIdentity identity{"anonymous", flightsql::Role::kAdmin};
  std::string bearer;
  if (options_.authenticator != nullptr) {
    std::string claimed_user;
    auto checked = Authenticate(info, context, &bearer, &claimed_user);
    if (!checked.ok()) {
      arrow::Status refused =
          fl::MakeFlightError(fl::FlightStatusCode::Unauthenticated, checked.status().message());
      if (options_.audit != nullptr) {
        AuditEntry entry;
        entry.time = std::chrono::system_clock::now();
        entry.user = claimed_user;
        entry.peer = context.peer();
        entry.rpc = flightsql::RpcName(info.method);
        entry.outcome = refused;
        options_.audit->Write(entry);
      }
      return refused;
    }
    identity = std::move(*checked);
  }
  if (options_.read_only && identity.role != flightsql::Role::kReadOnly) {
    identity.role = flightsql::Role::kReadOnly;
  }
  flightsql::CallRecord::Completion on_complete;
  if (options_.audit != nullptr) {
    on_complete = [audit = options_.audit](const flightsql::CallRecord& record,
                                           const arrow::Status& status) {
      AuditEntry entry;
      entry.time = record.started();
      entry.user = record.identity().user;
      entry.role = std::string(flightsql::RoleName(record.identity().role));
      entry.peer = record.peer();
      entry.rpc = record.rpc();
      entry.command = record.command();
      entry.sql = record.sql();
      entry.outcome = status;
      entry.refused = record.refused_handle();
      entry.rows = record.rows();
      entry.duration = record.elapsed();
      audit->Write(entry);
    };
  }
  *middleware = std::make_shared<flightsql::CallRecord>(
      std::move(identity), flightsql::RpcName(info.method), context.peer(), std::move(bearer),
      std::move(on_complete));
  return arrow::Status::OK();
}

}  // namespace hyprstream::server
