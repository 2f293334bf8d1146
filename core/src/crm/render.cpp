#include "crm/render.h"

#include <algorithm>

#include "crm/repository.h"
#include "util/clock.h"
#include "util/json.h"

namespace gateway::crm {

using util::JsonWriter;

namespace {

JsonWriter& time(JsonWriter& w, const char* key, std::int64_t ms) {
  return w.key(key).string(util::formatRfc3339(ms));
}

JsonWriter& optTime(JsonWriter& w, const char* key, const std::optional<std::int64_t>& ms) {
  w.key(key);
  return ms ? w.string(util::formatRfc3339(*ms)) : w.null();
}

void writeConversation(JsonWriter& w, const app::ChannelSet& channels, const Conversation& c,
                       bool contactBlocked, std::int64_t now) {
  const app::RuntimeChannel* channel = channels.findById(c.channelId);
  const SendRule rule = freeFormRule(channels, c, contactBlocked, now);
  w.startObject()
      .field("id", c.id)
      .field("contact_id", c.contactId)
      .field("channel_id", c.channelId)
      .key("channel_type");
  if (channel) w.string(channel->config.type);
  else w.null();
  w.field("enabled", channel != nullptr && channel->config.enabled)
      .field("can_send", rule.canSend)
      .key("reason");
  if (rule.reason) w.string(rule.reason);
  else w.null();
  w.key("tags").raw(c.tags);
  optTime(w, "last_inbound_at", c.lastInboundAt);
  optTime(w, "window_expires_at", rule.windowExpiresAt);
  time(w, "created_at", c.createdAt);
  w.endObject();
}

}  // namespace

const char* sendRefusal(const app::ChannelSet& channels, const Conversation& c, bool contactBlocked,
                        bool isTemplate, bool humanAgentTag, std::int64_t now) {
  const app::RuntimeChannel* channel = channels.findById(c.channelId);
  if (channel == nullptr || !channel->config.enabled) return "channel_disabled";
  if (contactBlocked) return "contact_blocked";
  const gateway::channel_api::ChannelTraits& traits = *channel->traits;
  if (isTemplate && traits.templatesIgnoreWindow) return nullptr;
  if (c.lastInboundAt) {
    if (now < *c.lastInboundAt + traits.windowSeconds * 1000) return nullptr;
    if (humanAgentTag && traits.tagWindowSeconds > 0 && now < *c.lastInboundAt + traits.tagWindowSeconds * 1000) {
      return nullptr;
    }
  }
  return "window_closed";
}

SendRule freeFormRule(const app::ChannelSet& channels, const Conversation& c, bool contactBlocked,
                      std::int64_t now) {
  SendRule rule;
  const app::RuntimeChannel* channel = channels.findById(c.channelId);
  if (channel && c.lastInboundAt) rule.windowExpiresAt = *c.lastInboundAt + channel->traits->windowSeconds * 1000;
  rule.reason = sendRefusal(channels, c, contactBlocked, false, false, now);
  rule.canSend = rule.reason == nullptr;
  return rule;
}

std::string renderMessage(const Message& m) {
  JsonWriter w;
  w.startObject()
      .field("id", m.id)
      .field("conversation_id", m.conversationId)
      .field("contact_id", m.contactId)
      .field("channel_id", m.channelId)
      .field("direction", m.direction)
      .field("kind", m.kind)
      .field("type", m.type)
      .field("text", m.text)
      .key("attachments").raw(m.attachments)
      .field("external_id", m.externalId)
      .field("reply_to", m.replyTo)
      .field("reply_to_external_id", m.replyToExternalId)
      .field("status", m.status)
      .key("error").optRaw(m.error);
  time(w, "occurred_at", m.occurredAt);
  time(w, "created_at", m.createdAt);
  time(w, "updated_at", m.updatedAt);
  w.field("edited", m.edited).field("deleted", m.deleted);
  if (m.suppressed) w.field("suppressed", true);
  if (m.rawType) w.field("raw_type", m.rawType);
  if (m.raw && !m.raw->empty()) w.key("raw").raw(*m.raw);
  w.key("extra").raw(m.extra);
  w.endObject();
  return w.str();
}

std::string renderConversation(const app::ChannelSet& channels, const Conversation& c, bool contactBlocked,
                               std::int64_t now) {
  JsonWriter w;
  writeConversation(w, channels, c, contactBlocked, now);
  return w.str();
}

std::string renderContact(storage::Tx& tx, const app::ChannelSet& channels, const Contact& c,
                          std::int64_t now) {
  std::vector<Conversation> conversations = conversationsOf(tx, c.id);
  // Tabs follow the channel order of the config; conversations on channels no longer
  // configured go last.
  auto order = [&](const Conversation& conv) {
    for (std::size_t i = 0; i < channels.channels.size(); ++i) {
      if (channels.channels[i].config.id == conv.channelId) return i;
    }
    return channels.channels.size();
  };
  std::stable_sort(conversations.begin(), conversations.end(),
                   [&](const Conversation& a, const Conversation& b) { return order(a) < order(b); });

  JsonWriter w;
  w.startObject()
      .field("id", c.id)
      .field("name", c.name)
      .field("phone", c.phone)
      .field("email", c.email)
      .field("company", c.company);
  time(w, "created_at", c.createdAt);
  time(w, "updated_at", c.updatedAt);
  w.field("blocked", c.blocked).key("properties").raw(c.properties).key("identities").startArray();
  for (const Identity& i : identitiesOf(tx, c.id)) {
    w.startObject().field("channel_id", i.channelId).field("kind", i.kind).field("external_id", i.externalId).endObject();
  }
  w.endArray().key("conversations").startArray();
  std::optional<std::string> defaultConversation;
  for (const Conversation& conv : conversations) {
    writeConversation(w, channels, conv, c.blocked, now);
    const app::RuntimeChannel* channel = channels.findById(conv.channelId);
    if (!defaultConversation && channel && channel->config.enabled) defaultConversation = conv.id;
  }
  w.endArray().field("default_conversation_id", defaultConversation).endObject();
  return w.str();
}

}  // namespace gateway::crm
