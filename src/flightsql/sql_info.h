// SqlInfo: what the server reports about itself through CommandGetSqlInfo. Values are kept
// in one table keyed by the SqlInfo id; the result is the spec's fixed schema
// (info_name uint32, value dense_union<string, bool, int64, int32 bitmask, string list,
// int32 -> int32 list map>). Immutable after construction; safe to share.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/engine.h"

namespace hyprstream::flightsql {

using SqlInfoValue = std::variant<std::string, bool, int64_t, int32_t, std::vector<std::string>,
                                  std::map<int32_t, std::vector<int32_t>>>;

class SqlInfo {
 public:
  // The values hyprstream serves (server identity, SQL dialect facts, capabilities); every
  // id 0-11, 100-101 and 500-576. `keywords` are the engine's reserved words (SQL_KEYWORDS).
  // `backend` (engines fronting another database) replaces the server name and version.
  static SqlInfo ForServer(std::vector<std::string> keywords,
                           const std::optional<engine::BackendInfo>& backend = std::nullopt);

  static std::shared_ptr<arrow::Schema> ResultSchema();

  // One row per requested id, in request order; an empty list means every id we know.
  // Unknown ids are skipped.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Build(const std::vector<uint32_t>& ids) const;

  void Set(uint32_t id, SqlInfoValue value) { values_[id] = std::move(value); }

 private:
  std::map<uint32_t, SqlInfoValue> values_;
};

}  // namespace hyprstream::flightsql
