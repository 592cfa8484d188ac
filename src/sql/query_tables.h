// QueryTables: the tables of one query's top-level FROM, read from DuckDB's parse (every table
// it reads anywhere is StatementReads::table_reads), and the lower bounds its top-level WHERE
// puts on their columns (`col >= expr`, `col > expr`, `expr <= col`, `col BETWEEN expr
// AND ...`, where expr has no column, parameter or subquery in it). What a cache needs to tell
// which tables a query reads and which of their rows can reach its result. Pure; any thread.
#pragma once

#include <arrow/result.h>

#include <cstddef>
#include <string>
#include <vector>

#include "sql/statement_info.h"

namespace hyprstream::sql {

struct ColumnLowerBound {
  size_t table = 0;            // index into QueryTables::top_level
  std::string column;          // lower-cased
  std::string expression_sql;  // the bound, printed by DuckDB
};

struct QueryTables {
  // Every table read anywhere: StatementReads::table_reads.
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
