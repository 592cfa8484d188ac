// Analyze: a SQL script split into its statements, each described once (StatementInfo).
// Memoised process-wide by text (bounded; texts over 16 KiB are analysed afresh each time),
// so the same text gives the same Script pointer while it is kept. Never fails: text that
// does not lex or parse gives statements that say so (kind other, writes/reads unknown), and
// callers then leave the decision to the engine. Any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sql/statement_info.h"

namespace hyprstream::sql {

struct Script {
  std::shared_ptr<const std::string> text;
  std::vector<StatementInfo> statements;  // in order; blank ones (only ';' or comments) dropped

  // The only statement, or nullptr when there are none or several.
  const StatementInfo* Single() const { return statements.size() == 1 ? &statements[0] : nullptr; }
  // Whether every statement's writes are known, and all of them (each once, in order).
  bool WritesKnown() const;
  std::vector<TableWrite> Writes() const;
};

std::shared_ptr<const Script> Analyze(std::string_view text);

}  // namespace hyprstream::sql
