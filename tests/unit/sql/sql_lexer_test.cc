// The SQL lexer: token kinds, offsets, comments and quoting.
#include "sql/sql_lexer.h"

#include <gtest/gtest.h>

namespace hyprstream::sql {
namespace {

// "kind:text" of every token.
std::vector<std::string> Kinds(std::string_view sql) {
  std::vector<std::string> out;
  for (const Token& t : Lex(sql)) {
    static const char* kNames[] = {"w", "q", "s", "n", "p", "o", "!"};
    out.push_back(std::string(kNames[static_cast<int>(t.kind)]) + ":" + std::string(t.text));
  }
  return out;
}

using V = std::vector<std::string>;

TEST(SqlLexerTest, KindsAndText) {
  EXPECT_EQ(Kinds("SELECT a1, \"B c\" FROM t WHERE x >= 1.5e3"),
            (V{"w:SELECT", "w:a1", "o:,", "q:\"B c\"", "w:FROM", "w:t", "w:WHERE", "w:x",
               "o:>=", "n:1.5e3"}));
  EXPECT_EQ(Kinds("a::INT, b[1], .5, 1_000, 0x1F"),
            (V{"w:a", "o:::", "w:INT", "o:,", "w:b", "o:[", "n:1", "o:]", "o:,", "n:.5", "o:,",
               "n:1_000", "o:,", "n:0x1F"}));
  EXPECT_EQ(Kinds("t.*"), (V{"w:t", "o:.", "o:*"}));
}

TEST(SqlLexerTest, Strings) {
  EXPECT_EQ(Kinds("'it''s' E'a\\'b' X'41' $$a'b$$ $tag$ $$ $tag$"),
            (V{"s:'it''s'", "s:E'a\\'b'", "s:X'41'", "s:$$a'b$$", "s:$tag$ $$ $tag$"}));
  EXPECT_EQ(Kinds("'never ends"), (V{"!:'never ends"}));
  EXPECT_EQ(Kinds("$a$ never ends"), (V{"!:$a$ never ends"}));
  EXPECT_EQ(Kinds("\"a\"\"b\""), (V{"q:\"a\"\"b\""}));
}

TEST(SqlLexerTest, Parameters) {
  EXPECT_EQ(Kinds("? ?2 $1 $name a$b"), (V{"p:?", "p:?2", "p:$1", "p:$name", "w:a$b"}));
}

TEST(SqlLexerTest, CommentsAreSkipped) {
  EXPECT_EQ(Kinds("a -- x ? 'y\nb /* c /* nested */ still */ d/*e*/f"),
            (V{"w:a", "w:b", "w:d", "w:f"}));
  EXPECT_EQ(Kinds("a /* never ends"), (V{"w:a", "!:/* never ends"}));
  EXPECT_EQ(Kinds("1--2"), (V{"n:1"}));
  EXPECT_EQ(Kinds("a</*c*/b"), (V{"w:a", "o:<", "w:b"}));
}

TEST(SqlLexerTest, OffsetsPointIntoTheText) {
  const std::string sql = "  SELECT /* c */ x";
  auto tokens = Lex(sql);
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].offset, 2u);
  EXPECT_EQ(tokens[1].offset, sql.size() - 1);
  EXPECT_EQ(tokens[1].end(), sql.size());
}

TEST(SqlLexerTest, Names) {
  auto tokens = Lex("Cat.\"My \"\"S\"\".T\".Tab rest");
  size_t i = 0;
  auto parts = QualifiedNameAt(tokens, &i);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(*parts, (V{"cat", "My \"S\".T", "tab"}));
  EXPECT_EQ(i, 5u);
  EXPECT_TRUE(IsWord(tokens[5], "REST"));
  EXPECT_EQ(UpperWord(tokens[5]), "REST");
  i = 1;
  EXPECT_FALSE(QualifiedNameAt(tokens, &i).has_value());
  EXPECT_EQ(i, 1u);
}

}  // namespace
}  // namespace hyprstream::sql
