#include "flightsql/access_policy.h"

#include <cctype>
#include <set>
#include <unordered_map>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "sql/sql_lexer.h"
#include "sql/sql_script.h"

namespace hyprstream::flightsql {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// --- Tokens (the sql module's) for the statements DuckDB's parse tree does not expose
// (COPY direction, SET scope, PRAGMA/CALL names, EXPLAIN/PREPARE bodies). ------------------

using Tokens = std::vector<sql::Token>;

bool IsWord(const Tokens& tokens, size_t i, std::string_view word) {
  return i < tokens.size() && sql::IsWord(tokens[i], word);
}

// The last part of a possibly qualified name starting at token i; advances i past it.
std::string NameAt(const Tokens& tokens, size_t* i) {
  auto parts = sql::QualifiedNameAt(tokens, i);
  return parts ? parts->back() : std::string();
}

// --- Names that matter ------------------------------------------------------------------

// A table name that DuckDB may resolve as a file or URL (replacement scan).
bool LooksLikePath(std::string_view name) {
  return name.find_first_of("./\\:*?") != std::string_view::npos;
}

// Table functions a read-only user may call (with a plain table name where one is taken).
bool IsReadOnlyTableFunction(const std::string& name) {
  static const std::set<std::string> kAllowed = {"range",
                                                 "generate_series",
                                                 "unnest",
                                                 "json_each",
                                                 "json_tree",
                                                 "hyprstream_window",
                                                 "hyprstream_windows",
                                                 "tumble",
                                                 "hop",
                                                 "query_table"};
  if (kAllowed.count(name)) return true;
  // DuckDB's catalog views and information PRAGMAs as table functions.
  return name.rfind("duckdb_", 0) == 0 || name.rfind("pragma_", 0) == 0;
}

// Table functions whose first argument is a table name (a file name would be read).
bool TakesTableName(const std::string& name) {
  return name == "tumble" || name == "hop" || name == "query_table";
}

StatementClass ClassOfTableFunction(const std::string& name) {
  if (name == "hyprstream_create_window" || name == "hyprstream_drop_window") {
    return StatementClass::kDdl;
  }
  if (name == "hyprstream_grant" || name == "hyprstream_revoke" || name == "hyprstream_grants") {
    return StatementClass::kGlobalSetting;  // admins manage and list grants
  }
  if (name == "checkpoint" || name == "force_checkpoint" || name == "hyprstream_staged") {
    return StatementClass::kWrite;
  }
  if (IsReadOnlyTableFunction(name)) return StatementClass::kQuery;
  // read_csv, read_parquet, read_json, glob, read_text, query, scanners of other systems ...
  return StatementClass::kFileRead;
}

StatementClass ClassOfScalarFunction(const std::string& name) {
  if (name == "nextval" || name == "setseed") return StatementClass::kWrite;
  if (name == "getenv") return StatementClass::kFileRead;
  return StatementClass::kQuery;
}

// PRAGMAs that only report.
bool IsInfoPragma(const std::string& name) {
  static const std::set<std::string> kInfo = {
      "table_info",    "show",          "show_tables",  "show_tables_expanded",
      "database_list", "database_size", "storage_info", "version",
      "platform",      "functions",     "collations",   "metadata_info",
      "user_agent",    "show_databases"};
  return kInfo.count(name) > 0;
}

struct Finding {
  StatementClass statement_class;
  std::string what;
};

// Keeps the finding that needs the higher role; the first finding replaces the empty start
// ({kQuery, ""}), so that a script of transaction control alone is transaction control.
void Raise(Finding* worst, StatementClass statement_class, std::string what) {
  if (static_cast<int>(RequiredRole(statement_class)) >
          static_cast<int>(RequiredRole(worst->statement_class)) ||
      worst->what.empty()) {
    worst->statement_class = statement_class;
    worst->what = std::move(what);
  }
}

// What a query calls, from the sql module's reading of its parse: table functions (a
// table-name argument that is not a constant name counts as a file read), base tables whose
// name is a path (a replacement scan), scalar functions.
void ClassifyReads(const sql::StatementReads& reads, Finding* worst) {
  for (const auto& call : reads.table_function_calls) {
    StatementClass statement_class = ClassOfTableFunction(call.name);
    if (statement_class == StatementClass::kQuery && TakesTableName(call.name)) {
      const auto& table = call.text_arguments.empty() ? std::nullopt : call.text_arguments.front();
      if (!table || LooksLikePath(*table)) statement_class = StatementClass::kFileRead;
    }
    Raise(worst, statement_class, "table function " + call.name);
  }
  for (const std::string& table : reads.parsed_table_names) {
    if (LooksLikePath(table)) Raise(worst, StatementClass::kFileRead, "reading '" + table + "'");
  }
  for (const std::string& name : reads.scalar_functions) {
    StatementClass statement_class = ClassOfScalarFunction(name);
    if (statement_class != StatementClass::kQuery) {
      Raise(worst, statement_class, "function " + name);
    }
  }
}

// The statement types of `sql`, one per statement, in DuckDB's names, from each statement's
// leading keyword (the sql module's), for engines that cannot prepare it to tell (anything
// not recognised needs admin).
std::vector<std::string> KeywordStatementTypes(const std::string& sql) {
  static const std::unordered_map<std::string, std::string> kTypes = {
      {"SELECT", "SELECT"},     {"WITH", "SELECT"},        {"VALUES", "SELECT"},
      {"TABLE", "SELECT"},      {"INSERT", "INSERT"},      {"UPDATE", "UPDATE"},
      {"DELETE", "DELETE"},     {"TRUNCATE", "DELETE"},    {"CREATE", "CREATE"},
      {"DROP", "DROP"},         {"ALTER", "ALTER"},        {"BEGIN", "TRANSACTION"},
      {"START", "TRANSACTION"}, {"COMMIT", "TRANSACTION"}, {"ROLLBACK", "TRANSACTION"},
      {"END", "TRANSACTION"},   {"ABORT", "TRANSACTION"},  {"COPY", "COPY"},
      {"EXPLAIN", "EXPLAIN"}};
  std::vector<std::string> types;
  const auto script = sql::Analyze(sql);  // owns the statements (a temporary would not)
  for (const auto& statement : script->statements) {
    const std::string& word = statement.keyword;
    auto it = kTypes.find(word);
    types.push_back(it == kTypes.end() ? (word.empty() ? std::string("UNKNOWN") : word)
                                       : it->second);
  }
  if (types.empty()) types.push_back("UNKNOWN");
  return types;
}

// The engine's own statement types, or the keyword's when it cannot tell.
arrow::Result<std::vector<std::string>> StatementTypesOf(engine::EngineConnection& connection,
                                                         const std::string& sql) {
  auto types = connection.StatementTypes(sql);
  if (types.status().IsNotImplemented()) return KeywordStatementTypes(sql);
  return types;
}

// What the statements of `sql` call when every one is a query DuckDB parses (parsing only:
// nothing is bound, so no file is looked at), from its parse tree (the sql module's, so SQL
// is classified the same way whatever engine runs it). nullopt when one is not (DuckDB
// serialises no other statement).
std::optional<Finding> TryClassifySelects(const std::string& sql) {
  const auto script = sql::Analyze(sql);
  if (script->statements.empty()) return std::nullopt;
  Finding worst{StatementClass::kQuery, "SELECT"};
  for (const auto& statement : script->statements) {
    const sql::StatementReads& reads = statement.reads();
    // One statement per piece: the split agrees with DuckDB's.
    if (!reads.known || !reads.whole_statement || reads.parsed_statements != 1) {
      return std::nullopt;
    }
    ClassifyReads(reads, &worst);
  }
  return worst;
}

Finding ClassifySelects(const std::string& sql) {
  if (auto finding = TryClassifySelects(sql)) return *finding;
  return Finding{StatementClass::kUnknown, "a query DuckDB cannot describe"};
}

arrow::Result<Finding> ClassifyOne(engine::EngineConnection& connection, const std::string& sql,
                                   const std::string& type, int depth);

// Classifies the statement that starts at token `i` (EXPLAIN ANALYZE x, PREPARE p AS x).
arrow::Result<Finding> ClassifyRest(engine::EngineConnection& connection, const std::string& sql,
                                    const Tokens& tokens, size_t i, int depth) {
  if (i >= tokens.size() || depth > 4) return Finding{StatementClass::kUnknown, "nested statement"};
  std::string rest = sql.substr(tokens[i].offset);
  ARROW_ASSIGN_OR_RAISE(auto types, StatementTypesOf(connection, rest));
  if (types.size() != 1) return Finding{StatementClass::kUnknown, "nested statements"};
  return ClassifyOne(connection, rest, types[0], depth + 1);
}

arrow::Result<Finding> ClassifyOne(engine::EngineConnection& connection, const std::string& sql,
                                   const std::string& type, int depth) {
  using C = StatementClass;
  const Tokens tokens = sql::Lex(sql);
  if (IsWord(tokens, 0, "CHECKPOINT") ||
      (IsWord(tokens, 0, "FORCE") && IsWord(tokens, 1, "CHECKPOINT"))) {
    return Finding{C::kWrite, "CHECKPOINT"};
  }
  if (type == "SELECT") {
    // PRAGMA, CHECKPOINT and CALL prepare as SELECTs but have no SELECT parse tree.
    if (IsWord(tokens, 0, "PRAGMA")) {
      return ClassifyOne(connection, sql, "PRAGMA", depth);
    }
    if (IsWord(tokens, 0, "CALL")) return ClassifyOne(connection, sql, "CALL", depth);
    return ClassifySelects(sql);
  }
  if (type == "INSERT" || type == "UPDATE" || type == "DELETE") return Finding{C::kWrite, type};
  if (type == "ANALYZE" || type == "VACUUM") return Finding{C::kWrite, type};
  if (type == "VARIABLE_SET") return Finding{C::kWrite, "SET VARIABLE"};
  if (type == "EXECUTE") return Finding{C::kWrite, "EXECUTE of a SQL prepared statement"};
  if (type == "TRANSACTION") return Finding{C::kTransaction, "transaction control"};
  if (type == "EXPORT") return Finding{C::kFileWrite, "EXPORT DATABASE"};
  if (type == "LOAD" || type == "EXTENSION") return Finding{C::kExtension, "INSTALL/LOAD"};
  if (type == "ATTACH" || type == "DETACH") return Finding{C::kAttach, type};
  if (type == "CREATE" || type == "ALTER" || type == "DROP" || type == "CREATE_FUNC") {
    for (size_t i = 1; i < tokens.size() && i < 6; ++i) {
      if (IsWord(tokens, i, "SECRET")) return Finding{C::kGlobalSetting, type + " SECRET"};
    }
    return Finding{C::kDdl, type};
  }
  if (type == "COPY") {
    // COPY (query) TO ...; COPY table [(columns)] FROM|TO ...; COPY FROM DATABASE a TO b.
    size_t i = 1;
    if (IsWord(tokens, i, "FROM") && IsWord(tokens, i + 1, "DATABASE")) {
      return Finding{C::kFileWrite, "COPY FROM DATABASE"};
    }
    NameAt(tokens, &i);
    if (i < tokens.size() && sql::IsSymbol(tokens[i], "(")) {
      int level = 0;
      for (; i < tokens.size(); ++i) {
        if (sql::IsSymbol(tokens[i], "(")) ++level;
        if (sql::IsSymbol(tokens[i], ")") && --level == 0) {
          ++i;
          break;
        }
      }
    }
    if (IsWord(tokens, i, "FROM")) return Finding{C::kFileRead, "COPY ... FROM"};
    return Finding{C::kFileWrite, "COPY ... TO"};
  }
  if (type == "SET") {
    if (IsWord(tokens, 0, "USE")) return Finding{C::kSessionSetting, "USE"};
    size_t i = 1;
    if (IsWord(tokens, i, "GLOBAL")) return Finding{C::kGlobalSetting, "SET GLOBAL"};
    if (IsWord(tokens, i, "SESSION") || IsWord(tokens, i, "LOCAL")) ++i;
    std::string name = NameAt(tokens, &i);
    if (name.empty()) return Finding{C::kUnknown, "SET"};
    ARROW_ASSIGN_OR_RAISE(auto statement_class, ClassifySetting(connection, name));
    return Finding{statement_class, "SET " + name};
  }
  if (type == "PRAGMA") {
    size_t i = 1;
    std::string name = IsWord(tokens, 0, "PRAGMA") ? NameAt(tokens, &i) : "";
    if (IsInfoPragma(name)) return Finding{C::kQuery, "PRAGMA " + name};
    return Finding{C::kGlobalSetting, name.empty() ? "PRAGMA" : "PRAGMA " + name};
  }
  if (type == "CALL") {
    // CALL f(...) is SELECT * FROM f(...): let the parse tree judge it.
    return ClassifySelects("SELECT * FROM " +
                           sql.substr(tokens.size() > 1 ? tokens[1].offset : sql.size()));
  }
  if (type == "EXPLAIN") {
    size_t i = 1;
    if (IsWord(tokens, i, "ANALYZE") || IsWord(tokens, i, "ANALYSE")) ++i;
    return ClassifyRest(connection, sql, tokens, i, depth);
  }
  if (type == "PREPARE") {
    size_t i = 1;
    NameAt(tokens, &i);
    if (IsWord(tokens, i, "AS")) ++i;
    return ClassifyRest(connection, sql, tokens, i, depth);
  }
  return Finding{C::kUnknown, type};
}

// Each statement of a multi-statement `sql` by its own text, when the sql module's split
// agrees with the engine (as many statements as `types`, each piece one statement of the
// type the engine gave at its place); nullopt when it does not. The strictest finding wins.
arrow::Result<std::optional<Finding>> ClassifyEach(engine::EngineConnection& connection,
                                                   const std::string& sql,
                                                   const std::vector<std::string>& types) {
  const auto script = sql::Analyze(sql);
  if (script->statements.size() != types.size()) return std::nullopt;
  Finding worst{StatementClass::kQuery, ""};
  for (size_t i = 0; i < types.size(); ++i) {
    const std::string piece(script->statements[i].text());
    auto piece_types = StatementTypesOf(connection, piece);
    if (!piece_types.ok() || *piece_types != std::vector<std::string>{types[i]}) {
      return std::nullopt;
    }
    ARROW_ASSIGN_OR_RAISE(auto finding, ClassifyOne(connection, piece, types[i], 0));
    Raise(&worst, finding.statement_class, finding.what);
  }
  if (worst.what.empty()) worst.what = "SELECT";
  return worst;
}

// Several statements whose texts could not be told apart: judged by type alone, and the
// kinds that need their text are unknown.
Finding ClassifyByTypes(const std::vector<std::string>& types) {
  Finding worst{StatementClass::kQuery, ""};
  for (const auto& type : types) {
    if (type == "SELECT") continue;
    if (type == "INSERT" || type == "UPDATE" || type == "DELETE") {
      Raise(&worst, StatementClass::kWrite, type);
    } else if (type == "CREATE" || type == "ALTER" || type == "DROP") {
      Raise(&worst, StatementClass::kDdl, type);
    } else if (type == "TRANSACTION") {
      Raise(&worst, StatementClass::kTransaction, "transaction control");
    } else {
      Raise(&worst, StatementClass::kUnknown, type + " in a multi-statement string");
    }
  }
  if (worst.what.empty()) worst.what = "SELECT";
  return worst;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kReadOnly:
      return "read_only";
    case Role::kReadWrite:
      return "read_write";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view text) {
  const std::string lower = Lower(text);
  if (lower == "read_only" || lower == "readonly") return Role::kReadOnly;
  if (lower == "read_write" || lower == "readwrite") return Role::kReadWrite;
  if (lower == "admin") return Role::kAdmin;
  return std::nullopt;
}

Role RequiredRole(StatementClass statement_class) {
  switch (statement_class) {
    case StatementClass::kQuery:
    case StatementClass::kSessionSetting:
    case StatementClass::kTransaction:
      return Role::kReadOnly;
    case StatementClass::kFileRead:
    case StatementClass::kWrite:
    case StatementClass::kDdl:
    case StatementClass::kLocalSetting:
      return Role::kReadWrite;
    case StatementClass::kGlobalSetting:
    case StatementClass::kFileWrite:
    case StatementClass::kExtension:
    case StatementClass::kAttach:
    case StatementClass::kUnknown:
      return Role::kAdmin;
  }
  return Role::kAdmin;
}

Role RequiredRoleForUpdate(StatementClass statement_class) {
  const Role role = RequiredRole(statement_class);
  if (statement_class == StatementClass::kTransaction) return role;
  return static_cast<int>(role) >= static_cast<int>(Role::kReadWrite) ? role : Role::kReadWrite;
}

bool LooksLikeTransactionControl(const std::string& sql) {
  static const std::set<std::string> kKeywords = {"BEGIN", "START",    "COMMIT",
                                                  "END",   "ROLLBACK", "ABORT"};
  const auto script = sql::Analyze(sql);  // owns the statements (a temporary would not)
  if (script->statements.empty()) return false;
  for (const auto& statement : script->statements) {
    if (!kKeywords.count(statement.keyword)) return false;
  }
  return true;
}

arrow::Result<SqlRequirement> ClassifySql(engine::EngineConnection& connection,
                                          const std::string& sql) {
  // Queries, the common case, are decided from the parse tree alone.
  if (auto selects = TryClassifySelects(sql)) {
    return SqlRequirement{selects->statement_class, selects->what};
  }
  ARROW_ASSIGN_OR_RAISE(auto types, StatementTypesOf(connection, sql));
  Finding worst{StatementClass::kQuery, ""};
  if (types.size() == 1) {
    ARROW_ASSIGN_OR_RAISE(worst, ClassifyOne(connection, sql, types[0], 0));
  } else {
    ARROW_ASSIGN_OR_RAISE(auto each, ClassifyEach(connection, sql, types));
    if (each) {
      worst = *each;
    } else {
      worst = ClassifyByTypes(types);
    }
  }
  return SqlRequirement{worst.statement_class, worst.what};
}

arrow::Result<StatementClass> ClassifySetting(engine::EngineConnection& connection,
                                              const std::string& name) {
  static const std::set<std::string> kHarmless = {"schema",   "search_path",    "timezone",
                                                  "calendar", "errors_as_json", "explain_output"};
  // Connection-local, but they name files the server would write.
  static const std::set<std::string> kWritesFiles = {"log_query_path", "profiling_output",
                                                     "profile_output", "http_logging_output",
                                                     "home_directory"};
  const std::string lower = Lower(name);
  if (kHarmless.count(lower)) return StatementClass::kSessionSetting;
  if (kWritesFiles.count(lower)) return StatementClass::kGlobalSetting;
  auto scope = engine::QueryValue(
      connection,
      "SELECT scope FROM duckdb_settings() WHERE lower(name) = " + engine::QuoteLiteral(lower) +
          " OR list_contains(aliases, " + engine::QuoteLiteral(lower) + ") LIMIT 1");
  if (scope.ok() && *scope == "LOCAL") return StatementClass::kLocalSetting;
  return StatementClass::kGlobalSetting;
}

std::string DenialMessage(const std::string& user, Role role, const std::string& what,
                          Role needed) {
  return "permission denied: user '" + user + "' (role " + std::string(RoleName(role)) +
         ") may not run " + what + "; it needs role " + std::string(RoleName(needed));
}

}  // namespace hyprstream::flightsql
