#include "translate.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "meta_common.h"

namespace gateway::plugins::whatsapp {

namespace {

using rapidjson::Value;
using api::EventKind;

constexpr char kIdKindWaId[] = "wa_id";
constexpr char kIdKindBsuid[] = "bsuid";
constexpr char kUnknownContentType[] = "unknown";

// ---- small helpers over RapidJSON values ----

api::Bytes bytesOf(const Value* v) noexcept {
  return v != nullptr && v->IsString() ? api::Bytes{v->GetString(), v->GetStringLength()}
                                       : api::Bytes{};
}

api::Bytes stringAt(const Value& object, const char* name) noexcept {
  return bytesOf(meta::member(object, name));
}

bool nonEmpty(api::Bytes b) noexcept { return !b.isNull() && b.size > 0; }

bool sameBytes(api::Bytes a, api::Bytes b) noexcept {
  return !a.isNull() && !b.isNull() && a.size == b.size && std::memcmp(a.data, b.data, a.size) == 0;
}

const Value* arrayAt(const Value& object, const char* name) noexcept {
  const Value* v = meta::member(object, name);
  return v != nullptr && v->IsArray() ? v : nullptr;
}

const Value* objectAt(const Value& object, const char* name) noexcept {
  const Value* v = meta::member(object, name);
  return v != nullptr && v->IsObject() ? v : nullptr;
}

// The first element of an array member when it is an object (errors[0], product_items…).
const Value* firstObjectIn(const Value& object, const char* name) noexcept {
  const Value* array = arrayAt(object, name);
  if (array == nullptr || array->Empty() || !(*array)[0].IsObject()) return nullptr;
  return &(*array)[0];
}

const Value& nullValue() noexcept {
  static const Value kNull;
  return kNull;
}

// ---- the `extra` object ----

// Writes the compact `extra` JSON of one event. Absent values are skipped, so callers can
// add every optional detail unconditionally; a key is written at most once.
class ExtraWriter {
 public:
  ExtraWriter() : writer_(buffer_) { writer_.StartObject(); }

  void addString(const char* key, api::Bytes value) {
    if (value.isNull() || !claim(key)) return;
    writer_.String(value.data, static_cast<rapidjson::SizeType>(value.size));
  }
  // Strings, numbers and booleans exactly as the platform sent them.
  void addScalar(const char* key, const Value* value) {
    if (value == nullptr || !(value->IsString() || value->IsNumber() || value->IsBool())) return;
    if (!claim(key)) return;
    value->Accept(writer_);
  }
  void addInt(const char* key, std::int64_t value) {
    if (claim(key)) writer_.Int64(value);
  }
  void addStrings(const char* key, const std::vector<api::Bytes>& values) {
    if (!claim(key)) return;
    writer_.StartArray();
    for (const api::Bytes& v : values) writer_.String(v.data, static_cast<rapidjson::SizeType>(v.size));
    writer_.EndArray();
  }

  std::string finish() {
    writer_.EndObject();
    return std::string(buffer_.GetString(), buffer_.GetSize());
  }

 private:
  bool claim(const char* key) {
    for (const char* k : keys_) {
      if (std::strcmp(k, key) == 0) return false;
    }
    keys_.push_back(key);
    writer_.Key(key);
    return true;
  }

  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
  std::vector<const char*> keys_;
};

// ---- per-type content ----

// What a message type contributes to its event besides the common fields.
struct Content {
  api::Bytes contentType;  // defaults to the message's `type`
  api::Bytes text;
  api::Bytes target;
};

// Reads `body` (the object named after the type, or null when absent) into content/extra.
using ContentReader = void (*)(const Value& body, Content& content, ExtraWriter& extra);

struct TypeRule {
  const char* type;
  EventKind kind;
  ContentReader read;
};

const TypeRule* findRule(api::Bytes type) noexcept;

void readNothing(const Value&, Content&, ExtraWriter&) {}

void readText(const Value& body, Content& content, ExtraWriter&) {
  content.text = stringAt(body, "body");
}

// image, video, document, audio, sticker share one shape; the type-specific keys
// (filename, voice, animated) are simply absent elsewhere.
void readMedia(const Value& body, Content& content, ExtraWriter& extra) {
  content.text = stringAt(body, "caption");
  extra.addString("media_id", stringAt(body, "id"));
  extra.addString("mime_type", stringAt(body, "mime_type"));
  extra.addString("sha256", stringAt(body, "sha256"));
  extra.addString("filename", stringAt(body, "filename"));
  extra.addString("media_url", stringAt(body, "url"));
  extra.addScalar("is_voice", meta::member(body, "voice"));
  extra.addScalar("animated", meta::member(body, "animated"));
}

void readLocation(const Value& body, Content&, ExtraWriter& extra) {
  extra.addScalar("latitude", meta::member(body, "latitude"));
  extra.addScalar("longitude", meta::member(body, "longitude"));
  extra.addString("location_name", stringAt(body, "name"));
  extra.addString("location_address", stringAt(body, "address"));
  extra.addString("location_url", stringAt(body, "url"));
}

// The shared vCards; the sender is value.contacts[], not these.
void readContacts(const Value& body, Content&, ExtraWriter& extra) {
  if (!body.IsArray()) return;
  std::vector<api::Bytes> names;
  for (const Value& card : body.GetArray()) {
    const Value* name = objectAt(card, "name");
    const api::Bytes formatted = name != nullptr ? stringAt(*name, "formatted_name") : api::Bytes{};
    if (!formatted.isNull()) names.push_back(formatted);
  }
  extra.addStrings("shared_contact_names", names);
}

void readInteractive(const Value& body, Content& content, ExtraWriter& extra) {
  const Value* typeValue = meta::member(body, "type");
  extra.addScalar("interactive_type", typeValue);
  if (typeValue == nullptr || !typeValue->IsString()) return;
  const Value* reply = objectAt(body, typeValue->GetString());
  if (reply == nullptr) return;
  // button_reply / list_reply carry {id, title}; Flows (nfm_reply) carry {name, body, response_json}.
  content.text = stringAt(*reply, "title");
  extra.addString("payload", stringAt(*reply, "id"));
  extra.addString("description", stringAt(*reply, "description"));
  if (content.text.isNull()) content.text = stringAt(*reply, "body");
  extra.addString("flow_name", stringAt(*reply, "name"));
  extra.addString("flow_response_json", stringAt(*reply, "response_json"));
}

// Quick-reply button of a template message.
void readButton(const Value& body, Content& content, ExtraWriter& extra) {
  content.text = stringAt(body, "text");
  extra.addString("payload", stringAt(body, "payload"));
}

// An absent or empty emoji removes the reaction.
void readReaction(const Value& body, Content& content, ExtraWriter& extra) {
  content.target = stringAt(body, "message_id");
  const api::Bytes emoji = stringAt(body, "emoji");
  if (nonEmpty(emoji)) content.text = emoji;
  extra.addString("action", api::bytesOf(nonEmpty(emoji) ? "react" : "unreact"));
}

void readOrder(const Value& body, Content& content, ExtraWriter& extra) {
  content.text = stringAt(body, "text");
  extra.addString("catalog_id", stringAt(body, "catalog_id"));
  const Value* items = arrayAt(body, "product_items");
  if (items != nullptr) extra.addInt("order_items", static_cast<std::int64_t>(items->Size()));
}

// user_changed_number puts the new wa_id in system.wa_id (older payloads: new_wa_id);
// user_changed_user_id does the same for the BSUID.
void readSystem(const Value& body, Content& content, ExtraWriter& extra) {
  content.text = stringAt(body, "body");
  extra.addString("system_type", stringAt(body, "type"));
  extra.addString("new_wa_id", stringAt(body, "wa_id"));
  extra.addString("new_wa_id", stringAt(body, "new_wa_id"));
  extra.addString("new_user_id", stringAt(body, "user_id"));
  extra.addString("new_user_id", stringAt(body, "new_user_id"));
}

void readUnsupported(const Value& body, Content&, ExtraWriter& extra) {
  extra.addString("unsupported_type", stringAt(body, "type"));
}

void readRevoke(const Value& body, Content& content, ExtraWriter&) {
  content.target = stringAt(body, "original_message_id");
}

// An edit carries the new message in the same shape as an inbound one; the event's content
// type and text are those of the new version.
void readEdit(const Value& body, Content& content, ExtraWriter& extra) {
  content.target = stringAt(body, "original_message_id");
  const Value* message = objectAt(body, "message");
  if (message == nullptr) return;
  const api::Bytes type = stringAt(*message, "type");
  if (type.isNull()) return;
  content.contentType = type;
  const TypeRule* rule = findRule(type);
  if (rule == nullptr || rule->kind != EventKind::kMessage) return;
  const Value* nested = meta::member(*message, rule->type);
  rule->read(nested != nullptr ? *nested : nullValue(), content, extra);
}

constexpr TypeRule kTypeRules[] = {
    {"text", EventKind::kMessage, readText},
    {"image", EventKind::kMessage, readMedia},
    {"video", EventKind::kMessage, readMedia},
    {"document", EventKind::kMessage, readMedia},
    {"audio", EventKind::kMessage, readMedia},
    {"sticker", EventKind::kMessage, readMedia},
    {"location", EventKind::kMessage, readLocation},
    {"contacts", EventKind::kMessage, readContacts},
    {"interactive", EventKind::kMessage, readInteractive},
    {"button", EventKind::kMessage, readButton},
    {"order", EventKind::kMessage, readOrder},
    {"unsupported", EventKind::kMessage, readUnsupported},
    {"request_welcome", EventKind::kMessage, readNothing},
    {"reaction", EventKind::kReaction, readReaction},
    {"system", EventKind::kSystem, readSystem},
    {"revoke", EventKind::kMessageDeleted, readRevoke},
    {"edit", EventKind::kMessageEdited, readEdit},
};

const TypeRule* findRule(api::Bytes type) noexcept {
  for (const TypeRule& rule : kTypeRules) {
    if (type.equals(rule.type)) return &rule;
  }
  return nullptr;
}

// ---- events ----

// What every event of one `change` shares.
struct Change {
  api::Bytes wabaId;         // entry[].id
  api::Bytes field;          // changes[].field
  api::Bytes phoneNumberId;  // value.metadata.phone_number_id: the routing key
  const Value* contacts;     // value.contacts[] or nullptr
};

void deliver(api::Event& event, ExtraWriter& extra, const Value& raw, const Change& change,
             api::EventSink& out) {
  event.businessAccountId = change.phoneNumberId;
  extra.addString("waba_id", change.wabaId);
  const std::string extraJson = extra.finish();
  const std::string rawJson = meta::toJson(raw);
  event.extraJson = api::Bytes{extraJson.data(), extraJson.size()};
  event.rawJson = api::Bytes{rawJson.data(), rawJson.size()};
  out.onEvent(event);
}

// Something we do not understand; kept whole so nothing is lost.
void emitUnknown(const Change& change, const Value& raw, const char* element, api::EventSink& out) {
  api::Event event;
  event.kind = EventKind::kUnknown;
  ExtraWriter extra;
  extra.addString("field", change.field);
  if (element != nullptr) extra.addString("element", api::bytesOf(element));
  deliver(event, extra, raw, change, out);
}

// The person an element is about: wa_id when the phone number is shared, else the BSUID.
struct Identity {
  api::Bytes waId;
  api::Bytes bsuid;
};

Identity setUser(api::Event& event, ExtraWriter& extra, const Value& element, const char* waIdKey,
                 const char* bsuidKey) {
  const Identity id{stringAt(element, waIdKey), stringAt(element, bsuidKey)};
  if (nonEmpty(id.waId)) {
    event.externalUserId = id.waId;
    event.userIdKind = api::bytesOf(kIdKindWaId);
    extra.addString("user_id", nonEmpty(id.bsuid) ? id.bsuid : api::Bytes{});
  } else if (nonEmpty(id.bsuid)) {
    event.externalUserId = id.bsuid;
    event.userIdKind = api::bytesOf(kIdKindBsuid);
  }
  extra.addString("id_kind", event.userIdKind);
  return id;
}

// contacts[] is matched by id, never by index: a batch can hold several senders.
void setProfile(api::Event& event, ExtraWriter& extra, const Change& change, const Identity& id) {
  if (change.contacts == nullptr) return;
  for (const Value& contact : change.contacts->GetArray()) {
    const bool match = (nonEmpty(id.waId) && sameBytes(stringAt(contact, "wa_id"), id.waId)) ||
                       (nonEmpty(id.bsuid) && sameBytes(stringAt(contact, "user_id"), id.bsuid));
    if (!match) continue;
    const Value* profile = objectAt(contact, "profile");
    if (profile == nullptr) return;
    event.profileName = stringAt(*profile, "name");
    extra.addString("username", stringAt(*profile, "username"));
    return;
  }
}

// errors[0] of a message or status: the code is what the core acts on.
void setError(api::Event& event, ExtraWriter& extra, const Value& element) {
  const Value* error = firstObjectIn(element, "errors");
  if (error == nullptr) return;
  const Value* code = meta::member(*error, "code");
  if (code != nullptr && code->IsInt64()) {
    event.hasErrorCode = true;
    event.errorCode = code->GetInt64();
  }
  event.errorMessage = stringAt(*error, "message");
  if (event.errorMessage.isNull()) event.errorMessage = stringAt(*error, "title");
  extra.addString("error_title", stringAt(*error, "title"));
  const Value* data = objectAt(*error, "error_data");
  if (data != nullptr) extra.addString("error_details", stringAt(*data, "details"));
}

void addContextExtras(api::Event& event, ExtraWriter& extra, const Value& message) {
  const Value* context = objectAt(message, "context");
  if (context == nullptr) return;
  event.replyToMessageId = stringAt(*context, "id");
  extra.addScalar("forwarded", meta::member(*context, "forwarded"));
  extra.addScalar("frequently_forwarded", meta::member(*context, "frequently_forwarded"));
  const Value* product = objectAt(*context, "referred_product");
  if (product != nullptr) {
    extra.addString("referred_catalog_id", stringAt(*product, "catalog_id"));
    extra.addString("referred_product_retailer_id", stringAt(*product, "product_retailer_id"));
  }
}

// Click-to-WhatsApp ads: the referral rides on the first message.
void addReferralExtras(ExtraWriter& extra, const Value& message) {
  const Value* referral = objectAt(message, "referral");
  if (referral == nullptr) return;
  extra.addString("referral_source_id", stringAt(*referral, "source_id"));
  extra.addString("referral_source_type", stringAt(*referral, "source_type"));
  extra.addString("referral_source_url", stringAt(*referral, "source_url"));
  extra.addString("referral_headline", stringAt(*referral, "headline"));
  extra.addString("referral_body", stringAt(*referral, "body"));
  extra.addString("referral_media_type", stringAt(*referral, "media_type"));
  extra.addString("referral_ctwa_clid", stringAt(*referral, "ctwa_clid"));
}

// An inbound message (value.messages[]) or a business-app echo (value.message_echoes[]).
void emitMessage(const Change& change, const Value& message, bool echo, api::EventSink& out) {
  const api::Bytes id = stringAt(message, "id");
  const api::Bytes type = stringAt(message, "type");
  const Value* timestamp = meta::member(message, "timestamp");
  std::int64_t timestampMs = 0;
  if (id.isNull() || type.isNull() || timestamp == nullptr || !meta::timestampMs(*timestamp, timestampMs)) {
    emitUnknown(change, message, echo ? "message_echoes" : "messages", out);
    return;
  }
  api::Event event;
  ExtraWriter extra;
  event.direction = echo ? api::Direction::kOutbound : api::Direction::kInbound;
  event.externalMessageId = id;
  event.timestampMs = timestampMs;
  // Echoes go from the business number to the user: the person is `to`.
  const Identity identity = echo ? setUser(event, extra, message, "to", "to_user_id")
                                 : setUser(event, extra, message, "from", "from_user_id");
  if (echo) {
    extra.addString("source", api::bytesOf("business_app_echo"));
  } else {
    setProfile(event, extra, change, identity);
  }

  Content content;
  content.contentType = type;
  const TypeRule* rule = findRule(type);
  if (rule != nullptr) {
    event.kind = rule->kind;
    const Value* body = meta::member(message, rule->type);
    rule->read(body != nullptr ? *body : nullValue(), content, extra);
  } else {
    // A type newer than this plugin: still a message from the person (it opens the window).
    event.kind = EventKind::kMessage;
    content.contentType = api::bytesOf(kUnknownContentType);
    extra.addString("raw_type", type);
  }
  event.contentType = content.contentType;
  event.text = content.text;
  event.targetMessageId = content.target;

  addContextExtras(event, extra, message);
  addReferralExtras(extra, message);
  setError(event, extra, message);
  extra.addString("group_id", stringAt(message, "group_id"));
  const Value* identityChange = objectAt(message, "identity");
  if (identityChange != nullptr) extra.addString("identity_hash", stringAt(*identityChange, "hash"));
  deliver(event, extra, message, change, out);
}

void emitStatus(const Change& change, const Value& status, api::EventSink& out) {
  const api::Bytes id = stringAt(status, "id");
  const api::Bytes state = stringAt(status, "status");
  const Value* timestamp = meta::member(status, "timestamp");
  std::int64_t timestampMs = 0;
  if (id.isNull() || state.isNull() || timestamp == nullptr || !meta::timestampMs(*timestamp, timestampMs)) {
    emitUnknown(change, status, "statuses", out);
    return;
  }
  api::Event event;
  ExtraWriter extra;
  event.kind = EventKind::kStatus;
  event.direction = api::Direction::kOutbound;
  event.externalMessageId = id;
  event.status = state;
  event.timestampMs = timestampMs;
  setUser(event, extra, status, "recipient_id", "recipient_user_id");
  setError(event, extra, status);
  const api::Bytes callback = stringAt(status, "biz_opaque_callback_data");
  extra.addString("biz_opaque_callback_data", callback);
  // Our sends carry "gw:out:<gateway message id>" (send.cpp): report the id to the core.
  static constexpr char kOurs[] = "gw:out:";
  if (!callback.isNull() && callback.size > sizeof kOurs - 1 && std::memcmp(callback.data, kOurs, sizeof kOurs - 1) == 0) {
    extra.addString("gateway_message_id", api::Bytes{callback.data + sizeof kOurs - 1, callback.size - (sizeof kOurs - 1)});
  }
  extra.addString("recipient_type", stringAt(status, "recipient_type"));
  extra.addString("recipient_participant_id", stringAt(status, "recipient_participant_id"));
  // Legacy (< v24) conversation-based pricing and the per-message pricing that replaced it.
  const Value* conversation = objectAt(status, "conversation");
  if (conversation != nullptr) {
    extra.addString("conversation_id", stringAt(*conversation, "id"));
    const Value* origin = objectAt(*conversation, "origin");
    if (origin != nullptr) extra.addString("conversation_origin", stringAt(*origin, "type"));
  }
  const Value* pricing = objectAt(status, "pricing");
  if (pricing != nullptr) {
    extra.addString("pricing_model", stringAt(*pricing, "pricing_model"));
    extra.addString("pricing_category", stringAt(*pricing, "category"));
    extra.addString("pricing_type", stringAt(*pricing, "type"));
    extra.addScalar("billable", meta::member(*pricing, "billable"));
  }
  deliver(event, extra, status, change, out);
}

// value.errors[]: an app/account-level failure, tied to no person or message.
void emitAccountError(const Change& change, const Value& error, api::EventSink& out) {
  api::Event event;
  ExtraWriter extra;
  event.kind = EventKind::kAccountError;
  const Value* code = meta::member(error, "code");
  if (code != nullptr && code->IsInt64()) {
    event.hasErrorCode = true;
    event.errorCode = code->GetInt64();
  }
  event.errorMessage = stringAt(error, "message");
  if (event.errorMessage.isNull()) event.errorMessage = stringAt(error, "title");
  extra.addString("error_title", stringAt(error, "title"));
  const Value* data = objectAt(error, "error_data");
  if (data != nullptr) extra.addString("error_details", stringAt(*data, "details"));
  deliver(event, extra, error, change, out);
}

// ---- envelope ----

// Fields whose value is the messages/echoes/statuses/errors container.
bool isMessagingField(api::Bytes field) noexcept {
  return field.equals("messages") || field.equals("smb_message_echoes");
}

// The arrays of a messaging value, in the order their events are emitted.
constexpr const char* kValueArrays[] = {"messages", "message_echoes", "statuses", "errors"};

const char* checkMessagingValue(const Value& value) {
  if (!value.IsObject()) return "changes[].value is not an object";
  const Value* metadata = objectAt(value, "metadata");
  if (metadata == nullptr || stringAt(*metadata, "phone_number_id").isNull()) {
    return "changes[].value.metadata.phone_number_id missing";
  }
  const Value* contacts = meta::member(value, "contacts");
  if (contacts != nullptr && !contacts->IsArray()) return "value.contacts is not an array";
  for (const char* name : kValueArrays) {
    const Value* array = meta::member(value, name);
    if (array != nullptr && !array->IsArray()) return "value array has a wrong type";
  }
  return nullptr;
}

// Checks every envelope level before anything is emitted, so a malformed body produces no
// events at all.
const char* checkEnvelope(const Value& doc) {
  const Value* entries = arrayAt(doc, "entry");
  if (entries == nullptr) return "entry is not an array";
  for (const Value& entry : entries->GetArray()) {
    if (!entry.IsObject()) return "entry[] is not an object";
    const Value* changes = arrayAt(entry, "changes");
    if (changes == nullptr) return "entry[].changes is not an array";
    for (const Value& change : changes->GetArray()) {
      if (!change.IsObject()) return "changes[] is not an object";
      const api::Bytes field = stringAt(change, "field");
      if (field.isNull()) return "changes[].field is not a string";
      if (!isMessagingField(field)) continue;
      const Value* value = meta::member(change, "value");
      if (value == nullptr) return "changes[].value missing";
      if (const char* reason = checkMessagingValue(*value)) return reason;
    }
  }
  return nullptr;
}

void emitMessagingValue(const Change& change, const Value& value, api::EventSink& out) {
  bool any = false;
  for (const char* name : kValueArrays) {
    const Value* array = arrayAt(value, name);
    if (array == nullptr) continue;
    any = true;
    for (const Value& element : array->GetArray()) {
      if (!element.IsObject()) {
        emitUnknown(change, element, name, out);
      } else if (std::strcmp(name, "messages") == 0) {
        emitMessage(change, element, false, out);
      } else if (std::strcmp(name, "message_echoes") == 0) {
        emitMessage(change, element, true, out);
      } else if (std::strcmp(name, "statuses") == 0) {
        emitStatus(change, element, out);
      } else {
        emitAccountError(change, element, out);
      }
    }
  }
  if (!any) emitUnknown(change, value, nullptr, out);
}

void emitEnvelope(const Value& doc, api::EventSink& out) {
  for (const Value& entry : doc["entry"].GetArray()) {
    const api::Bytes wabaId = stringAt(entry, "id");
    for (const Value& changeValue : entry["changes"].GetArray()) {
      Change change{wabaId, stringAt(changeValue, "field"), api::Bytes{}, nullptr};
      const Value* value = meta::member(changeValue, "value");
      const Value* metadata = value != nullptr ? objectAt(*value, "metadata") : nullptr;
      if (metadata != nullptr) change.phoneNumberId = stringAt(*metadata, "phone_number_id");
      if (!isMessagingField(change.field)) {
        // account_update, template status, calls, … : not ours to interpret, but kept.
        emitUnknown(change, changeValue, nullptr, out);
        continue;
      }
      change.contacts = arrayAt(*value, "contacts");
      emitMessagingValue(change, *value, out);
    }
  }
}

// Everything emitted must be writable as JSON again, but RapidJSON 1.1.0 accepts two things
// that are not: a lone low-surrogate escape ("\udc00") becomes bytes that are not UTF-8 despite
// kParseValidateEncodingFlag, and "17677728150001e300" becomes inf. Checks every key and value;
// recursion depth is bounded by kMaxJsonDepth.
bool writableAsJson(const Value& v) {
  if (v.IsString()) return meta::isUtf8(v.GetString(), v.GetStringLength());
  if (v.IsDouble()) return std::isfinite(v.GetDouble());
  if (v.IsArray()) {
    for (const Value& element : v.GetArray()) {
      if (!writableAsJson(element)) return false;
    }
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (!writableAsJson(m.name) || !writableAsJson(m.value)) return false;
    }
  }
  return true;
}

api::Outcome fail(api::Outcome outcome, const char* why, const char** reason) {
  if (reason != nullptr) *reason = why;
  return outcome;
}

}  // namespace

bool jsonNestingWithin(const char* json, std::size_t size, int maxDepth) noexcept {
  int depth = 0;
  bool inString = false;
  for (std::size_t i = 0; i < size; ++i) {
    const char c = json[i];
    if (inString) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        inString = false;
      }
    } else if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      if (++depth > maxDepth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

api::Outcome parseWebhookBody(api::Bytes body, api::EventSink& out, const char** reason) {
  if (body.isNull() || body.size == 0) return fail(api::Outcome::kMalformed, "empty body", reason);
  if (body.size > kMaxBodyBytes) return fail(api::Outcome::kMalformed, "body too large", reason);
  // RapidJSON treats NUL as the end of input, which would hide trailing garbage; raw NUL is
  // never valid JSON anyway.
  if (std::memchr(body.data, '\0', body.size) != nullptr) {
    return fail(api::Outcome::kMalformed, "NUL byte in body", reason);
  }
  if (!jsonNestingWithin(body.data, body.size, kMaxJsonDepth)) {
    return fail(api::Outcome::kMalformed, "JSON nested too deeply", reason);
  }
  meta::ParseDocument parsed;
  rapidjson::Document& doc = parsed.get();
  // Default flags reject trailing garbage; the iterative parser never recurses.
  doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(body.data, body.size);
  if (doc.HasParseError()) return fail(api::Outcome::kMalformed, "not JSON", reason);
  if (!writableAsJson(doc)) return fail(api::Outcome::kMalformed, "lone surrogate or infinite number", reason);
  if (!doc.IsObject()) return fail(api::Outcome::kMalformed, "not a JSON object", reason);
  const api::Bytes object = stringAt(doc, "object");
  if (object.isNull()) return fail(api::Outcome::kMalformed, "object is not a string", reason);
  if (!object.equals(kWebhookObject)) return fail(api::Outcome::kUnsupported, "not a WhatsApp webhook", reason);
  if (const char* why = checkEnvelope(doc)) return fail(api::Outcome::kMalformed, why, reason);
  emitEnvelope(doc, out);
  return api::Outcome::kOk;
}

}  // namespace gateway::plugins::whatsapp
