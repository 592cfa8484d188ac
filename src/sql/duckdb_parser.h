// DuckDB's parser as a service: json_serialize_sql / json_deserialize_sql on private,
// parse-only in-memory DuckDB databases opened through the C API (external access off), so
// SQL is read the same way whatever engine runs it. A few connections are used round-robin,
// each serialised by its own mutex; any thread. Nothing here binds or runs the SQL it reads.
#pragma once

#include <arrow/result.h>
#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace hyprstream::sql {

// json_serialize_sql of `sql`: the document {"error": false, "statements": [...]}. Invalid
// with DuckDB's message when it is not only SELECT statements or does not parse.
arrow::Result<std::shared_ptr<const nlohmann::json>> SerializeSelect(std::string_view sql);

// json_deserialize_sql of a document shaped like SerializeSelect's: the SQL DuckDB prints.
arrow::Result<std::string> Deparse(const nlohmann::json& document);

// The SQL text of one parsed expression (a node of a parse tree), printed by DuckDB.
// Memoised by the expression.
arrow::Result<std::string> ExpressionSql(const nlohmann::json& expression);

}  // namespace hyprstream::sql
