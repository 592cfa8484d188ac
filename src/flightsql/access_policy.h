// Access policy: which role a piece of work needs. Roles are ordered read_only < read_write <
// admin. SQL is classified from DuckDB's own parse (statement types from the engine, the parse
// tree of SELECTs from json_serialize_sql) into a StatementClass, and each class needs one
// role (RequiredRole). Each statement of a script is classified by its own text and the
// strictest wins; anything the classifier does not recognise needs admin (deny by default).
// Functions over an engine connection; any thread. The parse is the sql module's (memoised
// by text: a parse tree depends on the text alone).
#pragma once

#include <arrow/result.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"

namespace hyprstream::flightsql {

enum class Role : int { kReadOnly = 0, kReadWrite = 1, kAdmin = 2 };

std::string_view RoleName(Role role);                  // "read_only", "read_write", "admin"
std::optional<Role> ParseRole(std::string_view text);  // the names above, case-insensitive

enum class StatementClass {
  kQuery,           // reads tables (SELECT, SHOW, info PRAGMAs, allow-listed table functions)
  kSessionSetting,  // USE, SET of schema, search_path, TimeZone, Calendar, error/explain format
  kFileRead,        // reads files or the environment (read_csv, COPY ... FROM, 'file.parquet')
  kWrite,           // changes rows (INSERT, UPDATE, DELETE, sequences, CHECKPOINT, ingest)
  kDdl,             // changes the schema (CREATE, ALTER, DROP, window create/drop)
  kTransaction,     // BEGIN, COMMIT, ROLLBACK: change nothing by themselves, any role
  kLocalSetting,    // SET of any other connection-local setting (profiling, progress, ...)
  kGlobalSetting,   // SET GLOBAL, global-scope settings, state-changing PRAGMAs, secrets
  kFileWrite,       // COPY ... TO, EXPORT DATABASE
  kExtension,       // INSTALL, LOAD
  kAttach,          // ATTACH, DETACH
  kUnknown,         // not recognised: needs admin
};

Role RequiredRole(StatementClass statement_class);

// What the update routes (statement updates, prepared updates) need: read_write at least,
// whatever the SQL, except transaction control, which needs only its own role (read_only).
Role RequiredRoleForUpdate(StatementClass statement_class);

// Whether every statement of `sql` starts with a transaction-control keyword (BEGIN, START,
// COMMIT, END, ROLLBACK, ABORT): a first look, from the text alone, that tells whether an
// update from a caller below read_write is worth classifying (ClassifySql decides).
bool LooksLikeTransactionControl(const std::string& sql);

// What running some SQL needs: the strictest class found and a short description of it
// ("INSERT", "table function read_csv", "COPY ... TO") for messages.
struct SqlRequirement {
  StatementClass statement_class = StatementClass::kQuery;
  std::string what;
  Role role() const { return RequiredRole(statement_class); }
};

// Classifies `sql` on `connection` (its catalog and settings). Errors are the engine's own
// parse/bind errors: SQL that does not prepare is not classified (and would not run).
arrow::Result<SqlRequirement> ClassifySql(engine::EngineConnection& connection,
                                          const std::string& sql);

// A DuckDB setting `name` (SET, SetSessionOptions): kSessionSetting for the harmless few,
// kLocalSetting for other connection-local ones, kGlobalSetting for settings that affect
// every connection, write files (log_query_path, profiling_output, ...) or are unknown.
arrow::Result<StatementClass> ClassifySetting(engine::EngineConnection& connection,
                                              const std::string& name);

// The text of a denial: who, which role, what was refused and what it needs.
std::string DenialMessage(const std::string& user, Role role, const std::string& what, Role needed);

}  // namespace hyprstream::flightsql
