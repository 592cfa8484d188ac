// Splitting scripts into statements: semicolons that do and do not end one.
#include "sql/statement_splitter.h"

#include <gtest/gtest.h>

#include <random>

namespace hyprstream::sql {
namespace {

std::vector<std::string> Split(std::string_view sql) {
  std::vector<std::string> out;
  for (const Span& span : SplitStatements(sql)) out.emplace_back(span.In(sql));
  return out;
}

using V = std::vector<std::string>;

TEST(StatementSplitterTest, TopLevelSemicolonsOnly) {
  EXPECT_EQ(Split("SELECT 1; SELECT 2"), (V{"SELECT 1", "SELECT 2"}));
  EXPECT_EQ(Split("SELECT ';'; SELECT E'\\';'; SELECT \";\""),
            (V{"SELECT ';'", "SELECT E'\\';'", "SELECT \";\""}));
  EXPECT_EQ(Split("SELECT $$;$$; SELECT $f$ ; $$ ; $f$"),
            (V{"SELECT $$;$$", "SELECT $f$ ; $$ ; $f$"}));
  EXPECT_EQ(Split("SELECT 1 -- ;\n; SELECT /* ; /* ; */ ; */ 2"),
            (V{"SELECT 1", "SELECT /* ; /* ; */ ; */ 2"}));
  EXPECT_EQ(Split("SELECT (1; 2); SELECT 3"), (V{"SELECT (1; 2)", "SELECT 3"}));
}

TEST(StatementSplitterTest, EmptyAndTrailingStatementsAreDropped) {
  EXPECT_EQ(Split(""), V{});
  EXPECT_EQ(Split(" ;; -- only a comment\n ; /* and this */"), V{});
  EXPECT_EQ(Split(";;SELECT 1;;; -- done\n"), (V{"SELECT 1"}));
  EXPECT_EQ(Split("SELECT 1 'unterminated; SELECT 2"), (V{"SELECT 1 'unterminated; SELECT 2"}));
}

TEST(StatementSplitterTest, BeginAtomicBodies) {
  const std::string function =
      "CREATE FUNCTION f(a int) RETURNS int LANGUAGE SQL BEGIN ATOMIC "
      "SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END; INSERT INTO t VALUES (a); END";
  EXPECT_EQ(Split(function + "; SELECT 1"), (V{function, "SELECT 1"}));
  // BEGIN outside CREATE is a transaction.
  EXPECT_EQ(Split("BEGIN; SELECT 1; COMMIT"), (V{"BEGIN", "SELECT 1", "COMMIT"}));
}

// Random scripts of known statements joined by random blanks, comments and semicolons split
// back into exactly those statements.
TEST(StatementSplitterTest, RandomScriptsSplitBack) {
  const V statements = {
      "SELECT 1",
      "SELECT ';' AS \"a;b\"",
      "INSERT INTO t VALUES (1, 'x;y'), (2, $$;$$)",
      "SELECT $q$ ; -- not a comment $q$",
      "SELECT /* ; */ 2",
      "SELECT 1 -- tail ;\n + 2",
      "UPDATE t SET a = (SELECT 1; )",
      "CREATE PROCEDURE p() BEGIN ATOMIC INSERT INTO t VALUES (1); SELECT CASE WHEN true "
      "THEN 1 END; END",
      "SELECT E'\\'' , ';'",
      "BEGIN",
      "COMMIT",
  };
  const V separators = {";",  " ; ",    ";\n",         "; -- c ; \n", " /* ; */ ;",
                        ";;", "; ;\t;", "\n;/* x */;", "; --\n;"};
  const V blanks = {"", " ", "\n", "-- c\n", "/* c; */ ", " /* a /* b */ ; */ "};
  std::mt19937 random(20240613);
  for (int round = 0; round < 500; ++round) {
    V chosen;
    std::string script = blanks[random() % blanks.size()];
    const int count = 1 + static_cast<int>(random() % 6);
    for (int i = 0; i < count; ++i) {
      chosen.push_back(statements[random() % statements.size()]);
      script += chosen.back();
      if (i + 1 < count || random() % 2 == 0) script += separators[random() % separators.size()];
      script += blanks[random() % blanks.size()];
    }
    EXPECT_EQ(Split(script), chosen) << script;
  }
}

}  // namespace
}  // namespace hyprstream::sql
