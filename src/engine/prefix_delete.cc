#include "engine/prefix_delete.h"

#include <arrow/scalar.h>
#include <arrow/table.h>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "engine/result_provenance.h"

namespace hyprstream::engine {

std::string TimestampLiteral(int64_t epoch_us) {
  return "TIMESTAMP " + QuoteLiteral(FormatTimestamp(epoch_us));
}

arrow::Result<RowsLeft> ReadRowsLeft(EngineConnection& deleting, const std::string& table,
                                     const std::string& time_column) {
  const std::string sql =
      "SELECT min(" + QuoteIdentifier(time_column) + "), count(*) FROM " + table;
  ARROW_ASSIGN_OR_RAISE(auto result, QueryTable(deleting, sql));
  if (result->num_rows() != 1 || result->num_columns() != 2) {
    return arrow::Status::Invalid("expected one row of two columns from: ", sql);
  }
  const auto& type = *result->schema()->field(0)->type();
  if (type.id() != arrow::Type::TIMESTAMP ||
      !static_cast<const arrow::TimestampType&>(type).timezone().empty()) {
    return arrow::Status::NotImplemented("column ", time_column, " of ", table, " is ",
                                         type.ToString(), ", not a timestamp without a time zone");
  }
  RowsLeft left;
  ARROW_ASSIGN_OR_RAISE(auto counted, result->column(1)->GetScalar(0));
  ARROW_ASSIGN_OR_RAISE(counted, counted->CastTo(arrow::int64()));
  if (!counted->is_valid) return arrow::Status::Invalid("expected a count from: ", sql);
  left.count = std::static_pointer_cast<arrow::Int64Scalar>(counted)->value;
  ARROW_ASSIGN_OR_RAISE(auto oldest, result->column(0)->GetScalar(0));
  if (oldest->is_valid) {
    ARROW_ASSIGN_OR_RAISE(oldest, oldest->CastTo(arrow::timestamp(arrow::TimeUnit::MICRO)));
    left.oldest_us = std::static_pointer_cast<arrow::TimestampScalar>(oldest)->value;
  }
  return left;
}

arrow::Result<bool> RemovedOnlyRowsBefore(EngineConnection& before, const std::string& table,
                                          const std::string& time_column, const RowsLeft& left) {
  if (!left.oldest_us) return false;
  const std::string column = QuoteIdentifier(time_column);
  ARROW_ASSIGN_OR_RAISE(std::string counted,
                        QueryValue(before, "SELECT count(*) FROM " + table + " WHERE " + column +
                                               " >= " + TimestampLiteral(*left.oldest_us) + " OR " +
                                               column + " IS NULL"));
  return counted == std::to_string(left.count);
}

}  // namespace hyprstream::engine
