// What Messenger and Instagram share: the `messaging[]` webhook format, the Send API request
// shape, the Graph error classification and a Channel built on them. Each plugin describes
// its differences in a MessagingPlatform table (its translate.cpp) and a thin Channel subclass.
// Pure code: no I/O, no threads, no state beyond what create() copied.
#pragma once

#include <cstddef>
#include <exception>
#include <new>
#include <string>

#include "gateway/channel_api.h"

namespace gateway::plugins::meta {

namespace api = gateway::channel_api;

// A gateway attachment type (OutboundMessage::attachmentType) and the Send API type for it.
struct AttachmentTypeMapping {
  const char* gatewayType;
  const char* platformType;
};

// Everything that differs between the two platforms. One constant per plugin.
struct MessagingPlatform {
  const char* objectName;  // webhook `object`: "page" | "instagram"
  const char* userIdKind;  // "psid" | "igsid"
  // Instagram's dashboard "Test" deliveries put the event in entry[].changes[].value.
  // Elsewhere `changes` carries non-messaging fields (feed, comments) and becomes kUnknown.
  bool eventsInChanges;
  // Messenger's Send API wants messaging_type on every call; Instagram only with a tag.
  bool messagingTypeOnEverySend;
  // Messenger returns message.metadata in the echo, which identifies our own sends.
  bool sendsMetadata;
  // Messenger can keep an uploaded URL attachment for reuse; Instagram has no such flag.
  bool reusableAttachments;
  const AttachmentTypeMapping* attachmentTypes;
  std::size_t attachmentTypeCount;
};

// The per-channel settings a messaging channel keeps, copied at create().
struct MessagingConfig {
  std::string accountId;    // page id | Instagram account id
  std::string appSecret;    // X-Hub-Signature-256 key
  std::string appId;        // our app id; empty means no echo is ours
  std::string accessToken;  // Graph API token
  std::string apiVersion = "v21.0";  // Graph version when the config names none
};

// Copies settings into config. False, with the missing setting named in error (e.g.
// "app_secret is required"), when account_id, app_secret or access_token is empty.
bool configFromSettings(const api::ChannelSettings& settings, MessagingConfig& config,
                        std::string& error);

// Emits every event of a webhook body in payload order (entries, then messaging[], standby[]
// and changes[] of each). kMalformed: not JSON (trailing bytes included), nesting deeper than
// the plugin accepts, or a documented field of the wrong type. kUnsupported: another `object`.
api::Outcome parseMessagingWebhook(const MessagingPlatform& platform, const MessagingConfig& config,
                                   api::Bytes body, api::EventSink& out);

// POST /{apiVersion}/{accountId}/messages with a Bearer token. kUnsupported for templates,
// tags other than HUMAN_AGENT, attachment types or captions the platform cannot carry and
// recipients of another identity kind; kMalformed when text, URL or recipient is missing.
api::Outcome buildMessagingSend(const MessagingPlatform& platform, const MessagingConfig& config,
                                const api::OutboundMessage& msg, api::RequestWriter& out);

// Reports every answer to out exactly once (accepted or failed) and returns kOk.
api::Outcome readMessagingSendResult(int httpStatus, api::Bytes body, api::SendResult& out);

// The Channel both plugins expose; their subclasses only choose the platform table.
class MessagingChannel : public api::Channel {
 public:
  MessagingChannel(const api::HostApi* host, const MessagingPlatform& platform,
                   MessagingConfig config);

  api::Outcome verifySignature(const api::HttpView& request) noexcept override;
  api::Outcome parseWebhook(const api::HttpView& request, api::EventSink& out) noexcept override;
  api::Outcome buildSend(const api::OutboundMessage& msg, api::RequestWriter& out) noexcept override;
  api::Outcome readSendResult(int httpStatus, api::Bytes body, api::SendResult& out) noexcept override;

 protected:
  ~MessagingChannel() = default;

 private:
  const api::HostApi* host_;
  const MessagingPlatform& platform_;
  const MessagingConfig config_;
};

// Body of a plugin's Descriptor::create: refuses a missing host or credential with a message,
// turns exceptions into nullptr + message. ChannelT(const HostApi*, MessagingConfig).
template <class ChannelT>
api::Channel* createMessagingChannel(const api::HostApi* host, const api::ChannelSettings* settings,
                                     char* err, std::size_t cap) noexcept {
  try {
    if (host == nullptr || host->hmacSha256 == nullptr) {
      api::writeError(err, cap, "host API with hmacSha256 is required");
      return nullptr;
    }
    if (settings == nullptr) {
      api::writeError(err, cap, "channel settings are required");
      return nullptr;
    }
    MessagingConfig config;
    std::string error;
    if (!configFromSettings(*settings, config, error)) {
      api::writeError(err, cap, error.c_str());
      return nullptr;
    }
    return new ChannelT(host, std::move(config));
  } catch (const std::exception& e) {
    api::writeError(err, cap, e.what());
  } catch (...) {
    api::writeError(err, cap, "unknown exception while creating the channel");
  }
  return nullptr;
}

// Body of a plugin's Descriptor::destroy: deletes through the concrete type because
// api::Channel's destructor is protected and not virtual.
template <class ChannelT>
void destroyMessagingChannel(api::Channel* channel) noexcept {
  delete static_cast<ChannelT*>(channel);
}

}  // namespace gateway::plugins::meta
