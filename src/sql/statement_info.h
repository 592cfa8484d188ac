// StatementInfo: what one SQL statement is — its kind, the tables it changes and how, the
// facts of an INSERT, its parameters — told from its tokens; and what it reads, from DuckDB's
// own parse (json_serialize_sql), taken on the first call to reads(). Made by Analyze
// (sql_script.h); immutable afterwards, so any thread may read it, and reads() is computed
// once however many threads ask. Spans are offsets into the analysed script's text.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sql/sql_lexer.h"
#include "sql/table_ref.h"

namespace hyprstream::sql {

enum class StatementKind {
  kQuery,       // SELECT, WITH ... SELECT, VALUES, TABLE, FROM-first, SHOW, DESCRIBE, SUMMARIZE,
                // PIVOT, EXPLAIN
  kInsert,      // INSERT (every form), REPLACE INTO
  kUpdate,      // UPDATE
  kDelete,      // DELETE
  kMerge,       // MERGE INTO
  kCopyFrom,    // COPY t FROM ..., COPY FROM DATABASE
  kCopyTo,      // COPY t TO ..., COPY (query) TO ...
  kTruncate,    // TRUNCATE
  kCreate,      // CREATE ... (DDL)
  kDrop,        // DROP ... (DDL)
  kAlter,       // ALTER ... (DDL)
  kBegin,       // BEGIN [TRANSACTION|WORK], START TRANSACTION (not BEGIN ATOMIC)
  kCommit,      // COMMIT, END
  kRollback,    // ROLLBACK, ABORT
  kSavepoint,   // SAVEPOINT, RELEASE, ROLLBACK TO
  kSetting,     // SET, RESET, USE
  kPragma,      // PRAGMA
  kCall,        // CALL
  kAttach,      // ATTACH, DETACH
  kExtension,   // INSTALL, LOAD
  kCheckpoint,  // CHECKPOINT, FORCE CHECKPOINT
  kPrepare,     // PREPARE name AS ...
  kExecute,     // EXECUTE name
  kDeallocate,  // DEALLOCATE
  kOther,       // anything else, and text that does not lex (an unterminated string)
};
std::string_view StatementKindName(StatementKind kind);  // "query", "insert", ...
inline bool IsDdl(StatementKind kind) {
  return kind == StatementKind::kCreate || kind == StatementKind::kDrop ||
         kind == StatementKind::kAlter;
}

// How a statement changes a table.
enum class WriteMode {
  kAppend,        // INSERT: only adds rows
  kUpsert,        // INSERT OR REPLACE, ON CONFLICT DO UPDATE, REPLACE INTO: adds or changes
  kInsertIgnore,  // INSERT OR IGNORE, ON CONFLICT DO NOTHING: adds the rows RETURNING gives
  kUpdate,
  kDelete,
  kMerge,
  kCopyFrom,
  kTruncate,
  kDdl,  // CREATE/DROP/ALTER TABLE or VIEW, CREATE TABLE AS, ALTER ... RENAME (both names)
};
std::string_view WriteModeName(WriteMode mode);  // "append", "upsert", ...

struct TableWrite {
  TableRef table;
  WriteMode mode;
  bool operator==(const TableWrite&) const = default;
};

enum class ConflictAction { kNone, kOrReplace, kOrIgnore, kDoNothing, kDoUpdate };

// The parts of an INSERT a later layer needs to run it as INSERT ... RETURNING * or to run
// its source as a query.
struct InsertFacts {
  TableRef target;
  std::vector<std::string> columns;  // the column list, normalised; empty when none
  bool by_name = false;              // INSERT INTO t BY NAME ...
  Span with_clause;                  // WITH ... written before INSERT (DuckDB); empty when none
  Span source;  // the SELECT / VALUES / WITH / FROM / TABLE query, or DEFAULT VALUES
  bool default_values = false;
  bool returning = false;
  ConflictAction conflict = ConflictAction::kNone;
  // Where " RETURNING *" makes a valid statement: the end of the statement's last token
  // (before a trailing comment or ';').
  size_t returning_offset = 0;

  // The source as a query of its own (the WITH clause, then the source); "" for DEFAULT VALUES.
  std::string SourceQuery(std::string_view script_text) const;
  // `statement_text` (this one INSERT) with " RETURNING *" where the statement ends, without
  // the trailing comments or ';'; nullopt when it already returns something.
  std::optional<std::string> WithReturningAll(const std::string& statement_text) const;
};

struct Parameters {
  int positional = 0;              // number of '?'
  int highest_numbered = 0;        // highest $n (or ?n)
  std::vector<std::string> named;  // $name, in order of first appearance
  bool any() const { return positional > 0 || highest_numbered > 0 || !named.empty(); }
};

// One read of a table in a query: a base table, or the table tumble()/hop() names.
struct TableRead {
  // As DuckDB's parse gives them ("" when not written); not lower-cased.
  std::string catalog, schema, table;
  std::string name;  // what the query calls it: its alias, else the table (lower-cased)
};

// What a statement reads, from DuckDB's parse of its query part: the statement itself for a
// query, the embedded query of INSERT ... SELECT, CREATE TABLE ... AS and COPY (query) TO.
struct StatementReads {
  bool known = false;            // parsed, or a statement that reads no table
  bool whole_statement = false;  // `tree` is the statement's own parse (it is a SELECT)
  // json_serialize_sql's document ({"error": false, "statements": [...]}); null when the
  // statement has no query part or DuckDB could not parse it (`error` says why).
  std::shared_ptr<const nlohmann::json> tree;
  size_t parsed_statements = 0;  // statements in `tree` (1 unless DuckDB split the text)
  std::string error;
  std::vector<TableRef> tables;  // base tables read anywhere, CTE names excluded
  // Every read of `tables` and of tables tumble()/hop() name, in the order of the parse, as
  // the parse names them; a table read twice is listed twice.
  std::vector<TableRead> table_reads;
  std::vector<std::string> cte_names;         // lower-cased
  std::vector<std::string> table_functions;   // lower-cased, each once
  std::vector<std::string> scalar_functions;  // lower-cased, each once (operators included)
  // Every table function call, in the order of the parse: its name (lower-cased) and each
  // argument's constant string (nullopt for an argument that is not one).
  struct TableFunctionCall {
    std::string name;
    std::vector<std::optional<std::string>> text_arguments;
  };
  std::vector<TableFunctionCall> table_function_calls;
  // Every base table's name as DuckDB's parse gives it, CTE references included: a file read
  // by a replacement scan (FROM 'data.csv') is its path.
  std::vector<std::string> parsed_table_names;
  bool has_parameters = false;
};

// hyprstream's window table macros, tumble('t', ...) and hop('t', ...), read the table their
// first argument names as FROM t would; reads() counts it among `tables`.
bool IsTableReadingMacro(std::string_view lower_name);
// The table such a TABLE_FUNCTION node (of `tree`) reads; nullopt for any other node, or when
// the first argument is not a constant string naming a table.
std::optional<TableRef> TableReadByMacro(const nlohmann::json& table_function_node);

namespace detail {
struct StatementSource;  // the script text and what reads() parses (statement_info.cc)
}

struct StatementInfo {
  Span span;  // the statement in the script text, without blanks, comments and ';' around it
  StatementKind kind = StatementKind::kOther;
  std::string keyword;      // the leading keyword, upper-cased ("" when none)
  bool well_formed = true;  // false: an unterminated string, quoted name or comment
  std::vector<TableWrite> writes;
  bool writes_known = false;  // false: anything may have changed (DROP SCHEMA ... CASCADE, ...)
  std::optional<InsertFacts> insert;  // kind kInsert, when its parts were recognised
  Parameters parameters;

  std::string_view text() const;  // the statement's own text
  std::string_view script_text() const;
  const StatementReads& reads() const;  // parses on the first call (a DuckDB call)

  // Set by Analyze: the script text and what reads() parses (not for callers).
  std::shared_ptr<detail::StatementSource> internals;
};

}  // namespace hyprstream::sql
