// Shared pieces of the plugin parser fuzzers (tests/fuzz/*_parse_fuzz.cpp): a HostApi with an
// OpenSSL HMAC, an EventSink that reads every byte of every field (so ASan sees any borrowed
// pointer that is dangling or out of bounds) and checks the contract invariants of an Event,
// and a signature-check driver. A violated invariant aborts, which libFuzzer reports as a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>

#include "gateway/channel_api.h"

namespace gateway::fuzz {

namespace api = gateway::channel_api;

// A fixed, made-up secret (the fixtures' one, tests/fixtures/README.md).
inline constexpr char kAppSecret[] = "test-app-secret-0b1c2d3e4f5a6b7c";

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

inline void require(bool condition, const char* what) {
  if (!condition) fail(what);
}

// ---- HostApi ----

inline void hostLog(void*, api::LogLevel, api::Bytes line) noexcept {
  // Read the line the way a logger would.
  volatile unsigned char sum = 0;
  for (std::size_t i = 0; i < line.size; ++i) sum = sum + static_cast<unsigned char>(line.data[i]);
}

inline bool hostHmac(void*, api::Bytes key, api::Bytes data, unsigned char out[32]) noexcept {
  static const unsigned char kEmpty = 0;
  const auto* bytes = data.size > 0 ? reinterpret_cast<const unsigned char*>(data.data) : &kEmpty;
  unsigned int length = 0;
  return HMAC(EVP_sha256(), key.data, static_cast<int>(key.size), bytes, data.size, out, &length) != nullptr &&
         length == 32;
}

inline const api::HostApi* host() {
  static const api::HostApi kHost{nullptr, &hostLog, &hostHmac};
  return &kHost;
}

// ---- EventSink ----

// Reads every byte of a borrowed range; a null range must be empty.
inline unsigned touch(api::Bytes b) {
  if (b.data == nullptr) {
    require(b.size == 0, "null Bytes with a non-zero size");
    return 0;
  }
  unsigned sum = static_cast<unsigned>(b.size);
  for (std::size_t i = 0; i < b.size; ++i) sum = sum * 31u + static_cast<unsigned char>(b.data[i]);
  return sum;
}

// Valid JSON text (strict UTF-8), an object when wantObject.
inline bool isJson(api::Bytes json, bool wantObject) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data, json.size);
  return !doc.HasParseError() && (!wantObject || doc.IsObject());
}

struct NullOutput {
  void Put(char) {}
};

// Every byte sequence a plugin passes on may be written into JSON again by the core.
inline bool isUtf8(api::Bytes b) {
  if (b.data == nullptr) return true;
  rapidjson::MemoryStream in(b.data, b.size);
  NullOutput out;
  while (in.Tell() < b.size) {
    if (!rapidjson::UTF8<>::Validate(in, out)) return false;
  }
  return true;
}

class TouchingSink final : public api::EventSink {
 public:
  void onEvent(const api::Event& e) noexcept override {
    ++count;
    const auto kind = static_cast<std::uint32_t>(e.kind);
    const auto direction = static_cast<std::uint32_t>(e.direction);
    require(kind <= static_cast<std::uint32_t>(api::EventKind::kUnknown), "EventKind out of range");
    require(direction <= static_cast<std::uint32_t>(api::Direction::kOutbound), "Direction out of range");
    unsigned sum = kind ^ (direction << 4);
    for (const api::Bytes* b : {&e.businessAccountId, &e.externalUserId, &e.userIdKind, &e.externalMessageId,
                                &e.targetMessageId, &e.replyToMessageId, &e.contentType, &e.text,
                                &e.profileName, &e.status, &e.errorMessage, &e.extraJson, &e.rawJson}) {
      sum = sum * 131u + touch(*b);
    }
    sum += static_cast<unsigned>(e.timestampMs) + static_cast<unsigned>(e.errorCode) + (e.hasErrorCode ? 1u : 0u);
    checksum = checksum + sum;
    // channel_api.h: rawJson is always set; extraJson is a compact JSON object ("{}" when none).
    require(!e.rawJson.isNull() && isJson(e.rawJson, false), "rawJson is not valid JSON");
    require(!e.extraJson.isNull() && isJson(e.extraJson, true), "extraJson is not a JSON object");
    for (const api::Bytes* b : {&e.businessAccountId, &e.externalUserId, &e.userIdKind, &e.externalMessageId,
                                &e.targetMessageId, &e.replyToMessageId, &e.contentType, &e.text,
                                &e.profileName, &e.status, &e.errorMessage}) {
      require(isUtf8(*b), "a string field is not valid UTF-8");
    }
    require(e.hasErrorCode || e.errorCode == 0, "errorCode without hasErrorCode");
  }

  std::size_t count = 0;
  volatile unsigned checksum = 0;
};

inline void requireParseOutcome(api::Outcome outcome) {
  require(outcome == api::Outcome::kOk || outcome == api::Outcome::kMalformed ||
              outcome == api::Outcome::kUnsupported,
          "parse returned an outcome other than kOk/kMalformed/kUnsupported");
}

// ---- X-Hub-Signature-256 ----

inline std::string hexOf(const unsigned char* digest, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string hex;
  for (int i = 0; i < 32; ++i) {
    hex += digits[digest[i] >> 4];
    hex += digits[digest[i] & 15];
  }
  return hex;
}

// Drives a channel's verifySignature (anything with verifySignature(const HttpView&)) with the
// body as given: a header taken from the input's first line (hostile header parsing), the
// correct signature (must pass, either hex case) and a one-digit corruption (must fail).
template <class Channel>
void checkSignatures(Channel& channel, api::Bytes body) {
  api::Header header{api::bytesOf("x-hub-signature-256"), api::Bytes{}};
  api::HttpView request{api::bytesOf("POST"), api::bytesOf("/webhooks"), api::Bytes{}, &header, 1, body};

  // 1. The first line of the input (at most 80 bytes) as the header value.
  std::size_t n = 0;
  while (n < body.size && n < 80 && body.data[n] != '\n') ++n;
  const std::string firstLine(body.data, n);  // own copy: ASan bounds on exactly n bytes
  header.value = api::Bytes{firstLine.data(), firstLine.size()};
  const api::Outcome hostile = channel.verifySignature(request);
  require(hostile == api::Outcome::kOk || hostile == api::Outcome::kRejected,
          "verifySignature on an arbitrary header returned neither kOk nor kRejected");

  // 2. The right signature, lower- and upper-case hex.
  unsigned char digest[32];
  require(hostHmac(nullptr, api::bytesOf(kAppSecret), body, digest), "HMAC failed");
  for (const bool upper : {false, true}) {
    const std::string good = "sha256=" + hexOf(digest, upper);
    header.value = api::Bytes{good.data(), good.size()};
    require(channel.verifySignature(request) == api::Outcome::kOk, "correct signature rejected");

    // 3. One hex digit changed (position chosen by the body) must be rejected.
    std::string bad = good;
    const std::size_t at = 7 + (body.size % 64);
    bad[at] = bad[at] == '0' ? '1' : '0';
    header.value = api::Bytes{bad.data(), bad.size()};
    require(channel.verifySignature(request) == api::Outcome::kRejected, "wrong signature accepted");
  }

  // 4. No header at all.
  request.headerCount = 0;
  require(channel.verifySignature(request) == api::Outcome::kRejected, "missing signature accepted");
}

}  // namespace gateway::fuzz
