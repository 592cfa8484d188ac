// StatementFootprint: what a SQL statement reads and writes, in the cache's terms (TableKey),
// as far as the cache must know to decide where it can be answered and what a write
// invalidates. Both come from the sql module: reads from DuckDB's own parse (anything DuckDB
// cannot parse is "not known" and goes to the backend), writes from every statement's
// description (INSERT of every form, UPDATE, DELETE, MERGE, TRUNCATE, COPY FROM, DDL, writes
// in CTEs). Stateless functions; any thread (EvaluateBound: one call per connection at once).
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

// The footprint of `sql` (one query statement). Never fails: SQL DuckDB cannot parse as one
// query gives parsed == false.
ReadFootprint AnalyzeRead(const std::string& sql, const std::string& default_schema);

// Evaluates a LowerBound's expression as microseconds since the epoch (TIMESTAMP semantics).
arrow::Result<int64_t> EvaluateBound(engine::EngineConnection& duckdb, const LowerBound& bound);

// What SQL (every statement of it) may change: the tables it writes, or nullopt when it
// cannot be told (then everything cached must be considered changed). Statements that change
// nothing (SELECT, SHOW, ...) give an empty vector.
std::optional<std::vector<TableKey>> WrittenTables(const std::string& sql,
                                                   const std::string& default_schema);

// The table `sql` deletes rows of, when it is one DELETE that writes nothing else (no
// writing CTE); nullopt for any other SQL. The mirror may then follow it (FollowedDelete).
std::optional<TableKey> DeletesOnlyFrom(const std::string& sql, const std::string& default_schema);

}  // namespace hyprstream::cache
