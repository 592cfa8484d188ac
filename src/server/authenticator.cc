#include "server/authenticator.h"

#include <openssl/rand.h>

#include <chrono>

#include "server/base64.h"
#include "server/password_hash.h"

namespace hyprstream::server {
namespace {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

arrow::Status Refused(std::string_view why) { return arrow::Status::Invalid(why); }

}  // namespace

arrow::Result<std::unique_ptr<Authenticator>> Authenticator::Make(AuthenticatorOptions options) {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  int max_iterations = kMinPasswordIterations;
  for (auto& user : options.users) {
    if (user.name.empty() || user.name.find(':') != std::string::npos) {
      return arrow::Status::Invalid("user names must be non-empty and contain no ':'");
    }
    auto valid = ValidatePasswordHash(user.password_hash);
    if (!valid.ok()) {
      return arrow::Status::Invalid("user '", user.name, "': ", valid.message());
    }
    if (!auth->users_.emplace(user.name, user).second) {
      return arrow::Status::Invalid("user '", user.name, "' is configured twice");
    }
    max_iterations = std::max(
        max_iterations, std::stoi(user.password_hash.substr(user.password_hash.find('$') + 1)));
  }
  std::string secret = options.token_secret;
  if (secret.empty()) {
    secret.resize(32);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), 32) != 1) {
      return arrow::Status::IOError("no random bytes for the token secret");
    }
  }
  ARROW_ASSIGN_OR_RAISE(auth->signer_, JwtSigner::Make(std::move(secret), options.token_lifetime));
  if (options.external) {
    ARROW_ASSIGN_OR_RAISE(auth->external_, ExternalJwtVerifier::Make(*options.external));
  }
  ARROW_ASSIGN_OR_RAISE(auth->dummy_hash_, HashPassword("no such user", max_iterations));
  return auth;
}

arrow::Result<flightsql::CallIdentity> Authenticator::CheckBasic(std::string_view encoded) const {
  auto decoded = Base64Decode(encoded);
  if (!decoded.ok()) return Refused("malformed Basic credentials");
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) return Refused("malformed Basic credentials");
  const std::string name = decoded->substr(0, colon);
  const std::string_view password = std::string_view(*decoded).substr(colon + 1);
  auto user = users_.find(name);
  const std::string& hash = user != users_.end() ? user->second.password_hash : dummy_hash_;
  ARROW_ASSIGN_OR_RAISE(bool matches, VerifyPassword(password, hash));
  if (!matches || user == users_.end()) return Refused("invalid user name or password");
  return flightsql::CallIdentity{user->second.name, user->second.role, user->second.groups};
}

arrow::Result<flightsql::CallIdentity> Authenticator::CheckBearer(std::string_view token) const {
  const int64_t now = NowSeconds();
  auto algorithm = JwtAlgorithm(token);
  if (!algorithm.ok()) return Refused("malformed bearer token");
  if (*algorithm == "HS256") {
    auto claims = signer_->Verify(token, now);
    if (!claims.ok()) return Refused("invalid bearer token: " + claims.status().message());
    // The role is the user's configured one: a token outlives no change of the config.
    auto user = users_.find(claims->subject);
    if (user == users_.end()) return Refused("invalid bearer token: unknown user");
    return flightsql::CallIdentity{user->second.name, user->second.role, user->second.groups};
  }
  if (external_ == nullptr) return Refused("invalid bearer token: unexpected algorithm");
  auto claims = external_->Verify(token, now);
  if (!claims.ok()) return Refused("invalid bearer token: " + claims.status().message());
  std::optional<flightsql::Role> best;
  for (const auto& text : claims->roles) {
    auto role = flightsql::ParseRole(text);
    if (role && (!best || static_cast<int>(*role) > static_cast<int>(*best))) best = role;
  }
  if (!best) return Refused("bearer token carries no hyprstream role");
  // Grants may name the provider's groups and its role claim's values alike.
  std::vector<std::string> groups = claims->groups;
  groups.insert(groups.end(), claims->roles.begin(), claims->roles.end());
  return flightsql::CallIdentity{claims->subject, *best, std::move(groups)};
}

std::string Authenticator::IssueToken(const flightsql::CallIdentity& identity) const {
  return signer_->Issue(identity.user, std::string(flightsql::RoleName(identity.role)),
                        NowSeconds());
}

}  // namespace hyprstream::server
