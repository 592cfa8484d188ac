#include "access/statement_needs.h"

#include <arrow/scalar.h>
#include <arrow/table.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "sql/sql_lexer.h"
#include "sql/sql_script.h"

namespace hyprstream::access {
namespace {

using Row = std::vector<std::optional<std::string>>;

constexpr int kMaxDepth = 8;  // views over views over ...

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The query of a `CREATE VIEW ... AS query` statement (duckdb_views() gives the statement):
// what follows its first AS outside brackets; the whole text when there is none.
std::string ViewQuery(const std::string& create_view) {
  const auto tokens = sql::Lex(create_view);
  int depth = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (sql::IsSymbol(tokens[i], "(")) ++depth;
    if (sql::IsSymbol(tokens[i], ")")) --depth;
    if (depth == 0 && sql::IsWord(tokens[i], "AS") && i + 1 < tokens.size()) {
      return create_view.substr(tokens[i + 1].offset);
    }
  }
  return create_view;
}

// Every row of `sql`, each value as text (nullopt for NULL).
arrow::Result<std::vector<Row>> Rows(engine::EngineConnection& connection, const std::string& sql) {
  ARROW_ASSIGN_OR_RAISE(auto table, engine::QueryTable(connection, sql));
  ARROW_ASSIGN_OR_RAISE(auto batch, table->CombineChunksToBatch());
  std::vector<Row> rows(batch->num_rows(), Row(batch->num_columns()));
  for (int c = 0; c < batch->num_columns(); ++c) {
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      ARROW_ASSIGN_OR_RAISE(auto scalar, batch->column(c)->GetScalar(r));
      if (scalar->is_valid) rows[r][c] = scalar->ToString();
    }
  }
  return rows;
}

// Where unqualified names are looked up: the default catalog and schema, and the search path.
struct Scope {
  std::string catalog;
  std::string schema;
};

struct Relation {
  QualifiedTable name;
  std::optional<std::string> view_sql;  // a (non-internal) view's definition
};

struct Macro {
  std::string catalog;
  std::string schema;
  std::string definition;
  bool table = false;
};

class Finder {
 public:
  explicit Finder(engine::EngineConnection& connection) : connection_(connection) {}

  arrow::Status Init() {
    ARROW_ASSIGN_OR_RAISE(auto rows, Rows(connection_,
                                          "SELECT current_database(), current_schema(), "
                                          "current_setting('search_path')"));
    if (rows.size() != 1 || !rows[0][0] || !rows[0][1]) {
      return arrow::Status::Invalid("cannot read the connection's current database and schema");
    }
    top_ = Scope{Lower(*rows[0][0]), Lower(*rows[0][1])};
    search_ = {{"temp", "main"}, {top_.catalog, top_.schema}};
    std::string path = rows[0][2].value_or("");
    size_t start = 0;
    while (start <= path.size()) {
      size_t comma = path.find(',', start);
      std::string entry = path.substr(start, comma == std::string::npos ? comma : comma - start);
      entry.erase(std::remove_if(entry.begin(), entry.end(),
                                 [](char c) { return c == '"' || c == '\'' || c == ' '; }),
                  entry.end());
      entry = Lower(entry);
      if (!entry.empty()) {
        const size_t dot = entry.find('.');
        if (dot != std::string::npos) {
          search_.push_back({entry.substr(0, dot), entry.substr(dot + 1)});
        } else {
          search_.push_back({top_.catalog, entry});
          search_.push_back({entry, "main"});
        }
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    search_.push_back({"system", "main"});
    search_.push_back({"system", "pg_catalog"});
    return arrow::Status::OK();
  }

  const Scope& top() const { return top_; }
  StatementNeeds& out() { return out_; }

  arrow::Status Sql(const std::string& text, const Scope& scope, const std::string& via,
                    int depth) {
    const auto script = sql::Analyze(text);
    const auto& statements = script->statements;
    for (size_t i = 0; i < statements.size(); ++i) {
      // Names are resolved before anything runs: a USE or SET (schema, search_path) would
      // make the later statements' names mean other tables.
      if (statements[i].kind == sql::StatementKind::kSetting && i + 1 < statements.size()) {
        Untellable(statements[i].keyword +
                   " followed by other statements in one request (send them separately)");
      }
      ARROW_RETURN_NOT_OK(Statement(statements[i], scope, via, depth));
      if (out_.untellable) break;
    }
    return arrow::Status::OK();
  }

  // The existing tables `ref` may name (all of them: the statement needs each), or the one
  // it would name if it existed.
  arrow::Result<std::vector<Relation>> Candidates(const sql::TableRef& ref, const Scope& scope) {
    ARROW_ASSIGN_OR_RAISE(const std::vector<Relation>* named, Named(ref.table));
    const std::string table = Lower(ref.table);
    std::vector<Relation> found;
    std::vector<std::pair<std::string, std::string>> places;
    if (ref.catalog) {
      places = {{Lower(*ref.catalog), Lower(ref.schema.value_or("main"))}};
    } else if (ref.schema) {
      const std::string schema = Lower(*ref.schema);
      places = {{scope.catalog, schema}, {schema, "main"}, {"temp", schema}, {"system", schema}};
    } else {
      places = search_;
      places.insert(places.begin() + 1, {scope.catalog, scope.schema});
    }
    for (const Relation& relation : *named) {
      for (const auto& [catalog, schema] : places) {
        if (relation.name.catalog == catalog && relation.name.schema == schema) {
          found.push_back(relation);
          break;
        }
      }
    }
    if (found.empty()) {
      Relation assumed;
      assumed.name = ref.catalog
                         ? QualifiedTable{places[0].first, places[0].second, table}
                         : QualifiedTable{scope.catalog,
                                          ref.schema ? Lower(*ref.schema) : scope.schema, table};
      found.push_back(std::move(assumed));
    }
    return found;
  }

 private:
  void Untellable(std::string why) {
    if (!out_.untellable) out_.untellable = std::move(why);
  }

  void Add(Privilege privilege, const QualifiedTable& table, const std::string& via) {
    for (const Need& need : out_.needs) {
      // A read of a window's table is not a read of the table itself: both are kept.
      if (need.privilege == privilege && need.table == table && need.window == reading_window_) {
        return;
      }
    }
    out_.needs.push_back(Need{privilege, table, via, reading_window_});
  }

  arrow::Status Statement(const sql::StatementInfo& statement, const Scope& scope,
                          const std::string& via, int depth) {
    using K = sql::StatementKind;
    switch (statement.kind) {
      case K::kBegin:
      case K::kCommit:
      case K::kRollback:
      case K::kSavepoint:
      case K::kSetting:
      case K::kCheckpoint:
      case K::kPrepare:  // EXECUTE, which would run it, cannot be told
      case K::kDeallocate:
        return arrow::Status::OK();
      default:
        break;
    }
    const std::string what = statement.keyword.empty() ? "this statement" : statement.keyword;
    if (!statement.well_formed || !statement.writes_known) {
      Untellable(what + " (which tables it touches cannot be told)");
      return arrow::Status::OK();
    }
    if (sql::IsDdl(statement.kind) && statement.writes.empty()) {
      // Macros, functions, indexes, sequences, types: a macro could stand in for another
      // (tumble, a view's), and an index is built from a table's rows.
      Untellable(what + " of an object other than a table or view");
      return arrow::Status::OK();
    }
    for (const auto& write : statement.writes) {
      ARROW_ASSIGN_OR_RAISE(auto tables, Candidates(write.table, scope));
      const bool reads_target =
          write.mode == sql::WriteMode::kUpdate || write.mode == sql::WriteMode::kDelete ||
          write.mode == sql::WriteMode::kMerge || write.mode == sql::WriteMode::kUpsert;
      for (const Relation& table : tables) {
        Add(Privilege::kWrite, table.name, via);
        if (reads_target) Add(Privilege::kRead, table.name, via);
      }
    }
    const sql::StatementReads& reads = statement.reads();
    if (!reads.known) {
      // CREATE VIEW: its query is checked whenever the view is read. COPY t FROM reads a
      // file (the role check's business) into t (written above). Neither has a query part to
      // parse (a CREATE TABLE ... AS whose query DuckDB could not parse has an error).
      if ((statement.kind == K::kCreate || statement.kind == K::kCopyFrom) && reads.error.empty()) {
        return arrow::Status::OK();
      }
      if (statement.kind == K::kUpdate || statement.kind == K::kDelete ||
          statement.kind == K::kAlter) {
        ARROW_ASSIGN_OR_RAISE(bool plain, IsPlainDml(statement));
        if (plain) return arrow::Status::OK();
        Untellable(what + " with a subquery, a FROM/USING clause or a macro");
        return arrow::Status::OK();
      }
      Untellable(what + " (which tables it reads cannot be told)");
      return arrow::Status::OK();
    }
    for (const auto& table : reads.tables) {
      ARROW_RETURN_NOT_OK(ReadTable(table, scope, via, depth));
    }
    for (const auto& call : reads.table_function_calls) {
      ARROW_RETURN_NOT_OK(TableFunction(call, scope, via, depth));
    }
    ARROW_ASSIGN_OR_RAISE(const auto* macros, Macros());
    for (const auto& name : reads.scalar_functions) {
      // Every macro of that name (in any schema): the one called is among them.
      auto [first, last] = macros->equal_range(name);
      for (auto macro = first; macro != last; ++macro) {
        if (macro->second.table) continue;
        ARROW_RETURN_NOT_OK(Nested("SELECT " + macro->second.definition,
                                   Scope{macro->second.catalog, macro->second.schema},
                                   "macro " + name, depth));
      }
    }
    return arrow::Status::OK();
  }

  // UPDATE/DELETE/ALTER naming no other table: no SELECT, USING, JOIN, FROM or TABLE (but
  // DELETE FROM, ALTER TABLE), and no call of a user macro.
  arrow::Result<bool> IsPlainDml(const sql::StatementInfo& statement) {
    ARROW_ASSIGN_OR_RAISE(const auto* macros, Macros());
    const auto tokens = sql::Lex(statement.text());
    for (size_t i = 0; i < tokens.size(); ++i) {
      const sql::Token& token = tokens[i];
      if (sql::IsWord(token, "SELECT") || sql::IsWord(token, "USING") ||
          sql::IsWord(token, "JOIN") ||
          ((sql::IsWord(token, "TABLE") || sql::IsWord(token, "FROM")) && i != 1)) {
        return false;
      }
      if (token.kind == sql::TokenKind::kWord && i + 1 < tokens.size() &&
          sql::IsSymbol(tokens[i + 1], "(") && macros->count(Lower(token.text))) {
        return false;
      }
    }
    return true;
  }

  arrow::Status ReadTable(const sql::TableRef& ref, const Scope& scope, const std::string& via,
                          int depth) {
    ARROW_ASSIGN_OR_RAISE(auto tables, Candidates(ref, scope));
    for (const Relation& table : tables) {
      Add(Privilege::kRead, table.name, via);
      if (table.view_sql) {
        ARROW_RETURN_NOT_OK(Nested(ViewQuery(*table.view_sql),
                                   Scope{table.name.catalog, table.name.schema},
                                   "view " + table.name.ToString(), depth));
      }
    }
    return arrow::Status::OK();
  }

  arrow::Status Nested(const std::string& text, const Scope& scope, const std::string& via,
                       int depth) {
    if (depth >= kMaxDepth) {
      Untellable("objects nested more than " + std::to_string(kMaxDepth) + " deep (" + via + ")");
      return arrow::Status::OK();
    }
    if (!expanding_.insert(via).second) return arrow::Status::OK();  // a cycle
    auto status = Sql(text, scope, via, depth + 1);
    expanding_.erase(via);
    return status;
  }

  // Table functions that read tables: tumble/hop/query_table (a constant table name),
  // query (a constant query), hyprstream_window/_create_window/_drop_window (a window's
  // table), user table macros.
  arrow::Status TableFunction(const sql::StatementReads::TableFunctionCall& call,
                              const Scope& scope, const std::string& via, int depth) {
    const std::string& name = call.name;
    auto text_argument = [&call](size_t index) -> std::optional<std::string> {
      return index < call.text_arguments.size() ? call.text_arguments[index] : std::nullopt;
    };
    const auto argument = text_argument(0);
    if (name == "tumble" || name == "hop" || name == "query_table") {
      auto table = argument ? sql::ParseTableRef(*argument) : std::nullopt;
      if (!table) {
        Untellable(name + "() of a table name that is not a constant");
        return arrow::Status::OK();
      }
      return ReadTable(*table, scope, via, depth);  // tumble/hop: already among the reads
    }
    if (name == "query") {
      if (!argument) {
        Untellable("query() of a text that is not a constant");
        return arrow::Status::OK();
      }
      return Nested(*argument, scope, "query()", depth);
    }
    if (name == "hyprstream_create_window") {
      // A window summarises its table (and tells its row count): read on the table.
      const auto table_name = text_argument(1);
      auto table = table_name ? sql::ParseTableRef(*table_name) : std::nullopt;
      if (!table) {
        Untellable(name + "() of a table name that is not a constant");
        return arrow::Status::OK();
      }
      return ReadTable(*table, scope, "window " + Lower(argument.value_or("")), depth);
    }
    if (name == "hyprstream_window" || name == "hyprstream_drop_window") {
      if (!argument) {
        Untellable(name + "() of a name that is not a constant");
        return arrow::Status::OK();
      }
      ARROW_ASSIGN_OR_RAISE(
          auto rows, Rows(connection_, "SELECT \"table\" FROM hyprstream_windows() WHERE name = " +
                                           engine::QuoteLiteral(Lower(*argument))));
      if (rows.empty() || !rows[0][0]) return arrow::Status::OK();  // no such window: fails
      auto table = sql::ParseTableRef(*rows[0][0]);
      if (!table) {
        Untellable("window " + *argument + " (its table cannot be told)");
        return arrow::Status::OK();
      }
      if (name == "hyprstream_drop_window") {
        return ReadTable(*table, top_, "window " + Lower(*argument), depth);
      }
      reading_window_ = Lower(*argument);
      auto status = ReadTable(*table, top_, "window " + reading_window_, depth);
      reading_window_.clear();
      return status;
    }
    ARROW_ASSIGN_OR_RAISE(const auto* macros, Macros());
    auto [first, last] = macros->equal_range(name);
    for (auto macro = first; macro != last; ++macro) {
      if (!macro->second.table) continue;
      ARROW_RETURN_NOT_OK(Nested(macro->second.definition,
                                 Scope{macro->second.catalog, macro->second.schema},
                                 "macro " + name, depth));
    }
    return arrow::Status::OK();  // otherwise a built-in function: the role check judges it
  }

  // The tables and views named `table` (any case) in every catalog, looked up once.
  arrow::Result<const std::vector<Relation>*> Named(const std::string& table) {
    const std::string key = Lower(table);
    auto it = named_.find(key);
    if (it != named_.end()) return &it->second;
    const std::string literal = engine::QuoteLiteral(key);
    ARROW_ASSIGN_OR_RAISE(
        auto rows,
        Rows(connection_,
             "SELECT database_name, schema_name, table_name, NULL::VARCHAR FROM duckdb_tables() "
             "WHERE lower(table_name) = " +
                 literal +
                 " UNION ALL SELECT database_name, schema_name, view_name, "
                 "CASE WHEN internal THEN NULL ELSE sql END FROM duckdb_views() "
                 "WHERE lower(view_name) = " +
                 literal));
    std::vector<Relation> relations;
    for (const Row& row : rows) {
      if (!row[0] || !row[1] || !row[2]) continue;
      relations.push_back(
          Relation{QualifiedTable{Lower(*row[0]), Lower(*row[1]), Lower(*row[2])}, row[3]});
    }
    return &named_.emplace(key, std::move(relations)).first->second;
  }

  // User-defined macros by name (not the engine's own; tumble and hop are known above, and
  // only admins may define macros while grants are in force).
  arrow::Result<const std::multimap<std::string, Macro>*> Macros() {
    if (macros_) return &*macros_;
    ARROW_ASSIGN_OR_RAISE(
        auto rows,
        Rows(connection_,
             "SELECT lower(function_name), function_type, macro_definition, database_name, "
             "schema_name FROM duckdb_functions() WHERE function_type IN ('macro', "
             "'table_macro') AND NOT internal AND lower(function_name) NOT IN ('tumble', 'hop')"));
    macros_.emplace();
    for (const Row& row : rows) {
      if (!row[0] || !row[1] || !row[2]) continue;
      macros_->emplace(*row[0],
                       Macro{Lower(row[3].value_or(top_.catalog)), Lower(row[4].value_or("main")),
                             *row[2], *row[1] == "table_macro"});
    }
    return &*macros_;
  }

  engine::EngineConnection& connection_;
  Scope top_;
  std::vector<std::pair<std::string, std::string>> search_;
  std::map<std::string, std::vector<Relation>> named_;
  std::optional<std::multimap<std::string, Macro>> macros_;
  std::set<std::string> expanding_;
  std::string reading_window_;  // while the table of hyprstream_window(name) is added
  StatementNeeds out_;
};

}  // namespace

arrow::Result<StatementNeeds> NeedsOfSql(engine::EngineConnection& connection,
                                         const std::string& sql) {
  Finder finder(connection);
  ARROW_RETURN_NOT_OK(finder.Init());
  ARROW_RETURN_NOT_OK(finder.Sql(sql, finder.top(), "", 0));
  return std::move(finder.out());
}

arrow::Result<std::vector<QualifiedTable>> ResolveTable(engine::EngineConnection& connection,
                                                        const std::vector<std::string>& parts) {
  auto ref = sql::TableRef::FromParts(parts);
  if (!ref) return arrow::Status::Invalid("a table is named by 1 to 3 parts");
  Finder finder(connection);
  ARROW_RETURN_NOT_OK(finder.Init());
  ARROW_ASSIGN_OR_RAISE(auto relations, finder.Candidates(*ref, finder.top()));
  std::vector<QualifiedTable> tables;
  for (auto& relation : relations) tables.push_back(std::move(relation.name));
  return tables;
}

}  // namespace hyprstream::access
