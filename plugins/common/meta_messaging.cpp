#include "meta_messaging.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "meta_common.h"

namespace gateway::plugins::meta {

namespace {

using rapidjson::SizeType;
using rapidjson::Value;

// ---------------------------------------------------------------------------------------------
// JSON input

// Meta's payloads nest fewer than 10 levels. The limit keeps the recursive writer that
// produces rawJson (and RapidJSON's value destructor) far from the end of the stack.
constexpr unsigned kMaxJsonDepth = 64;
// Iterative parsing: a hostile body cannot exhaust the stack while being read. Validated
// UTF-8: every string we pass on may be written into JSON again by the core.
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

// Forwards SAX events into a Document and refuses nesting deeper than kMaxJsonDepth.
class DepthLimitedHandler {
 public:
  explicit DepthLimitedHandler(rapidjson::Document& doc) : doc_(doc) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(std::int64_t i) { return doc_.Int64(i); }
  bool Uint64(std::uint64_t u) { return doc_.Uint64(u); }
  // RapidJSON 1.1.0 reads "17677728150001e300" as inf, which no JSON writer can write back.
  bool Double(double d) { return std::isfinite(d) && doc_.Double(d); }
  bool RawNumber(const char* s, SizeType n, bool copy) { return doc_.RawNumber(s, n, copy); }
  // isUtf8: a lone low-surrogate escape gets through RapidJSON's own validation.
  bool String(const char* s, SizeType n, bool copy) { return isUtf8(s, n) && doc_.String(s, n, copy); }
  bool Key(const char* s, SizeType n, bool copy) { return isUtf8(s, n) && doc_.Key(s, n, copy); }
  bool StartObject() { return enter() && doc_.StartObject(); }
  bool EndObject(SizeType n) { --depth_; return doc_.EndObject(n); }
  bool StartArray() { return enter() && doc_.StartArray(); }
  bool EndArray(SizeType n) { --depth_; return doc_.EndArray(n); }

 private:
  bool enter() { return ++depth_ <= kMaxJsonDepth; }

  rapidjson::Document& doc_;
  unsigned depth_ = 0;
};

// Parses exactly body (a NUL byte inside stops RapidJSON early, so every byte must be used).
bool parseJson(api::Bytes body, rapidjson::Document& doc) {
  if (body.isNull() || body.size == 0) return false;
  rapidjson::MemoryStream stream(body.data, body.size);
  rapidjson::Reader reader;
  bool parsed = false;
  auto generator = [&](rapidjson::Document& target) {
    DepthLimitedHandler handler(target);
    parsed = !reader.Parse<kParseFlags>(stream, handler).IsError();
    return parsed;
  };
  doc.Populate(generator);
  return parsed && stream.Tell() == body.size;
}

api::Bytes view(const std::string& s) { return api::Bytes{s.data(), s.size()}; }

api::Bytes stringBytes(const Value* v) {
  return v != nullptr && v->IsString() ? api::Bytes{v->GetString(), v->GetStringLength()}
                                       : api::Bytes{};
}

bool isEmpty(api::Bytes b) { return b.isNull() || b.size == 0; }

bool sameBytes(api::Bytes a, const char* s) { return s != nullptr && a.equals(s); }

bool isTrue(const Value& obj, const char* name) {
  const Value* v = member(obj, name);
  return v != nullptr && v->IsBool() && v->GetBool();
}

bool isPresent(const Value* v) { return v != nullptr && !v->IsNull(); }

// The documented fields an Event is built from must have their documented type; a wrong
// type there is kMalformed. Absent and null mean "not given".
bool optionalString(const Value& obj, const char* name, api::Bytes& out) {
  const Value* v = member(obj, name);
  out = api::Bytes{};
  if (!isPresent(v)) return true;
  if (!v->IsString()) return false;
  out = stringBytes(v);
  return true;
}

bool optionalObject(const Value& obj, const char* name, const Value*& out) {
  const Value* v = member(obj, name);
  out = nullptr;
  if (!isPresent(v)) return true;
  if (!v->IsObject()) return false;
  out = v;
  return true;
}

// A timestamp member (number or digit string, s or ms). found=false when absent.
bool optionalTimestamp(const Value& obj, const char* name, std::int64_t& out, bool& found) {
  const Value* v = member(obj, name);
  found = false;
  if (!isPresent(v)) return true;
  // A double beyond int64 would be undefined behaviour in the conversion: no real time is.
  if (v->IsDouble() && !(v->GetDouble() >= 0.0 && v->GetDouble() < 9.0e18)) return false;
  found = timestampMs(*v, out);
  return found;
}

// ---------------------------------------------------------------------------------------------
// JSON output

using ValidatingWriter = rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>,
                                           rapidjson::UTF8<>, rapidjson::CrtAllocator,
                                           rapidjson::kWriteValidateEncodingFlag>;

// Builds the compact `extra` object; absent values are skipped so "{}" means no details.
class ExtraWriter {
 public:
  ExtraWriter() : writer_(buffer_) { writer_.StartObject(); }

  void addString(const char* key, api::Bytes value) {
    if (value.isNull()) return;
    writeKey(key);
    writer_.String(value.data, static_cast<SizeType>(value.size));
  }
  // Copies a payload value as it came (ids Meta sends as numbers stay numbers).
  void addValue(const char* key, const Value* value) {
    if (!isPresent(value)) return;
    writeKey(key);
    value->Accept(writer_);
  }
  void addBool(const char* key, bool value) {
    writeKey(key);
    writer_.Bool(value);
  }
  void addInt(const char* key, std::int64_t value) {
    writeKey(key);
    writer_.Int64(value);
  }
  void addStrings(const char* key, const std::vector<api::Bytes>& values) {
    writeKey(key);
    writer_.StartArray();
    for (const api::Bytes& v : values) writer_.String(v.data, static_cast<SizeType>(v.size));
    writer_.EndArray();
  }
  std::string finish() {
    writer_.EndObject();
    return std::string(buffer_.GetString(), buffer_.GetSize());
  }

 private:
  void writeKey(const char* key) { writer_.Key(key, static_cast<SizeType>(std::strlen(key))); }

  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// ---------------------------------------------------------------------------------------------
// Webhook events

// One messaging event being normalized; owns the strings the Event borrows.
struct EventDraft {
  api::Event event;
  bool hasTime = false;
  ExtraWriter extra;
};

// What a payload parser reads: the messaging event, the value of its payload key and the
// channel's settings (echo classification needs our app id).
struct EventInput {
  const Value& event;
  const Value& payload;
  const char* key;
  const MessagingConfig& config;
};

// Returns false when a documented field has the wrong type (the body is kMalformed).
using PayloadParser = bool (*)(const EventInput& in, EventDraft& draft);

void setKind(EventDraft& d, api::EventKind kind, const char* contentType) {
  d.event.kind = kind;
  d.event.contentType = api::bytesOf(contentType);
}

// Referral details, wherever Meta nests them (event, postback, message).
struct FieldRename {
  const char* from;
  const char* to;
};
constexpr FieldRename kReferralFields[] = {
    {"ref", "referral_ref"},
    {"source", "referral_source"},
    {"type", "referral_type"},
    {"ad_id", "referral_ad_id"},
};

void addReferral(const Value* referral, ExtraWriter& extra) {
  if (referral == nullptr || !referral->IsObject()) return;
  for (const FieldRename& f : kReferralFields) extra.addString(f.to, stringBytes(member(*referral, f.from)));
  const Value* product = member(*referral, "product");
  if (product != nullptr) extra.addValue("referral_product_id", member(*product, "id"));
  extra.addValue("referral_ads_context", member(*referral, "ads_context_data"));
}

// Decimal text of a number. Not std::to_string: it would make the module export libstdc++'s
// GNU-unique digit tables, and the module must export nothing but its entry symbol.
std::string decimal(long long n) {
  char text[24];
  const int length = std::snprintf(text, sizeof(text), "%lld", n);
  return std::string(text, length > 0 ? static_cast<std::size_t>(length) : 0);
}

// Ids compare as text: Meta sends app_id as a number, the config holds a string.
bool sameId(const Value* v, const std::string& id) {
  if (v == nullptr || id.empty()) return false;
  if (v->IsString()) return id == std::string(v->GetString(), v->GetStringLength());
  if (v->IsInt64()) return id == decimal(v->GetInt64());
  return false;  // beyond int64 no app id exists
}

// An echo is a page/account message: the person is the recipient, the account the sender.
void markEcho(const Value& message, const MessagingConfig& config, EventDraft& d) {
  d.event.direction = api::Direction::kOutbound;
  std::swap(d.event.businessAccountId, d.event.externalUserId);
  const Value* appId = member(message, "app_id");
  d.extra.addValue("app_id", appId);
  d.extra.addBool("is_own_app_echo", sameId(appId, config.appId));
  const api::Bytes metadata = stringBytes(member(message, "metadata"));
  d.extra.addString("metadata", metadata);
  // Our sends carry "gw:out:<gateway message id>": report the id to the core, which uses
  // it to settle a send whose HTTP answer was lost.
  static constexpr char kOurs[] = "gw:out:";
  if (!metadata.isNull() && metadata.size > sizeof kOurs - 1 && std::memcmp(metadata.data, kOurs, sizeof kOurs - 1) == 0) {
    d.extra.addString("gateway_message_id", api::Bytes{metadata.data + sizeof kOurs - 1, metadata.size - (sizeof kOurs - 1)});
  }
}

// What a message's attachments amount to.
struct AttachmentSummary {
  api::Bytes firstType;  // first attachment type other than a link-share fallback
  bool hasFallback = false;
  bool hasSticker = false;
  const Value* stickerId = nullptr;
  std::vector<api::Bytes> urls;  // distinct URLs in payload order
};

void addUrl(AttachmentSummary& s, api::Bytes url) {
  if (isEmpty(url)) return;
  // The 2026 sticker transition sends one sticker as a sticker and an image attachment with
  // the same URL: keep it once.
  const bool seen = std::any_of(s.urls.begin(), s.urls.end(), [&](api::Bytes u) {
    return u.size == url.size && std::memcmp(u.data, url.data, u.size) == 0;
  });
  if (!seen) s.urls.push_back(url);
}

bool readAttachment(const Value& a, AttachmentSummary& s) {
  api::Bytes type;
  const Value* payload = nullptr;
  if (!a.IsObject() || !optionalString(a, "type", type)) return false;
  const Value* payloadValue = member(a, "payload");
  if (payloadValue != nullptr && payloadValue->IsObject()) payload = payloadValue;
  if (type.equals("fallback")) {
    s.hasFallback = true;
    addUrl(s, stringBytes(member(a, "url")));  // link shares keep the URL beside the payload
  } else if (type.equals("sticker")) {
    s.hasSticker = true;
  } else if (s.firstType.isNull()) {
    s.firstType = type;
  }
  if (payload == nullptr) return true;
  addUrl(s, stringBytes(member(*payload, "url")));
  const Value* stickerId = member(*payload, "sticker_id");
  if (isPresent(stickerId) && (s.stickerId == nullptr || type.equals("sticker"))) s.stickerId = stickerId;
  return true;
}

bool readAttachments(const Value& message, AttachmentSummary& s) {
  const Value* list = member(message, "attachments");
  if (isPresent(list) && !list->IsArray()) return false;
  if (isPresent(list)) {
    for (const Value& a : list->GetArray()) {
      if (!readAttachment(a, s)) return false;
    }
  }
  // Legacy stickers: an image attachment plus message.sticker_id.
  const Value* stickerId = member(message, "sticker_id");
  if (isPresent(stickerId)) {
    s.hasSticker = true;
    s.stickerId = stickerId;
  }
  return true;
}

// reply_to quotes a message (mid) or, on Instagram, one of our stories (story{id,url}).
bool readReplyTo(const Value& message, EventDraft& d, bool& storyReply) {
  const Value* replyTo = nullptr;
  storyReply = false;
  if (!optionalObject(message, "reply_to", replyTo)) return false;
  if (replyTo == nullptr) return true;
  if (!optionalString(*replyTo, "mid", d.event.replyToMessageId)) return false;
  const Value* story = nullptr;
  if (!optionalObject(*replyTo, "story", story)) return false;
  if (story != nullptr) {
    storyReply = true;
    d.extra.addString("story_id", stringBytes(member(*story, "id")));
    d.extra.addString("story_url", stringBytes(member(*story, "url")));
  }
  return true;
}

api::Bytes contentTypeOf(const Value& message, const AttachmentSummary& s, bool storyReply,
                         api::Bytes text) {
  if (isTrue(message, "is_unsupported")) return api::bytesOf("unsupported");
  if (storyReply) return api::bytesOf("story_reply");
  if (s.hasSticker) return api::bytesOf("sticker");
  // image, audio, video, file, share, ig_reel, story_mention...: the platform's own word
  if (!s.firstType.isNull()) return s.firstType;
  if (!text.isNull()) return api::bytesOf("text");
  if (s.hasFallback) return api::bytesOf("fallback");
  return api::bytesOf("unknown");
}

bool parseMessage(const EventInput& in, EventDraft& d) {
  const Value& m = in.payload;
  api::Bytes mid;
  api::Bytes text;
  if (!m.IsObject() || !optionalString(m, "mid", mid) || !optionalString(m, "text", text)) return false;
  d.event.externalMessageId = mid;
  if (isTrue(m, "is_echo")) markEcho(m, in.config, d);
  if (isTrue(m, "is_deleted")) {  // Instagram unsend: same mid as the original, no content
    d.event.kind = api::EventKind::kMessageDeleted;
    d.event.targetMessageId = mid;
    return true;
  }
  AttachmentSummary attachments;
  bool storyReply = false;
  if (!readAttachments(m, attachments) || !readReplyTo(m, d, storyReply)) return false;
  d.event.kind = api::EventKind::kMessage;
  d.event.contentType = contentTypeOf(m, attachments, storyReply, text);
  d.event.text = text;
  const Value* quickReply = member(m, "quick_reply");
  if (quickReply != nullptr) d.extra.addString("payload", stringBytes(member(*quickReply, "payload")));
  if (!attachments.urls.empty()) d.extra.addStrings("attachment_urls", attachments.urls);
  d.extra.addValue("sticker_id", attachments.stickerId);
  addReferral(member(m, "referral"), d.extra);
  return true;
}

bool parseEdit(const EventInput& in, EventDraft& d) {
  const Value& p = in.payload;
  api::Bytes mid;
  if (!p.IsObject() || !optionalString(p, "mid", mid) || !optionalString(p, "text", d.event.text)) {
    return false;
  }
  setKind(d, api::EventKind::kMessageEdited, "text");
  d.event.externalMessageId = mid;  // Messenger edits carry the original mid only
  d.event.targetMessageId = mid;
  d.extra.addValue("num_edit", member(p, "num_edit"));
  return true;
}

bool parseReaction(const EventInput& in, EventDraft& d) {
  const Value& p = in.payload;
  api::Bytes emoji;
  if (!p.IsObject() || !optionalString(p, "mid", d.event.targetMessageId) ||
      !optionalString(p, "emoji", emoji)) {
    return false;
  }
  setKind(d, api::EventKind::kReaction, "reaction");
  if (!isEmpty(emoji)) d.event.text = emoji;  // unreact may send no emoji
  d.extra.addString("action", stringBytes(member(p, "action")));
  d.extra.addString("reaction", stringBytes(member(p, "reaction")));
  return true;
}

// Receipts are about our outbound messages; the person is still the sender.
bool readWatermark(const Value& p, EventDraft& d) {
  std::int64_t watermark = 0;
  bool found = false;
  if (!optionalTimestamp(p, "watermark", watermark, found)) return false;
  if (!found) return true;
  d.extra.addInt("watermark_ms", watermark);
  if (!d.hasTime) {  // deliveries have no timestamp of their own
    d.event.timestampMs = watermark;
    d.hasTime = true;
  }
  return true;
}

bool parseDelivery(const EventInput& in, EventDraft& d) {
  const Value& p = in.payload;
  if (!p.IsObject() || !readWatermark(p, d)) return false;
  setKind(d, api::EventKind::kDelivery, nullptr);
  d.event.direction = api::Direction::kOutbound;
  std::vector<api::Bytes> mids;
  const Value* list = member(p, "mids");
  if (list != nullptr && list->IsArray()) {
    for (const Value& mid : list->GetArray()) {
      if (mid.IsString()) mids.push_back(stringBytes(&mid));
    }
  }
  d.extra.addStrings("mids", mids);  // always present so consumers need not test for it
  return true;
}

bool parseRead(const EventInput& in, EventDraft& d) {
  const Value& p = in.payload;
  // Messenger: watermark; Instagram messaging_seen: the mid of the last message read.
  if (!p.IsObject() || !readWatermark(p, d) || !optionalString(p, "mid", d.event.targetMessageId)) {
    return false;
  }
  setKind(d, api::EventKind::kRead, nullptr);
  d.event.direction = api::Direction::kOutbound;
  return true;
}

bool parsePostback(const EventInput& in, EventDraft& d) {
  const Value& p = in.payload;
  if (!p.IsObject() || !optionalString(p, "mid", d.event.externalMessageId) ||
      !optionalString(p, "title", d.event.text)) {
    return false;
  }
  setKind(d, api::EventKind::kPostback, "postback");
  d.extra.addString("payload", stringBytes(member(p, "payload")));  // absent in standby copies
  addReferral(member(p, "referral"), d.extra);
  return true;
}

bool parseReferral(const EventInput& in, EventDraft& d) {
  if (!in.payload.IsObject()) return false;
  setKind(d, api::EventKind::kReferral, nullptr);
  addReferral(&in.payload, d.extra);
  return true;
}

constexpr const char* kHandoverFields[] = {"previous_owner_app_id", "new_owner_app_id",
                                           "requested_owner_app_id", "metadata"};

bool parseHandover(const EventInput& in, EventDraft& d) {
  const Value& p = in.payload;
  if (!p.IsObject()) return false;
  setKind(d, api::EventKind::kHandover, nullptr);
  d.extra.addString("handover", api::bytesOf(in.key));
  for (const char* field : kHandoverFields) d.extra.addValue(field, member(p, field));
  if (std::strcmp(in.key, "app_roles") == 0) d.extra.addValue("app_roles", &p);
  return true;
}

// Payload key of a messaging event -> its parser. An event carries one of these keys;
// anything else (optin, account_linking, policy_enforcement, game_play...) is kUnknown.
struct PayloadKind {
  const char* key;
  PayloadParser parse;
};
constexpr PayloadKind kPayloadKinds[] = {
    {"message", parseMessage},
    {"message_edit", parseEdit},
    {"reaction", parseReaction},
    {"delivery", parseDelivery},
    {"read", parseRead},
    {"postback", parsePostback},
    {"referral", parseReferral},
    {"pass_thread_control", parseHandover},
    {"take_thread_control", parseHandover},
    {"request_thread_control", parseHandover},
    {"app_roles", parseHandover},
};

const PayloadKind* findPayloadKind(const Value& event) {
  for (const PayloadKind& kind : kPayloadKinds) {
    if (member(event, kind.key) != nullptr) return &kind;
  }
  return nullptr;
}

bool participantId(const Value& event, const char* name, api::Bytes& id) {
  const Value* participant = nullptr;
  id = api::Bytes{};
  if (!optionalObject(event, name, participant)) return false;
  return participant == nullptr || optionalString(*participant, "id", id);
}

class WebhookParser {
 public:
  WebhookParser(const MessagingPlatform& platform, const MessagingConfig& config, api::EventSink& out)
      : platform_(platform), config_(config), out_(out) {}

  api::Outcome parse(api::Bytes body) {
    ParseDocument parsed;
    rapidjson::Document& doc = parsed.get();
    if (!parseJson(body, doc) || !doc.IsObject()) return api::Outcome::kMalformed;
    const Value* object = member(doc, "object");
    if (object == nullptr || !object->IsString()) return api::Outcome::kMalformed;
    if (!sameBytes(stringBytes(object), platform_.objectName)) return api::Outcome::kUnsupported;
    const Value* entries = member(doc, "entry");
    if (entries == nullptr || !entries->IsArray()) return api::Outcome::kMalformed;
    for (const Value& entry : entries->GetArray()) {
      const api::Outcome outcome = parseEntry(entry);
      if (outcome != api::Outcome::kOk) return outcome;
    }
    return api::Outcome::kOk;
  }

 private:
  api::Outcome parseEntry(const Value& entry) {
    if (!entry.IsObject()) return api::Outcome::kMalformed;
    // standby[]: another app owns the thread; same events, recorded but flagged.
    for (const bool standby : {false, true}) {
      const Value* list = member(entry, standby ? "standby" : "messaging");
      if (!isPresent(list)) continue;
      if (!list->IsArray()) return api::Outcome::kMalformed;
      for (const Value& event : list->GetArray()) {
        const api::Outcome outcome = parseEvent(entry, event, standby);
        if (outcome != api::Outcome::kOk) return outcome;
      }
    }
    return parseChanges(entry);
  }

  api::Outcome parseChanges(const Value& entry) {
    const Value* changes = member(entry, "changes");
    if (!isPresent(changes)) return api::Outcome::kOk;
    if (!changes->IsArray()) return api::Outcome::kMalformed;
    for (const Value& change : changes->GetArray()) {
      if (!change.IsObject()) return api::Outcome::kMalformed;
      const Value* value = member(change, "value");
      const bool isEvent = platform_.eventsInChanges && value != nullptr && value->IsObject() &&
                           member(*value, "sender") != nullptr;
      if (!isEvent) {
        emitUnknownChange(entry, change);
        continue;
      }
      const api::Outcome outcome = parseEvent(entry, *value, false);
      if (outcome != api::Outcome::kOk) return outcome;
    }
    return api::Outcome::kOk;
  }

  api::Outcome parseEvent(const Value& entry, const Value& event, bool standby) {
    EventDraft d;
    if (!event.IsObject() || !participantId(event, "sender", d.event.externalUserId) ||
        !participantId(event, "recipient", d.event.businessAccountId) ||
        !optionalTimestamp(event, "timestamp", d.event.timestampMs, d.hasTime)) {
      return api::Outcome::kMalformed;
    }
    const PayloadKind* kind = findPayloadKind(event);
    if (kind != nullptr && !kind->parse(EventInput{event, event[kind->key], kind->key, config_}, d)) {
      return api::Outcome::kMalformed;
    }
    if (kind == nullptr) d.event.kind = api::EventKind::kUnknown;
    if (standby) d.extra.addBool("standby", true);
    emit(entry, event, d);
    return api::Outcome::kOk;
  }

  // Non-messaging fields (comments, mentions, feed) and Messenger's changes[]: kept as unknown.
  void emitUnknownChange(const Value& entry, const Value& change) {
    EventDraft d;
    d.event.kind = api::EventKind::kUnknown;
    d.extra.addString("field", stringBytes(member(change, "field")));
    emit(entry, change, d);
  }

  // Fills what the event itself did not say from its entry, then hands it to the sink.
  void emit(const Value& entry, const Value& source, EventDraft& d) {
    if (d.event.businessAccountId.isNull()) d.event.businessAccountId = stringBytes(member(entry, "id"));
    bool entryTime = false;
    std::int64_t entryMs = 0;
    if (!d.hasTime && optionalTimestamp(entry, "time", entryMs, entryTime) && entryTime) {
      d.event.timestampMs = entryMs;
    }
    d.event.userIdKind = api::bytesOf(platform_.userIdKind);
    const std::string extra = d.extra.finish();
    const std::string raw = toJson(source);
    d.event.extraJson = view(extra);
    d.event.rawJson = view(raw);
    out_.onEvent(d.event);
  }

  const MessagingPlatform& platform_;
  const MessagingConfig& config_;
  api::EventSink& out_;
};

// ---------------------------------------------------------------------------------------------
// Send API requests

constexpr char kHumanAgentTag[] = "HUMAN_AGENT";
constexpr char kMetadataPrefix[] = "gw:out:";  // marks our sends in echoes, next to app_id

const char* platformAttachmentType(const MessagingPlatform& platform, api::Bytes gatewayType) {
  for (std::size_t i = 0; i < platform.attachmentTypeCount; ++i) {
    if (sameBytes(gatewayType, platform.attachmentTypes[i].gatewayType)) {
      return platform.attachmentTypes[i].platformType;
    }
  }
  return nullptr;
}

api::Outcome checkAttachment(const MessagingPlatform& platform, const api::OutboundMessage& msg,
                             const char*& attachmentType) {
  if (isEmpty(msg.attachmentUrl)) return api::Outcome::kMalformed;
  // Neither Send API has a caption; sending the media without it would lose the text.
  if (!isEmpty(msg.attachmentCaption)) return api::Outcome::kUnsupported;
  attachmentType = platformAttachmentType(platform, msg.attachmentType);
  return attachmentType != nullptr ? api::Outcome::kOk : api::Outcome::kUnsupported;
}

api::Outcome checkMessage(const MessagingPlatform& platform, const api::OutboundMessage& msg,
                          const char*& attachmentType) {
  if (isEmpty(msg.recipientId)) return api::Outcome::kMalformed;
  if (!isEmpty(msg.recipientIdKind) && !msg.recipientIdKind.equals(platform.userIdKind)) {
    return api::Outcome::kUnsupported;
  }
  if (!isEmpty(msg.tag) && !msg.tag.equals(kHumanAgentTag)) return api::Outcome::kUnsupported;
  switch (msg.kind) {
    case api::SendKind::kText:
      return isEmpty(msg.text) ? api::Outcome::kMalformed : api::Outcome::kOk;
    case api::SendKind::kAttachment:
      return checkAttachment(platform, msg, attachmentType);
    case api::SendKind::kTemplate:  // WhatsApp only
      break;
  }
  return api::Outcome::kUnsupported;
}

class SendBodyWriter {
 public:
  SendBodyWriter() : writer_(buffer_) {}

  void key(const char* k) { ok_ = writer_.Key(k, static_cast<SizeType>(std::strlen(k))) && ok_; }
  void string(api::Bytes s) { ok_ = writer_.String(s.data, static_cast<SizeType>(s.size)) && ok_; }
  void string(const char* s) { string(api::bytesOf(s)); }
  void string(const std::string& s) { string(view(s)); }
  void boolean(bool b) { ok_ = writer_.Bool(b) && ok_; }
  void startObject() { ok_ = writer_.StartObject() && ok_; }
  void endObject() { ok_ = writer_.EndObject() && ok_; }

  // False when a caller-supplied string was not valid UTF-8.
  bool finish(std::string& out) const {
    if (ok_) out.assign(buffer_.GetString(), buffer_.GetSize());
    return ok_;
  }

 private:
  rapidjson::StringBuffer buffer_;
  ValidatingWriter writer_;
  bool ok_ = true;
};

void writeMessage(const MessagingPlatform& platform, const api::OutboundMessage& msg,
                  const char* attachmentType, SendBodyWriter& w) {
  w.key("message");
  w.startObject();
  if (attachmentType == nullptr) {
    w.key("text");
    w.string(msg.text);
  } else {
    w.key("attachment");
    w.startObject();
    w.key("type");
    w.string(attachmentType);
    w.key("payload");
    w.startObject();
    w.key("url");
    w.string(msg.attachmentUrl);
    if (platform.reusableAttachments) {
      w.key("is_reusable");
      w.boolean(true);
    }
    w.endObject();
    w.endObject();
  }
  if (platform.sendsMetadata && !isEmpty(msg.messageId)) {
    w.key("metadata");
    w.string(kMetadataPrefix + std::string(msg.messageId.data, msg.messageId.size));
  }
  w.endObject();
}

// reply_to is not sent: neither platform documents a quoted reply in its Send API
// (messenger.md marks it unverified), so the message goes out unquoted.
bool writeSendBody(const MessagingPlatform& platform, const api::OutboundMessage& msg,
                   const char* attachmentType, std::string& body) {
  SendBodyWriter w;
  w.startObject();
  w.key("recipient");
  w.startObject();
  w.key("id");
  w.string(msg.recipientId);
  w.endObject();
  if (!isEmpty(msg.tag)) {  // outside the 24 h window, up to 7 days
    w.key("messaging_type");
    w.string("MESSAGE_TAG");
    w.key("tag");
    w.string(kHumanAgentTag);
  } else if (platform.messagingTypeOnEverySend) {
    w.key("messaging_type");
    w.string("RESPONSE");
  }
  writeMessage(platform, msg, attachmentType, w);
  w.endObject();
  return w.finish(body);
}

// Config values become path segments; anything but unreserved characters is escaped so a
// stray '/' or '?' cannot change the endpoint.
std::string pathSegment(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0F];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Send API responses

struct GraphError {
  bool present = false;
  std::int64_t code = 0;
  std::int64_t subcode = 0;
  bool transient = false;
  api::Bytes message;
};

std::int64_t intMember(const Value& obj, const char* name) {
  const Value* v = member(obj, name);
  return v != nullptr && v->IsInt64() ? v->GetInt64() : 0;
}

GraphError readGraphError(const Value* error) {
  GraphError e;
  if (error == nullptr || !error->IsObject()) return e;
  e.present = true;
  e.code = intMember(*error, "code");
  e.subcode = intMember(*error, "error_subcode");
  e.transient = isTrue(*error, "is_transient");
  e.message = stringBytes(member(*error, "message"));
  return e;
}

// Classification by code (+ subcode), as platforms/README.md §7-8 and messenger.md §6 say.
struct SubcodeRule {
  std::int64_t code;
  std::int64_t subcode;
  api::SendErrorClass errorClass;
};
constexpr SubcodeRule kSubcodeRules[] = {
    // code 2 is normally transient, but this one waits for a page admin to accept terms.
    {2, 2018344, api::SendErrorClass::kPermanent},
};
constexpr std::int64_t kAuthCodes[] = {190};
constexpr std::int64_t kRateLimitCodes[] = {4, 17, 32, 613};
constexpr std::int64_t kTransientCodes[] = {1, 2};

template <std::size_t N>
bool contains(const std::int64_t (&codes)[N], std::int64_t code) {
  return std::find(std::begin(codes), std::end(codes), code) != std::end(codes);
}

api::SendErrorClass classify(int httpStatus, const GraphError& e) {
  if (e.present) {
    for (const SubcodeRule& rule : kSubcodeRules) {
      if (rule.code == e.code && rule.subcode == e.subcode) return rule.errorClass;
    }
    if (contains(kAuthCodes, e.code)) return api::SendErrorClass::kAuth;
  }
  if (httpStatus == 429 || (e.present && contains(kRateLimitCodes, e.code))) {
    return api::SendErrorClass::kRateLimited;
  }
  if (e.present) {
    // With a Graph error the code decides, not the HTTP status (send_index.json note).
    return e.transient || contains(kTransientCodes, e.code) ? api::SendErrorClass::kTransient
                                                            : api::SendErrorClass::kPermanent;
  }
  // No Graph error object (a proxy's HTML page, an empty body): only the status is left.
  return httpStatus >= 500 ? api::SendErrorClass::kTransient : api::SendErrorClass::kPermanent;
}

// ---------------------------------------------------------------------------------------------
// Settings

struct SettingCopy {
  api::Bytes api::ChannelSettings::*from;
  std::string MessagingConfig::*to;
  const char* name;  // config key, for the error message
  bool required;
};
constexpr SettingCopy kSettingCopies[] = {
    {&api::ChannelSettings::accountId, &MessagingConfig::accountId, "account_id", true},
    {&api::ChannelSettings::appSecret, &MessagingConfig::appSecret, "app_secret", true},
    {&api::ChannelSettings::accessToken, &MessagingConfig::accessToken, "access_token", true},
    {&api::ChannelSettings::appId, &MessagingConfig::appId, "app_id", false},
    {&api::ChannelSettings::apiVersion, &MessagingConfig::apiVersion, "api_version", false},
};

}  // namespace

bool configFromSettings(const api::ChannelSettings& settings, MessagingConfig& config,
                        std::string& error) {
  for (const SettingCopy& copy : kSettingCopies) {
    const api::Bytes value = settings.*copy.from;
    if (!isEmpty(value)) {
      (config.*copy.to).assign(value.data, value.size);
    } else if (copy.required) {
      error = std::string(copy.name) + " is required";
      return false;
    }
  }
  return true;
}

api::Outcome parseMessagingWebhook(const MessagingPlatform& platform, const MessagingConfig& config,
                                   api::Bytes body, api::EventSink& out) {
  return WebhookParser(platform, config, out).parse(body);
}

api::Outcome buildMessagingSend(const MessagingPlatform& platform, const MessagingConfig& config,
                                const api::OutboundMessage& msg, api::RequestWriter& out) {
  const char* attachmentType = nullptr;
  const api::Outcome check = checkMessage(platform, msg, attachmentType);
  if (check != api::Outcome::kOk) return check;
  std::string body;
  if (!writeSendBody(platform, msg, attachmentType, body)) return api::Outcome::kMalformed;
  const std::string path =
      "/" + pathSegment(config.apiVersion) + "/" + pathSegment(config.accountId) + "/messages";
  const std::string authorization = "Bearer " + config.accessToken;
  out.setMethod(api::bytesOf("POST"));
  out.setPath(view(path));
  out.addHeader(api::bytesOf("Authorization"), view(authorization));
  out.addHeader(api::bytesOf("Content-Type"), api::bytesOf("application/json"));
  out.setBody(view(body));
  return api::Outcome::kOk;
}

api::Outcome readMessagingSendResult(int httpStatus, api::Bytes body, api::SendResult& out) {
  ParseDocument parsed;
  rapidjson::Document& doc = parsed.get();
  const bool isObject = parseJson(body, doc) && doc.IsObject();
  const GraphError error = readGraphError(isObject ? member(doc, "error") : nullptr);
  if (httpStatus >= 200 && httpStatus < 300 && !error.present) {
    const api::Bytes messageId = isObject ? stringBytes(member(doc, "message_id")) : api::Bytes{};
    if (!isEmpty(messageId)) {
      out.accepted(messageId);
      return api::Outcome::kOk;
    }
  }
  const std::string fallback = "HTTP " + decimal(httpStatus) +
                               (isObject ? " without message_id or Graph error" : " with a non-JSON body");
  out.failed(classify(httpStatus, error), error.code, error.subcode,
             isEmpty(error.message) ? view(fallback) : error.message);
  return api::Outcome::kOk;
}

MessagingChannel::MessagingChannel(const api::HostApi* host, const MessagingPlatform& platform,
                                   MessagingConfig config)
    : host_(host), platform_(platform), config_(std::move(config)) {}

api::Outcome MessagingChannel::verifySignature(const api::HttpView& request) noexcept {
  return api::guarded(host_, [&] { return verifyHubSignature(*host_, config_.appSecret, request); });
}

api::Outcome MessagingChannel::parseWebhook(const api::HttpView& request, api::EventSink& out) noexcept {
  return api::guarded(host_, [&] { return parseMessagingWebhook(platform_, config_, request.body, out); });
}

api::Outcome MessagingChannel::buildSend(const api::OutboundMessage& msg, api::RequestWriter& out) noexcept {
  return api::guarded(host_, [&] { return buildMessagingSend(platform_, config_, msg, out); });
}

api::Outcome MessagingChannel::readSendResult(int httpStatus, api::Bytes body,
                                              api::SendResult& out) noexcept {
  return api::guarded(host_, [&] { return readMessagingSendResult(httpStatus, body, out); });
}

}  // namespace gateway::plugins::meta
