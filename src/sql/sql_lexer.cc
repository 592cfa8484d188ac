#include "sql/sql_lexer.h"

#include <cctype>

namespace hyprstream::sql {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// Identifier characters: ASCII letters, '_' and any byte of a multi-byte UTF-8 character.
bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c) || c == '$'; }
bool IsOperatorChar(char c) {
  static constexpr std::string_view kChars = "+-*/<>=~!@#%^&|`:\\";
  return kChars.find(c) != std::string_view::npos;
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::vector<Token> Run() {
    std::vector<Token> tokens;
    while (SkipBlanks()) {
      const size_t start = i_;
      const TokenKind kind = Next();
      tokens.push_back(Token{kind, start, text_.substr(start, i_ - start)});
      if (kind == TokenKind::kInvalid) break;
    }
    return tokens;
  }

 private:
  char At(size_t i) const { return i < text_.size() ? text_[i] : '\0'; }

  // Skips whitespace and comments; false at the end of the text. An unterminated block
  // comment is left for Next() to report.
  bool SkipBlanks() {
    while (i_ < text_.size()) {
      if (IsSpace(text_[i_])) {
        ++i_;
      } else if (At(i_) == '-' && At(i_ + 1) == '-') {
        while (i_ < text_.size() && text_[i_] != '\n') ++i_;
      } else if (At(i_) == '/' && At(i_ + 1) == '*') {
        size_t depth = 0, j = i_;
        while (j < text_.size()) {
          if (At(j) == '/' && At(j + 1) == '*') {
            ++depth;
            j += 2;
          } else if (At(j) == '*' && At(j + 1) == '/') {
            j += 2;
            if (--depth == 0) break;
          } else {
            ++j;
          }
        }
        if (depth != 0) return true;  // unterminated: Next() makes it an invalid token
        i_ = j;
      } else {
        return true;
      }
    }
    return false;
  }

  TokenKind Invalid() {
    i_ = text_.size();
    return TokenKind::kInvalid;
  }

  // Past a quoted run starting at the quote i_ points at; `quote` doubled is one quote
  // character, and `backslash` escapes the next character (E'..' strings).
  bool Quoted(char quote, bool backslash) {
    ++i_;
    while (i_ < text_.size()) {
      char c = text_[i_];
      if (backslash && c == '\\') {
        i_ += 2;
      } else if (c == quote && At(i_ + 1) == quote) {
        i_ += 2;
      } else if (c == quote) {
        ++i_;
        return true;
      } else {
        ++i_;
      }
    }
    return false;
  }

  TokenKind Next() {
    const char c = text_[i_];
    if (c == '/' && At(i_ + 1) == '*') return Invalid();  // unterminated comment
    if (c == '\'') return Quoted('\'', false) ? TokenKind::kString : Invalid();
    if (c == '"') return Quoted('"', false) ? TokenKind::kQuotedIdentifier : Invalid();
    if (c == '$') return Dollar();
    if (c == '?') {
      ++i_;
      while (IsDigit(At(i_))) ++i_;
      return TokenKind::kParameter;
    }
    if (IsDigit(c) || (c == '.' && IsDigit(At(i_ + 1)))) return Number();
    if (IsIdentStart(c)) return Word();
    if (IsOperatorChar(c)) {
      ++i_;
      while (IsOperatorChar(At(i_)) && !(At(i_) == '-' && At(i_ + 1) == '-') &&
             !(At(i_) == '/' && At(i_ + 1) == '*')) {
        ++i_;
      }
      return TokenKind::kOperator;
    }
    ++i_;  // ( ) , ; . [ ] { } and anything else: one character
    return TokenKind::kOperator;
  }

  TokenKind Word() {
    // String prefixes: E'..' (escapes), X'..', B'..', N'..', U&'..' / U&"..".
    const char first = static_cast<char>(std::toupper(static_cast<unsigned char>(text_[i_])));
    if (At(i_ + 1) == '\'' && (first == 'E' || first == 'X' || first == 'B' || first == 'N')) {
      ++i_;
      return Quoted('\'', first == 'E') ? TokenKind::kString : Invalid();
    }
    if (first == 'U' && At(i_ + 1) == '&' && (At(i_ + 2) == '\'' || At(i_ + 2) == '"')) {
      const char quote = At(i_ + 2);
      i_ += 2;
      if (!Quoted(quote, false)) return Invalid();
      return quote == '"' ? TokenKind::kQuotedIdentifier : TokenKind::kString;
    }
    while (i_ < text_.size() && IsIdentChar(text_[i_])) ++i_;
    return TokenKind::kWord;
  }

  TokenKind Number() {
    if (At(i_) == '0' &&
        (At(i_ + 1) == 'x' || At(i_ + 1) == 'X' || At(i_ + 1) == 'b' || At(i_ + 1) == 'B')) {
      i_ += 2;
      while (std::isxdigit(static_cast<unsigned char>(At(i_))) || At(i_) == '_') ++i_;
      return TokenKind::kNumber;
    }
    while (IsDigit(At(i_)) || At(i_) == '_') ++i_;
    if (At(i_) == '.' && At(i_ + 1) != '.') {
      ++i_;
      while (IsDigit(At(i_)) || At(i_) == '_') ++i_;
    }
    if ((At(i_) == 'e' || At(i_) == 'E') &&
        (IsDigit(At(i_ + 1)) ||
         ((At(i_ + 1) == '+' || At(i_ + 1) == '-') && IsDigit(At(i_ + 2))))) {
      i_ += 2;
      while (IsDigit(At(i_))) ++i_;
    }
    return TokenKind::kNumber;
  }

  // $1 (numbered parameter), $name (named parameter), $$..$$ or $tag$..$tag$ (string).
  TokenKind Dollar() {
    const size_t start = i_;
    if (IsDigit(At(i_ + 1))) {
      ++i_;
      while (IsDigit(At(i_))) ++i_;
      return TokenKind::kParameter;
    }
    size_t j = i_ + 1;
    if (IsIdentStart(At(j))) {
      while (j < text_.size() && IsIdentChar(text_[j]) && text_[j] != '$') ++j;
      if (At(j) != '$') {
        i_ = j;
        return TokenKind::kParameter;
      }
    } else if (At(j) != '$') {
      ++i_;
      return TokenKind::kOperator;  // a lone '$'
    }
    const std::string_view tag = text_.substr(start, j + 1 - start);
    const size_t close = text_.find(tag, j + 1);
    if (close == std::string_view::npos) return Invalid();
    i_ = close + tag.size();
    return TokenKind::kString;
  }

  std::string_view text_;
  size_t i_ = 0;
};

}  // namespace

std::vector<Token> Lex(std::string_view text) { return Lexer(text).Run(); }

bool IsWord(const Token& token, std::string_view upper) {
  if (token.kind != TokenKind::kWord || token.text.size() != upper.size()) return false;
  for (size_t i = 0; i < upper.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(token.text[i])) != upper[i]) return false;
  }
  return true;
}

bool IsSymbol(const Token& token, std::string_view symbol) {
  return token.kind == TokenKind::kOperator && token.text == symbol;
}

std::string UpperWord(const Token& token) {
  if (token.kind != TokenKind::kWord) return "";
  std::string out(token.text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool IsIdentifier(const Token& token) {
  return token.kind == TokenKind::kWord || token.kind == TokenKind::kQuotedIdentifier;
}

std::string IdentifierName(const Token& token) {
  if (token.kind == TokenKind::kWord) {
    std::string out(token.text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  if (token.kind != TokenKind::kQuotedIdentifier) return "";
  std::string_view body = token.text;
  if (body.substr(0, 2) == "U&" || body.substr(0, 2) == "u&") body.remove_prefix(2);
  body = body.substr(1, body.size() - 2);
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    out += body[i];
    if (body[i] == '"' && i + 1 < body.size() && body[i + 1] == '"') ++i;
  }
  return out;
}

std::optional<std::vector<std::string>> QualifiedNameAt(const std::vector<Token>& tokens,
                                                        size_t* i) {
  size_t at = *i;
  std::vector<std::string> parts;
  while (at < tokens.size() && IsIdentifier(tokens[at])) {
    parts.push_back(IdentifierName(tokens[at]));
    ++at;
    if (at + 1 < tokens.size() && IsSymbol(tokens[at], ".") && IsIdentifier(tokens[at + 1])) {
      ++at;
    } else {
      break;
    }
  }
  if (parts.empty()) return std::nullopt;
  *i = at;
  return parts;
}

}  // namespace hyprstream::sql
