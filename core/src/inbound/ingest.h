// Normalized webhook events -> contacts, conversations, messages, statuses and the events
// feed. Runs inside the caller's write transaction, so a webhook is acknowledged only
// when all of this is committed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/channels.h"
#include "gateway/channel_api.h"
#include "storage/store.h"

namespace gateway::inbound {

// An Event with its bytes copied: plugins lend them only for the duration of onEvent.
struct InboundEvent {
  gateway::channel_api::EventKind kind = gateway::channel_api::EventKind::kUnknown;
  gateway::channel_api::Direction direction = gateway::channel_api::Direction::kInbound;
  std::string businessAccountId;
  std::string externalUserId;
  std::string userIdKind;
  std::string externalMessageId;
  std::optional<std::string> targetMessageId;
  std::optional<std::string> replyToMessageId;
  std::optional<std::string> contentType;
  std::optional<std::string> text;
  std::int64_t timestampMs = 0;
  std::optional<std::string> profileName;
  std::optional<std::string> status;
  std::optional<std::int64_t> errorCode;
  std::optional<std::string> errorMessage;
  std::string extraJson = "{}";
  std::string rawJson;

  // Derived from the above on the request thread (EventCollector), so the single writer
  // only runs SQL: the contract's message type, attachments, and what extra says.
  std::string messageType;                    // contract type ("unsupported" when unmapped)
  std::optional<std::string> rawType;         // the platform's type when unsupported
  std::string attachments = "[]";
  bool ownEcho = false;                        // extra.is_own_app_echo
  std::optional<std::string> gatewayMessageId; // extra.gateway_message_id: one of our sends
  std::optional<std::string> newWaId;          // extra.new_wa_id: WhatsApp number change
};

// The EventSink handed to Channel::parseWebhook.
class EventCollector final : public gateway::channel_api::EventSink {
 public:
  void onEvent(const gateway::channel_api::Event& event) noexcept override;
  std::vector<InboundEvent>& events() { return events_; }
  bool overflowed() const { return overflowed_; }

 private:
  std::vector<InboundEvent> events_;
  bool overflowed_ = false;  // an allocation failed: the body is kept raw instead
};

struct IngestResult {
  int stored = 0;       // events that changed something
  int duplicates = 0;   // re-deliveries that changed nothing
  int parked = 0;       // statuses kept for a message not recorded yet
  std::vector<std::string> unusable;  // reasons, one per event that could not be used
  std::int64_t lastEventSeq = 0;      // newest events-feed entry written, 0 when none
};

// Applies events (in order) for a webhook of channelType. Events whose account no channel
// has, or whose kind is not understood, are reported in `unusable`; the caller keeps the
// raw body for them.
IngestResult ingest(storage::Tx& tx, const app::ChannelSet& channels, const std::string& channelType,
                    const std::vector<InboundEvent>& events, std::int64_t now);

}  // namespace gateway::inbound
