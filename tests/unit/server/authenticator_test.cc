#include "server/authenticator.h"

#include <gtest/gtest.h>

#include "server/base64.h"
#include "server/password_hash.h"

namespace hyprstream::server {
namespace {

using flightsql::Role;

std::unique_ptr<Authenticator> MakeAuth() {
  AuthenticatorOptions options;
  options.users.push_back(
      {"alice", *HashPassword("wonder land", kMinPasswordIterations), Role::kReadWrite});
  options.users.push_back({"bo", *HashPassword("x", kMinPasswordIterations), Role::kReadOnly});
  auto auth = Authenticator::Make(options);
  EXPECT_TRUE(auth.ok()) << auth.status().ToString();
  return std::move(*auth);
}

TEST(AuthenticatorTest, BasicCredentialsPaddedOrNot) {
  auto auth = MakeAuth();
  // "bo:x" encodes with padding ("Ym86eA=="); both spellings are accepted.
  std::string padded = Base64Encode("bo:x");
  ASSERT_NE(padded.find('='), std::string::npos);
  std::string unpadded = padded.substr(0, padded.find('='));
  for (const auto& encoded : {padded, unpadded}) {
    auto identity = auth->CheckBasic(encoded);
    ASSERT_TRUE(identity.ok()) << encoded << ": " << identity.status().ToString();
    EXPECT_EQ(identity->user, "bo");
    EXPECT_EQ(identity->role, Role::kReadOnly);
  }
  auto alice = auth->CheckBasic(Base64Encode("alice:wonder land"));
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->role, Role::kReadWrite);
}

TEST(AuthenticatorTest, WrongPasswordUnknownUserAndJunkAreRefusedAlike) {
  auto auth = MakeAuth();
  auto wrong = auth->CheckBasic(Base64Encode("alice:wonderland"));
  auto unknown = auth->CheckBasic(Base64Encode("mallory:wonder land"));
  ASSERT_FALSE(wrong.ok());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(wrong.status().message(), unknown.status().message());
  EXPECT_EQ(wrong.status().message().find("wonder"), std::string::npos);
  EXPECT_FALSE(auth->CheckBasic("%%%").ok());
  EXPECT_FALSE(auth->CheckBasic(Base64Encode("no colon")).ok());
}

TEST(AuthenticatorTest, IssuedTokensAuthenticateWithTheUsersRole) {
  auto auth = MakeAuth();
  std::string token = auth->IssueToken({"alice", Role::kReadWrite});
  auto identity = auth->CheckBearer(token);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ(identity->user, "alice");
  EXPECT_EQ(identity->role, Role::kReadWrite);
  // A token of another server instance (different random secret) is refused.
  auto other = MakeAuth();
  EXPECT_FALSE(other->CheckBearer(token).ok());
  EXPECT_FALSE(auth->CheckBearer("garbage").ok());
  // An external (RS256) token without a configured external key is refused.
  EXPECT_FALSE(auth->CheckBearer(Base64UrlEncode(R"({"alg":"RS256"})") + ".e30.c2ln").ok());
}

TEST(AuthenticatorTest, BadUserListsAreRefused) {
  AuthenticatorOptions twice;
  auto hash = *HashPassword("x", kMinPasswordIterations);
  twice.users = {{"a", hash, Role::kAdmin}, {"a", hash, Role::kReadOnly}};
  EXPECT_FALSE(Authenticator::Make(twice).ok());
  AuthenticatorOptions plain;
  plain.users = {{"a", "secret", Role::kAdmin}};
  EXPECT_FALSE(Authenticator::Make(plain).ok());
  AuthenticatorOptions short_secret;
  short_secret.token_secret = "short";
  EXPECT_FALSE(Authenticator::Make(short_secret).ok());
}

}  // namespace
}  // namespace hyprstream::server
