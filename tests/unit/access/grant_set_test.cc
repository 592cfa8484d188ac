#include "access/grant_set.h"

#include <gtest/gtest.h>

namespace hyprstream::access {
namespace {

Grant Make(const char* privilege, const char* object, const char* principal) {
  auto grant = Grant::Parse(privilege, object, principal);
  EXPECT_TRUE(grant.ok()) << grant.status().ToString();
  return *grant;
}

const QualifiedTable kTrades{"memory", "main", "trades"};
const QualifiedTable kSecret{"memory", "hr", "salaries"};

TEST(GrantTest, ParsesAndPrintsTheThreeParts) {
  Grant grant = Make(" SELECT ", "Memory.\"Main\".*", "group:Analysts");
  EXPECT_EQ(grant.privilege, Privilege::kRead);
  EXPECT_EQ(grant.object.ToString(), "memory.main.*");
  EXPECT_EQ(grant.principal.ToString(), "group:Analysts");
  EXPECT_EQ(Make("write", "*", "user:a").object.parts.size(), 0u);
  EXPECT_FALSE(Grant::Parse("delete", "*", "user:a").ok());
  EXPECT_FALSE(Grant::Parse("read", "a.b.c.d", "user:a").ok());
  EXPECT_FALSE(Grant::Parse("read", "a..c", "user:a").ok());
  EXPECT_FALSE(Grant::Parse("read", "", "user:a").ok());
  EXPECT_FALSE(Grant::Parse("read", "*", "alice").ok());
  EXPECT_FALSE(Grant::Parse("read", "*", "user:").ok());
}

TEST(GrantTest, ShorterPatternsCoverWhatIsInside) {
  EXPECT_TRUE(Make("read", "*", "user:a").object.Covers(kTrades));
  EXPECT_TRUE(Make("read", "memory", "user:a").object.Covers(kTrades));
  EXPECT_TRUE(Make("read", "memory.main", "user:a").object.Covers(kTrades));
  EXPECT_TRUE(Make("read", "memory.*.trades", "user:a").object.Covers(kTrades));
  EXPECT_TRUE(Make("read", "MEMORY.MAIN.TRADES", "user:a").object.Covers(kTrades));
  EXPECT_FALSE(Make("read", "memory.main.trade", "user:a").object.Covers(kTrades));
  EXPECT_FALSE(Make("read", "other", "user:a").object.Covers(kTrades));
  EXPECT_FALSE(Make("read", "memory.main", "user:a").object.Covers(kSecret));
}

TEST(GrantSetTest, NotEnforcedUntilAGrantExistsThenDenyByDefault) {
  GrantSet grants;
  const Subject alice{"alice", {"analysts"}};
  EXPECT_FALSE(grants.enforced());
  EXPECT_TRUE(grants.Allows(alice, Privilege::kWrite, kSecret));
  EXPECT_TRUE(grants.Add(Make("read", "memory.main", "group:analysts")));
  EXPECT_FALSE(grants.Add(Make("read", "memory.main", "group:analysts")));
  EXPECT_TRUE(grants.enforced());
  EXPECT_TRUE(grants.Allows(alice, Privilege::kRead, kTrades));
  EXPECT_FALSE(grants.Allows(alice, Privilege::kWrite, kTrades));  // write is separate
  EXPECT_FALSE(grants.Allows(alice, Privilege::kRead, kSecret));
  EXPECT_FALSE(grants.Allows(Subject{"bob", {}}, Privilege::kRead, kTrades));
  EXPECT_FALSE(grants.Allows(Subject{"analysts", {}}, Privilege::kRead, kTrades));  // a group
  EXPECT_TRUE(grants.MayReadIn(alice, "memory", std::nullopt));
  EXPECT_TRUE(grants.MayReadIn(alice, "memory", "main"));
  EXPECT_FALSE(grants.MayReadIn(alice, "memory", "hr"));
  EXPECT_FALSE(grants.MayReadIn(alice, "system", std::nullopt));
  // Revoking the last grant leaves everything denied, not open.
  EXPECT_TRUE(grants.Remove(Make("read", "memory.main", "group:analysts")));
  EXPECT_FALSE(grants.Remove(Make("read", "memory.main", "group:analysts")));
  EXPECT_TRUE(grants.enforced());
  EXPECT_FALSE(grants.Allows(alice, Privilege::kRead, kTrades));
}

TEST(GrantTest, WindowsAreObjectsOfTheirOwn) {
  Grant bars = Make("read", "Window:Trade_Bars", "user:a");
  EXPECT_TRUE(bars.object.window);
  EXPECT_EQ(bars.object.ToString(), "window:trade_bars");
  EXPECT_TRUE(bars.object.CoversWindow("TRADE_BARS"));
  EXPECT_FALSE(bars.object.CoversWindow("other"));
  EXPECT_FALSE(bars.object.Covers(QualifiedTable{"window", "trade_bars", "x"}));
  EXPECT_FALSE(bars.object.MayCover("memory", std::nullopt));
  EXPECT_TRUE(Make("read", "window:*", "user:a").object.CoversWindow("any"));
  EXPECT_FALSE(Make("read", "*", "user:a").object.CoversWindow("any"));
  EXPECT_FALSE(Grant::Parse("write", "window:w", "user:a").ok());
  EXPECT_FALSE(Grant::Parse("read", "window:", "user:a").ok());

  GrantSet grants({bars});
  EXPECT_TRUE(grants.AllowsWindow(Subject{"a", {}}, "trade_bars"));
  EXPECT_FALSE(grants.AllowsWindow(Subject{"b", {}}, "trade_bars"));
  EXPECT_FALSE(grants.Allows(Subject{"a", {}}, Privilege::kRead, kTrades));
}

TEST(GrantSetTest, ConfigGrantsAreEnforcedFromTheStart) {
  GrantSet grants({Make("write", "memory.main.trades", "user:bob")});
  EXPECT_TRUE(grants.enforced());
  EXPECT_TRUE(grants.Allows(Subject{"bob", {}}, Privilege::kWrite, kTrades));
  EXPECT_FALSE(grants.Allows(Subject{"bob", {}}, Privilege::kRead, kTrades));
  EXPECT_EQ(grants.List().size(), 1u);
}

}  // namespace
}  // namespace hyprstream::access
