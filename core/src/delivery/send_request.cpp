#include "delivery/send_request.h"

#include <cstring>
#include <set>

#include "util/json.h"

namespace gateway::delivery {

namespace api = gateway::channel_api;

namespace {

api::Bytes view(const std::optional<std::string>& s) {
  return s ? api::Bytes{s->data(), s->size()} : api::Bytes{};
}

std::optional<std::string> stringAt(const rapidjson::Value& obj, const char* key) {
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// A member that must be a string when present; sets error otherwise.
bool optionalString(const rapidjson::Value& obj, const char* key, const std::string& path,
                    std::optional<std::string>& out, std::string& error) {
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return true;
  if (!it->value.IsString()) {
    error = path + " must be a string";
    return false;
  }
  out = std::string(it->value.GetString(), it->value.GetStringLength());
  return true;
}

}  // namespace

api::SendKind SendRequest::kind() const {
  if (templateJson) return api::SendKind::kTemplate;
  if (attachmentUrl) return api::SendKind::kAttachment;
  return api::SendKind::kText;
}

std::optional<SendRequest> parseSendBody(const std::string& body, std::string& error,
                                         const char* const* extraAllowedKeys) {
  rapidjson::Document doc;
  if (!util::parseJson(body, doc) || !doc.IsObject()) {
    error = "body must be a JSON object";
    return std::nullopt;
  }
  std::set<std::string> allowed{"text", "template", "attachment", "reply_to", "tag"};
  for (const char* const* k = extraAllowedKeys; k != nullptr && *k != nullptr; ++k) allowed.insert(*k);
  for (const auto& m : doc.GetObject()) {
    if (!allowed.count(m.name.GetString())) {
      error = std::string("unknown field ") + m.name.GetString();
      return std::nullopt;
    }
  }
  SendRequest r;
  if (!optionalString(doc, "text", "text", r.text, error) ||
      !optionalString(doc, "reply_to", "reply_to", r.replyTo, error) ||
      !optionalString(doc, "tag", "tag", r.tag, error)) {
    return std::nullopt;
  }
  const auto tmpl = doc.FindMember("template");
  if (tmpl != doc.MemberEnd() && !tmpl->value.IsNull()) {
    if (!tmpl->value.IsObject() || !stringAt(tmpl->value, "name") || stringAt(tmpl->value, "name")->empty()) {
      error = "template must be an object with a name";
      return std::nullopt;
    }
    r.templateName = stringAt(tmpl->value, "name");
    r.templateJson = util::toJson(tmpl->value);
  }
  const auto attachment = doc.FindMember("attachment");
  if (attachment != doc.MemberEnd() && !attachment->value.IsNull()) {
    const rapidjson::Value& a = attachment->value;
    if (!a.IsObject()) {
      error = "attachment must be an object";
      return std::nullopt;
    }
    if (!optionalString(a, "type", "attachment.type", r.attachmentType, error) ||
        !optionalString(a, "url", "attachment.url", r.attachmentUrl, error) ||
        !optionalString(a, "caption", "attachment.caption", r.attachmentCaption, error)) {
      return std::nullopt;
    }
    static const std::set<std::string> kTypes{"image", "audio", "video", "document", "file", "sticker"};
    if (!r.attachmentType || !kTypes.count(*r.attachmentType)) {
      error = "attachment.type must be one of image, audio, video, document, file, sticker";
      return std::nullopt;
    }
    if (!r.attachmentUrl || (r.attachmentUrl->rfind("https://", 0) != 0 && r.attachmentUrl->rfind("http://", 0) != 0)) {
      error = "attachment.url must be an http(s) URL";
      return std::nullopt;
    }
  }
  const int bodies = (r.text ? 1 : 0) + (r.templateJson ? 1 : 0) + (r.attachmentUrl ? 1 : 0);
  if (bodies != 1) {
    error = "exactly one of text, template or attachment is required";
    return std::nullopt;
  }
  if (r.text && r.text->empty()) {
    error = "text must not be empty";
    return std::nullopt;
  }
  if (r.tag && *r.tag != "HUMAN_AGENT") {
    error = "tag must be HUMAN_AGENT";
    return std::nullopt;
  }
  return r;
}

std::string SendRequest::toJson() const {
  util::JsonWriter w;
  w.startObject();
  if (text) w.field("text", *text);
  if (templateJson) w.key("template").raw(*templateJson);
  if (attachmentUrl) {
    w.key("attachment").startObject().field("type", attachmentType).field("url", attachmentUrl);
    if (attachmentCaption) w.field("caption", *attachmentCaption);
    w.endObject();
  }
  if (replyTo) w.field("reply_to", *replyTo);
  if (replyToExternalId) w.field("reply_to_external_id", *replyToExternalId);
  if (tag) w.field("tag", *tag);
  w.endObject();
  return w.str();
}

std::optional<SendRequest> SendRequest::fromJson(const std::string& json) {
  static const char* const kStoredKeys[] = {"reply_to_external_id", nullptr};
  std::string error;
  auto r = parseSendBody(json, error, kStoredKeys);
  if (!r) return std::nullopt;
  rapidjson::Document doc;
  util::parseJson(json, doc);
  r->replyToExternalId = stringAt(doc, "reply_to_external_id");
  return r;
}

api::OutboundMessage outboundView(const SendRequest& r, const std::string& messageId, const std::string& recipientId,
                                  const std::string& recipientKind) {
  api::OutboundMessage m;
  m.kind = r.kind();
  m.messageId = api::Bytes{messageId.data(), messageId.size()};
  m.recipientId = api::Bytes{recipientId.data(), recipientId.size()};
  m.recipientIdKind = api::Bytes{recipientKind.data(), recipientKind.size()};
  m.text = view(r.text);
  m.templateJson = view(r.templateJson);
  m.attachmentType = view(r.attachmentType);
  m.attachmentUrl = view(r.attachmentUrl);
  m.attachmentCaption = view(r.attachmentCaption);
  m.replyToExternalId = view(r.replyToExternalId);
  m.tag = view(r.tag);
  return m;
}

}  // namespace gateway::delivery
