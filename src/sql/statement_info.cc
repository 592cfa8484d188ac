#include "sql/statement_info.h"

#include "sql/statement_source.h"

namespace hyprstream::sql {

std::string_view StatementKindName(StatementKind kind) {
  switch (kind) {
    case StatementKind::kQuery:
      return "query";
    case StatementKind::kInsert:
      return "insert";
    case StatementKind::kUpdate:
      return "update";
    case StatementKind::kDelete:
      return "delete";
    case StatementKind::kMerge:
      return "merge";
    case StatementKind::kCopyFrom:
      return "copy_from";
    case StatementKind::kCopyTo:
      return "copy_to";
    case StatementKind::kTruncate:
      return "truncate";
    case StatementKind::kCreate:
      return "create";
    case StatementKind::kDrop:
      return "drop";
    case StatementKind::kAlter:
      return "alter";
    case StatementKind::kBegin:
      return "begin";
    case StatementKind::kCommit:
      return "commit";
    case StatementKind::kRollback:
      return "rollback";
    case StatementKind::kSavepoint:
      return "savepoint";
    case StatementKind::kSetting:
      return "setting";
    case StatementKind::kPragma:
      return "pragma";
    case StatementKind::kCall:
      return "call";
    case StatementKind::kAttach:
      return "attach";
    case StatementKind::kExtension:
      return "extension";
    case StatementKind::kCheckpoint:
      return "checkpoint";
    case StatementKind::kPrepare:
      return "prepare";
    case StatementKind::kExecute:
      return "execute";
    case StatementKind::kDeallocate:
      return "deallocate";
    case StatementKind::kOther:
      return "other";
  }
  return "other";
}

std::string_view WriteModeName(WriteMode mode) {
  switch (mode) {
    case WriteMode::kAppend:
      return "append";
    case WriteMode::kUpsert:
      return "upsert";
    case WriteMode::kInsertIgnore:
      return "insert_ignore";
    case WriteMode::kUpdate:
      return "update";
    case WriteMode::kDelete:
      return "delete";
    case WriteMode::kMerge:
      return "merge";
    case WriteMode::kCopyFrom:
      return "copy_from";
    case WriteMode::kTruncate:
      return "truncate";
    case WriteMode::kDdl:
      return "ddl";
  }
  return "ddl";
}

std::string InsertFacts::SourceQuery(std::string_view script_text) const {
  if (default_values) return "";
  std::string out;
  if (with_clause.size() > 0) out = std::string(with_clause.In(script_text)) + " ";
  return out + std::string(source.In(script_text));
}

std::optional<std::string> InsertFacts::WithReturningAll(const std::string& statement_text) const {
  if (returning || returning_offset > statement_text.size()) return std::nullopt;
  // What follows the statement (';', comments) is dropped: the statement now returns rows, and
  // a driver may wrap it (PostgreSQL's: COPY (...) TO STDOUT), where a ';' is a syntax error.
  return statement_text.substr(0, returning_offset) + " RETURNING *";
}

std::string_view StatementInfo::script_text() const {
  return internals ? std::string_view(*internals->script) : std::string_view();
}

std::string_view StatementInfo::text() const { return span.In(script_text()); }

const StatementReads& StatementInfo::reads() const {
  static const StatementReads kNone;
  if (!internals) return kNone;
  std::call_once(internals->once,
                 [&] { internals->reads = detail::ComputeReads(*internals, parameters); });
  return internals->reads;
}

}  // namespace hyprstream::sql
