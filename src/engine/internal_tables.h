// hyprstream's own tables in an engine (window definitions and histories, grant changes): in
// the schema kInternalSchema, or on engines without schemas (SQLite) named with it and '_' as a
// prefix. Only hyprstream writes them, and metadata does not list them.
#pragma once

#include <optional>
#include <string>

namespace hyprstream::engine {

inline constexpr char kInternalSchema[] = "_hyprstream";

// Whether a table (or, with an empty `table`, a schema) is one of hyprstream's own.
bool IsInternalTable(const std::optional<std::string>& schema, const std::string& table);

}  // namespace hyprstream::engine
