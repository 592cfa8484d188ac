// Password hashes for the [[users]] of the config file: PBKDF2-HMAC-SHA256 (OpenSSL) with a
// random 16-byte salt per password and the iteration count stored in the string:
//   pbkdf2-sha256$<iterations>$<salt, base64>$<32-byte key, base64>
// Verification recomputes the key and compares in constant time. Pure functions, any thread.
#pragma once

#include <arrow/result.h>

#include <string>
#include <string_view>

namespace hyprstream::server {

// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
constexpr int kDefaultPasswordIterations = 600000;
constexpr int kMinPasswordIterations = 10000;

arrow::Result<std::string> HashPassword(std::string_view password,
                                        int iterations = kDefaultPasswordIterations);

// Invalid when `stored` is not a well-formed hash of the format above.
arrow::Status ValidatePasswordHash(std::string_view stored);

// True when `password` matches `stored`; Invalid when `stored` is malformed.
arrow::Result<bool> VerifyPassword(std::string_view password, std::string_view stored);

}  // namespace hyprstream::server
