// Test helpers shared by the contract suite and the per-plugin unit suites: fixture files,
// an EventSink that copies what it receives, and the comparison of recorded events with
// tests/fixtures/expected.json.
//
// Comparison rule: every normalized field is compared exactly (null must be null), and
// `extra` is compared as a subset: each key expected.json lists must be present with an
// equal value; plugins may add more keys (expected.json lists "the important ones").
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "gateway/channel_api.h"

namespace gateway::test_support {

namespace api = gateway::channel_api;

#ifdef GATEWAY_FIXTURES_DIR
inline std::string fixturePath(const std::string& relative) {
  return std::string(GATEWAY_FIXTURES_DIR) + "/" + relative;
}
#endif

// The exact bytes of a file (fixtures are signed over their bytes, trailing newline included).
inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline bool loadJson(const std::string& path, rapidjson::Document& doc) {
  const std::string text = readFile(path);
  doc.Parse(text.data(), text.size());
  return !text.empty() && !doc.HasParseError();
}

inline std::string toJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// expected.json's name for an EventKind.
inline const char* eventName(api::EventKind kind) {
  switch (kind) {
    case api::EventKind::kMessage: return "message";
    case api::EventKind::kStatus: return "status";
    case api::EventKind::kDelivery: return "delivery";
    case api::EventKind::kRead: return "read";
    case api::EventKind::kReaction: return "reaction";
    case api::EventKind::kMessageDeleted: return "message_deleted";
    case api::EventKind::kMessageEdited: return "message_edited";
    case api::EventKind::kPostback: return "postback";
    case api::EventKind::kReferral: return "referral";
    case api::EventKind::kHandover: return "handover";
    case api::EventKind::kSystem: return "system";
    case api::EventKind::kAccountError: return "account_error";
    case api::EventKind::kUnknown: return "unknown";
  }
  return "?";
}

using OptString = std::optional<std::string>;

inline OptString copyBytes(api::Bytes b) {
  return b.isNull() ? OptString() : OptString(std::string(b.data, b.size));
}

// An Event with its borrowed bytes copied.
struct RecordedEvent {
  api::EventKind kind = api::EventKind::kUnknown;
  api::Direction direction = api::Direction::kInbound;
  OptString businessAccountId, externalUserId, userIdKind, externalMessageId, targetMessageId,
      replyToMessageId, contentType, text, profileName, status, errorMessage, extraJson, rawJson;
  std::int64_t timestampMs = 0;
  bool hasErrorCode = false;
  std::int64_t errorCode = 0;
};

class RecordingSink : public api::EventSink {
 public:
  void onEvent(const api::Event& e) noexcept override {
    RecordedEvent r;
    r.kind = e.kind;
    r.direction = e.direction;
    r.businessAccountId = copyBytes(e.businessAccountId);
    r.externalUserId = copyBytes(e.externalUserId);
    r.userIdKind = copyBytes(e.userIdKind);
    r.externalMessageId = copyBytes(e.externalMessageId);
    r.targetMessageId = copyBytes(e.targetMessageId);
    r.replyToMessageId = copyBytes(e.replyToMessageId);
    r.contentType = copyBytes(e.contentType);
    r.text = copyBytes(e.text);
    r.profileName = copyBytes(e.profileName);
    r.status = copyBytes(e.status);
    r.errorMessage = copyBytes(e.errorMessage);
    r.extraJson = copyBytes(e.extraJson);
    r.rawJson = copyBytes(e.rawJson);
    r.timestampMs = e.timestampMs;
    r.hasErrorCode = e.hasErrorCode;
    r.errorCode = e.errorCode;
    events.push_back(std::move(r));
  }

  std::vector<RecordedEvent> events;
};

namespace detail {

inline std::string show(const OptString& s) { return s ? "\"" + *s + "\"" : "null"; }

inline void compareString(const rapidjson::Value& expected, const char* key, const OptString& got,
                          const std::string& where, std::vector<std::string>& problems) {
  const auto it = expected.FindMember(key);
  if (it == expected.MemberEnd()) return;  // not specified for this event
  OptString want;
  if (it->value.IsString()) want = std::string(it->value.GetString(), it->value.GetStringLength());
  if (want != got) problems.push_back(where + key + ": expected " + show(want) + ", got " + show(got));
}

inline void compareExtra(const rapidjson::Value& expected, const OptString& got, const std::string& where,
                         std::vector<std::string>& problems) {
  rapidjson::Document extra;
  if (!got || extra.Parse(got->data(), got->size()).HasParseError() || !extra.IsObject()) {
    problems.push_back(where + "extraJson is not a JSON object: " + show(got));
    return;
  }
  const auto it = expected.FindMember("extra");
  if (it == expected.MemberEnd() || !it->value.IsObject()) return;
  for (const auto& m : it->value.GetObject()) {
    const auto found = extra.FindMember(m.name);
    const std::string key = std::string("extra.") + m.name.GetString();
    if (found == extra.MemberEnd()) {
      problems.push_back(where + key + ": missing (expected " + toJson(m.value) + ")");
    } else if (!(found->value == m.value)) {
      problems.push_back(where + key + ": expected " + toJson(m.value) + ", got " + toJson(found->value));
    }
  }
}

}  // namespace detail

// Problems found comparing the recorded events with an expected.json "events" array;
// empty when they match.
inline std::vector<std::string> compareEvents(const rapidjson::Value& expected,
                                              const std::vector<RecordedEvent>& got) {
  std::vector<std::string> problems;
  if (!expected.IsArray()) return {"expected events is not an array"};
  if (expected.Size() != got.size()) {
    problems.push_back("expected " + std::to_string(expected.Size()) + " events, got " +
                       std::to_string(got.size()));
  }
  const std::size_t n = std::min<std::size_t>(expected.Size(), got.size());
  for (std::size_t i = 0; i < n; ++i) {
    const rapidjson::Value& want = expected[static_cast<rapidjson::SizeType>(i)];
    const RecordedEvent& e = got[i];
    const std::string where = "event " + std::to_string(i) + ": ";
    if (want.HasMember("event") && want["event"].IsString() && want["event"].GetString() != std::string(eventName(e.kind))) {
      problems.push_back(where + "event: expected " + want["event"].GetString() + ", got " + eventName(e.kind));
    }
    if (want.HasMember("direction") && want["direction"].IsString()) {
      const char* dir = e.direction == api::Direction::kInbound ? "inbound" : "outbound";
      if (want["direction"].GetString() != std::string(dir)) {
        problems.push_back(where + "direction: expected " + want["direction"].GetString() + ", got " + dir);
      }
    }
    detail::compareString(want, "business_account_id", e.businessAccountId, where, problems);
    detail::compareString(want, "external_user_id", e.externalUserId, where, problems);
    detail::compareString(want, "external_message_id", e.externalMessageId, where, problems);
    detail::compareString(want, "content_type", e.contentType, where, problems);
    detail::compareString(want, "text", e.text, where, problems);
    detail::compareString(want, "profile_name", e.profileName, where, problems);
    detail::compareString(want, "status", e.status, where, problems);
    detail::compareString(want, "reply_to_message_id", e.replyToMessageId, where, problems);
    detail::compareString(want, "target_message_id", e.targetMessageId, where, problems);
    if (want.HasMember("timestamp_ms") && want["timestamp_ms"].IsInt64() &&
        want["timestamp_ms"].GetInt64() != e.timestampMs) {
      problems.push_back(where + "timestamp_ms: expected " + std::to_string(want["timestamp_ms"].GetInt64()) +
                         ", got " + std::to_string(e.timestampMs));
    }
    if (want.HasMember("error_code")) {
      const rapidjson::Value& code = want["error_code"];
      const std::string got = e.hasErrorCode ? std::to_string(e.errorCode) : "null";
      const std::string expectedCode = code.IsInt64() ? std::to_string(code.GetInt64()) : "null";
      if (got != expectedCode) problems.push_back(where + "error_code: expected " + expectedCode + ", got " + got);
    }
    detail::compareExtra(want, e.extraJson, where, problems);
    rapidjson::Document raw;
    if (!e.rawJson || e.rawJson->empty() || raw.Parse(e.rawJson->data(), e.rawJson->size()).HasParseError()) {
      problems.push_back(where + "rawJson is not JSON: " + detail::show(e.rawJson));
    }
  }
  return problems;
}

inline std::string joinLines(const std::vector<std::string>& lines) {
  std::string all;
  for (const std::string& line : lines) all += line + "\n";
  return all;
}

// Webhook (POST body) fixtures of one platform listed in expected.json ("whatsapp/text.json", ...).
inline std::vector<std::string> webhookFixtures(const rapidjson::Document& expected, const std::string& type) {
  std::vector<std::string> names;
  const auto files = expected.FindMember("files");
  if (files == expected.MemberEnd() || !files->value.IsObject()) return names;
  for (const auto& m : files->value.GetObject()) {
    const std::string name = m.name.GetString();
    // verify.json describes GET handshakes, not a webhook body.
    const bool handshake = name.size() >= 12 && name.compare(name.size() - 12, 12, "/verify.json") == 0;
    if (name.rfind(type + "/", 0) == 0 && m.value.HasMember("events") && !handshake) names.push_back(name);
  }
  return names;
}

// An HttpView over a body and a header list the caller keeps alive.
struct Request {
  std::vector<std::pair<std::string, std::string>> headerText;
  std::vector<api::Header> headers;
  std::string body;

  api::HttpView view() {
    headers.clear();
    for (const auto& h : headerText) {
      headers.push_back(api::Header{api::Bytes{h.first.data(), h.first.size()},
                                    api::Bytes{h.second.data(), h.second.size()}});
    }
    api::HttpView v{};
    v.method = api::bytesOf("POST");
    v.path = api::bytesOf("/webhooks");
    v.query = api::Bytes{"", 0};
    v.headers = headers.data();
    v.headerCount = headers.size();
    v.body = api::Bytes{body.data(), body.size()};
    return v;
  }
};

}  // namespace gateway::test_support
