// AuthMiddlewareFactory: the gate every Flight call passes first. With an Authenticator, a
// Handshake must carry `authorization: Basic ...` (or a valid bearer token) and is answered
// with `authorization: Bearer <token>`; every other call must carry a valid bearer token, else
// it is refused with UNAUTHENTICATED before any handler runs. Then it installs the call's
// flightsql::CallRecord (identity capped at read_only by --readonly) and, with an AuditLog,
// writes one audit line when the call completes (refused calls included). Stateless besides
// the pointers it is given, which must outlive the server: any thread.
#pragma once

#include <arrow/flight/server_middleware.h>

#include "server/audit_log.h"
#include "server/authenticator.h"

namespace hyprstream::server {

struct AuthMiddlewareOptions {
  const Authenticator* authenticator = nullptr;  // null: no authentication (anonymous admin)
  bool read_only = false;                        // --readonly: nobody above read_only
  AuditLog* audit = nullptr;                     // null: no audit log
};

class AuthMiddlewareFactory : public arrow::flight::ServerMiddlewareFactory {
 public:
  explicit AuthMiddlewareFactory(AuthMiddlewareOptions options) : options_(options) {}

  arrow::Status StartCall(const arrow::flight::CallInfo& info,
                          const arrow::flight::ServerCallContext& context,
                          std::shared_ptr<arrow::flight::ServerMiddleware>* middleware) override;

 private:
  arrow::Result<flightsql::CallIdentity> Authenticate(
      const arrow::flight::CallInfo& info, const arrow::flight::ServerCallContext& context,
      std::string* bearer_to_send, std::string* claimed_user) const;

  AuthMiddlewareOptions options_;
};

}  // namespace hyprstream::server
