#include "translate.h"

namespace gateway::plugins::instagram {

namespace {

// instagram.md §4: the Send API carries image, video and audio; no files or documents.
constexpr meta::AttachmentTypeMapping kAttachmentTypes[] = {
    {"image", "image"}, {"audio", "audio"}, {"video", "video"},
};

constexpr meta::MessagingPlatform kPlatform{
    "instagram",  // objectName
    "igsid",      // userIdKind
    true,         // eventsInChanges: dashboard "Test" deliveries use changes[{field,value}]
    false,        // messagingTypeOnEverySend: only MESSAGE_TAG is documented (req_text.json)
    false,        // sendsMetadata: Instagram echoes carry no metadata
    false,        // reusableAttachments: not in the Instagram Send API
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

}  // namespace gateway::plugins::instagram
