// Messenger plugin: every fixture, signatures, hostile bodies, Send API requests and results,
// the descriptor and create(). Checks shared with Instagram live in meta_test_support.
#include <algorithm>
#include <ostream>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "channel.h"
#include "meta_test_support.h"
#include "translate.h"

namespace gateway::test {
namespace {

using plugins::messenger::MessengerChannel;

constexpr char kPageId[] = "104050607080901";
constexpr char kPsid[] = "7012345678901234";
constexpr char kMessagesPath[] = "/v21.0/104050607080901/messages";

class MessengerTest : public ::testing::Test {
 protected:
  TestHost host_;
  MessengerChannel channel_{host_.api(), fixtureConfig(kPageId)};
};

// ---- Webhooks ----

class MessengerFixture : public MessengerTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(MessengerFixture, ProducesExpectedEvents) { expectFixtureParses(channel_, GetParam(), "psid"); }
TEST_P(MessengerFixture, SignatureChecks) { expectSignatureChecks(channel_, GetParam()); }
TEST_P(MessengerFixture, DamagedCopiesAreMalformed) { expectDamagedCopiesMalformed(channel_, GetParam()); }

INSTANTIATE_TEST_SUITE_P(Fixtures, MessengerFixture, ::testing::ValuesIn(webhookFixtures("messenger")),
                         [](const auto& info) { return fixtureTestName(info.param); });

TEST_F(MessengerTest, EveryWebhookFixtureHasExpectations) {
  std::vector<std::string> expected = webhookFixtures("messenger");
  std::sort(expected.begin(), expected.end());
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(webhookFilesOnDisk("messenger"), expected);
}

TEST_F(MessengerTest, HostileBodiesNeverCrash) {
  expectHostileBodiesHandled(channel_, "page");
  EXPECT_EQ(host_.errorLines(), 0) << "no exception reached guarded()";
}

TEST_F(MessengerTest, MutatedFixturesNeverCrash) {
  expectMutationsHandled(channel_, "messenger/sticker_transition.json");
  expectMutationsHandled(channel_, "messenger/echo_own_app.json");
  EXPECT_EQ(host_.errorLines(), 0);
}

TEST_F(MessengerTest, ToleratesWhatTheDocsAllow) { expectTolerantParsing(channel_, "page", "psid"); }

// Found by tests/fuzz/messenger_parse_fuzz (extraJson/rawJson not valid JSON): RapidJSON 1.1.0
// decodes a lone LOW surrogate escape into bytes that are not UTF-8 (it refuses a lone high one).
TEST_F(MessengerTest, LoneLowSurrogateEscapeIsMalformed) {
  const std::string head = R"({"object":"page","entry":[{"id":"104050607080901","messaging":[{"sender":{"id":"1"},"recipient":{"id":"104050607080901"},"timestamp":1,)";
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
TEST_F(MessengerTest, NumbersBeyondDoubleAreMalformed) {
  const std::string head = R"({"object":"page","entry":[{"id":"104050607080901","messaging":[{"sender":{"id":"1"},"recipient":{"id":"104050607080901"},)";
  EXPECT_EQ(parse(channel_, head + R"("timest!mp":17677728150001e300,"referral-":{}}]}]})").outcome, api::Outcome::kMalformed);
  EXPECT_EQ(parse(channel_, head + R"("timestamp":1,"message":{"mid":"m","x":-10e308}}]}]})").outcome, api::Outcome::kMalformed);
}

TEST_F(MessengerTest, OtherPlatformsPayloadsAreUnsupported) {
  EXPECT_EQ(parse(channel_, readFixture("instagram/text.json")).outcome, api::Outcome::kUnsupported);
  EXPECT_EQ(parse(channel_, readFixture("whatsapp/text.json")).outcome, api::Outcome::kUnsupported);
}

TEST_F(MessengerTest, PageChangesAreKeptAsUnknown) {
  // Instagram's dashboard test shape means nothing on a page: feed changes are not messages.
  const ParseRun run = parse(channel_, R"({"object":"page","entry":[{"id":"104050607080901","time":1,
      "changes":[{"field":"feed","value":{"sender":{"id":"1"},"item":"post","verb":"add"}}]}]})");
  ASSERT_EQ(run.outcome, api::Outcome::kOk);
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_EQ(run.events[0].kind, api::EventKind::kUnknown);
  EXPECT_EQ(run.events[0].businessAccountId.value_or(""), kPageId);
}

TEST_F(MessengerTest, EchoWithoutConfiguredAppIdIsNotOurs) {
  meta::MessagingConfig config = fixtureConfig(kPageId);
  config.appId.clear();
  MessengerChannel channel(host_.api(), config);
  const ParseRun run = parse(channel, readFixture("messenger/echo_own_app.json"));
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_NE(run.events[0].extraJson.find(R"("is_own_app_echo":false)"), std::string::npos);
}

// ---- Send API requests ----

TEST_F(MessengerTest, TextRequestMatchesFixture) {
  api::OutboundMessage msg = textMessage(kPsid, "psid", "Thanks! Checking now.");
  msg.messageId = api::bytesOf("01HF0000000000000000000002");  // comes back as the echo's metadata
  CapturedRequest request;
  ASSERT_EQ(buildSend(channel_, msg, request), api::Outcome::kOk);
  expectRequestMatches(request, "messenger/send/req_text_response.json", kMessagesPath);
}

TEST_F(MessengerTest, HumanAgentRequestMatchesFixture) {
  api::OutboundMessage msg = textMessage(kPsid, "psid", "Hi, an agent here following up on your case.");
  msg.tag = api::bytesOf("HUMAN_AGENT");
  CapturedRequest request;
  ASSERT_EQ(buildSend(channel_, msg, request), api::Outcome::kOk);
  expectRequestMatches(request, "messenger/send/req_human_agent_tag.json", kMessagesPath);
}

TEST_F(MessengerTest, ImageRequestMatchesFixture) {
  const api::OutboundMessage msg =
      attachmentMessage(kPsid, "psid", "image", "https://cdn.example.com/receipts/4711.jpg");
  CapturedRequest request;
  ASSERT_EQ(buildSend(channel_, msg, request), api::Outcome::kOk);
  expectRequestMatches(request, "messenger/send/req_image_url.json", kMessagesPath);
}

TEST_F(MessengerTest, AttachmentTypesMapToTheSendApi) {
  const std::pair<const char*, const char*> types[] = {
      {"image", "image"}, {"audio", "audio"}, {"video", "video"}, {"file", "file"}, {"document", "file"}};
  for (const auto& [gatewayType, platformType] : types) {
    CapturedRequest request;
    ASSERT_EQ(buildSend(channel_, attachmentMessage(kPsid, "psid", gatewayType, "https://x/f"), request),
              api::Outcome::kOk);
    const rapidjson::Document body = parseJsonOrFail(request.body, "body");
    EXPECT_STREQ(body["message"]["attachment"]["type"].GetString(), platformType) << gatewayType;
    EXPECT_STREQ(body["messaging_type"].GetString(), "RESPONSE");
  }
}

TEST_F(MessengerTest, EveryRequestFixtureIsCovered) {
  std::vector<std::string> covered = {
      "messenger/send/req_text_response.json", "messenger/send/req_human_agent_tag.json",
      "messenger/send/req_image_url.json",
      // Not expressible: OutboundMessage has no sender-action kind (typing_on, mark_seen).
      "messenger/send/req_sender_action_typing.json"};
  std::sort(covered.begin(), covered.end());
  std::vector<std::string> indexed = sendIndexFiles("messenger", "request");
  std::sort(indexed.begin(), indexed.end());
  EXPECT_EQ(indexed, covered);
}

TEST_F(MessengerTest, CommonSendRules) { expectCommonSendRules(channel_, "psid"); }

TEST_F(MessengerTest, ConfigValuesCannotBendThePath) {
  meta::MessagingConfig config = fixtureConfig("1/2?x=y");
  RecordingWriter writer;
  ASSERT_EQ(plugins::messenger::buildSend(config, textMessage(kPsid, "psid", "hi"), writer), api::Outcome::kOk);
  EXPECT_EQ(writer.request.path, "/v21.0/1%2F2%3Fx%3Dy/messages");
}

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
    {"err_10_2018278.json", api::SendErrorClass::kPermanent, 10, 2018278},   // outside the window
    {"err_551.json", api::SendErrorClass::kPermanent, 551, 1545041},         // person unavailable
    {"err_190.json", api::SendErrorClass::kAuth, 190, 460},                  // token invalidated
    {"err_613.json", api::SendErrorClass::kRateLimited, 613, 0},             // back off
    {"err_100_2018001.json", api::SendErrorClass::kPermanent, 100, 2018001}, // unknown PSID
    {"err_500.json", api::SendErrorClass::kTransient, 2, 0},                 // is_transient
};

class MessengerResult : public MessengerTest, public ::testing::WithParamInterface<ResultCase> {};

TEST_P(MessengerResult, ClassifiedAsTheIndexSays) {
  const std::string path = std::string("messenger/send/") + GetParam().file;
  const std::string body = readFixture(path);
  const CapturedResult r = readResult(channel_, sendIndexHttpStatus(path), body);
  EXPECT_FALSE(r.accepted);
  EXPECT_STREQ(className(r.errorClass), className(GetParam().errorClass));
  EXPECT_EQ(r.code, GetParam().code);
  EXPECT_EQ(r.subcode, GetParam().subcode);
  EXPECT_EQ(r.message, parseJsonOrFail(body, path)["error"]["message"].GetString());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MessengerResult, ::testing::ValuesIn(kResultCases),
                         [](const auto& info) { return fixtureTestName(info.param.file); });

TEST_F(MessengerTest, SendOkIsAccepted) {
  const CapturedResult r = readResult(channel_, sendIndexHttpStatus("messenger/send/send_ok.json"),
                                      readFixture("messenger/send/send_ok.json"));
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.messageId,
            "m_IhYl0rBdPo8CPvE4Q5wezxKQWNb5u8RdUGyHhpETwyG4k9NG0zrPcj7VQu9IgINCYjK9e96sh3ohvMMN75DVvmY9");
}

TEST_F(MessengerTest, EveryResponseFixtureIsCovered) {
  std::vector<std::string> covered = {"messenger/send/send_ok.json"};
  for (const ResultCase& c : kResultCases) covered.push_back(std::string("messenger/send/") + c.file);
  std::sort(covered.begin(), covered.end());
  std::vector<std::string> indexed = sendIndexFiles("messenger", "response");
  std::sort(indexed.begin(), indexed.end());
  EXPECT_EQ(indexed, covered);
}

TEST_F(MessengerTest, CommonResultRules) { expectCommonResultRules(channel_); }

// ---- Descriptor and create() ----

TEST(MessengerEntry, DescriptorIsStaticData) {
  const api::Descriptor* d = gateway_channel_descriptor();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->apiVersion, static_cast<std::uint32_t>(GATEWAY_CHANNEL_API_VERSION));
  EXPECT_STREQ(d->buildSignature, GATEWAY_BUILD_SIGNATURE);
  EXPECT_STREQ(d->type, "messenger");
  ASSERT_NE(d->traits, nullptr);
  EXPECT_STREQ(d->traits->userIdKind, "psid");
  EXPECT_EQ(d->traits->windowSeconds, 86400);
  EXPECT_EQ(d->traits->tagWindowSeconds, 604800);
  EXPECT_FALSE(d->traits->templatesIgnoreWindow);
  EXPECT_FALSE(d->traits->canStartFromPhone);
}

TEST(MessengerEntry, CreateRefusesMissingCredentials) {
  TestHost host;
  const api::Descriptor* d = gateway_channel_descriptor();
  const meta::MessagingConfig config = fixtureConfig(kPageId);
  const std::pair<api::Bytes api::ChannelSettings::*, const char*> required[] = {
      {&api::ChannelSettings::accountId, "account_id is required"},
      {&api::ChannelSettings::appSecret, "app_secret is required"},
      {&api::ChannelSettings::accessToken, "access_token is required"},
  };
  for (const auto& [field, message] : required) {
    for (const api::Bytes missing : {api::Bytes{}, api::Bytes{"", 0}}) {
      api::ChannelSettings settings = settingsFor(config, "messenger");
      settings.*field = missing;
      char err[128] = "untouched";
      EXPECT_EQ(d->create(host.api(), &settings, err, sizeof(err)), nullptr);
      EXPECT_STREQ(err, message);
    }
  }
  const api::ChannelSettings settings = settingsFor(config, "messenger");
  char err[128] = "";
  EXPECT_EQ(d->create(nullptr, &settings, err, sizeof(err)), nullptr);
  EXPECT_STRNE(err, "");
  char tiny[4];
  EXPECT_EQ(d->create(host.api(), nullptr, tiny, sizeof(tiny)), nullptr);
  EXPECT_EQ(std::strlen(tiny), 3u) << "message cut to the buffer";
}

TEST(MessengerEntry, CreatedChannelTranslates) {
  TestHost host;
  const api::Descriptor* d = gateway_channel_descriptor();
  meta::MessagingConfig config = fixtureConfig(kPageId);
  api::ChannelSettings settings = settingsFor(config, "messenger");
  settings.appId = api::Bytes{};     // optional
  settings.apiVersion = api::Bytes{};  // optional: the plugin's default
  char err[128] = "";
  api::Channel* channel = d->create(host.api(), &settings, err, sizeof(err));
  ASSERT_NE(channel, nullptr) << err;
  const std::string body = readFixture("messenger/text.json");
  EXPECT_EQ(verify(*channel, body, recordedSignature("messenger/text.json")), api::Outcome::kOk);
  EXPECT_EQ(parse(*channel, body).events.size(), 1u);
  CapturedRequest request;
  ASSERT_EQ(buildSend(*channel, textMessage(kPsid, "psid", "hi"), request), api::Outcome::kOk);
  EXPECT_EQ(request.path, kMessagesPath);
  d->destroy(channel);
}

}  // namespace
}  // namespace gateway::test
