#include "meta_test_support.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace gateway::test {

namespace {

using rapidjson::Value;

std::string fixturesDir() { return GATEWAY_FIXTURES_DIR; }

std::optional<std::string> copyOf(api::Bytes b) {
  if (b.isNull()) return std::nullopt;
  return std::string(b.data, b.size);
}

api::Bytes view(const std::string& s) { return api::Bytes{s.data(), s.size()}; }

const Value* find(const Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  const auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

bool startsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const rapidjson::Document& cachedJson(const std::string& relativePath) {
  // Read once per process; the fixture files never change during a run.
  static std::vector<std::pair<std::string, rapidjson::Document>> cache;
  for (const auto& [path, doc] : cache) {
    if (path == relativePath) return doc;
  }
  cache.emplace_back(relativePath, parseJsonOrFail(readFixture(relativePath), relativePath));
  return cache.back().second;
}

const Value& filesOf(const std::string& indexFile) {
  static const Value kEmpty(rapidjson::kObjectType);
  const Value* files = find(cachedJson(indexFile), "files");
  return files != nullptr && files->IsObject() ? *files : kEmpty;
}

std::string compact(const Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

// ---- expected.json comparison ----

struct OptionalField {
  const char* key;
  std::optional<std::string> CapturedEvent::*field;
};
constexpr OptionalField kOptionalFields[] = {
    {"business_account_id", &CapturedEvent::businessAccountId},
    {"external_user_id", &CapturedEvent::externalUserId},
    {"external_message_id", &CapturedEvent::externalMessageId},
    {"content_type", &CapturedEvent::contentType},
    {"text", &CapturedEvent::text},
    {"profile_name", &CapturedEvent::profileName},
    {"status", &CapturedEvent::status},
    {"reply_to_message_id", &CapturedEvent::replyToMessageId},
    {"target_message_id", &CapturedEvent::targetMessageId},
};
constexpr const char* kOtherKeys[] = {"channel", "event",    "direction", "timestamp_ms",
                                      "error_code", "extra"};

bool isKnownKey(const std::string& key) {
  for (const OptionalField& f : kOptionalFields) {
    if (key == f.key) return true;
  }
  return std::find(std::begin(kOtherKeys), std::end(kOtherKeys), key) != std::end(kOtherKeys);
}

void expectOptionalField(const Value& expected, const OptionalField& f, const CapturedEvent& actual) {
  const Value* v = find(expected, f.key);
  ASSERT_NE(v, nullptr) << "expected.json lacks " << f.key;
  const std::optional<std::string>& got = actual.*f.field;
  if (v->IsNull()) {
    EXPECT_FALSE(got.has_value()) << f.key << " should be null, is \"" << got.value_or("") << "\"";
  } else {
    ASSERT_TRUE(v->IsString()) << f.key;
    EXPECT_EQ(got.value_or("<null>"), std::string(v->GetString(), v->GetStringLength())) << f.key;
  }
}

// expected.json's extra lists the important details: each must be present with that value;
// plugins may add more (standby flag, reaction name, urls of link shares...).
void expectExtraContains(const Value& expected, const std::string& extraJson) {
  const rapidjson::Document actual = parseJsonOrFail(extraJson, "extraJson");
  ASSERT_TRUE(actual.IsObject()) << extraJson;
  const Value* extra = find(expected, "extra");
  if (extra == nullptr) return;
  for (const auto& m : extra->GetObject()) {
    const Value* got = find(actual, m.name.GetString());
    ASSERT_NE(got, nullptr) << "extra." << m.name.GetString() << " missing in " << extraJson;
    EXPECT_TRUE(*got == m.value) << "extra." << m.name.GetString() << ": " << compact(*got)
                                 << " != " << compact(m.value);
  }
}

void expectEventMatches(const Value& expected, const CapturedEvent& actual, const std::string& channel,
                        const char* userIdKind) {
  for (const auto& m : expected.GetObject()) {
    EXPECT_TRUE(isKnownKey(m.name.GetString())) << "unchecked key " << m.name.GetString();
  }
  EXPECT_EQ(std::string(find(expected, "channel")->GetString()), channel);
  EXPECT_STREQ(kindName(actual.kind), find(expected, "event")->GetString());
  EXPECT_STREQ(actual.direction == api::Direction::kInbound ? "inbound" : "outbound",
               find(expected, "direction")->GetString());
  for (const OptionalField& f : kOptionalFields) expectOptionalField(expected, f, actual);
  EXPECT_EQ(actual.timestampMs, find(expected, "timestamp_ms")->GetInt64());
  const Value* errorCode = find(expected, "error_code");
  EXPECT_EQ(actual.hasErrorCode, errorCode != nullptr && !errorCode->IsNull());
  EXPECT_EQ(actual.userIdKind.value_or("<null>"), userIdKind);
  expectExtraContains(expected, actual.extraJson);
}

// The messaging events of a fixture body in payload order (what rawJson must reproduce).
std::vector<const Value*> sourceEvents(const Value& body) {
  std::vector<const Value*> out;
  const Value* entries = find(body, "entry");
  if (entries == nullptr || !entries->IsArray()) return out;
  for (const Value& entry : entries->GetArray()) {
    for (const char* list : {"messaging", "standby"}) {
      const Value* events = find(entry, list);
      if (events == nullptr) continue;
      for (const Value& e : events->GetArray()) out.push_back(&e);
    }
    const Value* changes = find(entry, "changes");
    if (changes == nullptr) continue;
    for (const Value& c : changes->GetArray()) {
      const Value* value = find(c, "value");
      out.push_back(value != nullptr && find(*value, "sender") != nullptr ? value : &c);
    }
  }
  return out;
}

// ---- hostile bodies ----

std::string eventJson(const std::string& payload, const std::string& timestamp = "1767772800000") {
  return R"({"sender":{"id":"1000"},"recipient":{"id":"2000"},"timestamp":)" + timestamp + "," +
         payload + "}";
}

std::string envelope(const char* objectName, const std::string& events,
                     const std::string& list = "messaging") {
  return std::string(R"({"object":")") + objectName + R"(","entry":[{"id":"2000","time":1767772899000,")" +
         list + R"(":[)" + events + "]}]}";
}

std::string nested(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']');
}

std::string repeat(const std::string& s, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += s;
  return out;
}

struct BodyCase {
  const char* name;
  std::string body;
  api::Outcome outcome;
};

std::vector<BodyCase> hostileCases(const char* o) {
  const api::Outcome kBad = api::Outcome::kMalformed;
  const std::string text = R"("message":{"mid":"m_1","text":"hi"})";
  return {
      {"empty", "", kBad},
      {"whitespace", " \n\t ", kBad},
      {"null", "null", kBad},
      {"array", "[]", kBad},
      {"string", "\"page\"", kBad},
      {"number", "42", kBad},
      {"open brace", "{", kBad},
      {"no object", "{}", kBad},
      {"object not string", R"({"object":5,"entry":[]})", kBad},
      {"no entry", std::string(R"({"object":")") + o + "\"}", kBad},
      {"entry object", std::string(R"({"object":")") + o + R"(","entry":{}})", kBad},
      {"entry element number", std::string(R"({"object":")") + o + R"(","entry":[5]})", kBad},
      {"two documents", std::string(R"({"object":")") + o + R"(","entry":[]}{})", kBad},
      {"comment", std::string(R"({"object":")") + o + R"(","entry":[]}//)", kBad},
      {"invalid utf8", envelope(o, eventJson(R"("message":{"mid":"m_1","text":"\xff\xfe"})")), kBad},
      {"messaging object", envelope(o, "").replace(envelope(o, "").find("[]"), 2, "{}"), kBad},
      {"event string", envelope(o, "\"x\""), kBad},
      {"sender string", envelope(o, R"({"sender":"1000","recipient":{"id":"2000"},)" + text + "}"), kBad},
      {"sender id number", envelope(o, R"({"sender":{"id":1000},"recipient":{"id":"2000"},)" + text + "}"), kBad},
      {"recipient id array", envelope(o, R"({"sender":{"id":"1"},"recipient":{"id":[]},)" + text + "}"), kBad},
      {"timestamp word", envelope(o, eventJson(text, "\"soon\"")), kBad},
      {"timestamp negative", envelope(o, eventJson(text, "-5")), kBad},
      {"timestamp huge double", envelope(o, eventJson(text, "1e300")), kBad},
      {"timestamp bool", envelope(o, eventJson(text, "true")), kBad},
      {"timestamp overflow", envelope(o, eventJson(text, "1e400")), kBad},
      {"message number", envelope(o, eventJson(R"("message":5)")), kBad},
      {"message null", envelope(o, eventJson(R"("message":null)")), kBad},
      {"mid number", envelope(o, eventJson(R"("message":{"mid":5,"text":"hi"})")), kBad},
      {"text object", envelope(o, eventJson(R"("message":{"mid":"m","text":{}})")), kBad},
      {"attachments object", envelope(o, eventJson(R"("message":{"mid":"m","attachments":{}})")), kBad},
      {"attachment number", envelope(o, eventJson(R"("message":{"mid":"m","attachments":[5]})")), kBad},
      {"attachment type number", envelope(o, eventJson(R"("message":{"mid":"m","attachments":[{"type":1}]})")), kBad},
      {"reply_to string", envelope(o, eventJson(R"("message":{"mid":"m","reply_to":"m_0"})")), kBad},
      {"reply_to mid number", envelope(o, eventJson(R"("message":{"mid":"m","reply_to":{"mid":1}})")), kBad},
      {"reaction mid number", envelope(o, eventJson(R"("reaction":{"mid":1,"action":"react"})")), kBad},
      {"reaction emoji number", envelope(o, eventJson(R"("reaction":{"mid":"m","emoji":1})")), kBad},
      {"delivery watermark word", envelope(o, eventJson(R"("delivery":{"watermark":"x"})")), kBad},
      {"read number", envelope(o, eventJson(R"("read":5)")), kBad},
      {"postback title number", envelope(o, eventJson(R"("postback":{"title":5})")), kBad},
      {"edit text number", envelope(o, eventJson(R"("message_edit":{"mid":"m","text":5})")), kBad},
      {"referral string", envelope(o, eventJson(R"("referral":"x")")), kBad},
      {"handover array", envelope(o, eventJson(R"("pass_thread_control":[])")), kBad},
      {"standby object", envelope(o, "").replace(envelope(o, "").find("\"messaging\":[]"), 14, "\"standby\":{}"), kBad},
      {"changes object", envelope(o, "").replace(envelope(o, "").find("\"messaging\":[]"), 14, "\"changes\":{}"), kBad},
      {"change number", envelope(o, "").replace(envelope(o, "").find("\"messaging\":[]"), 14, "\"changes\":[5]"), kBad},
      {"deep arrays", nested(100000), kBad},
      {"deep objects", repeat(R"({"a":)", 50000), kBad},
      {"deep inside event", envelope(o, eventJson(R"("message":{"mid":"m","x":)" + nested(80) + "}")), kBad},
      {"other object", R"({"object":"whatsapp_business_account","entry":[]})", api::Outcome::kUnsupported},
      {"other object with junk entries", R"({"object":"user","entry":5})", api::Outcome::kUnsupported},
      {"empty entry", std::string(R"({"object":")") + o + R"(","entry":[]})", api::Outcome::kOk},
      {"nesting within limit", envelope(o, eventJson(R"("message":{"mid":"m","x":)" + nested(40) + "}")),
       api::Outcome::kOk},
  };
}

}  // namespace

// ---- Fixtures ----

std::string readFixture(const std::string& relativePath) {
  std::ifstream in(fixturesDir() + "/" + relativePath, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read fixture " << relativePath;
    return std::string();
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

rapidjson::Document parseJsonOrFail(const std::string& text, const std::string& what) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    ADD_FAILURE() << what << " is not JSON: " << text.substr(0, 200);
    doc.SetObject();
  }
  return doc;
}

std::vector<std::string> webhookFixtures(const std::string& platform) {
  std::vector<std::string> out;
  for (const auto& m : filesOf("expected.json").GetObject()) {
    const std::string name = m.name.GetString();
    if (startsWith(name, platform + "/") && !endsWith(name, "/verify.json")) out.push_back(name);
  }
  return out;
}

std::vector<std::string> webhookFilesOnDisk(const std::string& platform) {
  std::vector<std::string> out;
  for (const auto& file : std::filesystem::directory_iterator(fixturesDir() + "/" + platform)) {
    const std::string name = file.path().filename().string();
    if (file.is_regular_file() && endsWith(name, ".json") && name != "verify.json") {
      out.push_back(platform + "/" + name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sendIndexFiles(const std::string& platform, const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& m : filesOf("send_index.json").GetObject()) {
    const Value* k = find(m.value, "kind");
    if (startsWith(m.name.GetString(), platform + "/send/") && k != nullptr && kind == k->GetString()) {
      out.push_back(m.name.GetString());
    }
  }
  return out;
}

int sendIndexHttpStatus(const std::string& relativePath) {
  const Value* entry = find(filesOf("send_index.json"), relativePath.c_str());
  const Value* status = entry != nullptr ? find(*entry, "http_status") : nullptr;
  if (status == nullptr || !status->IsInt()) {
    ADD_FAILURE() << "send_index.json has no http_status for " << relativePath;
    return 0;
  }
  return status->GetInt();
}

std::string recordedSignature(const std::string& relativePath) {
  const Value* entry = find(filesOf("signatures.json"), relativePath.c_str());
  const Value* header = entry != nullptr ? find(*entry, "X-Hub-Signature-256") : nullptr;
  if (header == nullptr || !header->IsString()) {
    ADD_FAILURE() << "signatures.json has no X-Hub-Signature-256 for " << relativePath;
    return std::string();
  }
  return header->GetString();
}

std::string fixtureTestName(const std::string& relativePath) {
  std::string name = relativePath.substr(relativePath.rfind('/') + 1);
  name = name.substr(0, name.rfind('.'));
  for (char& c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
  }
  return name;
}

meta::MessagingConfig fixtureConfig(const std::string& accountId) {
  meta::MessagingConfig config;
  config.accountId = accountId;
  config.appSecret = kFixtureAppSecret;
  config.appId = kFixtureAppId;
  config.accessToken = kTestAccessToken;
  config.apiVersion = kTestApiVersion;
  return config;
}

api::ChannelSettings settingsFor(const meta::MessagingConfig& config, const char* type) {
  api::ChannelSettings s;
  s.id = api::bytesOf("test-channel");
  s.type = api::bytesOf(type);
  s.accountId = view(config.accountId);
  s.appSecret = view(config.appSecret);
  s.appId = view(config.appId);
  s.verifyToken = api::bytesOf("verify-token");
  s.accessToken = view(config.accessToken);
  s.apiVersion = view(config.apiVersion);
  return s;
}

// ---- Fakes ----

TestHost::TestHost() : host_{this, &TestHost::log, &TestHost::hmac} {}

void TestHost::log(void* ctx, api::LogLevel level, api::Bytes) noexcept {
  if (level == api::LogLevel::kError) ++static_cast<TestHost*>(ctx)->errorLines_;
}

bool TestHost::hmac(void*, api::Bytes key, api::Bytes data, unsigned char out[32]) noexcept {
  static const char kNothing[1] = {0};
  unsigned int length = 0;
  const char* keyBytes = key.isNull() ? kNothing : key.data;
  const char* dataBytes = data.isNull() ? kNothing : data.data;
  return HMAC(EVP_sha256(), keyBytes, static_cast<int>(key.size),
              reinterpret_cast<const unsigned char*>(dataBytes), data.size, out, &length) != nullptr &&
         length == 32;
}

std::string hubSignature(const std::string& secret, const std::string& body) {
  unsigned char digest[32];
  TestHost host;
  host.api()->hmacSha256(host.api()->ctx, view(secret), view(body), digest);
  std::string out = "sha256=";
  char hex[3];
  for (const unsigned char b : digest) {
    std::snprintf(hex, sizeof(hex), "%02x", b);
    out += hex;
  }
  return out;
}

void CollectingSink::onEvent(const api::Event& e) noexcept {
  events.push_back(CapturedEvent{e.kind,
                                 e.direction,
                                 copyOf(e.businessAccountId),
                                 copyOf(e.externalUserId),
                                 copyOf(e.userIdKind),
                                 copyOf(e.externalMessageId),
                                 copyOf(e.targetMessageId),
                                 copyOf(e.replyToMessageId),
                                 copyOf(e.contentType),
                                 copyOf(e.text),
                                 copyOf(e.profileName),
                                 copyOf(e.status),
                                 copyOf(e.errorMessage),
                                 e.timestampMs,
                                 e.hasErrorCode,
                                 e.errorCode,
                                 copyOf(e.extraJson).value_or("<null>"),
                                 copyOf(e.rawJson).value_or("<null>")});
}

std::optional<std::string> CapturedRequest::header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

void RecordingWriter::setMethod(api::Bytes method) noexcept {
  request.method = copyOf(method).value_or("");
  ++request.setCalls;
}
void RecordingWriter::setPath(api::Bytes pathAndQuery) noexcept {
  request.path = copyOf(pathAndQuery).value_or("");
  ++request.setCalls;
}
void RecordingWriter::addHeader(api::Bytes name, api::Bytes value) noexcept {
  request.headers.emplace_back(copyOf(name).value_or(""), copyOf(value).value_or(""));
  ++request.setCalls;
}
void RecordingWriter::setBody(api::Bytes body) noexcept {
  request.body = copyOf(body).value_or("");
  ++request.setCalls;
}

void RecordingResult::accepted(api::Bytes externalMessageId) noexcept {
  ++result.calls;
  result.accepted = true;
  result.messageId = copyOf(externalMessageId).value_or("");
}
void RecordingResult::failed(api::SendErrorClass errorClass, std::int64_t platformCode,
                             std::int64_t platformSubcode, api::Bytes message) noexcept {
  ++result.calls;
  result.errorClass = errorClass;
  result.code = platformCode;
  result.subcode = platformSubcode;
  result.message = copyOf(message).value_or("");
}

// ---- Driving a channel ----

ParseRun parse(api::Channel& channel, const std::string& body) {
  CollectingSink sink;
  const api::HttpView request{api::bytesOf("POST"), api::bytesOf("/webhooks/test"), api::Bytes{},
                              nullptr, 0, api::Bytes{body.data(), body.size()}};
  const api::Outcome outcome = channel.parseWebhook(request, sink);
  return ParseRun{outcome, std::move(sink.events)};
}

api::Outcome verify(api::Channel& channel, const std::string& body,
                    const std::optional<std::string>& signature) {
  std::vector<api::Header> headers{{api::bytesOf("content-type"), api::bytesOf("application/json")}};
  if (signature) headers.push_back({api::bytesOf("x-hub-signature-256"), view(*signature)});
  const api::HttpView request{api::bytesOf("POST"), api::bytesOf("/webhooks/test"), api::Bytes{},
                              headers.data(), headers.size(), view(body)};
  return channel.verifySignature(request);
}

api::Outcome buildSend(api::Channel& channel, const api::OutboundMessage& msg, CapturedRequest& out) {
  RecordingWriter writer;
  const api::Outcome outcome = channel.buildSend(msg, writer);
  out = writer.request;
  return outcome;
}

CapturedResult readResult(api::Channel& channel, int httpStatus, const std::string& body) {
  RecordingResult sink;
  EXPECT_EQ(channel.readSendResult(httpStatus, api::Bytes{body.data(), body.size()}, sink),
            api::Outcome::kOk);
  EXPECT_EQ(sink.result.calls, 1) << "exactly one of accepted/failed per response";
  return sink.result;
}

api::OutboundMessage textMessage(const char* recipient, const char* kind, const char* text) {
  api::OutboundMessage msg;
  msg.kind = api::SendKind::kText;
  msg.recipientId = api::bytesOf(recipient);
  msg.recipientIdKind = api::bytesOf(kind);
  msg.text = api::bytesOf(text);
  return msg;
}

api::OutboundMessage attachmentMessage(const char* recipient, const char* kind, const char* type,
                                       const char* url) {
  api::OutboundMessage msg;
  msg.kind = api::SendKind::kAttachment;
  msg.recipientId = api::bytesOf(recipient);
  msg.recipientIdKind = api::bytesOf(kind);
  msg.attachmentType = api::bytesOf(type);
  msg.attachmentUrl = api::bytesOf(url);
  return msg;
}

const char* kindName(api::EventKind kind) {
  static constexpr const char* kNames[] = {
      "message",  "status",   "delivery", "read",   "reaction", "message_deleted", "message_edited",
      "postback", "referral", "handover", "system", "account_error", "unknown"};
  const auto i = static_cast<std::size_t>(kind);
  return i < std::size(kNames) ? kNames[i] : "?";
}

const char* className(api::SendErrorClass c) {
  static constexpr const char* kNames[] = {"transient", "rate_limited", "permanent", "auth"};
  const auto i = static_cast<std::size_t>(c);
  return i < std::size(kNames) ? kNames[i] : "?";
}

// ---- Checks both platforms share ----

void expectMatchesExpected(const std::string& relativePath, const std::vector<CapturedEvent>& events,
                           const char* userIdKind) {
  const Value* fixture = find(filesOf("expected.json"), relativePath.c_str());
  ASSERT_NE(fixture, nullptr) << relativePath << " not in expected.json";
  const Value& expected = (*fixture)["events"];
  ASSERT_EQ(events.size(), expected.Size()) << relativePath;
  const std::string channel = relativePath.substr(0, relativePath.find('/'));
  for (std::size_t i = 0; i < events.size(); ++i) {
    SCOPED_TRACE(relativePath + " event " + std::to_string(i));
    expectEventMatches(expected[static_cast<rapidjson::SizeType>(i)], events[i], channel, userIdKind);
  }
  const std::vector<const Value*> sources = sourceEvents(cachedJson(relativePath));
  ASSERT_EQ(sources.size(), events.size()) << "one event per messaging element";
  for (std::size_t i = 0; i < events.size(); ++i) {
    const rapidjson::Document raw = parseJsonOrFail(events[i].rawJson, "rawJson");
    EXPECT_TRUE(raw == *sources[i]) << "rawJson " << events[i].rawJson;
    EXPECT_EQ(events[i].rawJson.find('\n'), std::string::npos) << "rawJson must be compact";
  }
}

void expectFixtureParses(api::Channel& channel, const std::string& relativePath, const char* userIdKind) {
  const ParseRun run = parse(channel, readFixture(relativePath));
  EXPECT_EQ(run.outcome, api::Outcome::kOk);
  expectMatchesExpected(relativePath, run.events, userIdKind);
}

void expectDamagedCopiesMalformed(api::Channel& channel, const std::string& relativePath) {
  const std::string body = readFixture(relativePath);
  const std::size_t last = body.find_last_not_of(" \t\r\n");
  ASSERT_NE(last, std::string::npos);
  for (std::size_t n = 0; n <= last; ++n) {
    const api::Outcome outcome = parse(channel, body.substr(0, n)).outcome;
    if (outcome != api::Outcome::kMalformed) {
      ADD_FAILURE() << "prefix of " << n << " bytes gave outcome " << static_cast<int>(outcome);
      break;
    }
  }
  for (const std::string& tail : {std::string("x"), std::string("{}"), std::string(1, '\0'), std::string("]")}) {
    EXPECT_EQ(parse(channel, body + tail).outcome, api::Outcome::kMalformed) << "trailing " << tail.size();
  }
  std::string withNul = body;
  withNul.insert(body.size() / 2, 1, '\0');
  EXPECT_EQ(parse(channel, withNul).outcome, api::Outcome::kMalformed);
}

void expectMutationsHandled(api::Channel& channel, const std::string& relativePath) {
  const std::string body = readFixture(relativePath);
  for (std::size_t i = 0; i < body.size(); ++i) {
    for (const char c : {'"', '{', ']', '0', ':', '\0', '\xff', 'n'}) {
      std::string mutated = body;
      mutated[i] = c;
      const api::Outcome outcome = parse(channel, mutated).outcome;
      if (outcome == api::Outcome::kInternal) {
        ADD_FAILURE() << "byte " << i << " set to " << static_cast<int>(c) << " gave kInternal";
        return;
      }
    }
  }
}

void expectHostileBodiesHandled(api::Channel& channel, const char* objectName) {
  for (const BodyCase& c : hostileCases(objectName)) {
    EXPECT_EQ(parse(channel, c.body).outcome, c.outcome) << c.name;
  }
  // A null body (no bytes at all) is malformed too.
  CollectingSink sink;
  api::HttpView request{};
  EXPECT_EQ(channel.parseWebhook(request, sink), api::Outcome::kMalformed);

  // Big but legitimate: an 8 MB text and 5000 events in one POST.
  const std::string longText(8 * 1024 * 1024, 'a');
  ParseRun big = parse(channel, envelope(objectName, eventJson(R"("message":{"mid":"m","text":")" + longText + "\"}")));
  ASSERT_EQ(big.outcome, api::Outcome::kOk);
  ASSERT_EQ(big.events.size(), 1u);
  EXPECT_EQ(big.events[0].text.value_or("").size(), longText.size());
  std::string many;
  for (int i = 0; i < 5000; ++i) {
    many += (i ? "," : "") + eventJson(R"("message":{"mid":"m_)" + std::to_string(i) + R"(","text":"x"})");
  }
  big = parse(channel, envelope(objectName, many));
  ASSERT_EQ(big.outcome, api::Outcome::kOk);
  ASSERT_EQ(big.events.size(), 5000u);
  EXPECT_EQ(big.events[4999].externalMessageId.value_or(""), "m_4999");
}

namespace {

ParseRun parseOne(api::Channel& channel, const std::string& body) {
  ParseRun run = parse(channel, body);
  EXPECT_EQ(run.outcome, api::Outcome::kOk) << body;
  EXPECT_EQ(run.events.size(), 1u) << body;
  return run;
}

rapidjson::Document extraOf(const CapturedEvent& e) { return parseJsonOrFail(e.extraJson, "extraJson"); }

}  // namespace

void expectTolerantParsing(api::Channel& channel, const char* o, const char* userIdKind) {
  {  // unknown event kinds are kept, with their JSON, for replay after a fix
    const std::string optin = eventJson(R"("optin":{"type":"notification_messages","payload":"x"})");
    const ParseRun run = parseOne(channel, envelope(o, optin));
    ASSERT_EQ(run.events.size(), 1u);
    const CapturedEvent& e = run.events[0];
    EXPECT_EQ(e.kind, api::EventKind::kUnknown);
    EXPECT_EQ(e.businessAccountId.value_or(""), "2000");
    EXPECT_EQ(e.externalUserId.value_or(""), "1000");
    EXPECT_EQ(e.userIdKind.value_or(""), userIdKind);
    EXPECT_EQ(e.extraJson, "{}");
    EXPECT_TRUE(parseJsonOrFail(e.rawJson, "raw") == parseJsonOrFail(optin, "optin"));
  }
  {  // unknown fields inside a known event are ignored
    const ParseRun run = parseOne(channel, envelope(o, eventJson(
        R"("message":{"mid":"m","text":"hi","commands":[{"name":"x"}],"nlp":{"a":1},"seq":0})")));
    EXPECT_EQ(run.events.at(0).text.value_or(""), "hi");
  }
  {  // entries without events, and several events in order
    EXPECT_TRUE(parse(channel, std::string(R"({"object":")") + o + R"(","entry":[{"id":"1","time":1}]})").events.empty());
    const ParseRun run = parse(channel, envelope(o, eventJson(R"("message":{"mid":"a","text":"1"})") + "," +
                                                        eventJson(R"("message":{"mid":"b","text":"2"})")));
    ASSERT_EQ(run.events.size(), 2u);
    EXPECT_EQ(run.events[0].externalMessageId.value_or(""), "a");
    EXPECT_EQ(run.events[1].externalMessageId.value_or(""), "b");
  }
  {  // standby[]: recorded and flagged
    const ParseRun run = parseOne(channel, envelope(o, eventJson(R"("message":{"mid":"s","text":"t"})"), "standby"));
    EXPECT_EQ(run.events.at(0).kind, api::EventKind::kMessage);
    EXPECT_TRUE(extraOf(run.events.at(0))["standby"].GetBool());
    const ParseRun postback = parseOne(channel, envelope(o, eventJson(R"("postback":{"title":"Hi"})"), "standby"));
    EXPECT_EQ(postback.events.at(0).kind, api::EventKind::kPostback);
    EXPECT_EQ(postback.events.at(0).text.value_or(""), "Hi");
  }
  {  // timestamps: string or number, seconds or ms; missing -> entry.time
    const std::string text = R"("message":{"mid":"m","text":"x"})";
    for (const char* ts : {"\"1767772800\"", "1767772800", "\"1767772800000\"", "1767772800000", "1767772800000.0"}) {
      EXPECT_EQ(parseOne(channel, envelope(o, eventJson(text, ts))).events.at(0).timestampMs, 1767772800000) << ts;
    }
    const std::string noTime = R"({"sender":{"id":"1000"},"recipient":{"id":"2000"},)" + text + "}";
    EXPECT_EQ(parseOne(channel, envelope(o, noTime)).events.at(0).timestampMs, 1767772899000);
  }
  {  // receipts without timestamp use the watermark; mids always present
    const ParseRun run = parseOne(channel, envelope(o,
        R"({"sender":{"id":"1000"},"recipient":{"id":"2000"},"delivery":{"watermark":"1767772700"}})"));
    const CapturedEvent& e = run.events.at(0);
    EXPECT_EQ(e.kind, api::EventKind::kDelivery);
    EXPECT_EQ(e.direction, api::Direction::kOutbound);
    EXPECT_EQ(e.timestampMs, 1767772700000);
    EXPECT_EQ(e.externalUserId.value_or(""), "1000");
    EXPECT_EQ(extraOf(e)["mids"].Size(), 0u);
    EXPECT_EQ(extraOf(e)["watermark_ms"].GetInt64(), 1767772700000);
  }
  {  // echoes: other apps' and app-less ones are not ours
    for (const char* appId : {R"("app_id":263902037430900,)", R"("app_id":"263902037430900",)", ""}) {
      const ParseRun run = parseOne(channel, envelope(o, eventJson(
          std::string(R"("message":{"mid":"e","is_echo":true,)") + appId + R"("text":"from inbox"})")));
      const CapturedEvent& e = run.events.at(0);
      EXPECT_EQ(e.direction, api::Direction::kOutbound);
      EXPECT_EQ(e.businessAccountId.value_or(""), "1000") << "echo: sender is the account";
      EXPECT_EQ(e.externalUserId.value_or(""), "2000") << "echo: recipient is the person";
      EXPECT_FALSE(extraOf(e)["is_own_app_echo"].GetBool()) << appId;
    }
    const ParseRun own = parseOne(channel, envelope(o, eventJson(
        R"("message":{"mid":"e","is_echo":true,"app_id":"900100200300400","text":"ours"})")));
    EXPECT_TRUE(extraOf(own.events.at(0))["is_own_app_echo"].GetBool()) << "string app_id matches too";
  }
  {  // handover variants
    for (const char* key : {"take_thread_control", "request_thread_control", "pass_thread_control"}) {
      const ParseRun run = parseOne(channel, envelope(o, eventJson(std::string("\"") + key +
          R"(":{"previous_owner_app_id":"1","new_owner_app_id":"2","requested_owner_app_id":"3","metadata":"m"})")));
      EXPECT_EQ(run.events.at(0).kind, api::EventKind::kHandover) << key;
      EXPECT_STREQ(extraOf(run.events.at(0))["handover"].GetString(), key);
    }
    const ParseRun roles = parseOne(channel, envelope(o, eventJson(R"("app_roles":{"123":["primary_receiver"]})")));
    EXPECT_EQ(roles.events.at(0).kind, api::EventKind::kHandover);
    EXPECT_TRUE(extraOf(roles.events.at(0))["app_roles"].IsObject());
  }
  {  // legacy sticker (image attachment + message.sticker_id) is one sticker
    const ParseRun run = parseOne(channel, envelope(o, eventJson(
        R"("message":{"mid":"m","sticker_id":369239263222822,"attachments":[{"type":"image","payload":{"url":"https://x/s.png"}}]})")));
    EXPECT_EQ(run.events.at(0).contentType.value_or(""), "sticker");
    EXPECT_EQ(extraOf(run.events.at(0))["sticker_id"].GetUint64(), 369239263222822u);
  }
  {  // link share without text; attachment payload null; several types
    const ParseRun run = parseOne(channel, envelope(o, eventJson(
        R"("message":{"mid":"m","attachments":[{"type":"fallback","title":"T","url":"https://l.example/x","payload":null}]})")));
    EXPECT_EQ(run.events.at(0).contentType.value_or(""), "fallback");
    EXPECT_FALSE(run.events.at(0).text.has_value());
    EXPECT_STREQ(extraOf(run.events.at(0))["attachment_urls"][0].GetString(), "https://l.example/x");
    const ParseRun mixed = parseOne(channel, envelope(o, eventJson(
        R"("message":{"mid":"m","attachments":[{"type":"video","payload":{"url":"https://x/v"}},{"type":"image","payload":{"url":"https://x/i"}}]})")));
    EXPECT_EQ(mixed.events.at(0).contentType.value_or(""), "video");
    EXPECT_EQ(extraOf(mixed.events.at(0))["attachment_urls"].Size(), 2u);
    const ParseRun empty = parseOne(channel, envelope(o, eventJson(R"("message":{"mid":"m"})")));
    EXPECT_EQ(empty.events.at(0).contentType.value_or(""), "unknown");
  }
  {  // referrals: ads and products; postback referral
    const ParseRun ad = parseOne(channel, envelope(o, eventJson(
        R"("referral":{"ref":"r","source":"ADS","type":"OPEN_THREAD","ad_id":"6045","ads_context_data":{"ad_title":"T"}})")));
    const rapidjson::Document extra = extraOf(ad.events.at(0));
    EXPECT_EQ(ad.events.at(0).kind, api::EventKind::kReferral);
    EXPECT_STREQ(extra["referral_ad_id"].GetString(), "6045");
    EXPECT_STREQ(extra["referral_ads_context"]["ad_title"].GetString(), "T");
    const ParseRun product = parseOne(channel, envelope(o, eventJson(
        R"("message":{"mid":"m","text":"is this in stock?","referral":{"product":{"id":"P1"}}})")));
    EXPECT_STREQ(extraOf(product.events.at(0))["referral_product_id"].GetString(), "P1");
  }
  {  // unreact without emoji; story reply (Instagram shape, harmless elsewhere)
    const ParseRun run = parseOne(channel, envelope(o, eventJson(R"("reaction":{"mid":"t","action":"unreact","emoji":""})")));
    EXPECT_FALSE(run.events.at(0).text.has_value());
    EXPECT_EQ(run.events.at(0).targetMessageId.value_or(""), "t");
    const ParseRun story = parseOne(channel, envelope(o, eventJson(
        R"("message":{"mid":"m","text":"nice!","reply_to":{"story":{"id":"1799","url":"https://cdn/story"}}})")));
    const CapturedEvent& e = story.events.at(0);
    EXPECT_EQ(e.contentType.value_or(""), "story_reply");
    EXPECT_EQ(e.text.value_or(""), "nice!");
    EXPECT_FALSE(e.replyToMessageId.has_value());
    EXPECT_STREQ(extraOf(e)["story_id"].GetString(), "1799");
    EXPECT_STREQ(extraOf(e)["story_url"].GetString(), "https://cdn/story");
  }
  {  // missing participants: route by entry.id, keep the event
    const ParseRun run = parseOne(channel, envelope(o, R"({"timestamp":1,"message":{"mid":"m","text":"x"}})"));
    EXPECT_EQ(run.events.at(0).businessAccountId.value_or(""), "2000");
    EXPECT_FALSE(run.events.at(0).externalUserId.has_value());
  }
  {  // non-messaging changes[] (feed, comments) are kept as unknown with their field
    const ParseRun run = parseOne(channel, envelope(o, R"({"field":"comments","value":{"id":"c1","text":"nice"}})", "changes"));
    EXPECT_EQ(run.events.at(0).kind, api::EventKind::kUnknown);
    EXPECT_STREQ(extraOf(run.events.at(0))["field"].GetString(), "comments");
  }
}

void expectSignatureChecks(api::Channel& channel, const std::string& relativePath) {
  const std::string body = readFixture(relativePath);
  const std::string recorded = recordedSignature(relativePath);
  EXPECT_EQ(verify(channel, body, recorded), api::Outcome::kOk);
  EXPECT_EQ(hubSignature(kFixtureAppSecret, body), recorded) << "test HMAC agrees with the recording";
  std::string upper = recorded;
  std::transform(upper.begin() + 7, upper.end(), upper.begin() + 7,
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  EXPECT_EQ(verify(channel, body, upper), api::Outcome::kOk) << "hex is case-insensitive";

  std::string flipped = recorded;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_EQ(verify(channel, body, flipped), api::Outcome::kRejected);
  EXPECT_EQ(verify(channel, body, hubSignature("another-secret", body)), api::Outcome::kRejected);
  EXPECT_EQ(verify(channel, body + " ", recorded), api::Outcome::kRejected) << "signed bytes changed";
  EXPECT_EQ(verify(channel, body, std::nullopt), api::Outcome::kRejected);
  EXPECT_EQ(verify(channel, body, ""), api::Outcome::kRejected);
  EXPECT_EQ(verify(channel, body, recorded.substr(7)), api::Outcome::kRejected) << "no sha256= prefix";
  EXPECT_EQ(verify(channel, body, recorded.substr(0, recorded.size() - 2)), api::Outcome::kRejected);
  EXPECT_EQ(verify(channel, body, "sha256=" + std::string(64, 'g')), api::Outcome::kRejected);
  EXPECT_EQ(verify(channel, body, "sha1=60e4a8d2dc208b43cb337a930927836291b8d604"), api::Outcome::kRejected);
}

void expectRequestMatches(const CapturedRequest& request, const std::string& relativePath,
                          const std::string& expectedPath) {
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, expectedPath);
  EXPECT_EQ(request.header("Authorization").value_or(""), std::string("Bearer ") + kTestAccessToken);
  EXPECT_EQ(request.header("Content-Type").value_or(""), "application/json");
  const rapidjson::Document body = parseJsonOrFail(request.body, "request body");
  const rapidjson::Document expected = parseJsonOrFail(readFixture(relativePath), relativePath);
  EXPECT_TRUE(body == expected) << request.body << "\n!=\n" << compact(expected);
}

void expectCommonSendRules(api::Channel& channel, const char* kind) {
  CapturedRequest request;
  api::OutboundMessage msg = textMessage("1000", kind, "hi");
  msg.kind = api::SendKind::kTemplate;
  msg.templateJson = api::bytesOf(R"({"name":"x","language":{"code":"en"}})");
  EXPECT_EQ(buildSend(channel, msg, request), api::Outcome::kUnsupported) << "templates are WhatsApp only";
  EXPECT_EQ(request.setCalls, 0) << "nothing written on refusal";

  struct Case {
    const char* name;
    api::OutboundMessage msg;
    api::Outcome outcome;
  };
  api::OutboundMessage otherKind = textMessage("1000", "wa_id", "hi");
  api::OutboundMessage otherTag = textMessage("1000", kind, "hi");
  otherTag.tag = api::bytesOf("ACCOUNT_UPDATE");
  api::OutboundMessage caption = attachmentMessage("1000", kind, "image", "https://x/i.jpg");
  caption.attachmentCaption = api::bytesOf("look");
  api::OutboundMessage nullKind = textMessage("1000", nullptr, "hi");
  api::OutboundMessage badKind = textMessage("1000", kind, "hi");
  badKind.kind = static_cast<api::SendKind>(77);
  const Case cases[] = {
      {"no recipient", textMessage("", kind, "hi"), api::Outcome::kMalformed},
      {"null recipient", textMessage(nullptr, kind, "hi"), api::Outcome::kMalformed},
      {"null text", textMessage("1000", kind, nullptr), api::Outcome::kMalformed},
      {"empty text", textMessage("1000", kind, ""), api::Outcome::kMalformed},
      {"invalid utf8", textMessage("1000", kind, "caf\xc3"), api::Outcome::kMalformed},
      {"other identity kind", otherKind, api::Outcome::kUnsupported},
      {"other tag", otherTag, api::Outcome::kUnsupported},
      {"caption", caption, api::Outcome::kUnsupported},
      {"no url", attachmentMessage("1000", kind, "image", nullptr), api::Outcome::kMalformed},
      {"sticker type", attachmentMessage("1000", kind, "sticker", "https://x/s"), api::Outcome::kUnsupported},
      {"unknown send kind", badKind, api::Outcome::kUnsupported},
      {"identity kind absent", nullKind, api::Outcome::kOk},
  };
  for (const Case& c : cases) {
    CapturedRequest r;
    EXPECT_EQ(buildSend(channel, c.msg, r), c.outcome) << c.name;
    if (c.outcome != api::Outcome::kOk) {
      EXPECT_EQ(r.setCalls, 0) << c.name;
    }
  }

  // Escaping: the body carries exactly the text, whatever bytes it holds.
  const std::string tricky = std::string("\"quoted\" \\ back/slash\n\ttab \x01 <b>&amp; caf\xc3\xa9 \xf0\x9f\x98\x80 ") +
                             std::string(1, '\0') + "end";
  api::OutboundMessage escaped = textMessage("1000", kind, nullptr);
  escaped.text = api::Bytes{tricky.data(), tricky.size()};
  ASSERT_EQ(buildSend(channel, escaped, request), api::Outcome::kOk);
  const rapidjson::Document body = parseJsonOrFail(request.body, "escaped body");
  ASSERT_TRUE(body["message"]["text"].IsString());
  EXPECT_EQ(std::string(body["message"]["text"].GetString(), body["message"]["text"].GetStringLength()), tricky);
  EXPECT_STREQ(body["recipient"]["id"].GetString(), "1000");

  // reply_to: not in either Send API's documentation, so the message goes out unquoted.
  api::OutboundMessage reply = textMessage("1000", kind, "yes");
  reply.replyToExternalId = api::bytesOf("m_quoted");
  ASSERT_EQ(buildSend(channel, reply, request), api::Outcome::kOk);
  EXPECT_EQ(request.body.find("m_quoted"), std::string::npos) << request.body;
}

void expectCommonResultRules(api::Channel& channel) {
  struct Case {
    int status;
    const char* body;
    api::SendErrorClass errorClass;
    std::int64_t code;
  };
  using C = api::SendErrorClass;
  const Case cases[] = {
      {429, "Too Many Requests", C::kRateLimited, 0},
      {503, "<html>Service Unavailable</html>", C::kTransient, 0},
      {502, "", C::kTransient, 0},
      {500, R"({"error":"oops"})", C::kTransient, 0},
      {400, "<html>Bad Request</html>", C::kPermanent, 0},
      {200, "not json", C::kPermanent, 0},
      {200, "{}", C::kPermanent, 0},
      {200, R"({"recipient_id":"1","message_id":""})", C::kPermanent, 0},
      {200, R"({"message_id":5})", C::kPermanent, 0},
      {200, R"({"error":{"code":190,"message":"expired"}})", C::kAuth, 190},
      {401, R"({"error":{"code":190,"error_subcode":463}})", C::kAuth, 190},
      {429, R"({"error":{"code":190}})", C::kAuth, 190},
      {429, R"({"error":{"code":100}})", C::kRateLimited, 100},
      {400, R"({"error":{"code":17,"message":"User request limit reached"}})", C::kRateLimited, 17},
      {400, R"({"error":{"code":32}})", C::kRateLimited, 32},
      {400, R"({"error":{"code":613,"error_subcode":2018022}})", C::kRateLimited, 613},
      {400, R"({"error":{"code":4,"is_transient":true}})", C::kRateLimited, 4},
      {400, R"({"error":{"code":1,"message":"unknown"}})", C::kTransient, 1},
      {400, R"({"error":{"code":2,"error_subcode":2018344}})", C::kPermanent, 2},
      {400, R"({"error":{"code":100,"is_transient":true}})", C::kTransient, 100},
      {500, R"({"error":{"code":100,"message":"Invalid parameter"}})", C::kPermanent, 100},
      {400, R"({"error":{"code":10,"error_subcode":2018065}})", C::kPermanent, 10},
      {400, R"({"error":{"code":200,"error_subcode":1545041}})", C::kPermanent, 200},
      {400, R"({"error":{"code":368}})", C::kPermanent, 368},
      {400, R"({"error":{"code":"190"}})", C::kPermanent, 0},
  };
  for (const Case& c : cases) {
    const CapturedResult r = readResult(channel, c.status, c.body);
    EXPECT_FALSE(r.accepted) << c.status << " " << c.body;
    EXPECT_STREQ(className(r.errorClass), className(c.errorClass)) << c.status << " " << c.body;
    EXPECT_EQ(r.code, c.code) << c.body;
    EXPECT_FALSE(r.message.empty()) << "failures always carry a message: " << c.body;
  }
  const CapturedResult deep = readResult(channel, 500, std::string(100000, '['));
  EXPECT_EQ(deep.errorClass, C::kTransient);
  const CapturedResult ok = readResult(channel, 201, R"({"message_id":"m_1"})");
  EXPECT_TRUE(ok.accepted);
  EXPECT_EQ(ok.messageId, "m_1");
}

}  // namespace gateway::test
