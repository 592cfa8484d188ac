// TableRef: a table as SQL names it — optional catalog and schema, and the table — each part
// normalised like SQL (unquoted lower-cased, quoted kept as written) and not defaulted:
// callers apply their own default schema. A plain value type.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyprstream::sql {

struct TableRef {
  std::optional<std::string> catalog;
  std::optional<std::string> schema;
  std::string table;

  // From the parts of a dotted name (1 to 3 of them); nullopt for more or none.
  static std::optional<TableRef> FromParts(const std::vector<std::string>& parts);
  // "t", "s.t", "c.s.t" (parts joined as they are, unquoted).
  std::string ToString() const;
  bool operator==(const TableRef&) const = default;
};

// A qualified name written alone ("t", "S.\"T\"", "c.s.t"); nullopt when the text is not one.
std::optional<TableRef> ParseTableRef(std::string_view text);

}  // namespace hyprstream::sql
