// Instagram plugin: every fixture, signatures, hostile bodies, the dashboard test format,
// Send API requests and results, the descriptor and create(). Checks shared with Messenger
// live in tests/unit/messenger/meta_test_support.
#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "channel.h"
#include "meta_test_support.h"
#include "translate.h"

namespace gateway::test {
namespace {

using plugins::instagram::InstagramChannel;

constexpr char kAccountId[] = "17841400000000101";
constexpr char kIgsid[] = "1122334455667788";
constexpr char kMessagesPath[] = "/v21.0/17841400000000101/messages";

class InstagramTest : public ::testing::Test {
 protected:
  TestHost host_;
  InstagramChannel channel_{host_.api(), fixtureConfig(kAccountId)};
};

// ---- Webhooks ----

class InstagramFixture : public InstagramTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(InstagramFixture, ProducesExpectedEvents) { expectFixtureParses(channel_, GetParam(), "igsid"); }
TEST_P(InstagramFixture, SignatureChecks) { expectSignatureChecks(channel_, GetParam()); }
TEST_P(InstagramFixture, DamagedCopiesAreMalformed) { expectDamagedCopiesMalformed(channel_, GetParam()); }

INSTANTIATE_TEST_SUITE_P(Fixtures, InstagramFixture, ::testing::ValuesIn(webhookFixtures("instagram")),
                         [](const auto& info) { return fixtureTestName(info.param); });

TEST_F(InstagramTest, EveryWebhookFixtureHasExpectations) {
  std::vector<std::string> expected = webhookFixtures("instagram");
  std::sort(expected.begin(), expected.end());
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(webhookFilesOnDisk("instagram"), expected);
}

TEST_F(InstagramTest, HostileBodiesNeverCrash) {
  expectHostileBodiesHandled(channel_, "instagram");
  EXPECT_EQ(host_.errorLines(), 0) << "no exception reached guarded()";
}

TEST_F(InstagramTest, MutatedFixturesNeverCrash) {
  expectMutationsHandled(channel_, "instagram/share_ig_reel.json");
  expectMutationsHandled(channel_, "instagram/reaction.json");
  EXPECT_EQ(host_.errorLines(), 0);
}

TEST_F(InstagramTest, ToleratesWhatTheDocsAllow) { expectTolerantParsing(channel_, "instagram", "igsid"); }

// Found by tests/fuzz/instagram_parse_fuzz (extraJson/rawJson not valid JSON): RapidJSON 1.1.0
// decodes a lone LOW surrogate escape into bytes that are not UTF-8 (it refuses a lone high one).
TEST_F(InstagramTest, LoneLowSurrogateEscapeIsMalformed) {
  const std::string head = R"({"object":"instagram","entry":[{"id":"17841400000000101","messaging":[{"sender":{"id":"1"},"recipient":{"id":"17841400000000101"},"timestamp":1,)";
  EXPECT_EQ(parse(channel_, head + R"("message":{"mid":"m","text":"a\udc00b"}}]}]})").outcome, api::Outcome::kMalformed);
  EXPECT_EQ(parse(channel_, head + R"("postback":{"title":"t","referral":{"source":"SHORT\ud57d\ude00LINK"}}}]}]})").outcome,
            api::Outcome::kMalformed);
  EXPECT_EQ(parse(channel_, head + R"("message":{"mid":"m","\udfff":1}}]}]})").outcome, api::Outcome::kMalformed);
  const ParseRun pair = parse(channel_, head + R"("message":{"mid":"m","text":"\ud83d\ude00"}}]}]})");
  ASSERT_EQ(pair.outcome, api::Outcome::kOk);
  ASSERT_EQ(pair.events.size(), 1u);
  EXPECT_EQ(pair.events[0].text.value_or(""), "\xF0\x9F\x98\x80");
}

// Found by tests/fuzz/instagram_parse_fuzz (rawJson not valid JSON): RapidJSON 1.1.0 reads
// "17677728150001e300" (explicit exponent <= 308, value beyond double) as inf, which the
// rawJson writer cannot write ("\"k\":,").
TEST_F(InstagramTest, NumbersBeyondDoubleAreMalformed) {
  const std::string head = R"({"object":"instagram","entry":[{"id":"17841400000000101","messaging":[{"sender":{"id":"1"},"recipient":{"id":"17841400000000101"},)";
  EXPECT_EQ(parse(channel_, head + R"("timest!mp":17677728150001e300,"referral-":{}}]}]})").outcome, api::Outcome::kMalformed);
  EXPECT_EQ(parse(channel_, head + R"("timestamp":1,"message":{"mid":"m","x":-10e308}}]}]})").outcome, api::Outcome::kMalformed);
}

TEST_F(InstagramTest, OtherPlatformsPayloadsAreUnsupported) {
  EXPECT_EQ(parse(channel_, readFixture("messenger/text.json")).outcome, api::Outcome::kUnsupported);
  EXPECT_EQ(parse(channel_, readFixture("whatsapp/text.json")).outcome, api::Outcome::kUnsupported);
}

TEST_F(InstagramTest, DashboardTestEventsInChangesAreMessages) {
  // The App Dashboard's "Test" button: entry.id "0", string timestamp in seconds.
  const std::string value =
      R"({"sender":{"id":"12334"},"recipient":{"id":"23245"},"timestamp":"1527459824",)"
      R"("message":{"mid":"random_mid","text":"random_text"}})";
  const ParseRun run = parse(channel_, R"({"object":"instagram","entry":[{"id":"0","time":1527459824,
      "changes":[{"field":"messages","value":)" + value + "}]}]}");
  ASSERT_EQ(run.outcome, api::Outcome::kOk);
  ASSERT_EQ(run.events.size(), 1u);
  const CapturedEvent& e = run.events[0];
  EXPECT_EQ(e.kind, api::EventKind::kMessage);
  EXPECT_EQ(e.businessAccountId.value_or(""), "23245") << "routed by recipient.id, not entry.id 0";
  EXPECT_EQ(e.externalUserId.value_or(""), "12334");
  EXPECT_EQ(e.externalMessageId.value_or(""), "random_mid");
  EXPECT_EQ(e.text.value_or(""), "random_text");
  EXPECT_EQ(e.timestampMs, 1527459824000);
  EXPECT_TRUE(parseJsonOrFail(e.rawJson, "raw") == parseJsonOrFail(value, "value"));
}

TEST_F(InstagramTest, EchoWithoutAppIdIsAnotherToolsMessage) {
  const ParseRun run = parse(channel_, readFixture("instagram/echo.json"));
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_NE(run.events[0].extraJson.find(R"("is_own_app_echo":false)"), std::string::npos);
}

// ---- Send API requests ----

TEST_F(InstagramTest, TextRequestMatchesFixture) {
  api::OutboundMessage msg = textMessage(kIgsid, "igsid", "Hi! Yes, it is available in M and L.");
  msg.messageId = api::bytesOf("01HF0000000000000000000003");  // Instagram has no metadata field
  CapturedRequest request;
  ASSERT_EQ(buildSend(channel_, msg, request), api::Outcome::kOk);
  expectRequestMatches(request, "instagram/send/req_text.json", kMessagesPath);
}

TEST_F(InstagramTest, HumanAgentRequestMatchesFixture) {
  api::OutboundMessage msg = textMessage(kIgsid, "igsid", "Following up on your return request.");
  msg.tag = api::bytesOf("HUMAN_AGENT");
  CapturedRequest request;
  ASSERT_EQ(buildSend(channel_, msg, request), api::Outcome::kOk);
  expectRequestMatches(request, "instagram/send/req_human_agent.json", kMessagesPath);
}

TEST_F(InstagramTest, ImageRequestMatchesFixture) {
  const api::OutboundMessage msg =
      attachmentMessage(kIgsid, "igsid", "image", "https://cdn.example.com/lookbook/blue-jacket.jpg");
  CapturedRequest request;
  ASSERT_EQ(buildSend(channel_, msg, request), api::Outcome::kOk);
  expectRequestMatches(request, "instagram/send/req_image.json", kMessagesPath);
}

TEST_F(InstagramTest, OnlyMediaTheSendApiCarries) {
  for (const char* type : {"image", "audio", "video"}) {
    CapturedRequest request;
    EXPECT_EQ(buildSend(channel_, attachmentMessage(kIgsid, "igsid", type, "https://x/f"), request),
              api::Outcome::kOk)
        << type;
  }
  for (const char* type : {"document", "file"}) {
    CapturedRequest request;
    EXPECT_EQ(buildSend(channel_, attachmentMessage(kIgsid, "igsid", type, "https://x/f"), request),
              api::Outcome::kUnsupported)
        << type;
  }
}

TEST_F(InstagramTest, EveryRequestFixtureIsCovered) {
  std::vector<std::string> covered = {"instagram/send/req_text.json", "instagram/send/req_human_agent.json",
                                      "instagram/send/req_image.json"};
  std::sort(covered.begin(), covered.end());
  std::vector<std::string> indexed = sendIndexFiles("instagram", "request");
  std::sort(indexed.begin(), indexed.end());
  EXPECT_EQ(indexed, covered);
}

TEST_F(InstagramTest, CommonSendRules) { expectCommonSendRules(channel_, "igsid"); }

// ---- Send API results ----

struct ResultCase {
  const char* file;
  api::SendErrorClass errorClass;
  std::int64_t code;
  std::int64_t subcode;
};

void PrintTo(const ResultCase& c, std::ostream* os) { *os << c.file; }

// Classes follow send_index.json's "retry" notes for each file.
const ResultCase kResultCases[] = {
    {"err_10_2534022.json", api::SendErrorClass::kPermanent, 10, 2534022},   // outside the window
    {"err_190.json", api::SendErrorClass::kAuth, 190, 463},                  // session expired
    {"err_4.json", api::SendErrorClass::kRateLimited, 4, 0},                 // app limit, is_transient
    {"err_100_2534014.json", api::SendErrorClass::kPermanent, 100, 2534014}, // user not found
    {"err_500.json", api::SendErrorClass::kTransient, 2, 0},                 // is_transient
};

class InstagramResult : public InstagramTest, public ::testing::WithParamInterface<ResultCase> {};

TEST_P(InstagramResult, ClassifiedAsTheIndexSays) {
  const std::string path = std::string("instagram/send/") + GetParam().file;
  const std::string body = readFixture(path);
  const CapturedResult r = readResult(channel_, sendIndexHttpStatus(path), body);
  EXPECT_FALSE(r.accepted);
  EXPECT_STREQ(className(r.errorClass), className(GetParam().errorClass));
  EXPECT_EQ(r.code, GetParam().code);
  EXPECT_EQ(r.subcode, GetParam().subcode);
  EXPECT_EQ(r.message, parseJsonOrFail(body, path)["error"]["message"].GetString());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, InstagramResult, ::testing::ValuesIn(kResultCases),
                         [](const auto& info) { return fixtureTestName(info.param.file); });

TEST_F(InstagramTest, SendOkIsAccepted) {
  const CapturedResult r = readResult(channel_, sendIndexHttpStatus("instagram/send/send_ok.json"),
                                      readFixture("instagram/send/send_ok.json"));
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.messageId,
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAw-O8WTp3z7iJrrT6ZouLG6Df5y5O3UTC6eWb7nMgH1anFICXWvcWLkSOeUbSc5pRS");
}

TEST_F(InstagramTest, EveryResponseFixtureIsCovered) {
  std::vector<std::string> covered = {"instagram/send/send_ok.json"};
  for (const ResultCase& c : kResultCases) covered.push_back(std::string("instagram/send/") + c.file);
  std::sort(covered.begin(), covered.end());
  std::vector<std::string> indexed = sendIndexFiles("instagram", "response");
  std::sort(indexed.begin(), indexed.end());
  EXPECT_EQ(indexed, covered);
}

TEST_F(InstagramTest, CommonResultRules) { expectCommonResultRules(channel_); }

// ---- Descriptor and create() ----

TEST(InstagramEntry, DescriptorIsStaticData) {
  const api::Descriptor* d = gateway_channel_descriptor();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->apiVersion, static_cast<std::uint32_t>(GATEWAY_CHANNEL_API_VERSION));
  EXPECT_STREQ(d->buildSignature, GATEWAY_BUILD_SIGNATURE);
  EXPECT_STREQ(d->type, "instagram");
  ASSERT_NE(d->traits, nullptr);
  EXPECT_STREQ(d->traits->userIdKind, "igsid");
  EXPECT_EQ(d->traits->windowSeconds, 86400);
  EXPECT_EQ(d->traits->tagWindowSeconds, 604800);
  EXPECT_FALSE(d->traits->templatesIgnoreWindow);
  EXPECT_FALSE(d->traits->canStartFromPhone);
}

TEST(InstagramEntry, CreateRefusesMissingCredentials) {
  TestHost host;
  const api::Descriptor* d = gateway_channel_descriptor();
  const meta::MessagingConfig config = fixtureConfig(kAccountId);
  const std::pair<api::Bytes api::ChannelSettings::*, const char*> required[] = {
      {&api::ChannelSettings::accountId, "account_id is required"},
      {&api::ChannelSettings::appSecret, "app_secret is required"},
      {&api::ChannelSettings::accessToken, "access_token is required"},
  };
  for (const auto& [field, message] : required) {
    api::ChannelSettings settings = settingsFor(config, "instagram");
    settings.*field = api::Bytes{};
    char err[128] = "untouched";
    EXPECT_EQ(d->create(host.api(), &settings, err, sizeof(err)), nullptr);
    EXPECT_STREQ(err, message);
  }
}

TEST(InstagramEntry, CreatedChannelTranslates) {
  TestHost host;
  const api::Descriptor* d = gateway_channel_descriptor();
  const meta::MessagingConfig config = fixtureConfig(kAccountId);
  const api::ChannelSettings settings = settingsFor(config, "instagram");
  char err[128] = "";
  api::Channel* channel = d->create(host.api(), &settings, err, sizeof(err));
  ASSERT_NE(channel, nullptr) << err;
  const std::string body = readFixture("instagram/text.json");
  EXPECT_EQ(verify(*channel, body, recordedSignature("instagram/text.json")), api::Outcome::kOk);
  EXPECT_EQ(parse(*channel, body).events.size(), 1u);
  d->destroy(channel);
}

}  // namespace
}  // namespace gateway::test
