#include "server/password_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <vector>

#include "server/base64.h"

namespace hyprstream::server {
namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr size_t kSaltBytes = 16;
constexpr size_t kKeyBytes = 32;
constexpr int kMaxIterations = 100000000;

struct ParsedHash {
  int iterations = 0;
  std::string salt;
  std::string key;
};

arrow::Result<ParsedHash> Parse(std::string_view stored) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = stored.find('$', start);
    parts.push_back(stored.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  auto bad = [](const char* why) {
    return arrow::Status::Invalid("password_hash is not a hyprstream hash (", why,
                                  "); make one with `hyprstream --hash-password`");
  };
  if (parts.size() != 4 || parts[0] != kScheme) return bad("expected pbkdf2-sha256$N$salt$key");
  ParsedHash parsed;
  auto [end, ec] =
      std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), parsed.iterations);
  if (ec != std::errc() || end != parts[1].data() + parts[1].size() ||
      parsed.iterations < kMinPasswordIterations || parsed.iterations > kMaxIterations) {
    return bad("iteration count missing or below 10000");
  }
  auto salt = Base64Decode(parts[2]);
  auto key = Base64Decode(parts[3]);
  if (!salt.ok() || salt->size() < 8) return bad("salt is not base64 of at least 8 bytes");
  if (!key.ok() || key->size() != kKeyBytes) return bad("key is not base64 of 32 bytes");
  parsed.salt = std::move(*salt);
  parsed.key = std::move(*key);
  return parsed;
}

arrow::Result<std::string> DeriveKey(std::string_view password, const std::string& salt,
                                     int iterations) {
  std::string key(kKeyBytes, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(key.size()),
                        reinterpret_cast<unsigned char*>(key.data())) != 1) {
    return arrow::Status::IOError("PBKDF2 failed (OpenSSL)");
  }
  return key;
}

}  // namespace

arrow::Result<std::string> HashPassword(std::string_view password, int iterations) {
  if (iterations < kMinPasswordIterations || iterations > kMaxIterations) {
    return arrow::Status::Invalid("iterations must be from ", kMinPasswordIterations, " to ",
                                  kMaxIterations);
  }
  std::string salt(kSaltBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), kSaltBytes) != 1) {
    return arrow::Status::IOError("no random bytes for a salt (OpenSSL RAND_bytes)");
  }
  ARROW_ASSIGN_OR_RAISE(auto key, DeriveKey(password, salt, iterations));
  return std::string(kScheme) + "$" + std::to_string(iterations) + "$" + Base64Encode(salt) + "$" +
         Base64Encode(key);
}

arrow::Status ValidatePasswordHash(std::string_view stored) { return Parse(stored).status(); }

arrow::Result<bool> VerifyPassword(std::string_view password, std::string_view stored) {
  ARROW_ASSIGN_OR_RAISE(auto parsed, Parse(stored));
  ARROW_ASSIGN_OR_RAISE(auto key, DeriveKey(password, parsed.salt, parsed.iterations));
  return CRYPTO_memcmp(key.data(), parsed.key.data(), kKeyBytes) == 0;
}

}  // namespace hyprstream::server
