#include "engine/direct_table_call.h"

#include <gtest/gtest.h>

namespace hyprstream::engine {
namespace {

TEST(DirectTableCall, ReadsLiteralArguments) {
  auto call = ParseDirectTableCall(
      "  select *\n FROM Hyprstream_Window('metrics', width := '5m', CURRENT = true,\n"
      "key := 'it''s,b') ;  ");
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->function, "hyprstream_window");
  ASSERT_EQ(call->args.positional.size(), 1u);
  EXPECT_EQ(call->args.positional[0], "metrics");
  EXPECT_EQ(call->args.named.size(), 3u);
  EXPECT_EQ(call->args.named.at("width"), "5m");
  EXPECT_EQ(call->args.named.at("current"), "true");
  EXPECT_EQ(call->args.named.at("key"), "it's,b");

  auto empty = ParseDirectTableCall("SELECT * FROM f()");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->function, "f");
  EXPECT_TRUE(empty->args.positional.empty());
  EXPECT_TRUE(empty->args.named.empty());
  auto positional = ParseDirectTableCall("SELECT * FROM f('', false)");
  ASSERT_TRUE(positional.has_value());
  EXPECT_EQ(positional->args.positional, (std::vector<std::string>{"", "false"}));
}

TEST(DirectTableCall, ReadsAProjectionOfColumns) {
  auto call = ParseDirectTableCall(
      "SELECT metric_id AS \"key\", \"Window \"\"Start\"\"\" AS b, value_sum\n"
      "FROM hyprstream_window('metrics', width := '300s')");
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->columns,
            (std::vector<std::string>{"metric_id", "Window \"Start\"", "value_sum"}));
  EXPECT_EQ(call->args.named.at("width"), "300s");
  EXPECT_TRUE(ParseDirectTableCall("SELECT * FROM f()")->columns.empty());

  std::vector<std::string> fields = {"id", "Label", "label_2"};
  EXPECT_EQ(FindColumn(fields, "LABEL"), 1);
  EXPECT_EQ(FindColumn(fields, "id"), 0);
  EXPECT_FALSE(FindColumn(fields, "nope").has_value());
  EXPECT_FALSE(FindColumn({"a", "A"}, "a").has_value());  // ambiguous
}

TEST(DirectTableCall, AnythingElseIsLeftToTheEngine) {
  for (const char* sql : {
           "SELECT * FROM f('a') WHERE true",      // more clauses
           "SELECT * FROM f('a') AS t",            // alias
           "SELECT a + 1 FROM f('a')",             // expression
           "SELECT t.a FROM f('a') t",             // qualified column
           "SELECT DISTINCT a FROM f('a')",        // DISTINCT
           "SELECT a b FROM f('a')",               // alias without AS
           "SELECT a, FROM f('a')",                // trailing comma
           "SELECT true FROM f('a')",              // constant
           "SELECT count(*) FROM f('a')",          // aggregate
           "SELECT \"\" FROM f('a')",              // empty quoted name
           "SELECT * FROM f('a'), g('b')",         // two tables
           "SELECT * FROM f('a'); SELECT 1",       // two statements
           "SELECT * FROM main.f('a')",            // qualified name
           "SELECT * FROM \"f\"('a')",             // quoted name
           "SELECT * FROM f(5)",                   // number (its text is DuckDB's to make)
           "SELECT * FROM f(?)",                   // parameter
           "SELECT * FROM f('a' || 'b')",          // expression
           "SELECT * FROM f('a'::VARCHAR)",        // cast
           "SELECT * FROM f('a' 'b')",             // adjacent literals
           "SELECT * FROM f(E'a')",                // escape string
           "SELECT * FROM f('a)",                  // unterminated
           "SELECT * FROM f(x := 'a', x := 'b')",  // a name twice
           "SELECT * FROM f(x := 'a', 'b')",       // positional after named
           "SELECT * FROM f('a' -- comment\n)",    // comment
           "SELECT * FROM f('a',)",                // trailing comma
           "SELECT * FROM t",                      // a table
           "SELECT DISTINCT * FROM f('a')",        // DISTINCT
           "FROM f('a')",                          // FROM-first
       }) {
    EXPECT_FALSE(ParseDirectTableCall(sql).has_value()) << sql;
  }
}

TEST(DirectTableCall, FitsOnlyTheDeclaredParameters) {
  TableFunctionSpec spec;
  spec.name = "f";
  spec.positional_parameters = 1;
  spec.named_parameters = {"width", "key"};
  auto fits = [&](const char* sql) { return DirectCallFits(*ParseDirectTableCall(sql), spec); };
  EXPECT_TRUE(fits("SELECT * FROM f('a')"));
  EXPECT_TRUE(fits("SELECT * FROM f('a', width := '5m', key := 'k')"));
  EXPECT_FALSE(fits("SELECT * FROM f()"));
  EXPECT_FALSE(fits("SELECT * FROM f('a', 'b')"));
  EXPECT_FALSE(fits("SELECT * FROM f('a', other := 'x')"));
  EXPECT_FALSE(fits("SELECT * FROM g('a')"));
}

}  // namespace
}  // namespace hyprstream::engine
