// Outbound: OutboundMessage -> Graph API request, Graph API response -> SendResult.
// Pure functions (shared/platforms/whatsapp.md §8, §9).
#pragma once

#include <cstdint>
#include <string>

#include "gateway/channel_api.h"

namespace gateway::plugins::whatsapp {

namespace api = gateway::channel_api;

// Where and as whom a channel sends.
struct SendTarget {
  std::string apiVersion;     // "v21.0"
  std::string phoneNumberId;  // path segment of POST /{version}/{phone-number-id}/messages
  std::string accessToken;    // Authorization: Bearer <token>
};

// Writes POST /{version}/{phone-number-id}/messages with its headers and JSON body.
//   kOk          request written,
//   kMalformed   the message is unusable (no recipient, empty text, template not a JSON
//                object, text not UTF-8),
//   kUnsupported WhatsApp cannot carry it (an unknown attachment type, a caption on audio
//                or sticker, a recipient id kind other than wa_id/bsuid).
// Nothing is written unless the outcome is kOk.
api::Outcome buildSendRequest(const SendTarget& target, const api::OutboundMessage& message,
                              api::RequestWriter& out);

// How the gateway should treat a Graph error: by code first (never by message text), then
// is_transient, then the HTTP status.
api::SendErrorClass classifyGraphError(int httpStatus, std::int64_t code, bool isTransient) noexcept;

// Interprets the answer to a request built by buildSendRequest. A 2xx with messages[0].id
// is accepted(wamid); a 2xx {"success":true} (mark-read) is accepted with a null id; every
// other status is failed(...), classified by the error object when there is one.
// kMalformed (and no call on out) for a 2xx body that carries neither.
api::Outcome readSendResponse(int httpStatus, api::Bytes body, api::SendResult& out);

}  // namespace gateway::plugins::whatsapp
