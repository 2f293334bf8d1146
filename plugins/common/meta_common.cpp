#include "meta_common.h"

#include <cstddef>
#include <cstring>

#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace gateway::plugins::meta {

namespace {

int hexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct DiscardOutput {
  void Put(char) noexcept {}
};

// Enough for a webhook of a few kilobytes, the usual size, and any send answer.
constexpr std::size_t kParseBufferBytes = 16 * 1024;

struct ParseBuffer {
  alignas(std::max_align_t) char bytes[kParseBufferBytes];
  bool inUse = false;
};

ParseBuffer& parseBuffer() {
  thread_local ParseBuffer buffer;
  return buffer;
}

}  // namespace

ParseDocument::ParseDocument() {
  ParseBuffer& buffer = parseBuffer();
  if (!buffer.inUse) {
    buffer.inUse = ownsBuffer_ = true;
    allocator_.emplace(buffer.bytes, sizeof buffer.bytes);
  } else {
    allocator_.emplace();
  }
  doc_.emplace(&*allocator_);
}

// The members go after this: the document, then the allocator with any blocks it added.
ParseDocument::~ParseDocument() {
  if (ownsBuffer_) parseBuffer().inUse = false;
}

bool isUtf8(const char* s, std::size_t n) noexcept {
  rapidjson::MemoryStream in(s, n);
  DiscardOutput out;
  while (in.Tell() < n) {
    if (!rapidjson::UTF8<>::Validate(in, out)) return false;
  }
  return true;
}

bool constantTimeEquals(const unsigned char* a, const unsigned char* b, std::size_t n) noexcept {
  // Accumulate differences so the time does not depend on where the first one is.
  volatile unsigned char diff = 0;
  for (std::size_t i = 0; i < n; ++i) diff = diff | (a[i] ^ b[i]);
  return diff == 0;
}

api::Outcome verifyHubSignature(const api::HostApi& host, const std::string& appSecret,
                                const api::HttpView& request) noexcept {
  static constexpr char kPrefix[] = "sha256=";
  static constexpr std::size_t kPrefixLen = sizeof(kPrefix) - 1;
  const api::Bytes header = api::findHeader(request, "x-hub-signature-256");
  if (header.isNull() || header.size != kPrefixLen + 64 ||
      std::memcmp(header.data, kPrefix, kPrefixLen) != 0 || appSecret.empty()) {
    return api::Outcome::kRejected;
  }
  unsigned char given[32];
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = hexValue(header.data[kPrefixLen + 2 * i]);
    const int lo = hexValue(header.data[kPrefixLen + 2 * i + 1]);
    if (hi < 0 || lo < 0) return api::Outcome::kRejected;
    given[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  unsigned char expected[32];
  const api::Bytes key{appSecret.data(), appSecret.size()};
  const api::Bytes body = request.body.isNull() ? api::Bytes{"", 0} : request.body;
  if (!host.hmacSha256(host.ctx, key, body, expected)) return api::Outcome::kInternal;
  return constantTimeEquals(given, expected, 32) ? api::Outcome::kOk : api::Outcome::kRejected;
}

bool timestampMs(const rapidjson::Value& v, std::int64_t& out) noexcept {
  std::int64_t raw = 0;
  if (v.IsInt64()) {
    raw = v.GetInt64();
  } else if (v.IsUint64()) {
    raw = static_cast<std::int64_t>(v.GetUint64());
  } else if (v.IsDouble()) {
    // Converting a double beyond int64 is undefined behaviour (e.g. 1e300); no real time is.
    if (!(v.GetDouble() >= 0.0 && v.GetDouble() < 9.0e18)) return false;
    raw = static_cast<std::int64_t>(v.GetDouble());
  } else if (v.IsString()) {
    const char* s = v.GetString();
    const std::size_t n = v.GetStringLength();
    if (n == 0 || n > 18) return false;
    for (std::size_t i = 0; i < n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      raw = raw * 10 + (s[i] - '0');
    }
  } else {
    return false;
  }
  if (raw < 0) return false;
  out = raw < 100000000000LL ? raw * 1000 : raw;
  return true;
}

const rapidjson::Value* member(const rapidjson::Value& obj, const char* name) noexcept {
  if (!obj.IsObject()) return nullptr;
  const auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

const char* stringMember(const rapidjson::Value& obj, const char* name) noexcept {
  const rapidjson::Value* v = member(obj, name);
  return v != nullptr && v->IsString() ? v->GetString() : nullptr;
}

std::string toJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace gateway::plugins::meta
