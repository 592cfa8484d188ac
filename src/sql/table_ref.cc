#include "sql/table_ref.h"

#include "sql/sql_lexer.h"

namespace hyprstream::sql {

std::optional<TableRef> TableRef::FromParts(const std::vector<std::string>& parts) {
  if (parts.empty() || parts.size() > 3) return std::nullopt;
  TableRef ref;
  ref.table = parts.back();
  if (parts.size() >= 2) ref.schema = parts[parts.size() - 2];
  if (parts.size() == 3) ref.catalog = parts[0];
  return ref;
}

std::string TableRef::ToString() const {
  std::string out;
  if (catalog) out += *catalog + ".";
  if (schema) out += *schema + ".";
  return out + table;
}

std::optional<TableRef> ParseTableRef(std::string_view text) {
  const std::vector<Token> tokens = Lex(text);
  size_t i = 0;
  auto parts = QualifiedNameAt(tokens, &i);
  if (!parts || i != tokens.size()) return std::nullopt;
  return TableRef::FromParts(*parts);
}

}  // namespace hyprstream::sql
