#include "delivery/outbox.h"

#include <algorithm>

#include "crm/render.h"
#include "crm/repository.h"
#include "crm/status.h"
#include "util/clock.h"
#include "util/json.h"

namespace gateway::delivery {

namespace api = gateway::channel_api;
using storage::Null;
using storage::Row;
using storage::Tx;
using storage::Value;

namespace {

// Discards what the plugin writes: used to ask "can you carry this?" before accepting.
class NullRequestWriter final : public api::RequestWriter {
 public:
  void setMethod(api::Bytes) noexcept override {}
  void setPath(api::Bytes) noexcept override {}
  void addHeader(api::Bytes, api::Bytes) noexcept override {}
  void setBody(api::Bytes) noexcept override {}
};

Accepted refused(int status, const std::string& code, const std::string& message) {
  Accepted a;
  a.httpStatus = status;
  a.errorCode = code;
  a.errorMessage = message;
  return a;
}

std::string messageType(const SendRequest& r) {
  if (r.templateJson) return "template";
  if (r.attachmentType) return *r.attachmentType == "file" ? "document" : *r.attachmentType;
  return "text";
}

std::string attachmentsOf(const SendRequest& r) {
  if (!r.attachmentUrl) return "[]";
  util::JsonWriter w;
  w.startArray().startObject().field("type", messageType(r)).field("url", *r.attachmentUrl);
  if (r.attachmentCaption) w.field("caption", *r.attachmentCaption);
  w.endObject().endArray();
  return w.str();
}

const char* refusalMessage(const std::string& code) {
  if (code == "channel_disabled") return "the conversation's channel is disabled";
  if (code == "contact_blocked") return "the contact is blocked";
  if (code == "no_identity") return "the contact has no identity on this channel";
  return "more than 24 hours since the person's last message: only a template (WhatsApp) or a "
         "HUMAN_AGENT tag within 7 days (Messenger/Instagram) may be sent";
}

constexpr const char* kOutboxColumns =
    "message_id, seq, conversation_id, channel_id, state, attempts, next_attempt_at, accepted_at, request";

// Channel ids as a JSON array, for `NOT IN (SELECT value FROM json_each(?))`.
std::string channelList(const std::set<std::string>& ids) {
  util::JsonWriter out;
  out.startArray();
  for (const auto& id : ids) out.string(id);
  out.endArray();
  return out.str();
}

OutboxItem itemFrom(const Row& r) {
  OutboxItem item;
  item.messageId = r.getText(0);
  item.seq = r.getInt(1);
  item.conversationId = r.getText(2);
  item.channelId = r.getText(3);
  item.state = r.getText(4);
  item.attempts = static_cast<int>(r.getInt(5));
  item.nextAttemptAt = r.getInt(6);
  item.acceptedAt = r.getInt(7);
  item.request = r.getText(8);
  return item;
}

// The person's id on the conversation's channel (preferring the plugin's identity kind).
std::optional<crm::Identity> recipientOf(const app::ChannelSet& channels, const crm::ConversationParty& party) {
  const app::RuntimeChannel* channel = channels.findById(party.conversation.channelId);
  for (const crm::Identity& i : party.identities) {
    if (channel && i.kind == channel->traits->userIdKind) return i;
  }
  if (party.identities.empty()) return std::nullopt;
  return party.identities.front();
}

}  // namespace

SendTarget readSendTarget(Tx& tx, const app::ChannelSet& channels, const std::string& conversationId) {
  SendTarget target;
  auto party = crm::findConversationParty(tx, conversationId);
  if (!party) return target;
  target.contactBlocked = party->contactBlocked;
  target.recipient = recipientOf(channels, *party);
  target.conversation = std::move(party->conversation);
  return target;
}

const char* sendBlocker(const app::ChannelSet& channels, const SendTarget& target, const SendRequest& request,
                        std::int64_t now) {
  if (!target.conversation) return "not_found";
  if (const char* rule = crm::sendRefusal(channels, *target.conversation, target.contactBlocked,
                                          request.templateJson.has_value(), request.tag.has_value(), now)) {
    return rule;
  }
  return target.recipient ? nullptr : "no_identity";
}

namespace {

// A send checked against the rules and ready to be queued, or its refusal.
struct PreparedSend {
  std::optional<crm::Message> message;  // status queued; unset when refused
  std::string request;                  // SendRequest JSON for the outbox
  Accepted refusal;                     // httpStatus/errorCode when refused
};

PreparedSend prepareSend(Tx& tx, const app::ChannelSet& channels, const std::string& conversationId,
                         SendRequest request, std::int64_t now) {
  PreparedSend prepared;
  const SendTarget target = readSendTarget(tx, channels, conversationId);
  if (const char* blocker = sendBlocker(channels, target, request, now)) {
    const std::string code = blocker;
    prepared.refusal = code == "not_found" ? refused(404, code, "no conversation with id " + conversationId)
                                           : refused(409, code, refusalMessage(code));
    return prepared;
  }
  const crm::Conversation& conversation = *target.conversation;
  const crm::Identity& recipient = *target.recipient;
  if (request.replyTo) {
    const auto quoted = crm::findMessage(tx, *request.replyTo);
    if (!quoted || quoted->conversationId != conversationId) {
      prepared.refusal = refused(400, "invalid_request", "reply_to is not a message of this conversation");
      return prepared;
    }
    request.replyToExternalId = quoted->externalId;  // unset while the quoted one is unsent
  }

  crm::Message m;
  m.id = crm::newId("msg_");
  // Ask the plugin now whether the platform can carry this, so the CRM hears it at once
  // rather than as a failed message later.
  const app::RuntimeChannel* channel = channels.findById(conversation.channelId);
  NullRequestWriter probe;
  const api::Outcome can =
      channel->channel->buildSend(outboundView(request, m.id, recipient.externalId, recipient.kind), probe);
  if (can == api::Outcome::kUnsupported) {
    prepared.refusal =
        refused(422, "unsupported_content", "the " + channel->config.type + " channel cannot send this content");
    return prepared;
  }
  if (can != api::Outcome::kOk) {
    prepared.refusal = refused(400, "invalid_request", "the message cannot be built for this channel");
    return prepared;
  }
  m.conversationId = conversationId;
  m.contactId = conversation.contactId;
  m.channelId = conversation.channelId;
  m.direction = "outbound";
  m.kind = "message";
  m.type = messageType(request);
  m.text = request.text ? request.text : request.attachmentCaption;
  m.attachments = attachmentsOf(request);
  m.replyTo = request.replyTo;
  m.replyToExternalId = request.replyToExternalId;
  m.status = "queued";
  if (request.templateJson) m.extra = "{\"template\":" + *request.templateJson + "}";
  prepared.request = request.toJson();
  prepared.message = std::move(m);
  return prepared;
}

Accepted commitSend(Tx& tx, PreparedSend prepared, const std::string& conversationId,
                    const std::optional<std::string>& idempotencyKey, std::int64_t now) {
  if (idempotencyKey) {
    const auto seen = tx.queryOne("SELECT message_id FROM idempotency_keys WHERE conversation_id = ? AND key = ?",
                                  {conversationId, *idempotencyKey});
    if (seen) {
      Accepted a;
      a.message = crm::findMessage(tx, seen->getText(0));
      a.replayed = true;
      return a;
    }
  }
  if (!prepared.message) return prepared.refusal;
  crm::Message& m = *prepared.message;
  m.occurredAt = m.createdAt = m.updatedAt = now;
  crm::insertMessage(tx, m);
  tx.exec("INSERT INTO outbox (message_id, seq, conversation_id, channel_id, state, attempts, next_attempt_at, "
          "accepted_at, request) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
          {m.id, m.seq, conversationId, m.channelId, now, now, prepared.request});
  if (idempotencyKey) {
    tx.exec("INSERT INTO idempotency_keys (conversation_id, key, message_id, created_at) VALUES (?, ?, ?, ?)",
            {conversationId, *idempotencyKey, m.id, now});
  }
  Accepted a;
  a.messageJson = crm::renderMessage(m);
  a.lastEventSeq = crm::appendEvent(tx, "message.created", now, a.messageJson);
  a.message = std::move(m);
  return a;
}

}  // namespace

Accepted acceptSend(Tx& tx, const app::ChannelSet& channels, const std::string& conversationId,
                    SendRequest request, const std::optional<std::string>& idempotencyKey, std::int64_t now) {
  return commitSend(tx, prepareSend(tx, channels, conversationId, std::move(request), now), conversationId,
                    idempotencyKey, now);
}

std::vector<OutboxItem> claimDue(Tx& tx, const app::ChannelSet& channels, std::int64_t now, std::int64_t leaseMs,
                                 int limit, const Admit& admit, std::set<std::string>& heldBack,
                                 std::int64_t& lastEventSeq) {
  // The NOT EXISTS keeps a conversation's later messages back while an earlier one is
  // unfinished (pending retry, in flight or of unknown outcome).
  static const std::string kSql =
      std::string("SELECT ") + kOutboxColumns +
      " FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= ? AND o.channel_id NOT IN "
      "(SELECT value FROM json_each(?)) AND NOT EXISTS "
      "(SELECT 1 FROM outbox p WHERE p.conversation_id = o.conversation_id AND p.seq < o.seq) "
      "ORDER BY o.next_attempt_at, o.seq LIMIT ?";
  std::vector<OutboxItem> items;
  // A channel held back part way through the rows leaves places free: look again without it.
  for (bool again = true; again && static_cast<int>(items.size()) < limit;) {
    again = false;
    const auto rows =
        tx.query(kSql, {now, channelList(heldBack), static_cast<std::int64_t>(limit - static_cast<int>(items.size()))});
    for (const Row& r : rows) {
      OutboxItem item = itemFrom(r);
      if (heldBack.count(item.channelId)) continue;
      if (!admit(item)) {
        heldBack.insert(item.channelId);
        again = true;
        continue;
      }
      tx.exec("UPDATE outbox SET state = 'inflight', attempts = attempts + 1, lease_until = ? WHERE message_id = ?",
              {now + leaseMs, item.messageId});
      item.attempts += 1;
      if (auto m = crm::findMessage(tx, item.messageId)) {
        if (const std::int64_t seq = crm::advanceStatus(tx, *m, "sending", std::nullopt, now)) lastEventSeq = seq;
      }
      item.target = readSendTarget(tx, channels, item.conversationId);
      items.push_back(std::move(item));
    }
  }
  return items;
}

int expireLeases(Tx& tx, std::int64_t now) {
  // The request may have left before the process died: treat as unknown, never as unsent.
  return static_cast<int>(tx.exec(
      "UPDATE outbox SET state = 'unknown', next_attempt_at = ? WHERE state = 'inflight' AND lease_until < ?",
      {std::min(now, util::nowMs()), now}));
}

int retryUnknown(Tx& tx, std::int64_t now, std::int64_t graceMs) {
  return static_cast<int>(tx.exec(
      "UPDATE outbox SET state = 'pending' WHERE state = 'unknown' AND next_attempt_at <= ?", {now - graceMs}));
}

std::optional<std::int64_t> nextDue(Tx& tx, const std::set<std::string>& heldBack) {
  const auto row = tx.queryOne(
      "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending' AND channel_id NOT IN "
      "(SELECT value FROM json_each(?))",
      {channelList(heldBack)});
  if (!row || row->isNull(0)) return std::nullopt;
  return row->getInt(0);
}

std::int64_t outboxDepth(Tx& tx) { return tx.queryOne("SELECT COUNT(*) FROM outbox")->getInt(0); }

std::int64_t markSent(Tx& tx, const std::string& messageId, const std::string& externalId, std::int64_t now) {
  tx.exec("DELETE FROM outbox WHERE message_id = ?", {messageId});
  auto m = crm::findMessage(tx, messageId);
  if (!m) return 0;
  // One UPDATE for the external id and, when it moves forward, the status.
  m->externalId = externalId;
  m->updatedAt = now;
  const bool advances = crm::statusMayAdvance(m->status, "sent");
  if (advances) m->status = "sent";
  crm::updateMessage(tx, *m);
  std::int64_t last = advances && !m->suppressed ? crm::appendEvent(tx, "message.updated", now, crm::renderMessage(*m)) : 0;
  if (const std::int64_t seq = crm::applyParkedStatuses(tx, *m, now)) last = seq;
  return last;
}

std::int64_t markFailed(Tx& tx, const std::string& messageId, const std::string& code, const std::string& message,
                        std::optional<std::int64_t> platformCode, std::int64_t now) {
  tx.exec("DELETE FROM outbox WHERE message_id = ?", {messageId});
  auto m = crm::findMessage(tx, messageId);
  if (!m) return 0;
  util::JsonWriter w;
  w.startObject().field("code", code).field("message", message).key("platform_code");
  if (platformCode) w.integer(*platformCode);
  else w.null();
  w.endObject();
  return crm::advanceStatus(tx, *m, "failed", w.str(), now);
}

void scheduleRetry(Tx& tx, const std::string& messageId, std::int64_t at) {
  tx.exec("UPDATE outbox SET state = 'pending', next_attempt_at = ?, lease_until = NULL WHERE message_id = ?",
          {at, messageId});
}

void releaseUnsent(Tx& tx, const std::string& messageId, std::int64_t now) {
  tx.exec("UPDATE outbox SET state = 'pending', attempts = MAX(attempts - 1, 0), next_attempt_at = ?, "
          "lease_until = NULL WHERE message_id = ? AND state = 'inflight'",
          {now, messageId});
}

void markUnknown(Tx& tx, const std::string& messageId, std::int64_t now) {
  tx.exec("UPDATE outbox SET state = 'unknown', next_attempt_at = ?, lease_until = NULL WHERE message_id = ?",
          {now, messageId});
}

std::int64_t reconcile(Tx& tx, const std::string& channelId, const std::string& messageId,
                       const std::string& externalId, std::int64_t now) {
  const auto row = tx.queryOne("SELECT state FROM outbox WHERE message_id = ? AND channel_id = ?", {messageId, channelId});
  if (!row) return 0;
  return markSent(tx, messageId, externalId, now);
}

}  // namespace gateway::delivery
