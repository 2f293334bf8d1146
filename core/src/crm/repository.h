// SQL for the CRM records, in one place. Every function takes the caller's Tx, so the
// caller decides what commits together.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crm/records.h"
#include "storage/store.h"

namespace gateway::crm {

using storage::Tx;

// A new opaque id: prefix + 24 hex digits, time-ordered then random ("ct_019ac3...").
std::string newId(const char* prefix);

std::optional<Contact> findContact(Tx& tx, const std::string& id);
std::optional<std::string> findContactIdByIdentity(Tx& tx, const std::string& channelId,
                                                   const std::string& externalId);
std::optional<std::string> findContactIdByPhone(Tx& tx, const std::string& phone);
// The contact behind an identity and its conversation on that channel, in one query (the
// hot path of every inbound message from someone known).
struct KnownParty {
  Contact contact;
  std::optional<Conversation> conversation;
};
std::optional<KnownParty> findPartyByIdentity(Tx& tx, const std::string& channelId, const std::string& externalId);
void insertContact(Tx& tx, const Contact& contact);
void updateContact(Tx& tx, const Contact& contact);
// Contacts matching query in name/phone/email/company (all when empty), ordered by id,
// starting after the id `after` (cursor), at most limit.
std::vector<Contact> listContacts(Tx& tx, const std::string& query, const std::string& after, int limit);

std::vector<Identity> identitiesOf(Tx& tx, const std::string& contactId);
// False when (channel, external id) already belongs to someone.
bool insertIdentity(Tx& tx, const std::string& contactId, const Identity& identity, std::int64_t now);

std::optional<Conversation> findConversation(Tx& tx, const std::string& id);
// A conversation with what sending on it needs of its contact, in one query (a send reads
// it twice: when accepted and when claimed).
struct ConversationParty {
  Conversation conversation;
  bool contactBlocked = false;
  std::vector<Identity> identities;  // the contact's, on the conversation's channel, oldest first
};
std::optional<ConversationParty> findConversationParty(Tx& tx, const std::string& id);
std::optional<Conversation> findConversationFor(Tx& tx, const std::string& contactId,
                                                const std::string& channelId);
std::vector<Conversation> conversationsOf(Tx& tx, const std::string& contactId);
void insertConversation(Tx& tx, const Conversation& conversation);
void recordInbound(Tx& tx, const std::string& conversationId, std::int64_t at);

// False (and nothing written) when a message with the same (channel, external id) exists.
bool insertMessage(Tx& tx, Message& message);
std::optional<Message> findMessage(Tx& tx, const std::string& id);
std::optional<Message> findMessageByExternalId(Tx& tx, const std::string& channelId,
                                               const std::string& externalId);
void updateMessage(Tx& tx, const Message& message);
// Only status, error and updated_at: the hot path of delivery statuses.
void updateMessageStatus(Tx& tx, const Message& message);
// Newest first; kind empty = all kinds; beforeId empty = from the newest.
std::vector<Message> listMessages(Tx& tx, const std::string& conversationId, const std::string& kind,
                                  bool includeSuppressed, const std::string& beforeId, int limit);
// Outbound messages of a conversation sent at or before watermark whose status is below
// `status` (Messenger/Instagram receipts).
std::vector<Message> outboundUpTo(Tx& tx, const std::string& conversationId, std::int64_t watermark,
                                  const std::string& status);

// A status that arrived before its message was recorded; applied by takeParkedStatuses.
struct ParkedStatus {
  std::string status;
  std::int64_t occurredAt = 0;
  OptString error;
};
void parkStatus(Tx& tx, const std::string& channelId, const std::string& externalId,
                const ParkedStatus& status);
std::vector<ParkedStatus> takeParkedStatuses(Tx& tx, const std::string& channelId,
                                             const std::string& externalId);
// Drops parked statuses older than `before` (their message never appeared); returns how many.
std::int64_t expireParkedStatuses(Tx& tx, std::int64_t before);

// The events feed. Returns the event's sequence number.
std::int64_t appendEvent(Tx& tx, const std::string& type, std::int64_t at, const std::string& dataJson);
struct FeedEvent {
  std::int64_t seq = 0;
  std::string type;
  std::int64_t at = 0;
  std::string data;
};
std::vector<FeedEvent> eventsAfter(Tx& tx, std::int64_t afterSeq, int limit);

// Webhook content that could not be used, kept as it came for replay.
void keepRawWebhook(Tx& tx, const std::string& channelType, const std::string& signerChannelId,
                    std::int64_t receivedAt, const std::string& body, const std::string& reason);

}  // namespace gateway::crm
