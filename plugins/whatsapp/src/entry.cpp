// The WhatsApp plugin's single exported symbol and its static descriptor.
#include <exception>
#include <new>
#include <string>

#include "channel.h"
#include "gateway/channel_api.h"

namespace {

namespace api = gateway::channel_api;
using gateway::plugins::whatsapp::WhatsAppChannel;
using gateway::plugins::whatsapp::WhatsAppSettings;

const api::ChannelTraits kTraits{
    "wa_id",  // userIdKind (BSUID users also exist; each event says which kind it carries)
    86400,    // windowSeconds: 24 h customer-service window
    0,        // tagWindowSeconds: WhatsApp has no message tags
    true,     // templatesIgnoreWindow
    true,     // canStartFromPhone
};

std::string copy(api::Bytes b) { return b.isNull() ? std::string() : std::string(b.data, b.size); }

// The settings without which the channel cannot verify or send, with their config names.
const char* missingSetting(const api::ChannelSettings& s) noexcept {
  if (s.accountId.isNull() || s.accountId.size == 0) return "account_id is required";
  if (s.appSecret.isNull() || s.appSecret.size == 0) return "app_secret is required";
  if (s.accessToken.isNull() || s.accessToken.size == 0) return "access_token is required";
  if (s.apiVersion.isNull() || s.apiVersion.size == 0) return "api_version is required";
  return nullptr;
}

api::Channel* create(const api::HostApi* host, const api::ChannelSettings* settings, char* err,
                     std::size_t cap) noexcept {
  try {
    if (host == nullptr || host->hmacSha256 == nullptr) {
      api::writeError(err, cap, "host API without hmacSha256");
      return nullptr;
    }
    if (settings == nullptr) {
      api::writeError(err, cap, "no settings");
      return nullptr;
    }
    if (const char* missing = missingSetting(*settings)) {
      api::writeError(err, cap, missing);
      return nullptr;
    }
    WhatsAppSettings copied;
    copied.id = copy(settings->id);
    copied.appSecret = copy(settings->appSecret);
    copied.send.apiVersion = copy(settings->apiVersion);
    copied.send.phoneNumberId = copy(settings->accountId);
    copied.send.accessToken = copy(settings->accessToken);
    return new WhatsAppChannel(host, std::move(copied));
  } catch (const std::exception& e) {
    api::writeError(err, cap, e.what());
  } catch (...) {
    api::writeError(err, cap, "unknown exception in create");
  }
  return nullptr;
}

void destroy(api::Channel* channel) noexcept {
  // Only channels made by create() above arrive here.
  delete static_cast<WhatsAppChannel*>(channel);
}

const api::Descriptor kDescriptor{
    GATEWAY_CHANNEL_API_VERSION, GATEWAY_BUILD_SIGNATURE, "whatsapp", &kTraits, &create, &destroy,
};

}  // namespace

extern "C" GATEWAY_PLUGIN_EXPORT const gateway::channel_api::Descriptor*
gateway_channel_descriptor() noexcept {
  return &kDescriptor;
}
