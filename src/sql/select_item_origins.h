// SelectItemOrigins: which base table each item of a query's select list passes through
// unchanged, read from DuckDB's parse of the statement (SELECT a, t.b, * FROM s.t AS t). Result
// column metadata (Flight SQL's CATALOG_NAME / SCHEMA_NAME / TABLE_NAME, JDBC's
// ResultSetMetaData.getTableName) comes from it. Only what the parse tree shows for sure: a
// plain SELECT over base tables (joins allowed), items that are a bare column or a bare `*`;
// anything else (expressions, subqueries, CTE names, set operations) has no origin. Pure
// function over an immutable StatementInfo; any thread.
#pragma once

#include <optional>
#include <vector>

#include "sql/statement_info.h"
#include "sql/table_ref.h"

namespace hyprstream::sql {

struct SelectItemOrigin {
  std::optional<TableRef> table;  // nullopt: not a column passed through from one base table
  bool star = false;              // a `*` of that table: it stands for all of its columns
};

// One entry per select-list item, in order; empty when the statement is not such a query.
std::vector<SelectItemOrigin> SelectItemOrigins(const StatementInfo& statement);

// Per result column: the select items expanded, given the number of result columns (a single
// `*` takes the columns the other items leave); empty when that cannot be told.
std::vector<std::optional<TableRef>> ResultColumnTables(const std::vector<SelectItemOrigin>& items,
                                                        size_t result_columns);

}  // namespace hyprstream::sql
