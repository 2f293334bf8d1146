// What the CRM asks to send: parsed and checked once from the API's JSON, stored as JSON in
// the outbox (and in scheduled messages), turned into the plugin's OutboundMessage at send time.
#pragma once

#include <optional>
#include <string>

#include "gateway/channel_api.h"

namespace gateway::delivery {

struct SendRequest {
  std::optional<std::string> text;
  std::optional<std::string> templateJson;  // {"name","language","components"} as given
  std::optional<std::string> templateName;
  std::optional<std::string> attachmentType;
  std::optional<std::string> attachmentUrl;
  std::optional<std::string> attachmentCaption;
  std::optional<std::string> replyTo;            // gateway message id
  std::optional<std::string> replyToExternalId;  // resolved when accepted
  std::optional<std::string> tag;                // "HUMAN_AGENT"

  gateway::channel_api::SendKind kind() const;
  bool freeForm() const { return !templateJson.has_value(); }

  std::string toJson() const;
  static std::optional<SendRequest> fromJson(const std::string& json);
};

// Parses a send body (also the body of a scheduled message, whose extra keys are ignored
// when allowKeys lists them). On failure returns nullopt and a message naming the field.
std::optional<SendRequest> parseSendBody(const std::string& body, std::string& error,
                                         const char* const* extraAllowedKeys = nullptr);

// The plugin-facing view; valid while request (and the recipient strings) live.
gateway::channel_api::OutboundMessage outboundView(const SendRequest& request, const std::string& messageId,
                                                   const std::string& recipientId,
                                                   const std::string& recipientKind);

}  // namespace gateway::delivery
