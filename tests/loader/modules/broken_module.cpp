// Deliberately broken plugins, one per BROKEN_KIND, for the loader's refusal tests.
#include <stdexcept>

#include "gateway/channel_api.h"

namespace api = gateway::channel_api;

namespace {

const api::ChannelTraits kTraits{"wa_id", 86400, 0, true, true};

api::Channel* createFails(const api::HostApi*, const api::ChannelSettings*, char* err,
                          std::size_t cap) noexcept {
  api::writeError(err, cap, "access_token is required");
  return nullptr;
}

// Throws through a function the API declares noexcept: exactly the bug the loader must survive.
api::Channel* createThrowsImpl(const api::HostApi*, const api::ChannelSettings*, char*, std::size_t) {
  throw std::runtime_error("boom from create");
}

void destroyNothing(api::Channel*) noexcept {}

#if BROKEN_KIND == 1  // wrong API version
const api::Descriptor kDescriptor{GATEWAY_CHANNEL_API_VERSION + 1, GATEWAY_BUILD_SIGNATURE, "whatsapp",
                                  &kTraits, &createFails, &destroyNothing};
#elif BROKEN_KIND == 2  // create() refuses
const api::Descriptor kDescriptor{GATEWAY_CHANNEL_API_VERSION, GATEWAY_BUILD_SIGNATURE, "whatsapp",
                                  &kTraits, &createFails, &destroyNothing};
#elif BROKEN_KIND == 3  // create() throws
using Create = api::Channel* (*)(const api::HostApi*, const api::ChannelSettings*, char*, std::size_t) noexcept;
const api::Descriptor kDescriptor{GATEWAY_CHANNEL_API_VERSION, GATEWAY_BUILD_SIGNATURE, "whatsapp",
                                  &kTraits, reinterpret_cast<Create>(&createThrowsImpl), &destroyNothing};
#elif BROKEN_KIND == 4  // other compiler / ABI
const api::Descriptor kDescriptor{GATEWAY_CHANNEL_API_VERSION, "othercc-99/cxx11abi=0", "whatsapp",
                                  &kTraits, &createFails, &destroyNothing};
#endif

}  // namespace

#if BROKEN_KIND != 0  // kind 0: no entry symbol at all
extern "C" GATEWAY_PLUGIN_EXPORT const api::Descriptor* gateway_channel_descriptor() noexcept {
  return &kDescriptor;
}
#else
extern "C" GATEWAY_PLUGIN_EXPORT int gateway_something_else() { return 0; }
#endif
