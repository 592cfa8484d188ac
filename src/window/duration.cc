#include "window/duration.h"

#include <array>
#include <cctype>
#include <utility>

namespace hyprstream::window {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t micros;
};

// Longest suffixes first so "ms" is not read as "m" followed by garbage.
constexpr std::array<Unit, 7> kUnits = {{{"us", 1},
                                         {"ms", kMicrosPerMilli},
                                         {"s", kMicrosPerSecond},
                                         {"m", kMicrosPerMinute},
                                         {"h", kMicrosPerHour},
                                         {"d", kMicrosPerDay},
                                         {"w", 7 * kMicrosPerDay}}};

arrow::Status NotADuration(std::string_view text) {
  return arrow::Status::Invalid("'", text,
                                "' is not a duration; use whole numbers with us, ms, s, m, h, d "
                                "or w (90s, 5m, 1h30m, 1d) or plain seconds, at most ",
                                FormatDuration(kMaxDurationMicros));
}

}  // namespace

arrow::Result<int64_t> ParseDuration(std::string_view text) {
  if (text.empty()) return NotADuration(text);
  int64_t total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t digits_end = pos;
    int64_t number = 0;
    while (digits_end < text.size() && std::isdigit(static_cast<unsigned char>(text[digits_end]))) {
      number = number * 10 + (text[digits_end] - '0');
      if (number > kMaxDurationMicros) return NotADuration(text);
      ++digits_end;
    }
    if (digits_end == pos) return NotADuration(text);
    size_t suffix_end = digits_end;
    while (suffix_end < text.size() && std::isalpha(static_cast<unsigned char>(text[suffix_end]))) {
      ++suffix_end;
    }
    std::string_view suffix = text.substr(digits_end, suffix_end - digits_end);
    int64_t unit = 0;
    if (suffix.empty()) {
      // A bare number is seconds, and only on its own ("90", not "1m30").
      if (pos != 0 || suffix_end != text.size()) return NotADuration(text);
      unit = kMicrosPerSecond;
    }
    for (const Unit& u : kUnits) {
      if (u.suffix == suffix) unit = u.micros;
    }
    if (unit == 0 || number > (kMaxDurationMicros - total) / unit) return NotADuration(text);
    total += number * unit;
    pos = suffix_end;
  }
  return total;
}

std::string FormatDuration(int64_t micros) {
  if (micros == 0) return "0s";
  std::string sign = micros < 0 ? "-" : "";
  uint64_t magnitude =
      micros < 0 ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  // Weeks are left out on purpose: "14d" reads better than "2w" in window names.
  for (auto it = kUnits.rbegin() + 1; it != kUnits.rend(); ++it) {
    uint64_t unit = static_cast<uint64_t>(it->micros);
    if (magnitude % unit == 0) {
      return sign + std::to_string(magnitude / unit) + std::string(it->suffix);
    }
  }
  return sign + std::to_string(magnitude) + "us";
}

}  // namespace hyprstream::window
