#include "server/jwt_token.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <nlohmann/json.hpp>

#include "server/base64.h"

namespace hyprstream::server {
namespace {

constexpr int64_t kNow = 1700000000;
const std::string kSecret(40, 'k');

TEST(JwtSignerTest, IssuedTokensVerifyUntilTheyExpire) {
  auto signer = JwtSigner::Make(kSecret, std::chrono::seconds(600));
  ASSERT_TRUE(signer.ok());
  std::string token = (*signer)->Issue("alice", "read_write", kNow);
  auto claims = (*signer)->Verify(token, kNow + 10);
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  EXPECT_EQ(claims->subject, "alice");
  ASSERT_EQ(claims->roles.size(), 1u);
  EXPECT_EQ(claims->roles[0], "read_write");
  EXPECT_EQ(claims->expires_at, kNow + 600);
  auto expired = (*signer)->Verify(token, kNow + 600);
  EXPECT_FALSE(expired.ok());
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
}

TEST(JwtSignerTest, TamperedOrForeignTokensFail) {
  auto signer = *JwtSigner::Make(kSecret, std::chrono::seconds(600));
  std::string token = signer->Issue("alice", "read_only", kNow);
  const size_t dot = token.find('.');
  const size_t dot2 = token.find('.', dot + 1);
  // Payload changed to admin, signature kept.
  auto payload = nlohmann::json::parse(*Base64UrlDecode(token.substr(dot + 1, dot2 - dot - 1)));
  payload["role"] = "admin";
  std::string forged =
      token.substr(0, dot) + "." + Base64UrlEncode(payload.dump()) + token.substr(dot2);
  EXPECT_FALSE(signer->Verify(forged, kNow).ok());
  // One flipped signature character. Not the last one: of its six bits the lowest two are
  // padding, so 'A' <-> 'B' there can leave the signature's bytes unchanged.
  std::string flipped = token;
  char& c = flipped[dot2 + 5];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_FALSE(signer->Verify(flipped, kNow).ok());
  // Another server's secret.
  auto other = *JwtSigner::Make(std::string(40, 'z'), std::chrono::seconds(600));
  EXPECT_FALSE(other->Verify(token, kNow).ok());
  // alg "none" with no signature.
  std::string none =
      Base64UrlEncode(R"({"alg":"none"})") + "." + token.substr(dot + 1, dot2 - dot - 1) + ".";
  EXPECT_FALSE(signer->Verify(none, kNow).ok());
  for (const char* junk : {"", "a.b", "a.b.c.d", "!!!.???.***"}) {
    EXPECT_FALSE(signer->Verify(junk, kNow).ok()) << junk;
  }
}

TEST(JwtSignerTest, ShortSecretsAreRefused) {
  EXPECT_FALSE(JwtSigner::Make("short", std::chrono::seconds(60)).ok());
}

// --- External tokens: keys made here, tokens signed here like an identity provider would.

struct KeyPair {
  EVP_PKEY* key = nullptr;
  ~KeyPair() { EVP_PKEY_free(key); }
  std::string PublicPem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, size);
    BIO_free(bio);
    return pem;
  }
  // A JWS signature over `input`: RS256 as is, ES256 converted from DER to r || s.
  std::string Sign(const std::string& input, bool ec) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    size_t size = 0;
    EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string signature(size, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &size,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    signature.resize(size);
    EVP_MD_CTX_free(ctx);
    if (!ec) return signature;
    const unsigned char* der = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(sig);
    return raw;
  }
  std::string Token(const nlohmann::json& payload, bool ec) const {
    nlohmann::json header = {{"alg", ec ? "ES256" : "RS256"}, {"typ", "JWT"}};
    std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload.dump());
    return input + "." + Base64UrlEncode(Sign(input, ec));
  }
};

class ExternalJwtTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    pair_.key = GetParam() ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                           : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
    ASSERT_NE(pair_.key, nullptr);
    ExternalJwtOptions options;
    options.public_key_pem = pair_.PublicPem();
    options.issuer = "https://idp.example";
    options.audience = "hyprstream";
    options.role_claim = "groups";
    options.groups_claim = "teams";
    auto verifier = ExternalJwtVerifier::Make(options);
    ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
    verifier_ = std::move(*verifier);
  }
  nlohmann::json Claims() {
    return {{"iss", "https://idp.example"},
            {"aud", {"other", "hyprstream"}},
            {"sub", "carol"},
            {"groups", {"staff", "read_write"}},
            {"exp", kNow + 300}};
  }
  KeyPair pair_;
  std::unique_ptr<ExternalJwtVerifier> verifier_;
};

TEST_P(ExternalJwtTest, AcceptsAValidTokenAndReadsTheRoleClaim) {
  auto claims = verifier_->Verify(pair_.Token(Claims(), GetParam()), kNow);
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  EXPECT_EQ(claims->subject, "carol");
  EXPECT_EQ(claims->roles, (std::vector<std::string>{"staff", "read_write"}));
  EXPECT_TRUE(claims->groups.empty());  // no "teams" claim
}

TEST_P(ExternalJwtTest, ReadsTheGroupsClaimAsAStringOrAList) {
  auto claims_json = Claims();
  claims_json["teams"] = {"analysts", 7, "ops"};
  auto claims = verifier_->Verify(pair_.Token(claims_json, GetParam()), kNow);
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  EXPECT_EQ(claims->groups, (std::vector<std::string>{"analysts", "ops"}));
  claims_json["teams"] = "analysts";
  claims = verifier_->Verify(pair_.Token(claims_json, GetParam()), kNow);
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->groups, (std::vector<std::string>{"analysts"}));
}

TEST_P(ExternalJwtTest, RefusesWrongIssuerAudienceExpiryOrSignature) {
  auto wrong = [&](const char* key, nlohmann::json value) {
    auto claims = Claims();
    claims[key] = value;
    return verifier_->Verify(pair_.Token(claims, GetParam()), kNow).ok();
  };
  EXPECT_FALSE(wrong("iss", "https://evil.example"));
  EXPECT_FALSE(wrong("aud", "other"));
  EXPECT_FALSE(wrong("exp", kNow - 120));
  EXPECT_FALSE(wrong("nbf", kNow + 3600));
  auto no_exp = Claims();
  no_exp.erase("exp");
  EXPECT_FALSE(verifier_->Verify(pair_.Token(no_exp, GetParam()), kNow).ok());
  // Signed by another key of the same kind.
  KeyPair other;
  other.key = GetParam() ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                         : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  EXPECT_FALSE(verifier_->Verify(other.Token(Claims(), GetParam()), kNow).ok());
  // An HS256 token signed with the public key as secret (algorithm confusion).
  auto hs = JwtSigner::Make(pair_.PublicPem(), std::chrono::seconds(60));
  ASSERT_TRUE(hs.ok());
  EXPECT_FALSE(verifier_->Verify((*hs)->Issue("carol", "admin", kNow), kNow).ok());
}

INSTANTIATE_TEST_SUITE_P(Rs256AndEs256, ExternalJwtTest, ::testing::Values(false, true));

TEST(ExternalJwtMakeTest, RefusesKeysThatAreNotPublicPem) {
  ExternalJwtOptions options;
  options.public_key_pem = "not a key";
  EXPECT_FALSE(ExternalJwtVerifier::Make(options).ok());
}

}  // namespace
}  // namespace hyprstream::server
