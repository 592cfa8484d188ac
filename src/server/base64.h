// Base64 text encodings used by authentication: the standard alphabet (HTTP Basic headers,
// stored password hashes) and the URL-safe alphabet without padding (JWT segments).
// Decoding accepts text with or without '=' padding. Pure functions, any thread.
#pragma once

#include <arrow/result.h>

#include <string>
#include <string_view>

namespace hyprstream::server {

std::string Base64Encode(std::string_view bytes);     // standard alphabet, padded
std::string Base64UrlEncode(std::string_view bytes);  // URL-safe alphabet, unpadded

// Invalid on characters outside the alphabet, misplaced padding or an impossible length.
arrow::Result<std::string> Base64Decode(std::string_view text);
arrow::Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace hyprstream::server
