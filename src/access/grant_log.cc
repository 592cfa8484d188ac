#include "access/grant_log.h"

#include <arrow/scalar.h>
#include <arrow/table.h>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"

namespace hyprstream::access {
namespace {

constexpr char kTable[] = "_hyprstream.grant_changes";

}  // namespace

arrow::Result<std::unique_ptr<GrantLog>> GrantLog::Open(std::shared_ptr<engine::Engine> engine) {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine->Connect());
  ARROW_RETURN_NOT_OK(
      engine::ExecuteStatement(*connection, "CREATE SCHEMA IF NOT EXISTS _hyprstream"));
  ARROW_RETURN_NOT_OK(engine::ExecuteStatement(
      *connection, std::string("CREATE TABLE IF NOT EXISTS ") + kTable +
                       " (seq BIGINT PRIMARY KEY, change VARCHAR NOT NULL, privilege VARCHAR NOT "
                       "NULL, object VARCHAR NOT NULL, principal VARCHAR NOT NULL, changed_at "
                       "TIMESTAMP DEFAULT current_timestamp)"));
  return std::unique_ptr<GrantLog>(new GrantLog(std::move(engine)));
}

arrow::Result<std::vector<GrantChange>> GrantLog::Load() const {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  ARROW_ASSIGN_OR_RAISE(
      auto table,
      engine::QueryTable(*connection, std::string("SELECT change, privilege, object, principal "
                                                  "FROM ") +
                                          kTable + " ORDER BY seq"));
  ARROW_ASSIGN_OR_RAISE(auto batch, table->CombineChunksToBatch());
  std::vector<GrantChange> changes;
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    std::string text[4];
    for (int column = 0; column < 4; ++column) {
      ARROW_ASSIGN_OR_RAISE(auto scalar, batch->column(column)->GetScalar(row));
      text[column] = scalar->ToString();
    }
    auto grant = Grant::Parse(text[1], text[2], text[3]);
    if (!grant.ok()) {
      return arrow::Status::Invalid(kTable, " row ", row + 1, ": ", grant.status().message());
    }
    changes.push_back(GrantChange{text[0] == "grant", std::move(*grant)});
  }
  return changes;
}

arrow::Status GrantLog::Append(const GrantChange& change) {
  std::lock_guard<std::mutex> lock(mutex_);
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  return engine::ExecuteStatement(
      *connection,
      std::string("INSERT INTO ") + kTable +
          " (seq, change, privilege, object, principal) SELECT coalesce(max(seq), 0) + 1, " +
          engine::QuoteLiteral(change.granted ? "grant" : "revoke") + ", " +
          engine::QuoteLiteral(PrivilegeName(change.grant.privilege)) + ", " +
          engine::QuoteLiteral(change.grant.object.ToString()) + ", " +
          engine::QuoteLiteral(change.grant.principal.ToString()) + " FROM " + kTable);
}

}  // namespace hyprstream::access
