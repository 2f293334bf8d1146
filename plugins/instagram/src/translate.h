// Instagram (object "instagram") on top of the shared messaging[] translation: what differs
// from Messenger is the platform table in translate.cpp.
#pragma once

#include "gateway/channel_api.h"
#include "meta_messaging.h"

namespace gateway::plugins::instagram {

namespace api = gateway::channel_api;

// Instagram's facts: object "instagram", IGSIDs, dashboard test events in changes[], no
// messaging_type unless tagged, no metadata, image/audio/video only.
const meta::MessagingPlatform& platform() noexcept;

api::Outcome parseWebhook(const meta::MessagingConfig& config, api::Bytes body, api::EventSink& out);
// POST /{api_version}/{ig_account_id}/messages (instagram.md, Instagram Login).
api::Outcome buildSend(const meta::MessagingConfig& config, const api::OutboundMessage& msg,
                       api::RequestWriter& out);
api::Outcome readSendResult(int httpStatus, api::Bytes body, api::SendResult& out);

}  // namespace gateway::plugins::instagram
