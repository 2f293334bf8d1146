// The CRM's records as stored. Times are UTC epoch milliseconds; JSON-valued columns
// (properties, tags, attachments, error, raw, extra) hold compact JSON text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gateway::crm {

using OptString = std::optional<std::string>;

struct Contact {
  std::string id;
  OptString name;
  OptString phone;  // E.164
  OptString email;
  OptString company;
  bool blocked = false;
  std::string properties = "{}";
  std::int64_t createdAt = 0;
  std::int64_t updatedAt = 0;
};

struct Identity {
  std::string channelId;
  std::string kind;  // wa_id | bsuid | psid | igsid
  std::string externalId;
};

struct Conversation {
  std::string id;
  std::string contactId;
  std::string channelId;
  std::string tags = "[]";
  std::optional<std::int64_t> lastInboundAt;
  std::int64_t createdAt = 0;
};

struct Message {
  std::int64_t seq = 0;  // storage order; ties in occurred_at are broken by it
  std::string id;
  std::string conversationId;
  std::string contactId;
  std::string channelId;
  std::string direction = "inbound";  // inbound | outbound
  std::string kind = "message";       // message | note | system
  std::string type = "text";
  OptString text;
  std::string attachments = "[]";
  OptString externalId;
  OptString replyTo;
  OptString replyToExternalId;
  std::string status = "received";
  OptString error;  // {"code","message","platform_code"}
  std::int64_t occurredAt = 0;
  std::int64_t createdAt = 0;
  std::int64_t updatedAt = 0;
  bool edited = false;
  bool deleted = false;
  bool suppressed = false;
  OptString rawType;
  OptString raw;
  std::string extra = "{}";
};

// Outbound statuses only move forward: queued < sending < sent < delivered < read.
// failed ends a message that had not been delivered.
int statusRank(const std::string& status);
bool statusMayAdvance(const std::string& from, const std::string& to);

}  // namespace gateway::crm
