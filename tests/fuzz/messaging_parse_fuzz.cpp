// libFuzzer target for the two messaging-format plugins (Messenger, Instagram; which one is
// chosen at compile time with FUZZ_PLUGIN_NS / FUZZ_PLUGIN_CHANNEL / FUZZ_PLUGIN_NAME):
// arbitrary bytes as a webhook body, through the plugin's parser (translate.h ->
// plugins/common/meta_messaging.cpp) and its X-Hub-Signature-256 check (fixed app secret). Built only with GATEWAY_BUILD_FUZZERS=ON and clang; run by
// tools/run-fuzzers.sh.
#include <cstddef>
#include <cstdint>

#include "channel.h"
#include "fuzz_support.h"
#include "meta_messaging.h"
#include "translate.h"

namespace {

namespace api = gateway::channel_api;
namespace fz = gateway::fuzz;
namespace meta = gateway::plugins::meta;
namespace plugin = gateway::plugins::FUZZ_PLUGIN_NS;

meta::MessagingConfig config() {
  meta::MessagingConfig c;
  c.accountId = FUZZ_PLUGIN_NAME "-fuzz-account";
  c.appSecret = fz::kAppSecret;
  c.appId = "900100200300400";  // the fixtures' own app id: echoes take the own-app branch
  c.accessToken = "TOKEN";
  return c;
}

plugin::FUZZ_PLUGIN_CHANNEL& channel() {
  static plugin::FUZZ_PLUGIN_CHANNEL* instance = new plugin::FUZZ_PLUGIN_CHANNEL(fz::host(), config());
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const meta::MessagingConfig kConfig = config();
  const api::Bytes body{reinterpret_cast<const char*>(data), size};

  fz::TouchingSink sink;
  const api::Outcome outcome = plugin::parseWebhook(kConfig, body, sink);
  fz::requireParseOutcome(outcome);

  // The same body through the Channel entry point the core calls (guarded).
  api::HttpView request{api::bytesOf("POST"), api::bytesOf("/webhooks/" FUZZ_PLUGIN_NAME "-fuzz"), api::Bytes{}, nullptr, 0, body};
  fz::TouchingSink channelSink;
  fz::require(channel().parseWebhook(request, channelSink) == outcome, "channel and translate disagree");
  fz::require(channelSink.count == sink.count, "channel and translate emitted different event counts");

  fz::checkSignatures(channel(), body);
  return 0;
}
