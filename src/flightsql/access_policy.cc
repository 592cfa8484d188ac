#include "flightsql/access_policy.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <set>
#include <unordered_map>

#include "cache/statement_footprint.h"
#include "engine/arrow_to_duckdb_type.h"
#include "engine/duckdb_engine.h"
#include "engine/engine_sql.h"

namespace hyprstream::flightsql {
namespace {

using nlohmann::json;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// --- A small SQL tokenizer: only for the statements DuckDB's parse tree does not expose
// (COPY direction, SET scope, PRAGMA/CALL names, EXPLAIN/PREPARE bodies). ------------------

struct Token {
  enum Kind { kWord, kQuoted, kString, kSymbol } kind;
  std::string text;  // words upper-cased; quoted identifiers and strings unquoted
  size_t offset;
};

std::vector<Token> Tokenize(std::string_view sql, size_t limit = 64) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < sql.size() && tokens.size() < limit) {
    char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else if (c == '"' || c == '\'') {
      Token token{c == '"' ? Token::kQuoted : Token::kString, "", i};
      ++i;
      while (i < sql.size()) {
        if (sql[i] == c && i + 1 < sql.size() && sql[i + 1] == c) {
          token.text += c;
          i += 2;
        } else if (sql[i] == c) {
          ++i;
          break;
        } else {
          token.text += sql[i++];
        }
      }
      tokens.push_back(std::move(token));
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      Token token{Token::kWord, "", i};
      while (i < sql.size() &&
             (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_' || sql[i] == '$')) {
        token.text += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
      }
      tokens.push_back(std::move(token));
    } else {
      tokens.push_back(Token{Token::kSymbol, std::string(1, c), i});
      ++i;
    }
  }
  return tokens;
}

bool IsWord(const std::vector<Token>& tokens, size_t i, std::string_view word) {
  return i < tokens.size() && tokens[i].kind == Token::kWord && tokens[i].text == word;
}

// The last part of a possibly qualified name starting at token i; advances i past it.
std::string NameAt(const std::vector<Token>& tokens, size_t* i) {
  std::string name;
  while (*i < tokens.size() &&
         (tokens[*i].kind == Token::kWord || tokens[*i].kind == Token::kQuoted)) {
    name = tokens[*i].kind == Token::kWord ? Lower(tokens[*i].text) : tokens[*i].text;
    ++*i;
    if (*i < tokens.size() && tokens[*i].kind == Token::kSymbol && tokens[*i].text == ".") {
      ++*i;
    } else {
      break;
    }
  }
  return name;
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

void Raise(Finding* worst, StatementClass statement_class, std::string what) {
  if (static_cast<int>(RequiredRole(statement_class)) >
          static_cast<int>(RequiredRole(worst->statement_class)) ||
      (worst->what.empty() && statement_class == worst->statement_class)) {
    worst->statement_class = statement_class;
    worst->what = std::move(what);
  }
}

// node[key] when it is a string, else "" (parse-tree fields vary in type).
std::string Field(const json& node, const char* key) {
  auto it = node.find(key);
  return it != node.end() && it->is_string() ? it->get<std::string>() : "";
}

// The constant string of an expression node, if it is one.
std::optional<std::string> ConstantText(const json& node) {
  if (!node.is_object() || Field(node, "class") != "CONSTANT") return std::nullopt;
  const auto& value = node["value"];
  if (!value.is_object() || !value.contains("value") || !value["value"].is_string()) {
    return std::nullopt;
  }
  return value["value"].get<std::string>();
}

// Walks a json_serialize_sql tree: table functions, scalar functions and table names.
void WalkTree(const json& node, Finding* worst) {
  if (node.is_array()) {
    for (const auto& child : node) WalkTree(child, worst);
    return;
  }
  if (!node.is_object()) return;
  const std::string type = Field(node, "type");
  if (type == "TABLE_FUNCTION" && node.contains("function")) {
    const json& function = node["function"];
    std::string name = Lower(Field(function, "function_name"));
    StatementClass statement_class = ClassOfTableFunction(name);
    if (statement_class == StatementClass::kQuery && TakesTableName(name)) {
      auto children = function.find("children");
      auto table = children == function.end() || !children->is_array() || children->empty()
                       ? std::nullopt
                       : ConstantText((*children)[0]);
      if (!table || LooksLikePath(*table)) statement_class = StatementClass::kFileRead;
    }
    Raise(worst, statement_class, "table function " + name);
    WalkTree(function, worst);
    for (const auto& [key, value] : node.items()) {
      if (key != "function") WalkTree(value, worst);
    }
    return;
  }
  if (type == "BASE_TABLE") {
    std::string table = Field(node, "table_name");
    if (LooksLikePath(table)) Raise(worst, StatementClass::kFileRead, "reading '" + table + "'");
  }
  if (Field(node, "class") == "FUNCTION") {
    std::string name = Lower(Field(node, "function_name"));
    StatementClass statement_class = ClassOfScalarFunction(name);
    if (statement_class != StatementClass::kQuery)
      Raise(worst, statement_class, "function " + name);
  }
  for (const auto& [key, value] : node.items()) WalkTree(value, worst);
}

// What the SELECTs of `sql` call, from DuckDB's parse tree (parsing only: nothing is bound,
// so no file is looked at). nullopt when `sql` is not only SELECTs (DuckDB serialises no
// other statement).
// DuckDB connections that only parse (json_serialize_sql needs no tables), so SQL is
// classified the same way whatever engine runs it (DuckDB, an ADBC backend, the cache). A few,
// taken round-robin: each serialises its own calls.
engine::EngineConnection& Parser() {
  static constexpr size_t kParsers = 4;
  static std::vector<std::shared_ptr<engine::EngineConnection>> parsers = [] {
    std::vector<std::shared_ptr<engine::EngineConnection>> out;
    engine::EngineOptions options;
    options.connection = ":memory:";
    options.options = {{"threads", "1"}};
    auto engine = engine::OpenDuckDbEngine(options);
    for (size_t i = 0; engine.ok() && i < kParsers; ++i) {
      auto connection = (*engine)->Connect();
      if (connection.ok()) out.push_back(*connection);
    }
    return out;
  }();
  static std::atomic<size_t> next{0};
  return *parsers[next++ % parsers.size()];
}

// The statement type of `sql` from its leading keyword, in DuckDB's names, for engines that
// cannot prepare it to tell (anything not recognised needs admin).
std::vector<std::string> KeywordStatementTypes(const std::string& sql) {
  size_t open = sql.find_first_not_of(" \t\r\n(");
  const std::string word =
      cache::LeadingKeyword(open == std::string::npos ? sql : sql.substr(open));
  static const std::unordered_map<std::string, std::string> kTypes = {
      {"SELECT", "SELECT"},     {"WITH", "SELECT"},        {"VALUES", "SELECT"},
      {"TABLE", "SELECT"},      {"INSERT", "INSERT"},      {"UPDATE", "UPDATE"},
      {"DELETE", "DELETE"},     {"TRUNCATE", "DELETE"},    {"CREATE", "CREATE"},
      {"DROP", "DROP"},         {"ALTER", "ALTER"},        {"BEGIN", "TRANSACTION"},
      {"START", "TRANSACTION"}, {"COMMIT", "TRANSACTION"}, {"ROLLBACK", "TRANSACTION"},
      {"END", "TRANSACTION"},   {"ABORT", "TRANSACTION"},  {"COPY", "COPY"},
      {"EXPLAIN", "EXPLAIN"}};
  auto it = kTypes.find(word);
  return {it == kTypes.end() ? (word.empty() ? std::string("UNKNOWN") : word) : it->second};
}

// The engine's own statement types, or the keyword's when it cannot tell.
arrow::Result<std::vector<std::string>> StatementTypesOf(engine::EngineConnection& connection,
                                                         const std::string& sql) {
  auto types = connection.StatementTypes(sql);
  if (types.status().IsNotImplemented()) return KeywordStatementTypes(sql);
  return types;
}

arrow::Result<std::optional<Finding>> TryClassifySelects(engine::EngineConnection& connection,
                                                         const std::string& sql) {
  (void)connection;
  ARROW_ASSIGN_OR_RAISE(
      auto text,
      engine::QueryValue(Parser(), "SELECT json_serialize_sql(" + engine::QuoteLiteral(sql) + ")"));
  json tree = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto error = tree.is_object() ? tree.find("error") : tree.end();
  if (!tree.is_object() || error == tree.end() || !error->is_boolean() || error->get<bool>() ||
      !tree.contains("statements") || !tree["statements"].is_array() ||
      tree["statements"].empty()) {
    return std::nullopt;
  }
  Finding worst{StatementClass::kQuery, "SELECT"};
  WalkTree(tree["statements"], &worst);
  return worst;
}

// Query findings by SQL text. A parse tree depends on the text alone (not on the catalog or
// settings), so a repeated query (dashboards) is decided without asking DuckDB again.
// Bounded: emptied when full. Any thread.
class QueryFindingCache {
 public:
  std::optional<Finding> Find(const std::string& sql) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = findings_.find(sql);
    if (it == findings_.end()) return std::nullopt;
    return it->second;
  }
  void Add(const std::string& sql, const Finding& finding) {
    if (sql.size() > kMaxSqlBytes) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (findings_.size() >= kMaxEntries) findings_.clear();
    findings_.emplace(sql, finding);
  }

 private:
  static constexpr size_t kMaxEntries = 4096;
  static constexpr size_t kMaxSqlBytes = 16384;
  std::mutex mutex_;
  std::unordered_map<std::string, Finding> findings_;
};

QueryFindingCache& QueryFindings() {
  static QueryFindingCache cache;
  return cache;
}

arrow::Result<Finding> ClassifySelects(engine::EngineConnection& connection,
                                       const std::string& sql) {
  ARROW_ASSIGN_OR_RAISE(auto finding, TryClassifySelects(connection, sql));
  if (finding) return *finding;
  return Finding{StatementClass::kUnknown, "a query DuckDB cannot describe"};
}

arrow::Result<Finding> ClassifyOne(engine::EngineConnection& connection, const std::string& sql,
                                   const std::string& type, int depth);

// Classifies the statement that starts at token `i` (EXPLAIN ANALYZE x, PREPARE p AS x).
arrow::Result<Finding> ClassifyRest(engine::EngineConnection& connection, const std::string& sql,
                                    const std::vector<Token>& tokens, size_t i, int depth) {
  if (i >= tokens.size() || depth > 4) return Finding{StatementClass::kUnknown, "nested statement"};
  std::string rest = sql.substr(tokens[i].offset);
  ARROW_ASSIGN_OR_RAISE(auto types, StatementTypesOf(connection, rest));
  if (types.size() != 1) return Finding{StatementClass::kUnknown, "nested statements"};
  return ClassifyOne(connection, rest, types[0], depth + 1);
}

arrow::Result<Finding> ClassifyOne(engine::EngineConnection& connection, const std::string& sql,
                                   const std::string& type, int depth) {
  using C = StatementClass;
  const auto tokens = Tokenize(sql);
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
    return ClassifySelects(connection, sql);
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
    if (i < tokens.size() && tokens[i].kind == Token::kSymbol && tokens[i].text == "(") {
      int level = 0;
      for (; i < tokens.size(); ++i) {
        if (tokens[i].text == "(" && tokens[i].kind == Token::kSymbol) ++level;
        if (tokens[i].text == ")" && tokens[i].kind == Token::kSymbol && --level == 0) {
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
    size_t i = 1;
    std::string name = NameAt(tokens, &i);
    // CALL f(...) is SELECT * FROM f(...): let the parse tree judge it.
    auto as_select = ClassifySelects(
        connection,
        "SELECT * FROM " + sql.substr(tokens.size() > 1 ? tokens[1].offset : sql.size()));
    if (as_select.ok()) return as_select;
    return Finding{ClassOfTableFunction(name), "CALL " + name};
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
      return Role::kReadOnly;
    case StatementClass::kFileRead:
    case StatementClass::kWrite:
    case StatementClass::kDdl:
    case StatementClass::kTransaction:
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

arrow::Result<SqlRequirement> ClassifySql(engine::EngineConnection& connection,
                                          const std::string& sql) {
  // Queries, the common case, are decided from the parse tree alone.
  if (auto cached = QueryFindings().Find(sql)) {
    return SqlRequirement{cached->statement_class, cached->what};
  }
  ARROW_ASSIGN_OR_RAISE(auto selects, TryClassifySelects(connection, sql));
  if (selects) {
    QueryFindings().Add(sql, *selects);
    return SqlRequirement{selects->statement_class, selects->what};
  }
  ARROW_ASSIGN_OR_RAISE(auto types, StatementTypesOf(connection, sql));
  Finding worst{StatementClass::kQuery, ""};
  if (types.size() == 1) {
    ARROW_ASSIGN_OR_RAISE(worst, ClassifyOne(connection, sql, types[0], 0));
  } else if (std::all_of(types.begin(), types.end(), [](const auto& t) { return t == "SELECT"; })) {
    ARROW_ASSIGN_OR_RAISE(worst, ClassifySelects(connection, sql));
  } else {
    // Several statements: without each one's own text, judge by type alone and treat the
    // kinds that need their text as unknown.
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
