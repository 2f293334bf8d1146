// The Messenger Channel: the shared messaging Channel bound to Messenger's platform table.
#pragma once

#include "meta_messaging.h"

namespace gateway::plugins::messenger {

class MessengerChannel final : public meta::MessagingChannel {
 public:
  // host must outlive the channel (HostApi's contract); config is the copied settings.
  MessengerChannel(const channel_api::HostApi* host, meta::MessagingConfig config);
};

}  // namespace gateway::plugins::messenger
