// WhatsApp Cloud API channel: the Channel interface on top of translate.h and send.h.
#pragma once

#include <string>

#include "gateway/channel_api.h"
#include "send.h"

namespace gateway::plugins::whatsapp {

namespace api = gateway::channel_api;

// What a channel keeps from ChannelSettings (which are borrowed only during create()).
struct WhatsAppSettings {
  std::string id;
  std::string appSecret;
  SendTarget send;  // api version, phone_number_id (= accountId), access token
};

// Immutable after construction, so the core may call it from several threads at once.
class WhatsAppChannel final : public api::Channel {
 public:
  WhatsAppChannel(const api::HostApi* host, WhatsAppSettings settings);
  ~WhatsAppChannel() = default;

  api::Outcome verifySignature(const api::HttpView& request) noexcept override;
  api::Outcome parseWebhook(const api::HttpView& request, api::EventSink& out) noexcept override;
  api::Outcome buildSend(const api::OutboundMessage& msg, api::RequestWriter& out) noexcept override;
  api::Outcome readSendResult(int httpStatus, api::Bytes body, api::SendResult& out) noexcept override;

 private:
  void log(api::LogLevel level, const std::string& line) const noexcept;

  const api::HostApi* host_;
  const WhatsAppSettings settings_;
};

}  // namespace gateway::plugins::whatsapp
