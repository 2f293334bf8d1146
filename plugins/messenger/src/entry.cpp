// The single exported symbol of messenger.so: static data, no logic runs until create().
#include "channel.h"
#include "gateway/channel_api.h"

namespace api = gateway::channel_api;
namespace meta = gateway::plugins::meta;
using gateway::plugins::messenger::MessengerChannel;

namespace {

// 24 h standard window; HUMAN_AGENT replies up to 7 days; no templates, no phone start.
const api::ChannelTraits kTraits{"psid", 86400, 604800, false, false};

api::Channel* create(const api::HostApi* host, const api::ChannelSettings* settings, char* err,
                     std::size_t cap) noexcept {
  return meta::createMessagingChannel<MessengerChannel>(host, settings, err, cap);
}

void destroy(api::Channel* channel) noexcept { meta::destroyMessagingChannel<MessengerChannel>(channel); }

const api::Descriptor kDescriptor{
    GATEWAY_CHANNEL_API_VERSION, GATEWAY_BUILD_SIGNATURE, "messenger", &kTraits, create, destroy,
};

}  // namespace

extern "C" GATEWAY_PLUGIN_EXPORT const api::Descriptor* gateway_channel_descriptor() noexcept {
  return &kDescriptor;
}
