// Test support shared by the Messenger and Instagram unit suites (instagram_tests compiles
// this directory's meta_test_support.cpp too): fixture files, an OpenSSL-backed HostApi,
// recording sinks, the expected.json comparison and the checks both platforms must pass.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "gateway/channel_api.h"
#include "meta_messaging.h"

namespace gateway::test {

namespace api = gateway::channel_api;
namespace meta = gateway::plugins::meta;

// From tests/fixtures/README.md.
inline constexpr char kFixtureAppSecret[] = "test-app-secret-0b1c2d3e4f5a6b7c";
inline constexpr char kFixtureAppId[] = "900100200300400";
inline constexpr char kTestAccessToken[] = "TEST-ACCESS-TOKEN";
inline constexpr char kTestApiVersion[] = "v21.0";

// ---- Fixtures ----

std::string readFixture(const std::string& relativePath);  // fails the test when missing
rapidjson::Document parseJsonOrFail(const std::string& text, const std::string& what);
// expected.json entries "<platform>/..." that describe webhook bodies (verify.json excluded).
std::vector<std::string> webhookFixtures(const std::string& platform);
// Every "<platform>/*.json" on disk except verify.json.
std::vector<std::string> webhookFilesOnDisk(const std::string& platform);
// send_index.json entries "<platform>/send/..." of the given kind ("request" | "response").
std::vector<std::string> sendIndexFiles(const std::string& platform, const std::string& kind);
int sendIndexHttpStatus(const std::string& relativePath);
// X-Hub-Signature-256 value recorded in signatures.json.
std::string recordedSignature(const std::string& relativePath);
// gtest parameter name from "messenger/text.json" -> "text".
std::string fixtureTestName(const std::string& relativePath);

meta::MessagingConfig fixtureConfig(const std::string& accountId);
api::ChannelSettings settingsFor(const meta::MessagingConfig& config, const char* type);

// ---- Fakes ----

// HostApi whose hmacSha256 is OpenSSL's; counts error log lines (an exception in a plugin).
class TestHost {
 public:
  TestHost();
  const api::HostApi* api() const { return &host_; }
  int errorLines() const { return errorLines_; }

 private:
  static void log(void* ctx, api::LogLevel level, api::Bytes line) noexcept;
  static bool hmac(void* ctx, api::Bytes key, api::Bytes data, unsigned char out[32]) noexcept;

  api::HostApi host_;
  int errorLines_ = 0;
};

std::string hubSignature(const std::string& secret, const std::string& body);

struct CapturedEvent {
  api::EventKind kind;
  api::Direction direction;
  std::optional<std::string> businessAccountId, externalUserId, userIdKind, externalMessageId,
      targetMessageId, replyToMessageId, contentType, text, profileName, status, errorMessage;
  std::int64_t timestampMs;
  bool hasErrorCode;
  std::int64_t errorCode;
  std::string extraJson;
  std::string rawJson;
};

class CollectingSink : public api::EventSink {
 public:
  void onEvent(const api::Event& event) noexcept override;
  std::vector<CapturedEvent> events;
};

struct CapturedRequest {
  std::string method, path, body;
  std::vector<std::pair<std::string, std::string>> headers;
  int setCalls = 0;
  std::optional<std::string> header(const std::string& name) const;
};

class RecordingWriter : public api::RequestWriter {
 public:
  void setMethod(api::Bytes method) noexcept override;
  void setPath(api::Bytes pathAndQuery) noexcept override;
  void addHeader(api::Bytes name, api::Bytes value) noexcept override;
  void setBody(api::Bytes body) noexcept override;
  CapturedRequest request;
};

struct CapturedResult {
  int calls = 0;
  bool accepted = false;
  std::string messageId;
  api::SendErrorClass errorClass = api::SendErrorClass::kPermanent;
  std::int64_t code = 0, subcode = 0;
  std::string message;
};

class RecordingResult : public api::SendResult {
 public:
  void accepted(api::Bytes externalMessageId) noexcept override;
  void failed(api::SendErrorClass errorClass, std::int64_t platformCode, std::int64_t platformSubcode,
              api::Bytes message) noexcept override;
  CapturedResult result;
};

// ---- Driving a channel ----

struct ParseRun {
  api::Outcome outcome;
  std::vector<CapturedEvent> events;
};
ParseRun parse(api::Channel& channel, const std::string& body);
api::Outcome verify(api::Channel& channel, const std::string& body,
                    const std::optional<std::string>& signature);
api::Outcome buildSend(api::Channel& channel, const api::OutboundMessage& msg, CapturedRequest& out);
CapturedResult readResult(api::Channel& channel, int httpStatus, const std::string& body);

api::OutboundMessage textMessage(const char* recipient, const char* kind, const char* text);
api::OutboundMessage attachmentMessage(const char* recipient, const char* kind, const char* type,
                                       const char* url);

const char* kindName(api::EventKind kind);
const char* className(api::SendErrorClass c);

// ---- Checks both platforms share ----

// Events equal expected.json's for the fixture (extra: expected keys must be present with
// equal values; more keys are allowed), rawJson equals each messaging event, extraJson is
// an object, userIdKind is the platform's.
void expectMatchesExpected(const std::string& relativePath, const std::vector<CapturedEvent>& events,
                           const char* userIdKind);
// Parses the fixture through channel and compares it as above.
void expectFixtureParses(api::Channel& channel, const std::string& relativePath, const char* userIdKind);
// Every strict prefix, the body with trailing garbage and with a NUL inside: kMalformed.
void expectDamagedCopiesMalformed(api::Channel& channel, const std::string& relativePath);
// Single-byte mutations at every position: never kInternal, never a crash.
void expectMutationsHandled(api::Channel& channel, const std::string& relativePath);
// Non-JSON, wrong types in documented places, deep nesting, huge bodies.
void expectHostileBodiesHandled(api::Channel& channel, const char* objectName);
// Tolerated shapes: unknown kinds, unknown fields, empty entry, standby, string timestamps.
void expectTolerantParsing(api::Channel& channel, const char* objectName, const char* userIdKind);
// Signature: recorded headers accepted; wrong, malformed, other-secret and missing rejected.
void expectSignatureChecks(api::Channel& channel, const std::string& relativePath);
// The request matches the fixture body semantically, with the path, Bearer token and JSON type.
void expectRequestMatches(const CapturedRequest& request, const std::string& relativePath,
                          const std::string& expectedPath);
// Rules that do not depend on the platform: 429, non-JSON bodies, missing ids, escaping,
// unsupported kinds and tags, invalid UTF-8.
void expectCommonSendRules(api::Channel& channel, const char* recipientKind);
void expectCommonResultRules(api::Channel& channel);

}  // namespace gateway::test
