#include "engine/statement_kind.h"

#include <algorithm>

namespace hyprstream::engine {
namespace {

StatementKind KindOf(const sql::StatementInfo& statement) {
  using K = sql::StatementKind;
  switch (statement.kind) {
    case K::kQuery:
      return statement.writes_known && statement.writes.empty() ? StatementKind::kQuery
                                                                : StatementKind::kOther;
    case K::kInsert:
    case K::kUpdate:
    case K::kDelete:
    case K::kMerge:
    case K::kCopyFrom:
    case K::kCopyTo:
    case K::kTruncate:
    case K::kCreate:
    case K::kDrop:
    case K::kAlter:
    case K::kAttach:
      return StatementKind::kUpdate;
    case K::kOther: {
      static const char* kUpdates[] = {"UPSERT",  "GRANT",   "REVOKE", "COMMENT", "REFRESH",
                                       "REINDEX", "CLUSTER", "VACUUM", "ANALYZE", "RENAME"};
      for (const char* word : kUpdates) {
        if (statement.keyword == word) return StatementKind::kUpdate;
      }
      return StatementKind::kOther;
    }
    default:
      return StatementKind::kOther;
  }
}

}  // namespace

StatementKind StatementKindOf(const sql::Script& script) {
  if (script.statements.empty()) return StatementKind::kOther;
  const StatementKind first = KindOf(script.statements[0]);
  const bool same = std::all_of(script.statements.begin(), script.statements.end(),
                                [&](const auto& statement) { return KindOf(statement) == first; });
  return same ? first : StatementKind::kOther;
}

StatementKind ClassifyStatement(const std::string& sql) {
  return StatementKindOf(*sql::Analyze(sql));
}

}  // namespace hyprstream::engine
