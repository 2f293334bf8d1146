// libFuzzer target: arbitrary bytes as a WhatsApp Cloud API webhook body, through the plugin's
// parser (translate.h) and its X-Hub-Signature-256 check (channel.h, fixed app secret).
// Built only with GATEWAY_BUILD_FUZZERS=ON and clang; run by tools/run-fuzzers.sh.
#include <cstddef>
#include <cstdint>

#include "channel.h"
#include "fuzz_support.h"
#include "translate.h"

namespace {

namespace api = gateway::channel_api;
namespace fz = gateway::fuzz;
namespace wa = gateway::plugins::whatsapp;

wa::WhatsAppChannel& channel() {
  static wa::WhatsAppChannel* instance = new wa::WhatsAppChannel(
      fz::host(), wa::WhatsAppSettings{"wa-fuzz", fz::kAppSecret, {"v21.0", "110220330440551", "TOKEN"}});
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const api::Bytes body{reinterpret_cast<const char*>(data), size};

  fz::TouchingSink sink;
  const char* reason = nullptr;
  const api::Outcome outcome = wa::parseWebhookBody(body, sink, &reason);
  fz::requireParseOutcome(outcome);
  if (outcome != api::Outcome::kOk) {
    // translate.h: the envelope is checked before the first event, and a reason is given.
    fz::require(sink.count == 0, "events emitted before a non-kOk outcome");
    fz::require(reason != nullptr, "non-kOk outcome without a reason");
    fz::touch(api::bytesOf(reason));
  }

  // The same body through the Channel entry point the core calls (guarded, logs the reason).
  api::HttpView request{api::bytesOf("POST"), api::bytesOf("/webhooks/wa-fuzz"), api::Bytes{}, nullptr, 0, body};
  fz::TouchingSink channelSink;
  fz::require(channel().parseWebhook(request, channelSink) == outcome, "channel and translate disagree");
  fz::require(channelSink.count == sink.count, "channel and translate emitted different event counts");

  fz::checkSignatures(channel(), body);
  return 0;
}
