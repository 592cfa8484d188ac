#include "access/grant.h"

#include <algorithm>
#include <cctype>

namespace hyprstream::access {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool PartMatches(const std::string& pattern, const std::string& name) {
  return pattern == "*" || pattern == name;
}

}  // namespace

std::string_view PrivilegeName(Privilege privilege) {
  return privilege == Privilege::kRead ? "read" : "write";
}

arrow::Result<Privilege> ParsePrivilege(std::string_view text) {
  const std::string lower = Lower(Trim(text));
  if (lower == "read" || lower == "select") return Privilege::kRead;
  if (lower == "write") return Privilege::kWrite;
  return arrow::Status::Invalid("privilege '", text, "' is not read or write");
}

arrow::Result<ObjectPattern> ObjectPattern::Parse(std::string_view text) {
  ObjectPattern pattern;
  std::string lower = Lower(Trim(text));
  if (lower.empty()) return arrow::Status::Invalid("an empty object name; use '*' for all");
  if (lower.rfind("window:", 0) == 0) {
    pattern.window = true;
    std::string name(Trim(std::string_view(lower).substr(7)));
    if (name.empty()) return arrow::Status::Invalid("object '", text, "' names no window");
    if (name != "*") pattern.parts.push_back(std::move(name));
    return pattern;
  }
  if (lower == "*") return pattern;
  size_t start = 0;
  while (true) {
    const size_t dot = lower.find('.', start);
    std::string part = lower.substr(start, dot == std::string::npos ? dot : dot - start);
    // Quotes around a part are accepted and dropped: names compare case-insensitively anyway.
    if (part.size() >= 2 && part.front() == '"' && part.back() == '"') {
      part = part.substr(1, part.size() - 2);
    }
    if (part.empty()) {
      return arrow::Status::Invalid("object '", text,
                                    "' is not catalog[.schema[.table]] (parts may be '*')");
    }
    pattern.parts.push_back(std::move(part));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (pattern.parts.size() > 3) {
    return arrow::Status::Invalid("object '", text, "' has more than three parts");
  }
  return pattern;
}

std::string ObjectPattern::ToString() const {
  if (window) return "window:" + (parts.empty() ? std::string("*") : parts[0]);
  if (parts.empty()) return "*";
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : ".") + part;
  return out;
}

bool ObjectPattern::Covers(const QualifiedTable& table) const {
  if (window) return false;
  const std::string* names[] = {&table.catalog, &table.schema, &table.table};
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!PartMatches(parts[i], Lower(*names[i]))) return false;
  }
  return true;
}

bool ObjectPattern::CoversWindow(const std::string& name) const {
  return window && (parts.empty() || parts[0] == Lower(name));
}

bool ObjectPattern::MayCover(const std::string& catalog,
                             const std::optional<std::string>& schema) const {
  if (window) return false;
  if (!parts.empty() && !PartMatches(parts[0], Lower(catalog))) return false;
  if (schema && parts.size() > 1 && !PartMatches(parts[1], Lower(*schema))) return false;
  return true;
}

arrow::Result<Principal> Principal::Parse(std::string_view text) {
  text = Trim(text);
  const size_t colon = text.find(':');
  const std::string kind = colon == std::string_view::npos ? "" : Lower(text.substr(0, colon));
  Principal principal;
  if (kind == "user") {
    principal.kind = Kind::kUser;
  } else if (kind == "group" || kind == "role") {
    principal.kind = Kind::kGroup;
  } else {
    return arrow::Status::Invalid("principal '", text, "' is not user:NAME or group:NAME");
  }
  principal.name = std::string(Trim(text.substr(colon + 1)));
  if (principal.name.empty()) {
    return arrow::Status::Invalid("principal '", text, "' names nobody");
  }
  return principal;
}

std::string Principal::ToString() const {
  return (kind == Kind::kUser ? "user:" : "group:") + name;
}

arrow::Result<Grant> Grant::Parse(std::string_view privilege, std::string_view object,
                                  std::string_view principal) {
  Grant grant;
  ARROW_ASSIGN_OR_RAISE(grant.privilege, ParsePrivilege(privilege));
  ARROW_ASSIGN_OR_RAISE(grant.object, ObjectPattern::Parse(object));
  ARROW_ASSIGN_OR_RAISE(grant.principal, Principal::Parse(principal));
  if (grant.object.window && grant.privilege != Privilege::kRead) {
    return arrow::Status::Invalid("a window is only read: '", object, "' takes read grants");
  }
  return grant;
}

bool Subject::Is(const Principal& principal) const {
  if (principal.kind == Principal::Kind::kUser) return principal.name == user;
  return std::find(groups.begin(), groups.end(), principal.name) != groups.end();
}

}  // namespace hyprstream::access
