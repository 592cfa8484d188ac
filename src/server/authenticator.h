// Authenticator: turns request credentials into a CallIdentity. Basic credentials
// (`authorization: Basic base64(user:password)`, padded or not) are checked against the
// configured users' password hashes; bearer tokens are either ours (HS256, issued after a
// successful Basic handshake) or, when configured, an external identity provider's (RS256 or
// ES256). Immutable after Make: any thread. Never logs or returns credentials in messages.
#pragma once

#include <arrow/result.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "flightsql/call_record.h"
#include "server/jwt_token.h"

namespace hyprstream::server {

struct UserEntry {
  std::string name;
  std::string password_hash;  // password_hash.h format
  flightsql::Role role = flightsql::Role::kReadOnly;
  std::vector<std::string> groups = {};  // for grants
};

struct AuthenticatorOptions {
  std::vector<UserEntry> users;
  std::string token_secret;  // empty: a random secret (tokens die with the process)
  std::chrono::seconds token_lifetime{3600};
  std::optional<ExternalJwtOptions> external;
};

class Authenticator {
 public:
  static arrow::Result<std::unique_ptr<Authenticator>> Make(AuthenticatorOptions options);

  // `encoded` is what follows "Basic ". Invalid (a generic message) on any failure.
  arrow::Result<flightsql::CallIdentity> CheckBasic(std::string_view encoded) const;
  // `token` is what follows "Bearer ".
  arrow::Result<flightsql::CallIdentity> CheckBearer(std::string_view token) const;
  // A bearer token for a checked identity.
  std::string IssueToken(const flightsql::CallIdentity& identity) const;

 private:
  Authenticator() = default;
  std::map<std::string, UserEntry> users_;
  std::unique_ptr<JwtSigner> signer_;
  std::unique_ptr<ExternalJwtVerifier> external_;
  std::string dummy_hash_;  // verified for unknown users, so timing does not reveal names
};

}  // namespace hyprstream::server
