// A HostApi for tests: HMAC from OpenSSL, log lines kept for inspection.
#pragma once

#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gateway/channel_api.h"

namespace gateway::test_support {

namespace api = gateway::channel_api;

class TestHost {
 public:
  TestHost() : api_{this, &log, &hmac} {}
  TestHost(const TestHost&) = delete;
  TestHost& operator=(const TestHost&) = delete;

  const api::HostApi* get() const { return &api_; }
  std::vector<std::string> lines;

  static std::string hexHmac(const std::string& key, const std::string& data) {
    unsigned char digest[32];
    hmac(nullptr, api::Bytes{key.data(), key.size()}, api::Bytes{data.data(), data.size()}, digest);
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned char c : digest) {
      hex += kHex[c >> 4];
      hex += kHex[c & 15];
    }
    return hex;
  }

 private:
  static void log(void* ctx, api::LogLevel, api::Bytes line) noexcept {
    static_cast<TestHost*>(ctx)->lines.emplace_back(line.data, line.size);
  }
  static bool hmac(void*, api::Bytes key, api::Bytes data, unsigned char out[32]) noexcept {
    unsigned int length = 0;
    static const unsigned char kEmpty = 0;
    const auto* bytes = data.size > 0 ? reinterpret_cast<const unsigned char*>(data.data) : &kEmpty;
    return HMAC(EVP_sha256(), key.data, static_cast<int>(key.size), bytes, data.size, out, &length) != nullptr &&
           length == 32;
  }

  api::HostApi api_;
};

}  // namespace gateway::test_support
