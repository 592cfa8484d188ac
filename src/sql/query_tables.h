// QueryTables: the tables one query reads, read from DuckDB's parse: every read (with the name
// the query calls it by), the tables of its top-level FROM, and the lower bounds its top-level
// WHERE puts on their columns (`col >= expr`, `col > expr`, `expr <= col`, `col BETWEEN expr
// AND ...`, where expr has no column, parameter or subquery in it). What a cache needs to tell
// which tables a query reads and which of their rows can reach its result. Pure; any thread.
#pragma once

#include <arrow/result.h>

#include <cstddef>
#include <string>
#include <vector>

#include "sql/statement_info.h"

namespace hyprstream::sql {

struct TableRead {
  // As DuckDB's parse gives them ("" when not written); not lower-cased.
  std::string catalog, schema, table;
  std::string name;  // what the query calls it: its alias, else the table (lower-cased)
};

struct ColumnLowerBound {
  size_t table = 0;            // index into QueryTables::top_level
  std::string column;          // lower-cased
  std::string expression_sql;  // the bound, printed by DuckDB
};

struct QueryTables {
  // Every read of a base table anywhere (CTE names excluded) or of the table tumble()/hop()
  // names, in the order of the parse; a table read twice is listed twice.
  std::vector<TableRead> reads;
  bool select = false;  // a plain SELECT (set operations, VALUES ...: false, and no more below)
  std::vector<TableRead> top_level;  // the base tables of its FROM's joins (not in subqueries)
  // Something else in that FROM too (a subquery, a table function, a CTE): an unqualified
  // column may belong to it.
  bool other_sources = false;
  std::vector<ColumnLowerBound> lower_bounds;  // a column whose top-level table is certain
};

// The tables of `statement`, or NotImplemented when DuckDB cannot parse it as one query.
arrow::Result<QueryTables> ReadQueryTables(const StatementInfo& statement);

}  // namespace hyprstream::sql
