// Messenger (object "page") on top of the shared messaging[] translation: what differs from
// Instagram is the platform table in translate.cpp.
#pragma once

#include "gateway/channel_api.h"
#include "meta_messaging.h"

namespace gateway::plugins::messenger {

namespace api = gateway::channel_api;

// Messenger's facts: object "page", PSIDs, messaging_type on every send, echo metadata,
// reusable URL attachments, documents sent as "file".
const meta::MessagingPlatform& platform() noexcept;

api::Outcome parseWebhook(const meta::MessagingConfig& config, api::Bytes body, api::EventSink& out);
// POST /{api_version}/{page_id}/messages.
api::Outcome buildSend(const meta::MessagingConfig& config, const api::OutboundMessage& msg,
                       api::RequestWriter& out);
api::Outcome readSendResult(int httpStatus, api::Bytes body, api::SendResult& out);

}  // namespace gateway::plugins::messenger
