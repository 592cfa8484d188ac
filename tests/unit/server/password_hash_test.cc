#include "server/password_hash.h"

#include <gtest/gtest.h>

#include "server/base64.h"

namespace hyprstream::server {
namespace {

TEST(Base64Test, PaddedAndUnpaddedDecodeTheSame) {
  EXPECT_EQ(Base64Encode("alice:secret"), "YWxpY2U6c2VjcmV0");
  EXPECT_EQ(Base64Encode("bob:pw"), "Ym9iOnB3");
  EXPECT_EQ(Base64Encode("bo:pw"), "Ym86cHc=");
  EXPECT_EQ(*Base64Decode("Ym86cHc="), "bo:pw");
  EXPECT_EQ(*Base64Decode("Ym86cHc"), "bo:pw");
  EXPECT_EQ(*Base64Decode("YQ=="), "a");
  EXPECT_EQ(*Base64Decode("YQ"), "a");
  EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode("\xff\xfe\xfd")), "\xff\xfe\xfd");
  EXPECT_EQ(Base64UrlEncode("\xff\xfe\xfd").find_first_of("+/="), std::string::npos);
}

TEST(Base64Test, RejectsMalformedText) {
  EXPECT_FALSE(Base64Decode("Y").ok());        // impossible length
  EXPECT_FALSE(Base64Decode("YQ=").ok());      // padding that does not complete a quantum
  EXPECT_FALSE(Base64Decode("Y Q==").ok());    // character outside the alphabet
  EXPECT_FALSE(Base64Decode("YQ===").ok());    // too much padding
  EXPECT_FALSE(Base64UrlDecode("ab+/").ok());  // standard alphabet in a URL-safe text
}

TEST(PasswordHashTest, VerifiesTheRightPasswordOnly) {
  auto hash = HashPassword("correct horse", kMinPasswordIterations);
  ASSERT_TRUE(hash.ok()) << hash.status().ToString();
  EXPECT_EQ(hash->rfind("pbkdf2-sha256$10000$", 0), 0u) << *hash;
  EXPECT_EQ(hash->find("correct horse"), std::string::npos);
  EXPECT_TRUE(*VerifyPassword("correct horse", *hash));
  EXPECT_FALSE(*VerifyPassword("correct horsE", *hash));
  EXPECT_FALSE(*VerifyPassword("", *hash));
}

TEST(PasswordHashTest, SaltMakesEveryHashDifferent) {
  auto a = HashPassword("same", kMinPasswordIterations);
  auto b = HashPassword("same", kMinPasswordIterations);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(*VerifyPassword("same", *b));
}

TEST(PasswordHashTest, DefaultIterationCountIsStrong) {
  auto hash = HashPassword("pw");
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->rfind("pbkdf2-sha256$600000$", 0), 0u);
  EXPECT_TRUE(*VerifyPassword("pw", *hash));
}

TEST(PasswordHashTest, MalformedHashesAreInvalid) {
  for (const char* bad : {"", "plaintext", "pbkdf2-sha256$1000$c2FsdHNhbHQ=$AAAA",
                          "pbkdf2-sha256$600000$c2FsdHNhbHQ=$AAAA", "md5$1$2$3",
                          "pbkdf2-sha256$x$c2FsdHNhbHQ=$AAAA"}) {
    EXPECT_FALSE(ValidatePasswordHash(bad).ok()) << bad;
    EXPECT_FALSE(VerifyPassword("pw", bad).ok()) << bad;
  }
  EXPECT_FALSE(HashPassword("pw", 100).ok());
}

}  // namespace
}  // namespace hyprstream::server
