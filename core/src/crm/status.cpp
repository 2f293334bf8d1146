#include "crm/status.h"

#include "crm/render.h"
#include "crm/repository.h"

namespace gateway::crm {

std::int64_t advanceStatus(storage::Tx& tx, Message& m, const std::string& status,
                           const std::optional<std::string>& error, std::int64_t now) {
  if (!statusMayAdvance(m.status, status)) return 0;
  m.status = status;
  if (status == "failed") m.error = error;
  m.updatedAt = now;
  updateMessageStatus(tx, m);
  return m.suppressed ? 0 : appendEvent(tx, "message.updated", now, renderMessage(m));
}

std::int64_t applyParkedStatuses(storage::Tx& tx, Message& m, std::int64_t now) {
  if (!m.externalId) return 0;
  std::int64_t last = 0;
  for (const ParkedStatus& parked : takeParkedStatuses(tx, m.channelId, *m.externalId)) {
    if (const std::int64_t seq = advanceStatus(tx, m, parked.status, parked.error, now)) last = seq;
  }
  return last;
}

}  // namespace gateway::crm
