#include "sql/statement_splitter.h"

namespace hyprstream::sql {

std::vector<TokenRange> SplitTokens(const std::vector<Token>& tokens) {
  std::vector<TokenRange> out;
  size_t first = 0;
  int depth = 0;        // ( [ { nesting
  int block_depth = 0;  // BEGIN ATOMIC bodies, and CASE ... END inside them
  auto finish = [&](size_t last) {
    if (last > first) out.push_back({first, last});
    first = last + 1;
    depth = 0;
    block_depth = 0;
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& token = tokens[i];
    if (token.kind == TokenKind::kOperator && token.text.size() == 1) {
      const char c = token.text[0];
      if (c == '(' || c == '[' || c == '{') {
        ++depth;
      } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
        --depth;
      } else if (c == ';' && depth == 0 && block_depth == 0) {
        finish(i);
      }
    } else if (token.kind == TokenKind::kWord && depth == 0) {
      // SQL-standard function bodies (PostgreSQL): CREATE FUNCTION ... BEGIN ATOMIC s1; s2; END
      if (IsWord(token, "BEGIN") && i + 1 < tokens.size() && IsWord(tokens[i + 1], "ATOMIC") &&
          i > first && IsWord(tokens[first], "CREATE")) {
        ++block_depth;
        ++i;
      } else if (block_depth > 0 && IsWord(token, "CASE")) {
        ++block_depth;
      } else if (block_depth > 0 && IsWord(token, "END")) {
        --block_depth;
      }
    }
  }
  finish(tokens.size());
  return out;
}

std::vector<Span> SplitStatements(std::string_view text) {
  const std::vector<Token> tokens = Lex(text);
  std::vector<Span> out;
  for (const TokenRange& range : SplitTokens(tokens)) {
    out.push_back({tokens[range.first].offset, tokens[range.last - 1].end()});
  }
  return out;
}

}  // namespace hyprstream::sql
