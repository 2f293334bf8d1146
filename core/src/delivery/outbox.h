// Accepting a send into the durable outbox, and the outbox's SQL. A message accepted here
// (202) is in the database before the caller hears of it, so it cannot be lost.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/channels.h"
#include "crm/records.h"
#include "delivery/send_request.h"
#include "storage/store.h"

namespace gateway::delivery {

struct Accepted {
  std::optional<crm::Message> message;  // set when accepted (or replayed by idempotency key)
  bool replayed = false;                // the idempotency key was seen before: nothing new queued
  int httpStatus = 202;
  std::string errorCode;                // contract error code when refused
  std::string errorMessage;
  std::int64_t lastEventSeq = 0;
  std::string messageJson;  // the new message as its feed row renders it (the 202's body); "" on a replay
};

// Checks a send against the rules (channel enabled, contact not blocked, window, identity,
// what the plugin can carry), then answers a repeated idempotency key with the first
// message, or queues it (message + outbox row + key + message.created). One write job, for
// the API and the scheduler alike: the writer's page cache is warm, whereas a reader's
// starts cold after every commit, so checking there costs less CPU than on a snapshot.
// (The rules are checked again when the message is claimed for sending.)
Accepted acceptSend(storage::Tx& tx, const app::ChannelSet& channels, const std::string& conversationId,
                    SendRequest request, const std::optional<std::string>& idempotencyKey, std::int64_t now);

// What the send rules and the recipient need, read in one place for the accept and for the
// claim before the call. Unset conversation: it does not exist (any more).
struct SendTarget {
  std::optional<crm::Conversation> conversation;
  bool contactBlocked = false;
  std::optional<crm::Identity> recipient;  // the person's id on the conversation's channel
};

SendTarget readSendTarget(storage::Tx& tx, const app::ChannelSet& channels, const std::string& conversationId);

// Why this send may not go now, or null: "not_found" (no conversation), a rule's code
// (channel_disabled, contact_blocked, window_closed) or "no_identity".
const char* sendBlocker(const app::ChannelSet& channels, const SendTarget& target, const SendRequest& request,
                        std::int64_t now);

struct OutboxItem {
  std::string messageId;
  std::int64_t seq = 0;
  std::string conversationId;
  std::string channelId;
  std::string state;
  int attempts = 0;
  std::int64_t nextAttemptAt = 0;
  std::int64_t acceptedAt = 0;
  std::string request;
  // Read when the item was claimed (moments before the call), so the worker checks the
  // rules again without a read transaction of its own.
  SendTarget target;
};

// Claims up to limit sendable items: due, and each the oldest unfinished one of its
// conversation (so a conversation's messages reach the platform in accepted order).
// `admit` is asked for each candidate in due order; when it says no (its account is at
// its rate limit), that channel joins heldBack and nothing more of it is claimed, so a
// throttled account's backlog does not take the places of other accounts' due items.
// Marks the claimed items inflight with a lease and their messages `sending`, and reads
// each one's SendTarget (in the writer, whose page cache is warm; a reader's cache starts
// cold after every commit).
using Admit = std::function<bool(const OutboxItem&)>;
std::vector<OutboxItem> claimDue(storage::Tx& tx, const app::ChannelSet& channels, std::int64_t now,
                                 std::int64_t leaseMs, int limit, const Admit& admit,
                                 std::set<std::string>& heldBack, std::int64_t& lastEventSeq);
// Inflight items whose lease ran out (the process died mid-send): their outcome is unknown.
int expireLeases(storage::Tx& tx, std::int64_t now);
// Unknown outcomes not reconciled within the grace: send again.
int retryUnknown(storage::Tx& tx, std::int64_t now, std::int64_t graceMs);
// Earliest next_attempt_at of pending items outside the held-back channels, if any.
std::optional<std::int64_t> nextDue(storage::Tx& tx, const std::set<std::string>& heldBack);
std::int64_t outboxDepth(storage::Tx& tx);

// Outcomes of one attempt (each inside a write job; each appends message.updated).
std::int64_t markSent(storage::Tx& tx, const std::string& messageId, const std::string& externalId, std::int64_t now);
std::int64_t markFailed(storage::Tx& tx, const std::string& messageId, const std::string& code,
                        const std::string& message, std::optional<std::int64_t> platformCode, std::int64_t now);
void scheduleRetry(storage::Tx& tx, const std::string& messageId, std::int64_t at);
// Claimed but never sent (the process is stopping): pending again, the attempt not counted.
void releaseUnsent(storage::Tx& tx, const std::string& messageId, std::int64_t now);
void markUnknown(storage::Tx& tx, const std::string& messageId, std::int64_t now);

// An echo or status carrying our own message id reconciles an uncertain send. Returns the
// event seq written, 0 when the message was not waiting.
std::int64_t reconcile(storage::Tx& tx, const std::string& channelId, const std::string& messageId,
                       const std::string& externalId, std::int64_t now);

}  // namespace gateway::delivery
