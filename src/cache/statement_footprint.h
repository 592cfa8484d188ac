// StatementFootprint: what a SQL statement reads and writes, as far as the cache must know to
// decide where it can be answered and what a write invalidates. Reads are parsed by DuckDB
// itself (json_serialize_sql on a cache connection), so anything DuckDB cannot parse is simply
// "not known" and goes to the backend. Writes are recognised from the statement's leading
// keywords (INSERT INTO t, UPDATE t, DELETE FROM t, TRUNCATE t, DROP/ALTER/CREATE TABLE t, ...).
// Stateless functions; thread-safe as long as each call has its own connection.
#pragma once

#include <arrow/result.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace hyprstream::cache {

// A table as the cache names it: lower-cased schema ("" for the backend's default schema) and
// table. Catalog-qualified names are kept whole in `schema` ("cat.schema").
struct TableKey {
  std::string schema;
  std::string table;

  static TableKey Parse(const std::string& qualified);  // "t", "s.t", "\"S\".t"
  std::string ToString() const { return schema.empty() ? table : schema + "." + table; }
  // The name quoted for DuckDB SQL (main schema when `schema` is empty).
  std::string Quoted() const;
  bool operator<(const TableKey& o) const {
    return schema != o.schema ? schema < o.schema : table < o.table;
  }
  bool operator==(const TableKey& o) const = default;
};

// A lower bound on a table's column taken from a top-level WHERE conjunct
// (`col >= expr`, `col > expr`, `expr <= col`, `col BETWEEN expr AND ...`), where expr has no
// column, parameter or subquery in it. `expression` is a DuckDB SELECT that computes it.
struct LowerBound {
  TableKey table;
  std::string column;  // lower-cased
  std::string expression;
};

struct ReadFootprint {
  bool parsed = false;             // one query statement DuckDB could parse
  std::vector<TableKey> tables;    // every base table read anywhere (CTE names excluded)
  bool foreign_functions = false;  // a table function other than hyprstream_* is read
  bool cache_functions = false;    // a hyprstream_* table function is read
  bool has_parameters = false;
  // Tables whose every read is in the top-level FROM clause of a plain SELECT (so a top-level
  // WHERE bound restricts all of their rows that can reach the result).
  std::vector<TableKey> top_level_tables;
  std::vector<LowerBound> lower_bounds;
};

// Parses `sql` on `duckdb` (a DuckDB connection). Never fails: unparseable SQL gives
// parsed == false.
ReadFootprint AnalyzeRead(engine::EngineConnection& duckdb, const std::string& sql,
                          const std::string& default_schema);

// Evaluates a LowerBound's expression as microseconds since the epoch (TIMESTAMP semantics).
arrow::Result<int64_t> EvaluateBound(engine::EngineConnection& duckdb, const LowerBound& bound);

// What a statement may change: the table it writes, or nullopt when it cannot be told (then
// everything cached must be considered changed). Statements that change nothing (SELECT,
// SHOW, ...) give an empty vector.
std::optional<std::vector<TableKey>> WrittenTables(const std::string& sql,
                                                   const std::string& default_schema);

// The statement's first word, upper-cased, after spaces and comments ("" when it does not
// start with a word). Shared by everything that decides by the leading keyword.
std::string LeadingKeyword(const std::string& sql);

// Query or update, from the leading keyword (backends that cannot prepare cheaply).
engine::StatementKind ClassifyStatement(const std::string& sql);

}  // namespace hyprstream::cache
