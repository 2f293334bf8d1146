// WhatsApp Cloud API webhook bodies -> normalized events (shared/platforms/README.md §6).
// Pure functions: no I/O, no state; everything emitted borrows from a document that lives
// only for the duration of one call.
#pragma once

#include <cstddef>

#include "gateway/channel_api.h"

namespace gateway::plugins::whatsapp {

namespace api = gateway::channel_api;

// The `object` of every WhatsApp Cloud API webhook.
inline constexpr char kWebhookObject[] = "whatsapp_business_account";

// Meta documents webhook payloads of up to 3 MB; anything far beyond is not from Meta and
// only costs memory to parse.
inline constexpr std::size_t kMaxBodyBytes = 4u * 1024u * 1024u;

// Real payloads nest about ten levels deep. Capping the depth keeps RapidJSON's recursive
// writer (used for rawJson) and any recursive walk far away from the stack limit.
inline constexpr int kMaxJsonDepth = 64;

// True when no object/array in `json` nests deeper than maxDepth (strings are skipped, so
// brackets inside text do not count). Says nothing about validity.
bool jsonNestingWithin(const char* json, std::size_t size, int maxDepth) noexcept;

// Emits one event per normalized event of a webhook body, in payload order (entry, change,
// then messages, message_echoes, statuses, errors). Returns
//   kOk          every event emitted (possibly none),
//   kMalformed   not JSON, trailing garbage, too big/deep, or wrong types in the envelope
//                (nothing is emitted: the envelope is checked before the first event),
//   kUnsupported valid JSON whose `object` is not "whatsapp_business_account".
// Elements WhatsApp might add tomorrow (unknown `field`, a message without id/type, a
// non-object array element) become EventKind::kUnknown events rather than failures.
// `reason`, when given, receives a static description of a non-kOk outcome for the log.
api::Outcome parseWebhookBody(api::Bytes body, api::EventSink& out, const char** reason = nullptr);

}  // namespace gateway::plugins::whatsapp
