#include "channel.h"

#include <utility>

#include "translate.h"

namespace gateway::plugins::messenger {

MessengerChannel::MessengerChannel(const channel_api::HostApi* host, meta::MessagingConfig config)
    : meta::MessagingChannel(host, platform(), std::move(config)) {}

}  // namespace gateway::plugins::messenger
