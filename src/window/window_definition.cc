#include "window/window_definition.h"

#include <arrow/type.h>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace hyprstream::window {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    part = Trim(part);
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

arrow::Result<std::optional<arrow::TimeUnit::type>> ParseTimeUnit(const std::string& text) {
  std::string unit = Lower(Trim(text));
  if (unit.empty()) return std::nullopt;
  if (unit == "s") return arrow::TimeUnit::SECOND;
  if (unit == "ms") return arrow::TimeUnit::MILLI;
  if (unit == "us") return arrow::TimeUnit::MICRO;
  if (unit == "ns") return arrow::TimeUnit::NANO;
  return arrow::Status::Invalid("time_unit must be s, ms, us or ns; got '", text, "'");
}

WindowArguments WindowArguments::FromMap(const std::map<std::string, std::string>& values) {
  WindowArguments arguments;
  auto set = [&](const char* key, std::string* field) {
    auto it = values.find(key);
    if (it != values.end()) *field = it->second;
  };
  set("keys", &arguments.keys);
  set("time_column", &arguments.time);
  set("value_columns", &arguments.values);
  set("windows", &arguments.windows);
  set("aggregates", &arguments.aggregates);
  set("lateness", &arguments.lateness);
  set("time_unit", &arguments.time_unit);
  return arguments;
}

// --- TableName --------------------------------------------------------------------------------

TableName TableName::Of(const std::optional<std::string>& schema, const std::string& table) {
  TableName name;
  if (schema && !schema->empty()) name.schema = Lower(*schema);
  name.table = Lower(table);
  return name;
}

TableName TableName::Parse(const std::string& text) {
  auto dot = text.find('.');
  if (dot == std::string::npos) return Of(std::nullopt, text);
  return Of(text.substr(0, dot), text.substr(dot + 1));
}

TableName TableName::OfPath(const std::vector<std::string>& path) {
  if (path.empty()) return {};
  if (path.size() == 1) return Of(std::nullopt, path[0]);
  return Of(path[path.size() - 2], path.back());
}

}  // namespace hyprstream::window
