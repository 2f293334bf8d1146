// Helpers every Meta platform plugin needs: the X-Hub-Signature-256 check and the
// timestamp rule of shared/platforms/README.md §5. Pure functions, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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

// A document for one parse (a webhook, a send answer) whose values come from a buffer of
// the calling thread. RapidJSON's own allocator mallocs a 64 KB block for each document,
// and glibc serves a block that large only after merging its small free chunks: at
// 15,000 webhooks a second that was ~2.5% of the gateway's CPU. A second document
// alive on the same thread at the same time gets RapidJSON's usual allocator, and one that
// outgrows the buffer gets more blocks from it.
class ParseDocument {
 public:
  ParseDocument();
  ~ParseDocument();
  ParseDocument(const ParseDocument&) = delete;
  ParseDocument& operator=(const ParseDocument&) = delete;

  rapidjson::Document& get() { return *doc_; }

 private:
  bool ownsBuffer_ = false;
  std::optional<rapidjson::MemoryPoolAllocator<>> allocator_;
  std::optional<rapidjson::Document> doc_;  // after allocator_: destroyed first
};

}  // namespace gateway::plugins::meta
