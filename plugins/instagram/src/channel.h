// The Instagram Channel: the shared messaging Channel bound to Instagram's platform table.
#pragma once

#include "meta_messaging.h"

namespace gateway::plugins::instagram {

class InstagramChannel final : public meta::MessagingChannel {
 public:
  // host must outlive the channel (HostApi's contract); config is the copied settings.
  InstagramChannel(const channel_api::HostApi* host, meta::MessagingConfig config);
};

}  // namespace gateway::plugins::instagram
