#include "sql/sql_script.h"

#include <algorithm>

#include "sql/statement_classifier.h"
#include "sql/statement_splitter.h"
#include "sql/text_memo.h"

namespace hyprstream::sql {
namespace {

std::shared_ptr<const Script> AnalyzeAfresh(std::string_view text) {
  auto script = std::make_shared<Script>();
  script->text = std::make_shared<const std::string>(text);
  const std::vector<Token> tokens = Lex(*script->text);
  for (const TokenRange& range : SplitTokens(tokens)) {
    script->statements.push_back(detail::DescribeStatement(script->text, tokens, range));
  }
  return script;
}

}  // namespace

bool Script::WritesKnown() const {
  for (const auto& statement : statements) {
    if (!statement.writes_known) return false;
  }
  return true;
}

std::vector<TableWrite> Script::Writes() const {
  std::vector<TableWrite> out;
  for (const auto& statement : statements) {
    for (const auto& write : statement.writes) {
      if (std::find(out.begin(), out.end(), write) == out.end()) out.push_back(write);
    }
  }
  return out;
}

std::shared_ptr<const Script> Analyze(std::string_view text) {
  // A parse tree is some tens of bytes per byte of SQL: the byte bound keeps the memo, trees
  // included, to a few tens of MiB.
  static TextMemo<Script> memo(/*max_entries=*/4096, /*max_bytes=*/64 << 20,
                               /*max_text_bytes=*/16 << 10);
  if (auto known = memo.Find(text)) return known;
  auto script = AnalyzeAfresh(text);
  memo.Add(text, script, 256 + 32 * text.size());
  return script;
}

}  // namespace hyprstream::sql
