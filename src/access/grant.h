// Grant: one privilege (read or write) on a catalog, a schema, a table (a view, a window's
// table) or everything — or read on a window's results alone — given to a user or to a group
// of the identity provider. Plain value types with their text forms ("read",
// "memory.main.trades", "window:trade_bars", "group:analysts"); names are compared
// case-insensitively, like DuckDB identifiers. Write does not imply read.
#pragma once

#include <arrow/result.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyprstream::access {

enum class Privilege { kRead, kWrite };

std::string_view PrivilegeName(Privilege privilege);  // "read", "write"
// "read" (or "select"), "write"; case-insensitive.
arrow::Result<Privilege> ParsePrivilege(std::string_view text);

// A table as the engine knows it: catalog, schema and name, lower-cased.
struct QualifiedTable {
  std::string catalog;
  std::string schema;
  std::string table;
  std::string ToString() const { return catalog + "." + schema + "." + table; }
  bool operator==(const QualifiedTable&) const = default;
};

// "*", "catalog", "catalog.schema" or "catalog.schema.table"; any part may be "*".
// A shorter pattern covers everything inside the object it names. "window:NAME" (or
// "window:*") names maintained windows instead: what hyprstream_window() reads of them.
struct ObjectPattern {
  bool window = false;
  std::vector<std::string> parts;  // tables: 0 ("*") to 3; windows: 0 ("*") or 1; lower-cased

  static arrow::Result<ObjectPattern> Parse(std::string_view text);
  std::string ToString() const;
  bool Covers(const QualifiedTable& table) const;
  bool CoversWindow(const std::string& name) const;
  // Whether some table of `catalog` (of `schema`, when given) could be covered.
  bool MayCover(const std::string& catalog, const std::optional<std::string>& schema) const;
  bool operator==(const ObjectPattern&) const = default;
};

// Who a grant is for: "user:NAME" or "group:NAME" (a group of the identity provider's token,
// or of a [[users]] entry). Names keep their case.
struct Principal {
  enum class Kind { kUser, kGroup };
  Kind kind = Kind::kUser;
  std::string name;

  static arrow::Result<Principal> Parse(std::string_view text);
  std::string ToString() const;
  bool operator==(const Principal&) const = default;
};

struct Grant {
  Principal principal;
  Privilege privilege = Privilege::kRead;
  ObjectPattern object;
  bool operator==(const Grant&) const = default;

  // From the three texts of a config entry or a hyprstream_grant() call.
  static arrow::Result<Grant> Parse(std::string_view privilege, std::string_view object,
                                    std::string_view principal);
};

// The caller a check is about: the user and the groups its token or [[users]] entry gives.
struct Subject {
  std::string user;
  std::vector<std::string> groups;
  bool Is(const Principal& principal) const;
};

}  // namespace hyprstream::access
