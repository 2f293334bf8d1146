#include "translate.h"

namespace gateway::plugins::messenger {

namespace {

// The Send API knows image, audio, video and file; a CRM "document" is a file.
constexpr meta::AttachmentTypeMapping kAttachmentTypes[] = {
    {"image", "image"}, {"audio", "audio"}, {"video", "video"}, {"file", "file"}, {"document", "file"},
};

constexpr meta::MessagingPlatform kPlatform{
    "page",  // objectName
    "psid",  // userIdKind
    false,   // eventsInChanges: page changes[] are feed events, not messages
    true,    // messagingTypeOnEverySend: RESPONSE inside the window
    true,    // sendsMetadata: comes back in the echo
    true,    // reusableAttachments
    kAttachmentTypes,
    sizeof(kAttachmentTypes) / sizeof(kAttachmentTypes[0]),
};

}  // namespace

const meta::MessagingPlatform& platform() noexcept { return kPlatform; }

api::Outcome parseWebhook(const meta::MessagingConfig& config, api::Bytes body, api::EventSink& out) {
  return meta::parseMessagingWebhook(kPlatform, config, body, out);
}

api::Outcome buildSend(const meta::MessagingConfig& config, const api::OutboundMessage& msg,
                       api::RequestWriter& out) {
  return meta::buildMessagingSend(kPlatform, config, msg, out);
}

api::Outcome readSendResult(int httpStatus, api::Bytes body, api::SendResult& out) {
  return meta::readMessagingSendResult(httpStatus, body, out);
}

}  // namespace gateway::plugins::messenger
