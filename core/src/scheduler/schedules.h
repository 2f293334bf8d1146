// Scheduled messages: stored with their send body, fired once at send_at through the same
// acceptance (rules included) as a send made then.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/channels.h"
#include "delivery/send_request.h"
#include "storage/store.h"

namespace gateway::scheduler {

struct Schedule {
  std::string id;
  std::string conversationId;
  std::string contactId;
  std::int64_t sendAt = 0;
  std::string status = "pending";  // pending | sent | failed | cancelled
  std::string request;             // SendRequest JSON
  std::optional<std::string> text;
  std::optional<std::string> templateJson;
  std::optional<std::string> messageId;
  std::optional<std::string> error;  // {"code","message"}
  std::int64_t createdAt = 0;
  std::int64_t updatedAt = 0;
};

std::string renderSchedule(const Schedule& s);

std::optional<Schedule> findSchedule(storage::Tx& tx, const std::string& id);
void insertSchedule(storage::Tx& tx, const Schedule& s);
// By send_at; field is "contact_id" or "conversation_id"; status empty = all.
std::vector<Schedule> listSchedules(storage::Tx& tx, const char* field, const std::string& id,
                                    const std::string& status, int limit);

// pending -> cancelled; false when it was not pending (already fired or cancelled).
bool cancelSchedule(storage::Tx& tx, Schedule& s, std::int64_t now, std::int64_t& eventSeq);

struct Fired {
  int sent = 0;    // accepted into the outbox
  int failed = 0;  // refused by a rule at fire time
  std::int64_t lastEventSeq = 0;
};
// Fires up to limit due schedules. Each moves from pending exactly once: the UPDATE is
// conditional on status = 'pending', and the send uses the schedule id as idempotency key.
Fired fireDue(storage::Tx& tx, const app::ChannelSet& channels, std::int64_t now, int limit);

std::optional<std::int64_t> nextSendAt(storage::Tx& tx);
std::int64_t pendingCount(storage::Tx& tx);

}  // namespace gateway::scheduler
