// JSON Web Tokens (RFC 7519) over OpenSSL. JwtSigner issues and verifies the server's own
// bearer tokens (HS256 with a server secret, `exp` always set); ExternalJwtVerifier checks
// tokens of an outside identity provider (RS256 or ES256 with its public key, optional issuer
// and audience). Both are immutable after construction: any thread. Error messages never
// contain the token.
#pragma once

#include <arrow/result.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hyprstream::server {

struct JwtClaims {
  std::string subject;              // the user
  std::vector<std::string> roles;   // the role claim: one string, or each string of an array
  std::vector<std::string> groups;  // the groups claim, likewise (external tokens)
  int64_t expires_at = 0;           // seconds since the Unix epoch
};

class JwtSigner {
 public:
  static constexpr std::string_view kIssuer = "hyprstream";

  // `secret` must hold at least 32 bytes.
  static arrow::Result<std::unique_ptr<JwtSigner>> Make(std::string secret,
                                                        std::chrono::seconds lifetime);

  // A token for `user` with `role`, valid from `now` (Unix seconds) for the lifetime.
  std::string Issue(const std::string& user, const std::string& role, int64_t now) const;
  // Invalid for anything but a well-formed, correctly signed, unexpired token of ours.
  arrow::Result<JwtClaims> Verify(std::string_view token, int64_t now) const;

  std::chrono::seconds lifetime() const { return lifetime_; }

 private:
  JwtSigner(std::string secret, std::chrono::seconds lifetime)
      : secret_(std::move(secret)), lifetime_(lifetime) {}
  std::string secret_;
  std::chrono::seconds lifetime_;
};

struct ExternalJwtOptions {
  std::string public_key_pem;  // RSA (RS256) or EC P-256 (ES256) public key
  std::string issuer;          // required `iss` when not empty
  std::string audience;        // required in `aud` (string or array) when not empty
  std::string user_claim = "sub";
  std::string role_claim = "role";
  std::string groups_claim = "groups";  // may be absent from a token
};

class ExternalJwtVerifier {
 public:
  static arrow::Result<std::unique_ptr<ExternalJwtVerifier>> Make(ExternalJwtOptions options);
  ~ExternalJwtVerifier();

  // `exp` is required; `exp` and `nbf` are checked with 60 s of clock skew allowed.
  arrow::Result<JwtClaims> Verify(std::string_view token, int64_t now) const;

 private:
  struct Key;
  ExternalJwtVerifier(ExternalJwtOptions options, std::unique_ptr<Key> key);
  ExternalJwtOptions options_;
  std::unique_ptr<Key> key_;
};

// The `alg` of a token's header ("HS256", ...), or Invalid if the header does not parse.
arrow::Result<std::string> JwtAlgorithm(std::string_view token);

}  // namespace hyprstream::server
