#include "engine/internal_tables.h"

namespace hyprstream::engine {

bool IsInternalTable(const std::optional<std::string>& schema, const std::string& table) {
  return schema.value_or("") == kInternalSchema ||
         table.rfind(std::string(kInternalSchema) + "_", 0) == 0;
}

}  // namespace hyprstream::engine
