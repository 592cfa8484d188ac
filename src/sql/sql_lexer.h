// SQL lexer: splits SQL text into tokens the way DuckDB and PostgreSQL read it — words,
// quoted identifiers, string literals (E'..', doubled quotes, $tag$..$tag$), numbers,
// parameters (?, $1, $name) and operators/punctuation — skipping whitespace and comments
// (--, nested /* */). Tokens are views into the lexed text (valid while it lives). Pure
// functions; any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyprstream::sql {

// Byte offsets [begin, end) into a text.
struct Span {
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
  std::string_view In(std::string_view text) const { return text.substr(begin, size()); }
  bool operator==(const Span&) const = default;
};

enum class TokenKind {
  kWord,              // keyword or unquoted identifier: SELECT, my_table, a$b
  kQuotedIdentifier,  // "Name" (U&"..." too)
  kString,            // 'x', E'x', X'41', $$x$$, $tag$x$tag$
  kNumber,            // 1, 1.5e3, .5, 1_000, 0x1F
  kParameter,         // ?, ?1, $1, $name
  kOperator,          // punctuation ( ) , ; . [ ] { } and runs of operator characters (::, >=)
  kInvalid,           // an unterminated string, identifier or comment: the rest of the text
};

struct Token {
  TokenKind kind;
  size_t offset;          // where the token starts in the text
  std::string_view text;  // the token as written (quotes and prefixes included)
  size_t end() const { return offset + text.size(); }
};

std::vector<Token> Lex(std::string_view text);

// Whether `token` is the word `upper` (given in upper case), ignoring case.
bool IsWord(const Token& token, std::string_view upper);
// Whether `token` is the operator or punctuation `symbol` exactly.
bool IsSymbol(const Token& token, std::string_view symbol);
// A word in upper case ("" for any other token).
std::string UpperWord(const Token& token);
// The name an identifier token stands for, normalised like SQL: an unquoted word
// lower-cased, a quoted identifier as written without its quotes ("" for other tokens).
std::string IdentifierName(const Token& token);
bool IsIdentifier(const Token& token);

// A dotted name (a, a.b, "A"."b".c) starting at tokens[*i]: its normalised parts, with *i
// advanced past it; nullopt (and *i unchanged) when tokens[*i] is not an identifier.
std::optional<std::vector<std::string>> QualifiedNameAt(const std::vector<Token>& tokens,
                                                        size_t* i);

}  // namespace hyprstream::sql
