// OutboundMessage -> Graph request (compared with the req_*.json fixtures as parsed JSON),
// and Graph responses -> accepted/failed with the classification of send_index.json.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "expected_events.h"
#include "send.h"

namespace {

namespace api = gateway::channel_api;
namespace wa = gateway::plugins::whatsapp;
using gateway::test_support::fixturePath;
using gateway::test_support::readFile;

const wa::SendTarget kTarget{"v21.0", "110220330440551", "EAAG-test-token"};

struct CapturedRequest : api::RequestWriter {
  std::string method, path, body;
  std::vector<std::pair<std::string, std::string>> headers;
  int calls = 0;

  void setMethod(api::Bytes m) noexcept override { method.assign(m.data, m.size), ++calls; }
  void setPath(api::Bytes p) noexcept override { path.assign(p.data, p.size), ++calls; }
  void addHeader(api::Bytes n, api::Bytes v) noexcept override {
    headers.emplace_back(std::string(n.data, n.size), std::string(v.data, v.size));
    ++calls;
  }
  void setBody(api::Bytes b) noexcept override { body.assign(b.data, b.size), ++calls; }
};

struct CapturedResult : api::SendResult {
  int calls = 0;
  bool ok = false;
  std::optional<std::string> id;
  api::SendErrorClass errorClass = api::SendErrorClass::kPermanent;
  std::int64_t code = -1, subcode = -1;
  std::string message;

  void accepted(api::Bytes externalMessageId) noexcept override {
    ++calls;
    ok = true;
    if (!externalMessageId.isNull()) id = std::string(externalMessageId.data, externalMessageId.size);
  }
  void failed(api::SendErrorClass c, std::int64_t platformCode, std::int64_t platformSubcode,
              api::Bytes m) noexcept override {
    ++calls;
    errorClass = c;
    code = platformCode;
    subcode = platformSubcode;
    message.assign(m.data != nullptr ? m.data : "", m.size);
  }
};

rapidjson::Document parseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  return doc;
}

rapidjson::Document fixtureJson(const std::string& name) { return parseJson(readFile(fixturePath(name))); }

api::OutboundMessage textMessage(const char* to, const char* text) {
  api::OutboundMessage m;
  m.kind = api::SendKind::kText;
  m.recipientId = api::bytesOf(to);
  m.recipientIdKind = api::bytesOf("wa_id");
  m.text = api::bytesOf(text);
  return m;
}

CapturedRequest build(const api::OutboundMessage& m, api::Outcome expected = api::Outcome::kOk) {
  CapturedRequest request;
  EXPECT_EQ(wa::buildSendRequest(kTarget, m, request), expected);
  return request;
}

// ---- requests ----

TEST(WhatsAppSendRequest, EndpointAndHeaders) {
  const CapturedRequest r = build(textMessage("15550100201", "hi"));
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v21.0/110220330440551/messages");
  const std::vector<std::pair<std::string, std::string>> headers{
      {"Authorization", "Bearer EAAG-test-token"}, {"Content-Type", "application/json"}};
  EXPECT_EQ(r.headers, headers);
}

TEST(WhatsAppSendRequest, Text) {
  const CapturedRequest r = build(textMessage("15550100201", "Your order #4711 ships today."));
  EXPECT_EQ(parseJson(r.body), fixtureJson("whatsapp/send/req_text.json")) << r.body;
}

TEST(WhatsAppSendRequest, TextReplyWithContext) {
  api::OutboundMessage m = textMessage("15550100201", "Replying to your question above");
  m.replyToExternalId = api::bytesOf("wamid.HBgLMTU1NTAxMDAyMDEVAgASGBTdZIPxu+EJwoeE87ux6ObggCgj8AA=");
  const CapturedRequest r = build(m);
  rapidjson::Document body = parseJson(r.body);
  // We always state preview_url:false (the API default); the fixture leaves it out.
  ASSERT_TRUE(body["text"].HasMember("preview_url"));
  EXPECT_EQ(body["text"]["preview_url"], false);
  body["text"].RemoveMember("preview_url");
  EXPECT_EQ(body, fixtureJson("whatsapp/send/req_text_reply_context.json")) << r.body;
}

TEST(WhatsAppSendRequest, ImageByLinkWithCaption) {
  api::OutboundMessage m;
  m.kind = api::SendKind::kAttachment;
  m.recipientId = api::bytesOf("15550100201");
  m.recipientIdKind = api::bytesOf("wa_id");
  m.attachmentType = api::bytesOf("image");
  m.attachmentUrl = api::bytesOf("https://cdn.example.com/receipts/4711.jpg");
  m.attachmentCaption = api::bytesOf("Your receipt");
  const CapturedRequest r = build(m);
  EXPECT_EQ(parseJson(r.body), fixtureJson("whatsapp/send/req_image_link.json")) << r.body;
}

TEST(WhatsAppSendRequest, Template) {
  const rapidjson::Document fixture = fixtureJson("whatsapp/send/req_template.json");
  const std::string templateJson = gateway::test_support::toJson(fixture["template"]);
  api::OutboundMessage m;
  m.kind = api::SendKind::kTemplate;
  m.recipientId = api::bytesOf("447700900123");
  m.recipientIdKind = api::bytesOf("wa_id");
  m.templateJson = api::Bytes{templateJson.data(), templateJson.size()};
  const CapturedRequest r = build(m);
  EXPECT_EQ(parseJson(r.body), fixture) << r.body;
}

TEST(WhatsAppSendRequest, EveryAttachmentType) {
  const std::map<std::string, std::pair<std::string, bool>> cases{
      {"image", {"image", true}},   {"video", {"video", true}},   {"document", {"document", true}},
      {"file", {"document", true}}, {"audio", {"audio", false}},  {"sticker", {"sticker", false}}};
  for (const auto& [type, expected] : cases) {
    api::OutboundMessage m;
    m.kind = api::SendKind::kAttachment;
    m.recipientId = api::bytesOf("15550100201");
    m.attachmentType = api::bytesOf(type.c_str());
    m.attachmentUrl = api::bytesOf("https://cdn.example.com/a");
    const CapturedRequest r = build(m);
    const rapidjson::Document body = parseJson(r.body);
    EXPECT_EQ(body["type"], expected.first.c_str()) << type;
    EXPECT_EQ(body[expected.first.c_str()]["link"], "https://cdn.example.com/a") << type;
    EXPECT_FALSE(body[expected.first.c_str()].HasMember("caption")) << type;
    // A caption where WhatsApp has none is refused rather than silently dropped.
    m.attachmentCaption = api::bytesOf("words");
    build(m, expected.second ? api::Outcome::kOk : api::Outcome::kUnsupported);
  }
}

TEST(WhatsAppSendRequest, BsuidRecipientUsesTheRecipientField) {
  api::OutboundMessage m = textMessage("US.13579246801357924680", "hi");
  m.recipientIdKind = api::bytesOf("bsuid");
  const rapidjson::Document body = parseJson(build(m).body);
  EXPECT_EQ(body["recipient"], "US.13579246801357924680");
  EXPECT_FALSE(body.HasMember("to"));
}

TEST(WhatsAppSendRequest, MissingKindMeansWaId) {
  api::OutboundMessage m = textMessage("15550100201", "hi");
  m.recipientIdKind = api::Bytes{};
  EXPECT_EQ(parseJson(build(m).body)["to"], "15550100201");
}

TEST(WhatsAppSendRequest, TextIsEscaped) {
  const std::string text = std::string("quote\" backslash\\ newline\n tab\t nul") + std::string(1, '\0') +
                           " \x01 </script> caf\xC3\xA9 \xF0\x9F\x98\x80";
  api::OutboundMessage m = textMessage("15550100201", "");
  m.text = api::Bytes{text.data(), text.size()};
  const CapturedRequest r = build(m);
  const rapidjson::Document body = parseJson(r.body);
  ASSERT_FALSE(body.HasParseError()) << r.body;
  EXPECT_EQ(std::string(body["text"]["body"].GetString(), body["text"]["body"].GetStringLength()), text);
  EXPECT_EQ(r.body.find('\n'), std::string::npos);  // control characters are escaped
}

TEST(WhatsAppSendRequest, RefusalsWriteNothing) {
  struct Case {
    const char* name;
    api::OutboundMessage message;
    api::Outcome outcome;
  };
  std::vector<Case> cases;
  cases.push_back({"empty text", textMessage("15550100201", ""), api::Outcome::kMalformed});
  cases.push_back({"null text", textMessage("15550100201", nullptr), api::Outcome::kMalformed});
  cases.push_back({"no recipient", textMessage("", "hi"), api::Outcome::kMalformed});
  cases.push_back({"invalid utf-8", textMessage("15550100201", "bad \xff\xfe"), api::Outcome::kMalformed});
  api::OutboundMessage psid = textMessage("123", "hi");
  psid.recipientIdKind = api::bytesOf("psid");
  cases.push_back({"psid", psid, api::Outcome::kUnsupported});
  api::OutboundMessage attachment;
  attachment.kind = api::SendKind::kAttachment;
  attachment.recipientId = api::bytesOf("15550100201");
  attachment.attachmentType = api::bytesOf("hologram");
  attachment.attachmentUrl = api::bytesOf("https://x");
  cases.push_back({"unknown attachment", attachment, api::Outcome::kUnsupported});
  attachment.attachmentType = api::bytesOf("image");
  attachment.attachmentUrl = api::Bytes{};
  cases.push_back({"attachment without url", attachment, api::Outcome::kMalformed});
  for (const char* json : {"", "not json", "[1]", "{\"name\":\"x\"} trailing", "{\"name\":"}) {
    api::OutboundMessage t;
    t.kind = api::SendKind::kTemplate;
    t.recipientId = api::bytesOf("15550100201");
    t.templateJson = api::bytesOf(json);
    cases.push_back({json, t, api::Outcome::kMalformed});
  }
  for (const Case& c : cases) {
    CapturedRequest r;
    EXPECT_EQ(wa::buildSendRequest(kTarget, c.message, r), c.outcome) << c.name;
    EXPECT_EQ(r.calls, 0) << c.name;
  }
}

TEST(WhatsAppSendRequest, HumanAgentTagIsIgnored) {
  api::OutboundMessage m = textMessage("15550100201", "Your order #4711 ships today.");
  m.tag = api::bytesOf("HUMAN_AGENT");
  EXPECT_EQ(parseJson(build(m).body), fixtureJson("whatsapp/send/req_text.json"));
}

// ---- responses ----

// send_index.json's verdict for every WhatsApp response fixture, as our classes.
const std::map<std::string, std::optional<api::SendErrorClass>>& expectedClasses() {
  static const std::map<std::string, std::optional<api::SendErrorClass>> kClasses{
      {"whatsapp/send/send_ok.json", std::nullopt},
      {"whatsapp/send/send_ok_mark_read.json", std::nullopt},
      {"whatsapp/send/err_131047.json", api::SendErrorClass::kPermanent},    // no: send a template
      {"whatsapp/send/err_130429.json", api::SendErrorClass::kRateLimited},  // yes, back off
      {"whatsapp/send/err_131056.json", api::SendErrorClass::kRateLimited},  // yes, after a delay
      {"whatsapp/send/err_190.json", api::SendErrorClass::kAuth},            // alert operator
      {"whatsapp/send/err_100.json", api::SendErrorClass::kPermanent},       // bug in request
      {"whatsapp/send/err_132001.json", api::SendErrorClass::kPermanent},    // template not approved
      {"whatsapp/send/err_500.json", api::SendErrorClass::kTransient},       // yes, limited
      {"whatsapp/send/err_131016.json", api::SendErrorClass::kTransient},    // yes with backoff
  };
  return kClasses;
}

TEST(WhatsAppSendResponse, EveryIndexedResponseIsClassified) {
  const rapidjson::Document index = fixtureJson("send_index.json");
  ASSERT_TRUE(index.HasMember("files"));
  int seen = 0;
  for (const auto& file : index["files"].GetObject()) {
    const std::string name = file.name.GetString();
    if (name.rfind("whatsapp/send/", 0) != 0 || file.value["kind"] != "response") continue;
    ++seen;
    SCOPED_TRACE(name);
    const auto expected = expectedClasses().find(name);
    ASSERT_NE(expected, expectedClasses().end()) << "new fixture without a classification";
    const int status = file.value["http_status"].GetInt();
    const std::string body = readFile(fixturePath(name));
    CapturedResult result;
    ASSERT_EQ(wa::readSendResponse(status, api::Bytes{body.data(), body.size()}, result), api::Outcome::kOk);
    ASSERT_EQ(result.calls, 1);
    const rapidjson::Document json = parseJson(body);
    if (!expected->second) {
      EXPECT_TRUE(result.ok);
      if (json.HasMember("messages")) {
        EXPECT_EQ(result.id, std::string(json["messages"][0]["id"].GetString()));
      } else {
        EXPECT_FALSE(result.id.has_value());  // mark-read: {"success":true}
      }
      continue;
    }
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.errorClass, *expected->second);
    EXPECT_EQ(result.code, json["error"]["code"].GetInt64());
    EXPECT_EQ(result.subcode, json["error"].HasMember("error_subcode") ? json["error"]["error_subcode"].GetInt64() : 0);
    EXPECT_EQ(result.message, json["error"]["message"].GetString());
  }
  EXPECT_EQ(seen, static_cast<int>(expectedClasses().size()));
}

CapturedResult read(int status, const std::string& body, api::Outcome outcome = api::Outcome::kOk) {
  CapturedResult result;
  EXPECT_EQ(wa::readSendResponse(status, api::Bytes{body.data(), body.size()}, result), outcome);
  return result;
}

TEST(WhatsAppSendResponse, BodiesWithoutAGraphError) {
  CapturedResult r = read(502, "<html>Bad Gateway</html>");
  EXPECT_EQ(r.errorClass, api::SendErrorClass::kTransient);
  EXPECT_EQ(r.code, 0);
  EXPECT_FALSE(r.message.empty());
  EXPECT_EQ(read(503, "").errorClass, api::SendErrorClass::kTransient);
  EXPECT_EQ(read(400, "oops").errorClass, api::SendErrorClass::kPermanent);
  EXPECT_EQ(read(404, R"({"error":{"message":"no code"}})").errorClass, api::SendErrorClass::kPermanent);
  EXPECT_EQ(read(429, "").errorClass, api::SendErrorClass::kRateLimited);
  EXPECT_EQ(read(429, "Too Many Requests").calls, 1);
}

TEST(WhatsAppSendResponse, CodeWinsOverHttpStatus) {
  // 130429 and 190 keep their class whatever status they come with.
  EXPECT_EQ(read(500, R"({"error":{"code":130429}})").errorClass, api::SendErrorClass::kRateLimited);
  EXPECT_EQ(read(400, R"({"error":{"code":190,"error_subcode":460}})").errorClass, api::SendErrorClass::kAuth);
  EXPECT_EQ(read(400, R"({"error":{"code":131000}})").errorClass, api::SendErrorClass::kTransient);
  // Unknown codes fall back to is_transient, then the status.
  EXPECT_EQ(read(400, R"({"error":{"code":999999,"is_transient":true}})").errorClass, api::SendErrorClass::kTransient);
  EXPECT_EQ(read(503, R"({"error":{"code":999999}})").errorClass, api::SendErrorClass::kTransient);
  EXPECT_EQ(read(429, R"({"error":{"code":999999}})").errorClass, api::SendErrorClass::kRateLimited);
  EXPECT_EQ(read(400, R"({"error":{"code":999999}})").errorClass, api::SendErrorClass::kPermanent);
}

TEST(WhatsAppSendResponse, RateLimitAndAuthCodes) {
  for (int code : {4, 17, 32, 613, 80007, 130429, 131048, 131056}) {
    EXPECT_EQ(wa::classifyGraphError(400, code, false), api::SendErrorClass::kRateLimited) << code;
  }
  for (int code : {0, 190}) EXPECT_EQ(wa::classifyGraphError(400, code, false), api::SendErrorClass::kAuth) << code;
  for (int code : {131026, 131047, 131051, 132000, 132001, 100, 368, 131050}) {
    EXPECT_EQ(wa::classifyGraphError(400, code, false), api::SendErrorClass::kPermanent) << code;
  }
}

TEST(WhatsAppSendResponse, AcceptedVariants) {
  CapturedResult r = read(200, R"({"messaging_product":"whatsapp","messages":[{"id":"wamid.H","message_status":"held_for_quality_assessment"}]})");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.id, "wamid.H");
  EXPECT_EQ(read(201, R"({"messages":[{"id":"wamid.C"}]})").id, "wamid.C");
}

TEST(WhatsAppSendResponse, UnreadableSuccessIsMalformedWithoutAVerdict) {
  for (const char* body : {"", "ok", "[]", R"({"messages":[]})", R"({"messages":[{"id":""}]})",
                                 R"({"success":false})", R"({"messages":[{"id":"w"}]} x)"}) {
    EXPECT_EQ(read(200, body, api::Outcome::kMalformed).calls, 0) << body;
  }
}

}  // namespace
