// Internal to src/sql: tells a statement's kind, writes, INSERT facts and parameters from its
// tokens (no DuckDB call), and which of its parts hold the query its reads come from.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sql/sql_lexer.h"
#include "sql/statement_info.h"
#include "sql/statement_splitter.h"

namespace hyprstream::sql::detail {

// The statement made of tokens[range) of `script` (the tokens are views into *script).
StatementInfo DescribeStatement(const std::shared_ptr<const std::string>& script,
                                const std::vector<Token>& tokens, TokenRange range);

}  // namespace hyprstream::sql::detail
