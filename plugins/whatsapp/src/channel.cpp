#include "channel.h"

#include <utility>

#include "meta_common.h"
#include "translate.h"

namespace gateway::plugins::whatsapp {

WhatsAppChannel::WhatsAppChannel(const api::HostApi* host, WhatsAppSettings settings)
    : host_(host), settings_(std::move(settings)) {}

void WhatsAppChannel::log(api::LogLevel level, const std::string& line) const noexcept {
  if (host_ != nullptr && host_->log != nullptr) {
    host_->log(host_->ctx, level, api::Bytes{line.data(), line.size()});
  }
}

api::Outcome WhatsAppChannel::verifySignature(const api::HttpView& request) noexcept {
  return api::guarded(host_, [&] {
    if (host_ == nullptr || host_->hmacSha256 == nullptr) return api::Outcome::kInternal;
    return meta::verifyHubSignature(*host_, settings_.appSecret, request);
  });
}

api::Outcome WhatsAppChannel::parseWebhook(const api::HttpView& request, api::EventSink& out) noexcept {
  return api::guarded(host_, [&] {
    const char* reason = nullptr;
    const api::Outcome outcome = parseWebhookBody(request.body, out, &reason);
    if (outcome != api::Outcome::kOk && reason != nullptr) {
      // Never the body itself: it holds message text and phone numbers.
      log(api::LogLevel::kWarn, "webhook.unparsed channel=" + settings_.id + " reason=\"" + reason + "\"");
    }
    return outcome;
  });
}

api::Outcome WhatsAppChannel::buildSend(const api::OutboundMessage& msg, api::RequestWriter& out) noexcept {
  return api::guarded(host_, [&] { return buildSendRequest(settings_.send, msg, out); });
}

api::Outcome WhatsAppChannel::readSendResult(int httpStatus, api::Bytes body, api::SendResult& out) noexcept {
  return api::guarded(host_, [&] { return readSendResponse(httpStatus, body, out); });
}

}  // namespace gateway::plugins::whatsapp
