#include "send.h"

#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "meta_common.h"
#include "translate.h"

namespace gateway::plugins::whatsapp {

namespace {

using rapidjson::Value;

// Validating writer: text that is not UTF-8 makes String() fail instead of sending Meta a
// body it would reject (or worse, mangle).
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                                     rapidjson::CrtAllocator, rapidjson::kWriteValidateEncodingFlag>;

bool nonEmpty(api::Bytes b) noexcept { return !b.isNull() && b.size > 0; }

bool writeString(JsonWriter& w, api::Bytes b) {
  return w.String(b.data != nullptr ? b.data : "", static_cast<rapidjson::SizeType>(b.size));
}

// The gateway's attachment types and what WhatsApp calls them. Audio and stickers have no
// caption on WhatsApp.
struct AttachmentRule {
  const char* gatewayType;
  const char* whatsappType;
  bool takesCaption;
};

constexpr AttachmentRule kAttachmentRules[] = {
    {"image", "image", true},     {"video", "video", true},     {"document", "document", true},
    {"file", "document", true},   {"audio", "audio", false},    {"sticker", "sticker", false},
};

const AttachmentRule* findAttachmentRule(api::Bytes type) noexcept {
  for (const AttachmentRule& rule : kAttachmentRules) {
    if (type.equals(rule.gatewayType)) return &rule;
  }
  return nullptr;
}

// Parses untrusted JSON the way the webhook parser does: bounded depth, strict, UTF-8.
bool parseJson(api::Bytes text, rapidjson::Document& doc) {
  if (text.isNull() || text.size == 0 || text.size > kMaxBodyBytes) return false;
  if (!jsonNestingWithin(text.data, text.size, kMaxJsonDepth)) return false;
  doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(text.data, text.size);
  return !doc.HasParseError();
}

api::Outcome writeText(const api::OutboundMessage& m, JsonWriter& w) {
  if (!nonEmpty(m.text)) return api::Outcome::kMalformed;
  w.Key("type");
  w.String("text");
  w.Key("text");
  w.StartObject();
  w.Key("preview_url");
  w.Bool(false);
  w.Key("body");
  if (!writeString(w, m.text)) return api::Outcome::kMalformed;
  w.EndObject();
  return api::Outcome::kOk;
}

api::Outcome writeAttachment(const api::OutboundMessage& m, JsonWriter& w) {
  const AttachmentRule* rule = findAttachmentRule(m.attachmentType);
  if (rule == nullptr) return api::Outcome::kUnsupported;
  if (!nonEmpty(m.attachmentUrl)) return api::Outcome::kMalformed;
  const bool caption = nonEmpty(m.attachmentCaption);
  if (caption && !rule->takesCaption) return api::Outcome::kUnsupported;
  w.Key("type");
  w.String(rule->whatsappType);
  w.Key(rule->whatsappType);
  w.StartObject();
  w.Key("link");
  if (!writeString(w, m.attachmentUrl)) return api::Outcome::kMalformed;
  if (caption) {
    w.Key("caption");
    if (!writeString(w, m.attachmentCaption)) return api::Outcome::kMalformed;
  }
  w.EndObject();
  return api::Outcome::kOk;
}

// The CRM gives {name, language, components}; WhatsApp wants exactly that as "template".
api::Outcome writeTemplate(const api::OutboundMessage& m, JsonWriter& w) {
  rapidjson::Document templateDoc;
  if (!parseJson(m.templateJson, templateDoc) || !templateDoc.IsObject()) return api::Outcome::kMalformed;
  w.Key("type");
  w.String("template");
  w.Key("template");
  return templateDoc.Accept(w) ? api::Outcome::kOk : api::Outcome::kMalformed;
}

constexpr char kCallbackPrefix[] = "gw:out:";

api::Outcome writeBody(const api::OutboundMessage& m, std::string& body) {
  // BSUID recipients (username users) are addressed with `recipient` instead of `to`.
  const char* recipientKey = nullptr;
  if (m.recipientIdKind.isNull() || m.recipientIdKind.equals("wa_id")) {
    recipientKey = "to";
  } else if (m.recipientIdKind.equals("bsuid")) {
    recipientKey = "recipient";
  } else {
    return api::Outcome::kUnsupported;
  }
  if (!nonEmpty(m.recipientId)) return api::Outcome::kMalformed;

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("messaging_product");
  w.String("whatsapp");
  w.Key("recipient_type");
  w.String("individual");
  w.Key(recipientKey);
  if (!writeString(w, m.recipientId)) return api::Outcome::kMalformed;
  if (nonEmpty(m.replyToExternalId)) {
    w.Key("context");
    w.StartObject();
    w.Key("message_id");
    if (!writeString(w, m.replyToExternalId)) return api::Outcome::kMalformed;
    w.EndObject();
  }
  // Our message id rides along and comes back in every status webhook: it lets the core
  // settle a send whose HTTP answer was lost (timeout) without sending it twice.
  if (nonEmpty(m.messageId)) {
    const std::string callback = std::string(kCallbackPrefix) + std::string(m.messageId.data, m.messageId.size);
    w.Key("biz_opaque_callback_data");
    w.String(callback.data(), static_cast<rapidjson::SizeType>(callback.size()));
  }
  // m.tag is ignored: WhatsApp has no message tags (traits.tagWindowSeconds == 0), outside
  // the window only templates go through.
  api::Outcome outcome = api::Outcome::kUnsupported;
  switch (m.kind) {
    case api::SendKind::kText: outcome = writeText(m, w); break;
    case api::SendKind::kAttachment: outcome = writeAttachment(m, w); break;
    case api::SendKind::kTemplate: outcome = writeTemplate(m, w); break;
  }
  if (outcome != api::Outcome::kOk) return outcome;
  w.EndObject();
  if (!w.IsComplete()) return api::Outcome::kMalformed;
  body.assign(buffer.GetString(), buffer.GetSize());
  return api::Outcome::kOk;
}

template <std::size_t N>
bool contains(const std::int64_t (&codes)[N], std::int64_t code) noexcept {
  for (std::int64_t c : codes) {
    if (c == code) return true;
  }
  return false;
}

// shared/platforms/README.md §8 and whatsapp.md §9.
constexpr std::int64_t kAuthCodes[] = {0, 190};
constexpr std::int64_t kRateLimitCodes[] = {4, 17, 32, 613, 80007, 130429, 131048, 131056};
constexpr std::int64_t kTransientCodes[] = {1, 2, 131000, 131016, 131057, 133004};

api::SendErrorClass classifyHttpStatus(int httpStatus) noexcept {
  if (httpStatus == 429) return api::SendErrorClass::kRateLimited;
  if (httpStatus >= 500 && httpStatus <= 599) return api::SendErrorClass::kTransient;
  return api::SendErrorClass::kPermanent;
}

api::Outcome readAccepted(const rapidjson::Document& doc, bool json, api::SendResult& out) {
  if (!json || !doc.IsObject()) return api::Outcome::kMalformed;
  const Value* messages = meta::member(doc, "messages");
  if (messages != nullptr && messages->IsArray() && !messages->Empty()) {
    const Value* id = meta::member((*messages)[0], "id");
    if (id != nullptr && id->IsString() && id->GetStringLength() > 0) {
      out.accepted(api::Bytes{id->GetString(), id->GetStringLength()});
      return api::Outcome::kOk;
    }
  }
  const Value* success = meta::member(doc, "success");
  if (success != nullptr && success->IsBool() && success->GetBool()) {
    out.accepted(api::Bytes{});
    return api::Outcome::kOk;
  }
  return api::Outcome::kMalformed;
}

api::Outcome readFailed(int httpStatus, const rapidjson::Document& doc, bool json, api::SendResult& out) {
  const Value* error = json ? meta::member(doc, "error") : nullptr;
  const Value* code = error != nullptr ? meta::member(*error, "code") : nullptr;
  if (code == nullptr || !code->IsInt64()) {
    const std::string message = "HTTP " + std::to_string(httpStatus) + " without a Graph error object";
    out.failed(classifyHttpStatus(httpStatus), 0, 0, api::Bytes{message.data(), message.size()});
    return api::Outcome::kOk;
  }
  const Value* subcode = meta::member(*error, "error_subcode");
  const Value* transient = meta::member(*error, "is_transient");
  const bool isTransient = transient != nullptr && transient->IsBool() && transient->GetBool();
  const Value* message = meta::member(*error, "message");
  out.failed(classifyGraphError(httpStatus, code->GetInt64(), isTransient), code->GetInt64(),
             subcode != nullptr && subcode->IsInt64() ? subcode->GetInt64() : 0,
             message != nullptr && message->IsString()
                 ? api::Bytes{message->GetString(), message->GetStringLength()}
                 : api::Bytes{});
  return api::Outcome::kOk;
}

}  // namespace

api::Outcome buildSendRequest(const SendTarget& target, const api::OutboundMessage& message,
                              api::RequestWriter& out) {
  std::string body;
  const api::Outcome outcome = writeBody(message, body);
  if (outcome != api::Outcome::kOk) return outcome;
  const std::string path = "/" + target.apiVersion + "/" + target.phoneNumberId + "/messages";
  const std::string authorization = "Bearer " + target.accessToken;
  out.setMethod(api::bytesOf("POST"));
  out.setPath(api::Bytes{path.data(), path.size()});
  out.addHeader(api::bytesOf("Authorization"), api::Bytes{authorization.data(), authorization.size()});
  out.addHeader(api::bytesOf("Content-Type"), api::bytesOf("application/json"));
  out.setBody(api::Bytes{body.data(), body.size()});
  return api::Outcome::kOk;
}

api::SendErrorClass classifyGraphError(int httpStatus, std::int64_t code, bool isTransient) noexcept {
  if (contains(kAuthCodes, code)) return api::SendErrorClass::kAuth;
  if (contains(kRateLimitCodes, code)) return api::SendErrorClass::kRateLimited;
  if (contains(kTransientCodes, code) || isTransient) return api::SendErrorClass::kTransient;
  // A code we do not list: the HTTP status is the best remaining signal.
  return classifyHttpStatus(httpStatus);
}

api::Outcome readSendResponse(int httpStatus, api::Bytes body, api::SendResult& out) {
  meta::ParseDocument parsed;
  rapidjson::Document& doc = parsed.get();
  const bool json = parseJson(body, doc);
  if (httpStatus >= 200 && httpStatus <= 299) return readAccepted(doc, json, out);
  return readFailed(httpStatus, doc, json, out);
}

}  // namespace gateway::plugins::whatsapp
