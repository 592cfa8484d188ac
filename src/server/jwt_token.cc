#include "server/jwt_token.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <nlohmann/json.hpp>

#include "server/base64.h"

namespace hyprstream::server {
namespace {

using nlohmann::json;

constexpr int64_t kExternalSkewSeconds = 60;

// A token split and decoded; the signature is not checked yet.
struct DecodedJwt {
  json header;
  json payload;
  std::string signing_input;  // "<header>.<payload>" as sent
  std::string signature;
};

arrow::Result<DecodedJwt> Decode(std::string_view token) {
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return arrow::Status::Invalid("token is not a JWT (expected three dot-separated parts)");
  }
  DecodedJwt jwt;
  jwt.signing_input = std::string(token.substr(0, second));
  auto header = Base64UrlDecode(token.substr(0, first));
  auto payload = Base64UrlDecode(token.substr(first + 1, second - first - 1));
  auto signature = Base64UrlDecode(token.substr(second + 1));
  if (!header.ok() || !payload.ok() || !signature.ok()) {
    return arrow::Status::Invalid("token is not a JWT (a part is not base64url)");
  }
  jwt.header = json::parse(*header, nullptr, /*allow_exceptions=*/false);
  jwt.payload = json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  if (!jwt.header.is_object() || !jwt.payload.is_object()) {
    return arrow::Status::Invalid("token is not a JWT (header or payload is not a JSON object)");
  }
  jwt.signature = std::move(*signature);
  return jwt;
}

std::string Text(const json& object, const std::string& key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string HmacSha256(const std::string& key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<char*>(out), length);
}

// exp (required), nbf (optional), then the subject and role claims.
arrow::Result<JwtClaims> CheckClaims(const json& payload, int64_t now, int64_t skew,
                                     const std::string& user_claim, const std::string& role_claim,
                                     const std::string& groups_claim = "") {
  auto exp = payload.find("exp");
  if (exp == payload.end() || !exp->is_number()) {
    return arrow::Status::Invalid("token has no expiry (exp)");
  }
  JwtClaims claims;
  claims.expires_at = exp->get<int64_t>();
  if (now >= claims.expires_at + skew) return arrow::Status::Invalid("token expired");
  auto nbf = payload.find("nbf");
  if (nbf != payload.end() && nbf->is_number() && now + skew < nbf->get<int64_t>()) {
    return arrow::Status::Invalid("token not valid yet (nbf)");
  }
  claims.subject = Text(payload, user_claim);
  if (claims.subject.empty()) {
    return arrow::Status::Invalid("token has no user claim '", user_claim, "'");
  }
  auto strings = [&](const std::string& claim, std::vector<std::string>* out) {
    if (claim.empty()) return;
    auto value = payload.find(claim);
    if (value != payload.end() && value->is_string()) {
      out->push_back(value->get<std::string>());
    } else if (value != payload.end() && value->is_array()) {
      for (const auto& v : *value) {
        if (v.is_string()) out->push_back(v.get<std::string>());
      }
    }
  };
  strings(role_claim, &claims.roles);
  strings(groups_claim, &claims.groups);
  return claims;
}

}  // namespace

arrow::Result<std::string> JwtAlgorithm(std::string_view token) {
  ARROW_ASSIGN_OR_RAISE(auto jwt, Decode(token));
  return Text(jwt.header, "alg");
}

// --- JwtSigner ----------------------------------------------------------------------------

arrow::Result<std::unique_ptr<JwtSigner>> JwtSigner::Make(std::string secret,
                                                          std::chrono::seconds lifetime) {
  if (secret.size() < 32) {
    return arrow::Status::Invalid("the token signing secret must be at least 32 bytes long");
  }
  if (lifetime.count() <= 0) return arrow::Status::Invalid("token lifetime must be positive");
  return std::unique_ptr<JwtSigner>(new JwtSigner(std::move(secret), lifetime));
}

std::string JwtSigner::Issue(const std::string& user, const std::string& role, int64_t now) const {
  unsigned char nonce[12];
  RAND_bytes(nonce, sizeof(nonce));
  const json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  const json payload = {{"iss", kIssuer},
                        {"sub", user},
                        {"role", role},
                        {"iat", now},
                        {"exp", now + lifetime_.count()},
                        {"jti", Base64UrlEncode(std::string_view(
                                    reinterpret_cast<const char*>(nonce), sizeof(nonce)))}};
  std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload.dump());
  std::string signature = HmacSha256(secret_, input);
  return input + "." + Base64UrlEncode(signature);
}

arrow::Result<JwtClaims> JwtSigner::Verify(std::string_view token, int64_t now) const {
  ARROW_ASSIGN_OR_RAISE(auto jwt, Decode(token));
  if (Text(jwt.header, "alg") != "HS256") {
    return arrow::Status::Invalid("token is not signed with HS256");
  }
  const std::string expected = HmacSha256(secret_, jwt.signing_input);
  if (jwt.signature.size() != expected.size() ||
      CRYPTO_memcmp(jwt.signature.data(), expected.data(), expected.size()) != 0) {
    return arrow::Status::Invalid("token signature does not verify");
  }
  if (Text(jwt.payload, "iss") != kIssuer) {
    return arrow::Status::Invalid("token was not issued by hyprstream");
  }
  return CheckClaims(jwt.payload, now, 0, "sub", "role");
}

// --- ExternalJwtVerifier -----------------------------------------------------------------

struct ExternalJwtVerifier::Key {
  EVP_PKEY* pkey = nullptr;
  std::string algorithm;  // RS256 or ES256
  ~Key() { EVP_PKEY_free(pkey); }
};

ExternalJwtVerifier::ExternalJwtVerifier(ExternalJwtOptions options, std::unique_ptr<Key> key)
    : options_(std::move(options)), key_(std::move(key)) {}
ExternalJwtVerifier::~ExternalJwtVerifier() = default;

arrow::Result<std::unique_ptr<ExternalJwtVerifier>> ExternalJwtVerifier::Make(
    ExternalJwtOptions options) {
  BIO* bio = BIO_new_mem_buf(options.public_key_pem.data(),
                             static_cast<int>(options.public_key_pem.size()));
  auto key = std::make_unique<Key>();
  key->pkey = bio != nullptr ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (key->pkey == nullptr) {
    return arrow::Status::Invalid("the JWT public key is not a PEM public key");
  }
  switch (EVP_PKEY_get_base_id(key->pkey)) {
    case EVP_PKEY_RSA:
      if (EVP_PKEY_get_bits(key->pkey) < 2048) {
        return arrow::Status::Invalid("the JWT RSA public key must have at least 2048 bits");
      }
      key->algorithm = "RS256";
      break;
    case EVP_PKEY_EC:
      if (EVP_PKEY_get_bits(key->pkey) != 256) {
        return arrow::Status::Invalid("the JWT EC public key must be a P-256 key (ES256)");
      }
      key->algorithm = "ES256";
      break;
    default:
      return arrow::Status::Invalid("the JWT public key must be RSA (RS256) or EC P-256 (ES256)");
  }
  if (options.user_claim.empty() || options.role_claim.empty()) {
    return arrow::Status::Invalid("the JWT user and role claim names must not be empty");
  }
  return std::unique_ptr<ExternalJwtVerifier>(
      new ExternalJwtVerifier(std::move(options), std::move(key)));
}

arrow::Result<JwtClaims> ExternalJwtVerifier::Verify(std::string_view token, int64_t now) const {
  ARROW_ASSIGN_OR_RAISE(auto jwt, Decode(token));
  if (Text(jwt.header, "alg") != key_->algorithm) {
    return arrow::Status::Invalid("token is not signed with ", key_->algorithm);
  }
  std::string signature = jwt.signature;
  if (key_->algorithm == "ES256") {
    // JWS carries r || s (32 bytes each); OpenSSL verifies DER.
    if (signature.size() != 64) return arrow::Status::Invalid("ES256 signature is not 64 bytes");
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr);
    BIGNUM* s =
        BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 32, 32, nullptr);
    ECDSA_SIG_set0(sig, r, s);
    unsigned char* der = nullptr;
    int length = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (length <= 0) return arrow::Status::Invalid("ES256 signature does not encode");
    signature.assign(reinterpret_cast<char*>(der), static_cast<size_t>(length));
    OPENSSL_free(der);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool valid = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key_->pkey) == 1 &&
               EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                                signature.size(),
                                reinterpret_cast<const unsigned char*>(jwt.signing_input.data()),
                                jwt.signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!valid) return arrow::Status::Invalid("token signature does not verify");
  if (!options_.issuer.empty() && Text(jwt.payload, "iss") != options_.issuer) {
    return arrow::Status::Invalid("token issuer is not the configured one");
  }
  if (!options_.audience.empty()) {
    auto aud = jwt.payload.find("aud");
    bool found = false;
    if (aud != jwt.payload.end() && aud->is_string()) {
      found = aud->get<std::string>() == options_.audience;
    } else if (aud != jwt.payload.end() && aud->is_array()) {
      for (const auto& a : *aud) found = found || (a.is_string() && a == options_.audience);
    }
    if (!found) return arrow::Status::Invalid("token audience does not include this server");
  }
  return CheckClaims(jwt.payload, now, kExternalSkewSeconds, options_.user_claim,
                     options_.role_claim, options_.groups_claim);
}

}  // namespace hyprstream::server
