// Webhook bodies -> normalized events: every fixture against expected.json, then the edges.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "expected_events.h"
#include "translate.h"

namespace {

namespace api = gateway::channel_api;
namespace wa = gateway::plugins::whatsapp;
using gateway::test_support::RecordedEvent;
using gateway::test_support::RecordingSink;

const rapidjson::Document& expectedJson() {
  static const rapidjson::Document* doc = [] {
    auto* d = new rapidjson::Document;
    gateway::test_support::loadJson(gateway::test_support::fixturePath("expected.json"), *d);
    return d;
  }();
  return *doc;
}

api::Outcome parse(const std::string& body, RecordingSink& sink) {
  return wa::parseWebhookBody(api::Bytes{body.data(), body.size()}, sink);
}

// A one-change WhatsApp body around the given `value` members.
std::string envelope(const std::string& valueMembers, const std::string& field = "messages") {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"100200300400501","changes":[{"field":")" +
         field + R"(","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100100","phone_number_id":"110220330440551"})" +
         (valueMembers.empty() ? "" : "," + valueMembers) + "}}]}]}";
}

rapidjson::Document parseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  return doc;
}

// ---- every WhatsApp fixture ----

class WhatsAppFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(WhatsAppFixture, ProducesExactlyTheExpectedEvents) {
  const std::string body = gateway::test_support::readFile(gateway::test_support::fixturePath(GetParam()));
  ASSERT_FALSE(body.empty());
  RecordingSink sink;
  ASSERT_EQ(parse(body, sink), api::Outcome::kOk);
  const rapidjson::Value& expected = expectedJson()["files"][GetParam().c_str()]["events"];
  const auto problems = gateway::test_support::compareEvents(expected, sink.events);
  EXPECT_TRUE(problems.empty()) << gateway::test_support::joinLines(problems);
}

TEST_P(WhatsAppFixture, UserIdKindMatchesTheIdentity) {
  const std::string body = gateway::test_support::readFile(gateway::test_support::fixturePath(GetParam()));
  RecordingSink sink;
  ASSERT_EQ(parse(body, sink), api::Outcome::kOk);
  const rapidjson::Value& expected = expectedJson()["files"][GetParam().c_str()]["events"];
  ASSERT_EQ(expected.Size(), sink.events.size());
  for (rapidjson::SizeType i = 0; i < expected.Size(); ++i) {
    const rapidjson::Value& extra = expected[i]["extra"];
    const bool bsuid = extra.IsObject() && extra.HasMember("id_kind") && extra["id_kind"] == "bsuid";
    EXPECT_EQ(sink.events[i].userIdKind.value_or("null"), bsuid ? "bsuid" : "wa_id") << "event " << i;
  }
}

TEST_P(WhatsAppFixture, RawJsonIsTheCompactPlatformObject) {
  const std::string body = gateway::test_support::readFile(gateway::test_support::fixturePath(GetParam()));
  RecordingSink sink;
  ASSERT_EQ(parse(body, sink), api::Outcome::kOk);
  const rapidjson::Document doc = parseJson(body);
  // Collect the platform objects in emission order and compare them with rawJson.
  std::vector<const rapidjson::Value*> objects;
  for (const auto& entry : doc["entry"].GetArray()) {
    for (const auto& change : entry["changes"].GetArray()) {
      for (const char* name : {"messages", "message_echoes", "statuses", "errors"}) {
        if (!change["value"].HasMember(name)) continue;
        for (const auto& element : change["value"][name].GetArray()) objects.push_back(&element);
      }
    }
  }
  ASSERT_EQ(objects.size(), sink.events.size());
  for (std::size_t i = 0; i < objects.size(); ++i) {
    EXPECT_EQ(*sink.events[i].rawJson, gateway::test_support::toJson(*objects[i])) << "event " << i;
  }
}

std::vector<std::string> whatsappFixtures() {
  return gateway::test_support::webhookFixtures(expectedJson(), "whatsapp");
}

std::string fixtureTestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(info.param.find('/') + 1);
  name = name.substr(0, name.rfind('.'));
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, WhatsAppFixture, ::testing::ValuesIn(whatsappFixtures()), fixtureTestName);

TEST(WhatsAppFixtures, ExpectedJsonListsTheWebhookFixtures) {
  // 30 webhook fixtures besides verify.json; a silently empty list would test nothing.
  EXPECT_GE(whatsappFixtures().size(), 30u);
}

// ---- malformed / unsupported input ----

TEST(WhatsAppMalformed, EmptyAndNullBodies) {
  RecordingSink sink;
  EXPECT_EQ(wa::parseWebhookBody(api::Bytes{}, sink), api::Outcome::kMalformed);
  EXPECT_EQ(wa::parseWebhookBody(api::Bytes{"", 0}, sink), api::Outcome::kMalformed);
  EXPECT_EQ(parse("   ", sink), api::Outcome::kMalformed);
  EXPECT_TRUE(sink.events.empty());
}

TEST(WhatsAppMalformed, EveryTruncationOfAFixtureIsMalformed) {
  const std::string body =
      gateway::test_support::readFile(gateway::test_support::fixturePath("whatsapp/batch_mixed.json"));
  // Cutting anywhere before the closing brace leaves incomplete JSON.
  const std::size_t end = body.rfind('}');
  for (std::size_t n = 0; n < end; ++n) {
    RecordingSink sink;
    ASSERT_EQ(wa::parseWebhookBody(api::Bytes{body.data(), n}, sink), api::Outcome::kMalformed) << n;
    ASSERT_TRUE(sink.events.empty()) << n;
  }
}

TEST(WhatsAppMalformed, TrailingGarbageIsMalformed) {
  const std::string body =
      gateway::test_support::readFile(gateway::test_support::fixturePath("whatsapp/text.json"));
  RecordingSink sink;
  EXPECT_EQ(parse(body + "x", sink), api::Outcome::kMalformed);
  EXPECT_EQ(parse(body + "{}", sink), api::Outcome::kMalformed);
  EXPECT_EQ(parse(body + std::string(1, '\0') + "junk", sink), api::Outcome::kMalformed);
  EXPECT_TRUE(sink.events.empty());
  EXPECT_EQ(parse(body + " \r\n\t", sink), api::Outcome::kOk);  // whitespace is fine
}

TEST(WhatsAppMalformed, NotAnObjectOrWrongTypes) {
  for (const std::string& body : {
           std::string("[]"), std::string("\"whatsapp_business_account\""), std::string("42"),
           std::string("null"), std::string("{}"), std::string(R"({"object":1,"entry":[]})"),
           std::string(R"({"object":"whatsapp_business_account"})"),
           std::string(R"({"object":"whatsapp_business_account","entry":{}})"),
           std::string(R"({"object":"whatsapp_business_account","entry":[1]})"),
           std::string(R"({"object":"whatsapp_business_account","entry":[{"id":"1"}]})"),
           std::string(R"({"object":"whatsapp_business_account","entry":[{"changes":[{"value":{}}]}]})"),
           std::string(R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":[]}]}]})"),
           std::string(R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[]}}]}]})"),
           envelope(R"("messages":{})"), envelope(R"("statuses":"sent")"), envelope(R"("contacts":{})"),
       }) {
    RecordingSink sink;
    EXPECT_EQ(parse(body, sink), api::Outcome::kMalformed) << body;
    EXPECT_TRUE(sink.events.empty()) << body;
  }
}

TEST(WhatsAppMalformed, InvalidUtf8IsMalformed) {
  RecordingSink sink;
  EXPECT_EQ(parse(envelope("\"messages\":[{\"text\":{\"body\":\"\xff\xfe\"}}]"), sink), api::Outcome::kMalformed);
  EXPECT_EQ(parse(envelope(R"("messages":[{"text":{"body":"\ud800"}}])"), sink), api::Outcome::kMalformed);
}

// Found by tests/fuzz (rawJson not valid JSON): RapidJSON 1.1.0 decodes a lone LOW surrogate
// escape into the bytes ED B0 80, which are not UTF-8, although it refuses a lone high one.
// text, rawJson and extraJson then carried invalid UTF-8 into the core.
TEST(WhatsAppMalformed, LoneLowSurrogateEscapeIsMalformed) {
  RecordingSink sink;
  const char* reason = nullptr;
  EXPECT_EQ(wa::parseWebhookBody(api::bytesOf(envelope(R"("messages":[{"from":"1","id":"w","timestamp":"1","type":"text","text":{"body":"a\udc00b"}}])").c_str()),
                                 sink, &reason),
            api::Outcome::kMalformed);
  EXPECT_STREQ(reason, "lone surrogate or infinite number");
  EXPECT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"w","timestamp":"1","type":"text","\udfff":1}])"), sink),
            api::Outcome::kMalformed);
  EXPECT_TRUE(sink.events.empty());
  // A proper pair still decodes.
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"w","timestamp":"1","type":"text","text":{"body":"\ud83d\ude00"}}])"), sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].text, "\xF0\x9F\x98\x80");
}

// Found by tests/fuzz: RapidJSON 1.1.0 reads "17677728150001e300" (explicit exponent <= 308,
// value beyond double) as inf, and rawJson/extraJson came out as invalid JSON ("\"k\":,").
TEST(WhatsAppMalformed, NumbersBeyondDoubleAreMalformed) {
  RecordingSink sink;
  EXPECT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"w","timestamp":"1","type":"text","x":17677728150001e300}])"), sink),
            api::Outcome::kMalformed);
  EXPECT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"w","timestamp":"1","type":"location","location":{"latitude":-10e308}}])"), sink),
            api::Outcome::kMalformed);
  EXPECT_TRUE(sink.events.empty());
}

TEST(WhatsAppMalformed, DeepNestingDoesNotCrash) {
  const std::string open(200000, '[');
  RecordingSink sink;
  EXPECT_EQ(parse(open, sink), api::Outcome::kMalformed);
  EXPECT_EQ(parse(open + std::string(200000, ']'), sink), api::Outcome::kMalformed);
  // Deep but valid JSON inside a message: refused as a whole, never a stack overflow.
  const std::string deep = envelope("\"messages\":[{\"x\":" + std::string(5000, '[') + std::string(5000, ']') + "}]");
  EXPECT_EQ(parse(deep, sink), api::Outcome::kMalformed);
  EXPECT_TRUE(sink.events.empty());
}

TEST(WhatsAppMalformed, BracketsInsideStringsDoNotCountAsNesting) {
  RecordingSink sink;
  const std::string text = std::string(100, '[') + "\\\"" + std::string(100, '{');
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"w","timestamp":"1","type":"text","text":{"body":")" +
                           text + "\"}}]"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(*sink.events[0].text, std::string(100, '[') + "\"" + std::string(100, '{'));
}

TEST(WhatsAppMalformed, HugeBodyIsMalformed) {
  RecordingSink sink;
  const std::string huge = envelope("\"x\":\"" + std::string(wa::kMaxBodyBytes, 'a') + "\"");
  EXPECT_EQ(parse(huge, sink), api::Outcome::kMalformed);
  EXPECT_EQ(parse(std::string(wa::kMaxBodyBytes + 10, ' '), sink), api::Outcome::kMalformed);
}

TEST(WhatsAppMalformed, GarbageNeverCrashes) {
  // A cheap deterministic fuzz: byte flips and splices of a real fixture.
  const std::string body =
      gateway::test_support::readFile(gateway::test_support::fixturePath("whatsapp/batch_mixed.json"));
  unsigned seed = 12345;
  for (int round = 0; round < 3000; ++round) {
    std::string mutated = body;
    for (int k = 0; k < 1 + round % 5; ++k) {
      seed = seed * 1103515245u + 12345u;
      const std::size_t at = (seed >> 8) % mutated.size();
      mutated[at] = static_cast<char>(seed >> 24);
    }
    RecordingSink sink;
    const api::Outcome outcome = parse(mutated, sink);
    EXPECT_TRUE(outcome == api::Outcome::kOk || outcome == api::Outcome::kMalformed ||
                outcome == api::Outcome::kUnsupported);
    if (outcome != api::Outcome::kOk) {
      EXPECT_TRUE(sink.events.empty());
    }
  }
}

TEST(WhatsAppUnsupported, OtherObjects) {
  for (const char* object : {"page", "instagram", "", "WHATSAPP_BUSINESS_ACCOUNT"}) {
    RecordingSink sink;
    EXPECT_EQ(parse(std::string(R"({"object":")") + object + R"(","entry":[]})", sink), api::Outcome::kUnsupported) << object;
    EXPECT_TRUE(sink.events.empty());
  }
  for (const char* other : {"messenger/text.json", "instagram/text.json"}) {
    RecordingSink sink;
    const std::string body = gateway::test_support::readFile(gateway::test_support::fixturePath(other));
    EXPECT_EQ(parse(body, sink), api::Outcome::kUnsupported) << other;
  }
}

TEST(WhatsAppParse, EmptyEntryIsOkWithoutEvents) {
  RecordingSink sink;
  EXPECT_EQ(parse(R"({"object":"whatsapp_business_account","entry":[]})", sink), api::Outcome::kOk);
  EXPECT_TRUE(sink.events.empty());
}

// ---- shapes without a fixture ----

TEST(WhatsAppParse, ValueLevelErrorsAreAccountErrors) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("errors":[{"code":130429,"title":"Rate limit hit","message":"(#130429) Rate limit hit","error_data":{"details":"Cloud API message throughput has been reached."}}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  const RecordedEvent& e = sink.events[0];
  EXPECT_EQ(e.kind, api::EventKind::kAccountError);
  EXPECT_TRUE(e.hasErrorCode);
  EXPECT_EQ(e.errorCode, 130429);
  EXPECT_EQ(e.errorMessage, "(#130429) Rate limit hit");
  EXPECT_EQ(e.businessAccountId, "110220330440551");
  EXPECT_FALSE(e.externalUserId.has_value());
  const auto extra = parseJson(*e.extraJson);
  EXPECT_EQ(extra["error_details"], "Cloud API message throughput has been reached.");
  EXPECT_EQ(extra["waba_id"], "100200300400501");
  EXPECT_EQ(*e.rawJson, R"({"code":130429,"title":"Rate limit hit","message":"(#130429) Rate limit hit","error_data":{"details":"Cloud API message throughput has been reached."}})");
}

TEST(WhatsAppParse, ValueArraysAreEmittedInContractOrder) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("errors":[{"code":1}],"statuses":[{"id":"s","status":"sent","timestamp":1,"recipient_id":"2"}],"message_echoes":[{"from":"1","to":"2","id":"e","timestamp":"1","type":"text","text":{"body":"b"}}],"messages":[{"from":"2","id":"m","timestamp":"1","type":"text","text":{"body":"a"}}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 4u);
  EXPECT_EQ(sink.events[0].externalMessageId, "m");
  EXPECT_EQ(sink.events[1].externalMessageId, "e");
  EXPECT_EQ(sink.events[1].direction, api::Direction::kOutbound);
  EXPECT_EQ(sink.events[2].kind, api::EventKind::kStatus);
  EXPECT_EQ(sink.events[3].kind, api::EventKind::kAccountError);
}

TEST(WhatsAppParse, UnknownFieldIsKeptAsUnknown) {
  RecordingSink sink;
  ASSERT_EQ(parse(R"({"object":"whatsapp_business_account","entry":[{"id":"100200300400501","time":1,"changes":[{"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}]}]})",
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].kind, api::EventKind::kUnknown);
  EXPECT_EQ(*sink.events[0].rawJson, R"({"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}})");
  const auto extra = parseJson(*sink.events[0].extraJson);
  EXPECT_EQ(extra["field"], "account_update");
  EXPECT_EQ(extra["waba_id"], "100200300400501");
}

TEST(WhatsAppParse, UnknownMessageTypeIsAnUnknownContentMessage) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"15550100201","id":"wamid.X","timestamp":"1767772800","type":"hologram","hologram":{}}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  const RecordedEvent& e = sink.events[0];
  EXPECT_EQ(e.kind, api::EventKind::kMessage);
  EXPECT_EQ(e.contentType, "unknown");
  EXPECT_FALSE(e.text.has_value());
  EXPECT_EQ(parseJson(*e.extraJson)["raw_type"], "hologram");
}

TEST(WhatsAppParse, LegacyUnknownTypeCarriesItsErrorCode) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"w","timestamp":"1","type":"unknown","errors":[{"code":131051,"details":"Message type is not currently supported","title":"Unsupported message type"}]}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].contentType, "unknown");
  EXPECT_TRUE(sink.events[0].hasErrorCode);
  EXPECT_EQ(sink.events[0].errorCode, 131051);
  EXPECT_EQ(sink.events[0].errorMessage, "Unsupported message type");
}

TEST(WhatsAppParse, ElementsWithoutIdTypeOrTimestampAreUnknown) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"1","timestamp":"1","type":"text"},{"from":"1","id":"w","type":"text"},{"from":"1","id":"w","timestamp":"soon","type":"text"},7],"statuses":[{"id":"s","timestamp":"1"}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 5u);
  for (const RecordedEvent& e : sink.events) {
    EXPECT_EQ(e.kind, api::EventKind::kUnknown);
    EXPECT_EQ(e.businessAccountId, "110220330440551");
  }
  EXPECT_EQ(*sink.events[3].rawJson, "7");
  EXPECT_EQ(parseJson(*sink.events[4].extraJson)["element"], "statuses");
}

TEST(WhatsAppParse, ValueWithNothingWeKnowIsUnknown) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("contacts":[])"), sink), api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].kind, api::EventKind::kUnknown);
}

TEST(WhatsAppParse, NumericAndMillisecondTimestamps) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"a","timestamp":1767772800,"type":"text","text":{"body":"x"}},{"from":"1","id":"b","timestamp":1767772800123,"type":"text","text":{"body":"y"}},{"from":"1","id":"c","timestamp":"1767772800123","type":"text","text":{"body":"z"}}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[0].timestampMs, 1767772800000);
  EXPECT_EQ(sink.events[1].timestampMs, 1767772800123);
  EXPECT_EQ(sink.events[2].timestampMs, 1767772800123);
}

// Found by tests/fuzz/whatsapp_parse_fuzz (UBSan: "1e+300 is outside the range of representable
// values of type 'long'" in meta::timestampMs): a floating-point timestamp beyond int64 was
// converted unchecked. It is now refused, so the element is kept as kUnknown; in-range doubles
// still work.
TEST(WhatsAppParse, OutOfRangeFloatingTimestampsAreUnknownNotUndefined) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"a","timestamp":1e300,"type":"text","text":{"body":"x"}},{"from":"1","id":"b","timestamp":-1e300,"type":"text"},{"from":"1","id":"c","timestamp":9.3e18,"type":"text"},{"from":"1","id":"d","timestamp":1767772800.0,"type":"text"}],"statuses":[{"id":"s","status":"sent","timestamp":1e300,"recipient_id":"1"}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 5u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(sink.events[i].kind, api::EventKind::kUnknown) << i;
  EXPECT_EQ(sink.events[3].kind, api::EventKind::kMessage);
  EXPECT_EQ(sink.events[3].timestampMs, 1767772800000);
  EXPECT_EQ(sink.events[4].kind, api::EventKind::kUnknown);
}

TEST(WhatsAppParse, StatusForABsuidRecipient) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("statuses":[{"id":"wamid.S","status":"played","timestamp":"1767772800","recipient_user_id":"US.13579246801357924680","biz_opaque_callback_data":"order:1","pricing":{"billable":false,"pricing_model":"PMP","type":"free_customer_service","category":"service"}}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  const RecordedEvent& e = sink.events[0];
  EXPECT_EQ(e.kind, api::EventKind::kStatus);
  EXPECT_EQ(e.externalUserId, "US.13579246801357924680");
  EXPECT_EQ(e.userIdKind, "bsuid");
  EXPECT_EQ(e.status, "played");
  EXPECT_FALSE(e.contentType.has_value());
  const auto extra = parseJson(*e.extraJson);
  EXPECT_EQ(extra["biz_opaque_callback_data"], "order:1");
  EXPECT_EQ(extra["pricing_type"], "free_customer_service");
  EXPECT_EQ(extra["billable"], false);
}

TEST(WhatsAppParse, LegacyConversationIsInExtra) {
  RecordingSink sink;
  const std::string body =
      gateway::test_support::readFile(gateway::test_support::fixturePath("whatsapp/status_sent_legacy_cbp.json"));
  ASSERT_EQ(parse(body, sink), api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  const auto extra = parseJson(*sink.events[0].extraJson);
  EXPECT_EQ(extra["conversation_id"], "a75d17ad06104c51166f948319b03c6a");
  EXPECT_EQ(extra["conversation_origin"], "service");
  EXPECT_EQ(extra["pricing_model"], "CBP");
}

TEST(WhatsAppParse, PhoneAndBsuidTogetherPreferThePhone) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("contacts":[{"profile":{"name":"Ana"},"wa_id":"15550100201","user_id":"US.1"}],"messages":[{"from":"15550100201","from_user_id":"US.1","id":"w","timestamp":"1","type":"text","text":{"body":"x"}}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].externalUserId, "15550100201");
  EXPECT_EQ(sink.events[0].userIdKind, "wa_id");
  EXPECT_EQ(sink.events[0].profileName, "Ana");
  EXPECT_EQ(parseJson(*sink.events[0].extraJson)["user_id"], "US.1");
}

TEST(WhatsAppParse, ProfileIsMatchedByIdNotByIndex) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("contacts":[{"profile":{"name":"Other"},"wa_id":"999"}],"messages":[{"from":"15550100201","id":"w","timestamp":"1","type":"text","text":{"body":"x"}}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_FALSE(sink.events[0].profileName.has_value());
}

TEST(WhatsAppParse, UserChangedNumberCarriesTheNewWaId) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"15550100201","id":"w","timestamp":"1","type":"system","system":{"body":"Ana changed from 15550100201 to 15550100202","wa_id":"15550100202","type":"user_changed_number"}}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].kind, api::EventKind::kSystem);
  EXPECT_EQ(sink.events[0].externalUserId, "15550100201");
  const auto extra = parseJson(*sink.events[0].extraJson);
  EXPECT_EQ(extra["system_type"], "user_changed_number");
  EXPECT_EQ(extra["new_wa_id"], "15550100202");
}

TEST(WhatsAppParse, ReactionWithEmptyEmojiIsAnUnreaction) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"w","timestamp":"1","type":"reaction","reaction":{"message_id":"wamid.T","emoji":""}}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].kind, api::EventKind::kReaction);
  EXPECT_FALSE(sink.events[0].text.has_value());
  EXPECT_EQ(sink.events[0].targetMessageId, "wamid.T");
  EXPECT_EQ(parseJson(*sink.events[0].extraJson)["action"], "unreact");
}

TEST(WhatsAppParse, EditOfACaptionKeepsTheNewMediaType) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"w","timestamp":"1","type":"edit","edit":{"original_message_id":"wamid.O","message":{"type":"image","image":{"id":"m1","caption":"new caption"}}}}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].kind, api::EventKind::kMessageEdited);
  EXPECT_EQ(sink.events[0].contentType, "image");
  EXPECT_EQ(sink.events[0].text, "new caption");
  EXPECT_EQ(sink.events[0].targetMessageId, "wamid.O");
}

TEST(WhatsAppParse, TypeObjectWithWrongShapeDoesNotCrash) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"a","timestamp":"1","type":"text","text":"plain"},{"from":"1","id":"b","timestamp":"1","type":"interactive","interactive":{"type":5}},{"from":"1","id":"c","timestamp":"1","type":"contacts","contacts":{"name":1}},{"from":"1","id":"d","timestamp":"1","type":"edit","edit":{"message":{"type":"edit"}}},{"from":"1","id":"e","timestamp":"1","type":"image","errors":["x"],"context":"y","referral":3}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 5u);
  EXPECT_FALSE(sink.events[0].text.has_value());
  EXPECT_FALSE(sink.events[4].hasErrorCode);
}

TEST(WhatsAppParse, ForwardedAndGroupDetailsInExtra) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"w","timestamp":"1","type":"text","text":{"body":"x"},"context":{"forwarded":true},"group_id":"G1"}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_FALSE(sink.events[0].replyToMessageId.has_value());
  const auto extra = parseJson(*sink.events[0].extraJson);
  EXPECT_EQ(extra["forwarded"], true);
  EXPECT_EQ(extra["group_id"], "G1");
}

TEST(WhatsAppParse, EchoToABsuidUser) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("message_echoes":[{"from":"15550100100","to_user_id":"US.7","id":"wamid.E","timestamp":1767776400,"type":"image","image":{"id":"m","caption":"c"}}])",
                           "smb_message_echoes"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].direction, api::Direction::kOutbound);
  EXPECT_EQ(sink.events[0].externalUserId, "US.7");
  EXPECT_EQ(sink.events[0].userIdKind, "bsuid");
  EXPECT_EQ(sink.events[0].text, "c");
  EXPECT_EQ(sink.events[0].timestampMs, 1767776400000);
}

TEST(WhatsAppParse, EscapedTextIsDecodedAndRawStaysValidJson) {
  RecordingSink sink;
  ASSERT_EQ(parse(envelope(R"("messages":[{"from":"1","id":"w","timestamp":"1","type":"text","text":{"body":"a\"b\\c\n\u0000d\ud83d\ude00"}}])"),
                  sink),
            api::Outcome::kOk);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(*sink.events[0].text, std::string("a\"b\\c\n\0d\xF0\x9F\x98\x80", 12));
  EXPECT_FALSE(parseJson(*sink.events[0].rawJson).HasParseError());
}

}  // namespace
