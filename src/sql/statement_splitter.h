// Splits a SQL script into its statements at top-level semicolons: not inside strings, dollar
// quotes, comments, parentheses/brackets or the BEGIN ATOMIC ... END body of a CREATE
// FUNCTION/PROCEDURE. Statements with no tokens (only blanks, comments or ';') are dropped.
// Pure functions; any thread.
#pragma once

#include <string_view>
#include <vector>

#include "sql/sql_lexer.h"

namespace hyprstream::sql {

// Each statement's text: from its first token to the end of its last (surrounding blanks,
// comments and the ';' left out).
std::vector<Span> SplitStatements(std::string_view text);

// The same over tokens already lexed: each statement as a [first, last) range of token
// indices (the ';' tokens excluded).
struct TokenRange {
  size_t first = 0;
  size_t last = 0;
};
std::vector<TokenRange> SplitTokens(const std::vector<Token>& tokens);

}  // namespace hyprstream::sql
