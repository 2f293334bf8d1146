// Helpers every Meta platform plugin needs: the X-Hub-Signature-256 check and the
// timestamp rule of shared/platforms/README.md §5. Pure functions, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <rapidjson/document.h>

#include "gateway/channel_api.h"

namespace gateway::plugins::meta {

namespace api = gateway::channel_api;

// kOk when the request's X-Hub-Signature-256 header is "sha256=<hex>" and <hex> is the
// HMAC-SHA256 of the raw body keyed with appSecret (hex compared case-insensitively, digest
// compared in constant time). kRejected when missing, malformed or wrong.
api::Outcome verifyHubSignature(const api::HostApi& host, const std::string& appSecret,
                                const api::HttpView& request) noexcept;

// True when s[0, n) is well-formed UTF-8. Parsers check every string they read with it:
// RapidJSON 1.1.0 decodes a lone low-surrogate escape ("\udc00") into bytes that are not UTF-8
// even with kParseValidateEncodingFlag, and everything a plugin emits must be UTF-8.
bool isUtf8(const char* s, std::size_t n) noexcept;

// Constant-time equality of two equally long byte arrays.
bool constantTimeEquals(const unsigned char* a, const unsigned char* b, std::size_t n) noexcept;

// A platform timestamp (number or string of digits, seconds or milliseconds) as UTC ms.
// Values below 10^11 are seconds. Returns false when v is neither a number nor digits.
bool timestampMs(const rapidjson::Value& v, std::int64_t& out) noexcept;

// Member lookups that tolerate a missing member and a wrong type (returning nullptr).
const rapidjson::Value* member(const rapidjson::Value& obj, const char* name) noexcept;
const char* stringMember(const rapidjson::Value& obj, const char* name) noexcept;

// Compact JSON text of a value.
std::string toJson(const rapidjson::Value& v);

}  // namespace gateway::plugins::meta
