#include "sql/statement_classifier.h"

#include <algorithm>
#include <initializer_list>

#include "sql/statement_source.h"

namespace hyprstream::sql::detail {
namespace {

bool IsOpen(const Token& token) {
  return IsSymbol(token, "(") || IsSymbol(token, "[") || IsSymbol(token, "{");
}
bool IsClose(const Token& token) {
  return IsSymbol(token, ")") || IsSymbol(token, "]") || IsSymbol(token, "}");
}

// Leading keywords of statements that only read.
bool IsQueryWord(const std::string& word) {
  static const std::initializer_list<const char*> kWords = {
      "SELECT", "VALUES", "TABLE",   "FROM",      "SHOW",   "DESCRIBE",
      "DESC",   "PIVOT",  "UNPIVOT", "SUMMARIZE", "EXPLAIN"};
  return std::any_of(kWords.begin(), kWords.end(), [&](const char* w) { return word == w; });
}

// Reads the statement in tokens [i, end) into `info`. A nested call (the body of a
// data-modifying CTE) adds its writes only.
class Classifier {
 public:
  Classifier(const std::vector<Token>& tokens, StatementInfo* info, StatementSource* source)
      : t_(tokens), info_(info), source_(source) {}

  // `first` is where the statement starts (its WITH clause, if any); `i` its main keyword.
  void Statement(size_t first, size_t i, size_t end, bool top) {
    end_ = end;
    const size_t main = i;
    while (Sym(i, "(")) ++i;  // (SELECT ...) UNION (...)
    if (i >= end) return Unknown();
    const std::string word = UpperWord(t_[i]);
    if (top && first == main) info_->keyword = word;
    auto kind = [&](StatementKind k) {
      if (top) info_->kind = k;
    };
    if (word == "WITH") return With(i, end, top);
    if (i > main || IsQueryWord(word)) {
      kind(StatementKind::kQuery);
      if (word == "EXPLAIN") return Explain(i, end);
      SelectInto(i, end);
      if (top) ReadWhole(first, end);
      return;
    }
    if (word == "INSERT" || word == "REPLACE") {
      kind(StatementKind::kInsert);
      return Insert(first, i, end, top);
    }
    if (word == "UPDATE") {
      kind(StatementKind::kUpdate);
      size_t j = i + 1;
      if (Word(j, "OR")) j += 2;  // SQLite: UPDATE OR REPLACE|IGNORE|ABORT|FAIL|ROLLBACK t
      if (Word(j, "ONLY")) ++j;
      return WriteAt(j, WriteMode::kUpdate);
    }
    if (word == "DELETE") {
      kind(StatementKind::kDelete);
      size_t j = i + 1;
      if (Word(j, "FROM")) ++j;
      if (Word(j, "ONLY")) ++j;
      return WriteAt(j, WriteMode::kDelete);
    }
    if (word == "MERGE") {
      kind(StatementKind::kMerge);
      size_t j = i + 1;
      if (!Word(j, "INTO")) return Unknown();
      ++j;
      if (Word(j, "ONLY")) ++j;
      return WriteAt(j, WriteMode::kMerge);
    }
    if (!top) return Unknown();  // a CTE body is a query or DML
    if (word == "TRUNCATE") {
      kind(StatementKind::kTruncate);
      return Truncate(i + 1, end);
    }
    if (word == "COPY") return Copy(i + 1);
    if (word == "CREATE") {
      kind(StatementKind::kCreate);
      return Create(i + 1, end);
    }
    if (word == "DROP") {
      kind(StatementKind::kDrop);
      return Drop(i + 1, end);
    }
    if (word == "ALTER") {
      kind(StatementKind::kAlter);
      return Alter(i + 1, end);
    }
    if (word == "BEGIN") {
      if (Word(i + 1, "ATOMIC")) return Unknown();
      return NoTables(StatementKind::kBegin);
    }
    if (word == "START") {
      if (!Word(i + 1, "TRANSACTION")) return Unknown();
      return NoTables(StatementKind::kBegin);
    }
    if (word == "COMMIT" || word == "END") {
      if (Word(i + 1, "PREPARED")) return Unknown();
      return NoTables(StatementKind::kCommit);
    }
    if (word == "ROLLBACK" || word == "ABORT") {
      if (Word(i + 1, "PREPARED")) return Unknown();
      size_t j = i + 1;
      if (Word(j, "WORK") || Word(j, "TRANSACTION")) ++j;
      if (Word(j, "TO")) return NoTables(StatementKind::kSavepoint);
      return NoTables(StatementKind::kRollback);
    }
    if (word == "SAVEPOINT" || word == "RELEASE") return NoTables(StatementKind::kSavepoint);
    if (word == "SET" || word == "RESET" || word == "USE") {
      return NoTables(StatementKind::kSetting);
    }
    if (word == "CHECKPOINT" || (word == "FORCE" && Word(i + 1, "CHECKPOINT"))) {
      return NoTables(StatementKind::kCheckpoint);
    }
    if (word == "PREPARE") return NoTables(StatementKind::kPrepare);
    if (word == "DEALLOCATE") return NoTables(StatementKind::kDeallocate);
    if (word == "EXECUTE") kind(StatementKind::kExecute);
    if (word == "PRAGMA") kind(StatementKind::kPragma);
    if (word == "CALL") kind(StatementKind::kCall);
    if (word == "ATTACH" || word == "DETACH") kind(StatementKind::kAttach);
    if (word == "INSTALL" || word == "LOAD" || (word == "FORCE" && Word(i + 1, "INSTALL"))) {
      kind(StatementKind::kExtension);
    }
    if (info_->kind == StatementKind::kOther) ReadWhole(first, end);  // DuckDB may know it
    return Unknown();
  }

 private:
  bool Word(size_t i, std::string_view w) const { return i < end_ && IsWord(t_[i], w); }
  bool Sym(size_t i, std::string_view s) const { return i < end_ && IsSymbol(t_[i], s); }
  Span SpanOf(size_t first, size_t last) const { return {t_[first].offset, t_[last - 1].end()}; }

  // At an opening bracket: the index after its matching close (end_ when unbalanced).
  size_t AfterGroup(size_t i) const {
    int depth = 0;
    for (; i < end_; ++i) {
      if (IsOpen(t_[i])) {
        ++depth;
      } else if (IsClose(t_[i]) && --depth == 0) {
        return i + 1;
      }
    }
    return end_;
  }

  // The first index in [i, end_) outside brackets where `at(index)` holds, else end_.
  template <typename Predicate>
  size_t FindTop(size_t i, Predicate at) const {
    int depth = 0;
    for (; i < end_; ++i) {
      if (depth == 0 && at(i)) return i;
      if (IsOpen(t_[i])) {
        ++depth;
      } else if (IsClose(t_[i]) && depth > 0) {
        --depth;
      }
    }
    return end_;
  }

  std::optional<TableRef> TableAt(size_t* i) const {
    size_t at = *i;
    auto parts = QualifiedNameAt(t_, &at);
    if (!parts || at > end_) return std::nullopt;
    auto ref = TableRef::FromParts(*parts);
    if (ref) *i = at;
    return ref;
  }

  void Unknown() { info_->writes_known = false; }
  void AddWrite(TableRef table, WriteMode mode) {
    TableWrite write{std::move(table), mode};
    if (std::find(info_->writes.begin(), info_->writes.end(), write) == info_->writes.end()) {
      info_->writes.push_back(std::move(write));
    }
  }
  void WriteAt(size_t i, WriteMode mode) {
    auto table = TableAt(&i);
    if (!table) return Unknown();
    AddWrite(std::move(*table), mode);
  }
  void NoTables(StatementKind kind) {
    info_->kind = kind;
    source_->reads_nothing = true;
  }
  void ReadWhole(size_t first, size_t end) { source_->read_spans = {SpanOf(first, end)}; }

  // WITH [RECURSIVE] name [(columns)] [USING KEY (...)] AS [NOT] [MATERIALIZED] (body)
  //   [SEARCH ... | CYCLE ...] [, ...] main-statement
  void With(size_t i, size_t end, bool top) {
    const size_t first = i;
    size_t j = i + 1;
    if (Word(j, "RECURSIVE")) ++j;
    while (true) {
      if (j >= end || !IsIdentifier(t_[j])) return Unknown();
      ++j;
      if (Sym(j, "(")) j = AfterGroup(j);
      if (Word(j, "USING") && Word(j + 1, "KEY") && Sym(j + 2, "(")) j = AfterGroup(j + 2);
      if (!Word(j, "AS")) return Unknown();
      ++j;
      if (Word(j, "NOT")) ++j;
      if (Word(j, "MATERIALIZED")) ++j;
      if (!Sym(j, "(")) return Unknown();
      const size_t body_end = AfterGroup(j);
      if (body_end > j + 2) {
        // A data-modifying CTE (PostgreSQL): its writes are the statement's.
        Classifier body(t_, info_, source_);
        body.Statement(j + 1, j + 1, body_end - 1, /*top=*/false);
      }
      j = body_end;
      while (j < end && !Sym(j, ",") && !Sym(j, "(") && !IsMainWord(j)) ++j;  // SEARCH/CYCLE
      if (!Sym(j, ",")) break;
      ++j;
    }
    if (j >= end) return Unknown();
    Statement(first, j, end, top);
  }

  bool IsMainWord(size_t i) const {
    for (const char* w : {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE",
                          "FROM", "PIVOT", "UNPIVOT", "REPLACE"}) {
      if (Word(i, w)) return true;
    }
    return false;
  }

  // EXPLAIN [ANALYZE] [VERBOSE] [(options)] statement: ANALYZE runs the statement.
  void Explain(size_t i, size_t end) {
    size_t j = i + 1;
    bool analyze = false;
    while (Word(j, "ANALYZE") || Word(j, "ANALYSE") || Word(j, "VERBOSE")) {
      analyze |= !Word(j, "VERBOSE");
      ++j;
    }
    if (Sym(j, "(")) {
      const size_t close = AfterGroup(j);
      for (size_t k = j; k < close; ++k) {
        analyze |= Word(k, "ANALYZE") || Word(k, "ANALYSE");
      }
      j = close;
    }
    if (!analyze) return;
    // The statement runs: its writes are this statement's (its kind is not).
    StatementInfo inner;
    inner.writes_known = true;
    StatementSource ignored;
    Classifier nested(t_, &inner, &ignored);
    nested.Statement(j, j, end, /*top=*/true);
    for (auto& write : inner.writes) AddWrite(std::move(write.table), write.mode);
    if (!inner.writes_known) Unknown();
  }

  // PostgreSQL's SELECT ... INTO [TEMP] [TABLE] new_table FROM ...: creates a table.
  void SelectInto(size_t i, size_t end) {
    if (!Word(i, "SELECT")) return;
    size_t j = FindTop(i + 1, [&](size_t k) { return Word(k, "INTO"); });
    if (j >= end) return;
    ++j;
    if (Word(j, "NAME")) return;  // UNPIVOT ... INTO NAME n VALUE v
    while (Word(j, "TEMP") || Word(j, "TEMPORARY") || Word(j, "UNLOGGED") || Word(j, "TABLE")) {
      ++j;
    }
    WriteAt(j, WriteMode::kDdl);
  }

  // INSERT [OR action] INTO t [AS alias] [(columns)] [BY NAME|POSITION]
  //   [OVERRIDING ... VALUE] source [ON CONFLICT ... | ON DUPLICATE KEY UPDATE ...]
  //   [RETURNING ...];  REPLACE INTO t ...
  void Insert(size_t first, size_t i, size_t end, bool top) {
    InsertFacts facts;
    WriteMode mode = WriteMode::kAppend;
    size_t j = i + 1;
    if (Word(i, "REPLACE")) {
      facts.conflict = ConflictAction::kOrReplace;
      mode = WriteMode::kUpsert;
    } else if (Word(j, "OR")) {
      if (Word(j + 1, "REPLACE")) {
        facts.conflict = ConflictAction::kOrReplace;
        mode = WriteMode::kUpsert;
      } else if (Word(j + 1, "IGNORE")) {
        facts.conflict = ConflictAction::kOrIgnore;
        mode = WriteMode::kInsertIgnore;
      } else if (!Word(j + 1, "ABORT") && !Word(j + 1, "FAIL") && !Word(j + 1, "ROLLBACK")) {
        return Unknown();
      }
      j += 2;
    }
    if (!Word(j, "INTO")) return Unknown();
    ++j;
    auto target = TableAt(&j);
    if (!target) return Unknown();
    facts.target = *target;
    if (Word(j, "AS") && j + 1 < end && IsIdentifier(t_[j + 1])) j += 2;
    if (Sym(j, "(")) {
      const size_t close = AfterGroup(j);
      for (size_t k = j + 1; k + 1 < close; ++k) {
        if (IsIdentifier(t_[k])) {
          facts.columns.push_back(IdentifierName(t_[k]));
        } else if (!Sym(k, ",")) {
          return Unknown();
        }
      }
      j = close;
    }
    if (Word(j, "BY") && (Word(j + 1, "NAME") || Word(j + 1, "POSITION"))) {
      facts.by_name = Word(j + 1, "NAME");
      j += 2;
    }
    if (Word(j, "OVERRIDING")) j += 3;  // OVERRIDING SYSTEM|USER VALUE
    const size_t source = j;
    const size_t source_end = FindTop(source, [&](size_t k) {
      return Word(k, "RETURNING") ||
             (Word(k, "ON") && (Word(k + 1, "DUPLICATE") ||
                                (Word(k + 1, "CONFLICT") &&
                                 (Sym(k + 2, "(") || Word(k + 2, "DO") || Word(k + 2, "ON")))));
    });
    if (source_end <= source) return Unknown();
    facts.source = SpanOf(source, source_end);
    facts.default_values = Word(source, "DEFAULT") && Word(source + 1, "VALUES");
    for (size_t k = source_end, depth = 0; k < end; ++k) {
      if (IsOpen(t_[k])) ++depth;
      if (IsClose(t_[k]) && depth > 0) --depth;
      if (depth > 0) continue;
      if (Word(k, "RETURNING")) facts.returning = true;
      if (Word(k, "ON") && Word(k + 1, "DUPLICATE")) {
        facts.conflict = ConflictAction::kDoUpdate;
        mode = WriteMode::kUpsert;
      }
      if (Word(k, "DO") && Word(k + 1, "NOTHING")) {
        facts.conflict = ConflictAction::kDoNothing;
        mode = WriteMode::kInsertIgnore;
      }
      if (Word(k, "DO") && Word(k + 1, "UPDATE")) {
        facts.conflict = ConflictAction::kDoUpdate;
        mode = WriteMode::kUpsert;
      }
    }
    facts.returning_offset = t_[end - 1].end();
    AddWrite(facts.target, mode);
    if (!top) return;
    if (first < i) facts.with_clause = SpanOf(first, i);
    if (!facts.default_values) {
      if (facts.with_clause.size() > 0) source_->read_spans.push_back(facts.with_clause);
      source_->read_spans.push_back(facts.source);
    }
    source_->reads_nothing = source_->read_spans.empty();
    info_->insert = std::move(facts);
  }

  // TRUNCATE [TABLE] [ONLY] t [*] [, ...] [RESTART|CONTINUE IDENTITY] [CASCADE|RESTRICT]
  void Truncate(size_t j, size_t end) {
    source_->reads_nothing = true;
    if (Word(j, "TABLE")) ++j;
    while (true) {
      if (Word(j, "ONLY")) ++j;
      auto table = TableAt(&j);
      if (!table) return Unknown();
      AddWrite(std::move(*table), WriteMode::kTruncate);
      if (Sym(j, "*")) ++j;
      if (!Sym(j, ",")) break;
      ++j;
    }
    if (FindTop(j, [&](size_t k) { return Word(k, "CASCADE"); }) < end) Unknown();
  }

  // COPY t [(columns)] FROM|TO ...; COPY (query) TO ...; COPY FROM DATABASE a TO b.
  void Copy(size_t j) {
    info_->kind = StatementKind::kCopyTo;
    if (Word(j, "FROM") && Word(j + 1, "DATABASE")) {
      info_->kind = StatementKind::kCopyFrom;
      return Unknown();
    }
    if (Sym(j, "(")) {
      const size_t close = AfterGroup(j);
      if (close <= j + 2 || !Word(close, "TO")) return Unknown();
      source_->read_spans = {SpanOf(j + 1, close - 1)};
      return;
    }
    auto table = TableAt(&j);
    if (!table) return Unknown();
    if (Sym(j, "(")) j = AfterGroup(j);
    if (Word(j, "FROM")) {
      info_->kind = StatementKind::kCopyFrom;
      return AddWrite(std::move(*table), WriteMode::kCopyFrom);
    }
    if (!Word(j, "TO")) return Unknown();
  }

  // Object words after CREATE/DROP/ALTER whose statements change no table's rows.
  bool IsNonTableObject(size_t j) const {
    for (const char* w : {"INDEX", "SEQUENCE", "TYPE", "MACRO", "FUNCTION"}) {
      if (Word(j, w)) return true;
    }
    return Word(j, "UNIQUE") && Word(j + 1, "INDEX");
  }

  // CREATE [OR REPLACE] [TEMP|...] TABLE|VIEW [IF NOT EXISTS] t ... [AS query [WITH [NO] DATA]]
  void Create(size_t j, size_t end) {
    if (Word(j, "OR") && Word(j + 1, "REPLACE")) j += 2;
    while (Word(j, "TEMP") || Word(j, "TEMPORARY") || Word(j, "PERSISTENT") ||
           Word(j, "UNLOGGED") || Word(j, "GLOBAL") || Word(j, "LOCAL")) {
      ++j;
    }
    if (Word(j, "MATERIALIZED") && Word(j + 1, "VIEW")) ++j;
    if (IsNonTableObject(j)) {
      source_->reads_nothing = true;
      return;
    }
    const bool table = Word(j, "TABLE");
    if (!table && !Word(j, "VIEW")) return Unknown();
    ++j;
    if (Word(j, "IF") && Word(j + 1, "NOT") && Word(j + 2, "EXISTS")) j += 3;
    auto name = TableAt(&j);
    if (!name) return Unknown();
    AddWrite(std::move(*name), WriteMode::kDdl);
    if (!table) return;  // a view's query is not read now
    const size_t as = FindTop(j, [&](size_t k) { return Word(k, "AS"); });
    if (as >= end) {
      source_->reads_nothing = true;
      return;
    }
    size_t query_end = end;
    if (query_end >= as + 3 && Word(query_end - 1, "DATA")) {
      query_end -= Word(query_end - 2, "NO") ? 3 : 2;  // WITH [NO] DATA
      if (!Word(query_end, "WITH")) query_end = end;
    }
    size_t query = as + 1;
    if (query < query_end) source_->read_spans = {SpanOf(query, query_end)};
  }

  // DROP TABLE|VIEW [IF EXISTS] t [, ...] [CASCADE|RESTRICT]
  void Drop(size_t j, size_t end) {
    source_->reads_nothing = true;
    if (FindTop(j, [&](size_t k) { return Word(k, "CASCADE"); }) < end) return Unknown();
    if (Word(j, "MATERIALIZED") && Word(j + 1, "VIEW")) ++j;
    if (IsNonTableObject(j)) return;
    if (!Word(j, "TABLE") && !Word(j, "VIEW")) return Unknown();
    ++j;
    if (Word(j, "IF") && Word(j + 1, "EXISTS")) j += 2;
    while (true) {
      auto table = TableAt(&j);
      if (!table) return Unknown();
      AddWrite(std::move(*table), WriteMode::kDdl);
      if (!Sym(j, ",")) break;
      ++j;
    }
  }

  // ALTER TABLE|VIEW [IF EXISTS] [ONLY] t ... [RENAME TO u]
  void Alter(size_t j, size_t end) {
    if (IsNonTableObject(j)) return;
    if (!Word(j, "TABLE") && !Word(j, "VIEW")) return Unknown();
    ++j;
    if (Word(j, "IF") && Word(j + 1, "EXISTS")) j += 2;
    if (Word(j, "ONLY")) ++j;
    auto table = TableAt(&j);
    if (!table) return Unknown();
    AddWrite(*table, WriteMode::kDdl);
    size_t rename = FindTop(j, [&](size_t k) { return Word(k, "RENAME") && Word(k + 1, "TO"); });
    if (rename < end) {
      size_t k = rename + 2;
      auto renamed = TableAt(&k);
      if (!renamed) return Unknown();
      if (!renamed->schema) {
        renamed->schema = table->schema;
        renamed->catalog = table->catalog;
      }
      AddWrite(std::move(*renamed), WriteMode::kDdl);
    }
  }

  const std::vector<Token>& t_;
  StatementInfo* info_;
  StatementSource* source_;
  size_t end_ = 0;
};

Parameters ParametersOf(const std::vector<Token>& tokens, TokenRange range) {
  Parameters out;
  for (size_t i = range.first; i < range.last; ++i) {
    const Token& token = tokens[i];
    if (token.kind != TokenKind::kParameter) continue;
    std::string_view rest = token.text.substr(1);
    if (rest.empty()) {
      ++out.positional;
    } else if (rest[0] >= '0' && rest[0] <= '9') {
      int number = 0;
      for (char c : rest) number = std::min(number * 10 + (c - '0'), 1 << 20);
      out.highest_numbered = std::max(out.highest_numbered, number);
    } else if (std::find(out.named.begin(), out.named.end(), rest) == out.named.end()) {
      out.named.emplace_back(rest);
    }
  }
  return out;
}

}  // namespace

StatementInfo DescribeStatement(const std::shared_ptr<const std::string>& script,
                                const std::vector<Token>& tokens, TokenRange range) {
  StatementInfo info;
  auto source = std::make_shared<StatementSource>();
  source->script = script;
  info.span = {tokens[range.first].offset, tokens[range.last - 1].end()};
  source->statement = info.span;
  info.parameters = ParametersOf(tokens, range);
  info.well_formed = tokens[range.last - 1].kind != TokenKind::kInvalid;
  info.writes_known = true;
  if (info.well_formed) {
    Classifier(tokens, &info, source.get()).Statement(range.first, range.first, range.last, true);
  } else {
    info.writes_known = false;
    info.keyword = UpperWord(tokens[range.first]);
  }
  if (!info.writes_known) info.writes.clear();
  info.internals = std::move(source);
  return info;
}

}  // namespace hyprstream::sql::detail
