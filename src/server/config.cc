// Value parsers shared by every configuration source, and the startup description.
// LoadConfig itself (flags, environment, TOML) is in config_loader.cc.
#include "server/config.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace hyprstream::server {
namespace {

// Splits "64MiB" into 64 and "MiB". Fails on no digits or more than 12 of them.
bool SplitNumber(const std::string& text, int64_t* number, std::string* suffix) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  if (digits == 0 || digits > 12) return false;
  *number = std::stoll(text.substr(0, digits));
  *suffix = text.substr(digits);
  return true;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool NamesSecret(const std::string& key) {
  const std::string k = Lower(key);
  for (const char* word : {"password", "passwd", "pwd", "secret", "token", "credential"}) {
    if (k.find(word) != std::string::npos) return true;
  }
  return false;
}

// Masks "scheme://user:PASS@host" and "password=PASS" (up to ' ', ';', '&' or ',').
std::string MaskSecrets(std::string text) {
  const size_t scheme = text.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t at = text.find('@', start);
    const size_t slash = text.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      const size_t colon = text.find(':', start);
      if (colon != std::string::npos && colon < at) text.replace(colon + 1, at - colon - 1, "***");
    }
  }
  const std::string lower = Lower(text);
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t eq = lower.find('=', pos);
    if (eq == std::string::npos) break;
    size_t key_start = eq;
    while (key_start > 0 && std::isalnum(static_cast<unsigned char>(text[key_start - 1]))) {
      --key_start;
    }
    const size_t end = std::min(text.find_first_of(" ;&,", eq), text.size());
    out += text.substr(pos, eq + 1 - pos);
    out += NamesSecret(text.substr(key_start, eq - key_start)) ? "***"
                                                               : text.substr(eq + 1, end - eq - 1);
    pos = end;
  }
  return out + text.substr(std::min(pos, text.size()));
}

void DescribeOptions(std::ostream& out, const char* name,
                     const std::map<std::string, std::string>& options) {
  if (options.empty()) return;
  out << " " << name << "={";
  const char* sep = "";
  for (const auto& [key, value] : options) {
    out << sep << key << "=" << (NamesSecret(key) ? "***" : MaskSecrets(value));
    sep = ",";
  }
  out << "}";
}

}  // namespace

arrow::Result<std::chrono::seconds> ParseDuration(const std::string& text) {
  static const std::map<std::string, int64_t> kUnits = {
      {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  int64_t number = 0;
  std::string suffix;
  if (!SplitNumber(text, &number, &suffix) || kUnits.count(suffix) == 0) {
    return arrow::Status::Invalid("'", text,
                                  "' is not a duration; use a whole number with s, m, h or d "
                                  "(90s, 30m, 1h, 1d) or plain seconds");
  }
  return std::chrono::seconds(number * kUnits.at(suffix));
}

arrow::Result<int64_t> ParseByteSize(const std::string& text) {
  static const std::map<std::string, int64_t> kUnits = {
      {"", 1}, {"KiB", int64_t{1} << 10}, {"MiB", int64_t{1} << 20}, {"GiB", int64_t{1} << 30}};
  int64_t number = 0;
  std::string suffix;
  if (!SplitNumber(text, &number, &suffix) || kUnits.count(suffix) == 0 ||
      number > (int64_t{1} << 40) / kUnits.at(suffix)) {
    return arrow::Status::Invalid("'", text,
                                  "' is not a size; use bytes or a whole number with KiB, MiB "
                                  "or GiB (67108864, 64MiB)");
  }
  return number * kUnits.at(suffix);
}

std::string DescribeConfig(const Config& config) {
  std::ostringstream out;
  out << "host=" << config.host << " port=" << config.port << " engine=" << config.engine
      << " connection=" << MaskSecrets(config.engine_connection);
  DescribeOptions(out, "engine_options", config.engine_options);
  if (config.engine_username) out << " user=" << *config.engine_username;
  if (config.engine_password) out << " password=***";
  if (config.enable_cache) {
    out << " cache=" << config.cache_engine << ":" << MaskSecrets(config.cache_connection);
    DescribeOptions(out, "cache_options", config.cache_options);
    if (config.cache_max_duration.count() > 0) {
      out << " cache_max_duration=" << config.cache_max_duration.count() << "s";
    }
  } else {
    out << " cache=off";
  }
  out << " log_level=" << config.log_level
      << " session_idle_timeout=" << config.session_idle_timeout.count() << "s"
      << " statement_idle_timeout=" << config.statement_idle_timeout.count() << "s"
      << " result_batch_rows=" << config.result_batch_rows
      << " query_timeout=" << config.query_timeout.count() << "s"
      << " max_sessions=" << config.max_sessions
      << " max_concurrent_statements=" << config.max_concurrent_statements
      << " poll_lease=" << config.poll_lease.count() << "s"
      << " shutdown_grace=" << config.shutdown_grace.count() << "s";
  if (!config.memory_limit.empty()) out << " memory_limit=" << config.memory_limit;
  if (config.http_port > 0) out << " http_port=" << config.http_port;
  out << " tls="
      << (config.tls_enabled() ? (config.tls_client_ca.empty() ? "on" : "mutual") : "off");
  out << " auth=" << (config.auth_enabled() ? "on" : "off");
  if (!config.users.empty()) out << " users=" << config.users.size();
  if (config.auth_token_secret) out << " auth_token_secret=***";
  if (config.readonly) out << " readonly=true";
  if (!config.audit_log.empty()) out << " audit_log=" << config.audit_log;
  if (config.config_file) out << " config_file=" << *config.config_file;
  return out.str();
}

}  // namespace hyprstream::server
