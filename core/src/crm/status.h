// Moving an outbound message's status forward, shared by webhooks (statuses, receipts)
// and delivery (send results).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "crm/records.h"
#include "storage/store.h"

namespace gateway::crm {

// Sets message.status (and error when failed) if that moves it forward; writes
// message.updated unless the message is suppressed. Returns the event's seq, or 0 when
// nothing changed (a late or duplicate status).
std::int64_t advanceStatus(storage::Tx& tx, Message& message, const std::string& status,
                           const std::optional<std::string>& error, std::int64_t now);

// Applies statuses that arrived before the message had its external id. Returns the
// newest event seq written, or 0.
std::int64_t applyParkedStatuses(storage::Tx& tx, Message& message, std::int64_t now);

}  // namespace gateway::crm
