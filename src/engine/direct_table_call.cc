#include "engine/direct_table_call.h"

#include <algorithm>
#include <cctype>

namespace hyprstream::engine {
namespace {

// A cursor over SQL text that skips whitespace between tokens.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }
  // An unquoted identifier or keyword ([A-Za-z_][A-Za-z0-9_]*), lower-cased; nullopt if none.
  std::optional<std::string> Word() {
    SkipSpace();
    size_t start = pos_;
    if (pos_ >= text_.size() || !(std::isalpha(Byte(pos_)) || text_[pos_] == '_')) {
      return std::nullopt;
    }
    while (pos_ < text_.size() && (std::isalnum(Byte(pos_)) || text_[pos_] == '_')) ++pos_;
    std::string word(text_.substr(start, pos_ - start));
    std::transform(word.begin(), word.end(), word.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return word;
  }
  bool Keyword(std::string_view keyword) {
    size_t saved = pos_;
    auto word = Word();
    if (word && *word == keyword) return true;
    pos_ = saved;
    return false;
  }
  bool Symbol(std::string_view symbol) {
    SkipSpace();
    if (text_.substr(pos_, symbol.size()) != symbol) return false;
    pos_ += symbol.size();
    return true;
  }
  // A column name: an unquoted identifier (case kept) or a "quoted" one ("" escapes).
  std::optional<std::string> ColumnName() {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '"') {
      std::string name;
      for (size_t i = pos_ + 1; i < text_.size(); ++i) {
        if (text_[i] != '"') {
          name += text_[i];
        } else if (i + 1 < text_.size() && text_[i + 1] == '"') {
          name += '"';
          ++i;
        } else {
          pos_ = i + 1;
          if (name.empty()) return std::nullopt;
          return name;
        }
      }
      return std::nullopt;
    }
    size_t start = pos_;
    auto word = Word();
    if (!word) return std::nullopt;
    return std::string(text_.substr(start, pos_ - start));
  }
  // A standard string literal 'a''b' (no E'' or $$ forms); nullopt if none.
  std::optional<std::string> StringLiteral() {
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != '\'') return std::nullopt;
    std::string value;
    for (size_t i = pos_ + 1; i < text_.size(); ++i) {
      if (text_[i] != '\'') {
        value += text_[i];
      } else if (i + 1 < text_.size() && text_[i + 1] == '\'') {
        value += '\'';
        ++i;
      } else {
        pos_ = i + 1;
        // 'a' 'b' is one literal in SQL: leave such text to the engine.
        SkipSpace();
        if (pos_ < text_.size() && text_[pos_] == '\'') return std::nullopt;
        return value;
      }
    }
    return std::nullopt;  // unterminated
  }

 private:
  unsigned char Byte(size_t i) const { return static_cast<unsigned char>(text_[i]); }

  std::string_view text_;
  size_t pos_ = 0;
};

std::optional<std::string> ArgumentValue(Scanner& scanner) {
  if (auto literal = scanner.StringLiteral()) return literal;
  if (scanner.Keyword("true")) return std::string("true");
  if (scanner.Keyword("false")) return std::string("false");
  return std::nullopt;
}

}  // namespace

std::optional<DirectTableCall> ParseDirectTableCall(std::string_view sql) {
  Scanner scanner(sql);
  if (!scanner.Keyword("select")) return std::nullopt;
  DirectTableCall call;
  if (!scanner.Symbol("*")) {
    // col [AS alias], ...: DuckDB names the output; only the source column matters here.
    while (true) {
      Scanner lookahead = scanner;
      auto word = lookahead.Word();
      if (word && (*word == "from" || *word == "distinct" || *word == "all" || *word == "true" ||
                   *word == "false" || *word == "null")) {
        return std::nullopt;
      }
      auto column = scanner.ColumnName();
      if (!column) return std::nullopt;
      call.columns.push_back(std::move(*column));
      if (scanner.Keyword("as") && !scanner.ColumnName()) return std::nullopt;
      if (!scanner.Symbol(",")) break;
    }
  }
  if (!scanner.Keyword("from")) return std::nullopt;
  auto function = scanner.Word();
  if (!function || !scanner.Symbol("(")) return std::nullopt;
  call.function = std::move(*function);
  if (!scanner.Symbol(")")) {
    while (true) {
      // `name :=` / `name =` starts a named argument; anything else is a positional value.
      Scanner lookahead = scanner;
      auto name = lookahead.Word();
      if (name && *name != "true" && *name != "false" &&
          (lookahead.Symbol(":=") || lookahead.Symbol("="))) {
        scanner = lookahead;
        auto value = ArgumentValue(scanner);
        if (!value || call.args.named.count(*name)) return std::nullopt;
        call.args.named[*name] = std::move(*value);
      } else {
        if (!call.args.named.empty()) return std::nullopt;  // positional after named
        auto value = ArgumentValue(scanner);
        if (!value) return std::nullopt;
        call.args.positional.push_back(std::move(*value));
      }
      if (scanner.Symbol(")")) break;
      if (!scanner.Symbol(",")) return std::nullopt;
    }
  }
  scanner.Symbol(";");
  if (!scanner.AtEnd()) return std::nullopt;
  return call;
}

std::optional<int> FindColumn(const std::vector<std::string>& fields, const std::string& name) {
  auto same = [&](const std::string& field) {
    return field.size() == name.size() &&
           std::equal(field.begin(), field.end(), name.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) ==
                    std::tolower(static_cast<unsigned char>(b));
           });
  };
  std::optional<int> found;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!same(fields[i])) continue;
    if (found) return std::nullopt;  // ambiguous
    found = static_cast<int>(i);
  }
  return found;
}

bool DirectCallFits(const DirectTableCall& call, const TableFunctionSpec& spec) {
  if (call.function != spec.name ||
      static_cast<int>(call.args.positional.size()) != spec.positional_parameters) {
    return false;
  }
  for (const auto& [name, value] : call.args.named) {
    if (std::find(spec.named_parameters.begin(), spec.named_parameters.end(), name) ==
        spec.named_parameters.end()) {
      return false;
    }
  }
  return true;
}

}  // namespace hyprstream::engine
