#include "inbound/ingest.h"

#include <set>

#include "crm/render.h"
#include "crm/profile.h"
#include "crm/repository.h"
#include "crm/status.h"
#include "delivery/outbox.h"
#include "util/json.h"

namespace gateway::inbound {

namespace api = gateway::channel_api;
using crm::Contact;
using crm::Conversation;
using crm::Message;
using storage::Tx;

namespace {

std::optional<std::string> copy(api::Bytes b) {
  if (b.isNull()) return std::nullopt;
  return std::string(b.data, b.size);
}

std::string copyOr(api::Bytes b, const char* fallback) {
  return b.isNull() ? std::string(fallback) : std::string(b.data, b.size);
}

// The contract's message types; platform names outside it map here or to `unsupported`.
std::pair<std::string, std::optional<std::string>> contractType(const std::optional<std::string>& platformType) {
  static const std::set<std::string> kTypes{
      "text",     "image",  "audio",    "video",    "document", "sticker",       "location",
      "contacts", "interactive", "button", "reaction", "order", "postback", "referral",
      "share",    "story_mention", "story_reply", "template", "unsupported"};
  static const std::map<std::string, std::string> kAliases{
      {"file", "document"}, {"ig_reel", "share"}, {"reel", "share"}, {"fallback", "share"}};
  const std::string type = platformType.value_or("unsupported");
  if (kTypes.count(type)) return {type, std::nullopt};
  const auto alias = kAliases.find(type);
  if (alias != kAliases.end()) return {alias->second, std::nullopt};
  return {"unsupported", type};
}

std::optional<std::string> extraString(const rapidjson::Document& extra, const char* key) {
  if (!extra.IsObject()) return std::nullopt;
  const auto it = extra.FindMember(key);
  if (it == extra.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// Attachments as the API shows them, from the plugin's extra details.
std::string attachmentsFrom(const std::string& type, const rapidjson::Document& extra) {
  util::JsonWriter w;
  w.startArray();
  if (extra.IsObject()) {
    const auto urls = extra.FindMember("attachment_urls");
    if (urls != extra.MemberEnd() && urls->value.IsArray()) {
      for (const auto& url : urls->value.GetArray()) {
        if (url.IsString()) w.startObject().field("type", type).field("url", std::string(url.GetString())).endObject();
      }
    }
    if (const auto media = extraString(extra, "media_id")) {
      w.startObject().field("type", type).field("media_id", *media);
      for (const char* key : {"mime_type", "filename"}) {
        if (const auto v = extraString(extra, key)) w.field(key, *v);
      }
      w.endObject();
    }
  }
  w.endArray();
  return w.str();
}

bool extraFlag(const rapidjson::Document& extra, const char* key) {
  if (!extra.IsObject()) return false;
  const auto it = extra.FindMember(key);
  return it != extra.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

class Ingest {
 public:
  Ingest(Tx& tx, const app::ChannelSet& channels, std::int64_t now) : tx_(tx), channels_(channels), now_(now) {}

  void apply(const app::RuntimeChannel& channel, const InboundEvent& e) {
    switch (e.kind) {
      case api::EventKind::kMessage:
        e.direction == api::Direction::kInbound ? inboundMessage(channel, e, "message") : echo(channel, e);
        break;
      case api::EventKind::kPostback:
      case api::EventKind::kReferral:
      case api::EventKind::kReaction:
        inboundMessage(channel, e, "message");
        break;
      case api::EventKind::kSystem:
        inboundMessage(channel, e, "system");
        numberChange(channel, e);
        break;
      case api::EventKind::kHandover:
        inboundMessage(channel, e, "system");
        break;
      case api::EventKind::kStatus:
        status(channel, e);
        break;
      case api::EventKind::kDelivery:
      case api::EventKind::kRead:
        receipt(channel, e);
        break;
      case api::EventKind::kMessageEdited:
      case api::EventKind::kMessageDeleted:
        changeTarget(channel, e);
        break;
      case api::EventKind::kAccountError:
        result.unusable.push_back("account_error");
        break;
      case api::EventKind::kUnknown:
        result.unusable.push_back("unknown_event");
        break;
    }
  }

  IngestResult result;

 private:
  struct Party {
    Contact contact;
    Conversation conversation;
  };

  void event(const char* type, const std::string& data) {
    result.lastEventSeq = crm::appendEvent(tx_, type, now_, data);
  }

  // The contact and conversation of the person behind an event, created on first contact.
  Party party(const app::RuntimeChannel& channel, const InboundEvent& e) {
    const std::string& channelId = channel.config.id;
    // Someone we know, writing on a channel we already talk on: one query.
    if (auto known = crm::findPartyByIdentity(tx_, channelId, e.externalUserId); known && known->conversation) {
      if (!known->contact.name && e.profileName) {
        known->contact.name = e.profileName;
        known->contact.updatedAt = now_;
        crm::updateContact(tx_, known->contact);
      }
      return Party{std::move(known->contact), std::move(*known->conversation)};
    }
    const std::string kind = e.userIdKind.empty() ? channel.traits->userIdKind : e.userIdKind;
    std::optional<std::string> contactId = crm::findContactIdByIdentity(tx_, channelId, e.externalUserId);
    const bool knownIdentity = contactId.has_value();
    bool newContact = false;
    if (!contactId && kind == "wa_id") {
      // A WhatsApp id is a phone number: join the contact the CRM already has for it.
      contactId = crm::findContactIdByPhone(tx_, "+" + e.externalUserId);
    }
    if (!contactId) {
      Contact c;
      c.id = crm::newId("ct_");
      c.name = e.profileName;
      if (kind == "wa_id") c.phone = "+" + e.externalUserId;
      c.createdAt = c.updatedAt = now_;
      crm::insertContact(tx_, c);
      contactId = c.id;
      newContact = true;
    }
    if (!knownIdentity) crm::insertIdentity(tx_, *contactId, crm::Identity{channelId, kind, e.externalUserId}, now_);
    Contact contact = *crm::findContact(tx_, *contactId);
    if (!contact.name && e.profileName) {
      contact.name = e.profileName;
      contact.updatedAt = now_;
      crm::updateContact(tx_, contact);
    }
    std::optional<Conversation> conversation = crm::findConversationFor(tx_, *contactId, channelId);
    if (!conversation) {
      Conversation c;
      c.id = crm::newId("cv_");
      c.contactId = *contactId;
      c.channelId = channelId;
      c.createdAt = now_;
      crm::insertConversation(tx_, c);
      conversation = c;
      // A new contact's event carries its first conversation; an existing one gets its own.
      if (newContact) event("contact.created", crm::renderContact(tx_, channels_, contact, now_));
      else event("conversation.created", crm::renderConversation(channels_, c, contact.blocked, now_));
      // In the activity just before the message that started it. Its message.created is in
      // the feed (also for a blocked contact), so it counts for lastEventSeq.
      const auto started = crm::appendSystemMessage(tx_, c, crm::kSystemConversationStarted, "Conversation started",
                                                    now_, "{}", e.timestampMs);
      note(started.eventSeq);
    }
    return Party{std::move(contact), std::move(*conversation)};
  }

  Message messageFrom(const app::RuntimeChannel& channel, const InboundEvent& e, const Party& p,
                      const char* kind) {
    Message m;
    m.id = crm::newId("msg_");
    m.conversationId = p.conversation.id;
    m.contactId = p.contact.id;
    m.channelId = channel.config.id;
    m.kind = kind;
    const bool system = std::string(kind) == "system";
    m.type = system ? e.contentType.value_or("system") : e.messageType;
    m.text = e.text;
    m.externalId = e.externalMessageId.empty() ? std::nullopt : std::optional<std::string>(e.externalMessageId);
    m.replyToExternalId = e.kind == api::EventKind::kReaction ? e.targetMessageId : e.replyToMessageId;
    if (m.replyToExternalId) {
      if (auto target = crm::findMessageByExternalId(tx_, m.channelId, *m.replyToExternalId)) m.replyTo = target->id;
    }
    m.extra = e.extraJson.empty() ? "{}" : e.extraJson;
    if (!system && e.rawType) {
      m.rawType = e.rawType;  // nothing is lost: the platform's own type and object
      m.raw = e.rawJson;
    }
    m.attachments = e.attachments;
    m.occurredAt = e.timestampMs;
    m.createdAt = m.updatedAt = now_;
    return m;
  }

  void inboundMessage(const app::RuntimeChannel& channel, const InboundEvent& e, const char* kind) {
    const Party p = party(channel, e);
    Message m = messageFrom(channel, e, p, kind);
    m.direction = "inbound";
    m.status = "received";
    m.suppressed = p.contact.blocked;  // stored, acknowledged, kept out of feed and listings
    if (!crm::insertMessage(tx_, m)) {
      ++result.duplicates;
      return;
    }
    ++result.stored;
    // The customer-service window opens on what the person does, not on receipts.
    if (std::string(kind) == "message" && e.kind != api::EventKind::kReaction) {
      crm::recordInbound(tx_, p.conversation.id, e.timestampMs);
    }
    if (!m.suppressed) event("message.created", crm::renderMessage(m));
  }

  // Something the business sent, seen through the platform: our own send (already
  // recorded, or about to be) or another app's message to the person.
  void echo(const app::RuntimeChannel& channel, const InboundEvent& e) {
    if (crm::findMessageByExternalId(tx_, channel.config.id, e.externalMessageId)) {
      ++result.duplicates;
      return;
    }
    if (e.ownEcho) {
      if (reconciled(channel, e)) {
        ++result.stored;
        return;
      }
      // Our send whose result is not recorded yet: it will be, with this id.
      crm::parkStatus(tx_, channel.config.id, e.externalMessageId, crm::ParkedStatus{"sent", e.timestampMs, {}});
      ++result.parked;
      return;
    }
    const Party p = party(channel, e);
    Message m = messageFrom(channel, e, p, "message");
    m.direction = "outbound";
    m.status = "sent";
    m.suppressed = p.contact.blocked;
    if (!crm::insertMessage(tx_, m)) {
      ++result.duplicates;
      return;
    }
    ++result.stored;
    if (!m.suppressed) event("message.created", crm::renderMessage(m));
    note(crm::applyParkedStatuses(tx_, m, now_));  // receipts that came before the echo
  }

  // WhatsApp's user_changed_number: the person now writes from another number. The
  // contact keeps its history and gains the new wa_id (and phone).
  void numberChange(const app::RuntimeChannel& channel, const InboundEvent& e) {
    const auto& newId = e.newWaId;
    if (!newId || newId->empty() || *newId == e.externalUserId) return;
    const auto contactId = crm::findContactIdByIdentity(tx_, channel.config.id, e.externalUserId);
    if (!contactId) return;
    crm::insertIdentity(tx_, *contactId, crm::Identity{channel.config.id, "wa_id", *newId}, now_);
    Contact contact = *crm::findContact(tx_, *contactId);
    contact.phone = "+" + *newId;
    contact.updatedAt = now_;
    crm::updateContact(tx_, contact);
    event("contact.updated", crm::renderContact(tx_, channels_, contact, now_));
  }

  static std::string platformStatus(const InboundEvent& e) {
    const std::string s = e.status.value_or("");
    return s == "played" ? "read" : s;  // a played voice note has been read
  }

  static std::optional<std::string> errorOf(const InboundEvent& e) {
    if (!e.errorCode && !e.errorMessage) return std::nullopt;
    util::JsonWriter w;
    w.startObject().field("code", std::string("platform_error"))
        .field("message", e.errorMessage.value_or("the platform reported a failure"))
        .key("platform_code");
    if (e.errorCode) w.integer(*e.errorCode);
    else w.null();
    w.endObject();
    return w.str();
  }

  // Moves an outbound message forward; parks the status when the message is not recorded yet.
  void status(const app::RuntimeChannel& channel, const InboundEvent& e) {
    const std::string& externalId = e.externalMessageId;
    const std::string status = platformStatus(e);
    const std::int64_t at = e.timestampMs;
    const std::optional<std::string> error = errorOf(e);
    if (crm::statusRank(status) < 0 && status != "failed") {
      result.unusable.push_back("unknown_status");
      return;
    }
    std::optional<Message> m = crm::findMessageByExternalId(tx_, channel.config.id, externalId);
    if (!m && reconciled(channel, e)) m = crm::findMessageByExternalId(tx_, channel.config.id, externalId);
    if (!m) {
      crm::parkStatus(tx_, channel.config.id, externalId, crm::ParkedStatus{status, at, error});
      ++result.parked;
      return;
    }
    advance(*m, status, error);
  }

  void advance(Message& m, const std::string& status, const std::optional<std::string>& error) {
    if (!crm::statusMayAdvance(m.status, status)) {
      ++result.duplicates;
      return;
    }
    note(crm::advanceStatus(tx_, m, status, error, now_));
    ++result.stored;
  }

  void note(std::int64_t eventSeq) {
    if (eventSeq > 0) result.lastEventSeq = eventSeq;
  }

  // Our own message id, which the plugins report from the echo's metadata or the status's
  // callback data: it settles a send whose outcome was unknown.
  bool reconciled(const app::RuntimeChannel& channel, const InboundEvent& e) {
    if (!e.gatewayMessageId || e.externalMessageId.empty()) return false;
    const std::int64_t seq = delivery::reconcile(tx_, channel.config.id, *e.gatewayMessageId, e.externalMessageId, now_);
    note(seq);
    return seq > 0;
  }

  // Messenger/Instagram receipts: everything we sent up to the watermark is delivered/read.
  void receipt(const app::RuntimeChannel& channel, const InboundEvent& e) {
    const std::string status = e.kind == api::EventKind::kRead ? "read" : "delivered";
    const auto contactId = crm::findContactIdByIdentity(tx_, channel.config.id, e.externalUserId);
    if (!contactId) {
      ++result.duplicates;  // a receipt for someone we never talked to changes nothing
      return;
    }
    const auto conversation = crm::findConversationFor(tx_, *contactId, channel.config.id);
    if (!conversation) {
      ++result.duplicates;
      return;
    }
    std::int64_t watermark = e.timestampMs;
    if (e.targetMessageId) {
      if (auto target = crm::findMessageByExternalId(tx_, channel.config.id, *e.targetMessageId)) {
        watermark = std::max(watermark, target->occurredAt);
      }
    }
    for (Message& m : crm::outboundUpTo(tx_, conversation->id, watermark, status)) advance(m, status, std::nullopt);
  }

  void changeTarget(const app::RuntimeChannel& channel, const InboundEvent& e) {
    if (!e.targetMessageId) {
      result.unusable.push_back("no_target");
      return;
    }
    std::optional<Message> m = crm::findMessageByExternalId(tx_, channel.config.id, *e.targetMessageId);
    if (!m) {
      result.unusable.push_back("unknown_target");
      return;
    }
    // Only the person who wrote a message can edit or unsend it.
    if (crm::findContactIdByIdentity(tx_, channel.config.id, e.externalUserId) != m->contactId) {
      result.unusable.push_back("foreign_target");
      return;
    }
    if (e.kind == api::EventKind::kMessageDeleted) {
      if (m->deleted) {
        ++result.duplicates;
        return;
      }
      m->deleted = true;
    } else {
      if (m->edited && m->text == e.text) {
        ++result.duplicates;
        return;
      }
      m->text = e.text;
      m->edited = true;
    }
    m->updatedAt = now_;
    crm::updateMessage(tx_, *m);
    ++result.stored;
    if (!m->suppressed) event("message.updated", crm::renderMessage(*m));
  }

  Tx& tx_;
  const app::ChannelSet& channels_;
  std::int64_t now_;
};

// Everything the writer would otherwise compute from the plugin's strings.
void derive(InboundEvent& e) {
  rapidjson::Document extra;
  util::parseJson(e.extraJson, extra);
  auto [type, rawType] = contractType(e.contentType);
  e.messageType = type;
  if (type == "unsupported") {
    // Plugins put the platform's own name in extra when they know it.
    e.rawType = extraString(extra, "raw_type")
                    .value_or(extraString(extra, "unsupported_type").value_or(rawType.value_or("unsupported")));
  }
  e.attachments = attachmentsFrom(type, extra);
  e.ownEcho = extraFlag(extra, "is_own_app_echo");
  e.gatewayMessageId = extraString(extra, "gateway_message_id");
  e.newWaId = extraString(extra, "new_wa_id");
}

}  // namespace

void EventCollector::onEvent(const api::Event& e) noexcept {
  try {
    InboundEvent out;
    out.kind = e.kind;
    out.direction = e.direction;
    out.businessAccountId = copyOr(e.businessAccountId, "");
    out.externalUserId = copyOr(e.externalUserId, "");
    out.userIdKind = copyOr(e.userIdKind, "");
    out.externalMessageId = copyOr(e.externalMessageId, "");
    out.targetMessageId = copy(e.targetMessageId);
    out.replyToMessageId = copy(e.replyToMessageId);
    out.contentType = copy(e.contentType);
    out.text = copy(e.text);
    out.timestampMs = e.timestampMs;
    out.profileName = copy(e.profileName);
    out.status = copy(e.status);
    if (e.hasErrorCode) out.errorCode = e.errorCode;
    out.errorMessage = copy(e.errorMessage);
    out.extraJson = copyOr(e.extraJson, "{}");
    out.rawJson = copyOr(e.rawJson, "{}");
    derive(out);
    events_.push_back(std::move(out));
  } catch (...) {
    overflowed_ = true;
  }
}

IngestResult ingest(storage::Tx& tx, const app::ChannelSet& channels, const std::string& channelType,
                    const std::vector<InboundEvent>& events, std::int64_t now) {
  Ingest run(tx, channels, now);
  for (const InboundEvent& e : events) {
    const app::RuntimeChannel* channel = channels.findByAccount(channelType, e.businessAccountId);
    if (channel == nullptr) {
      run.result.unusable.push_back("unknown_account");  // never guessed into another channel
      continue;
    }
    run.apply(*channel, e);
  }
  return run.result;
}

}  // namespace gateway::inbound
