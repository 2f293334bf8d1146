// The loader refuses broken plugins with one message naming the file and the reason, both
// in-process and when the real binary starts.
#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include "plugins/plugin_loader.h"
#include "test_support.h"

namespace gw = gateway;
using gw::plugins::PluginError;
using ::testing::HasSubstr;

namespace {

std::string brokenPath(const std::string& kind) {
  return std::string(BROKEN_MODULES_DIR) + "/" + kind + "/whatsapp.so";
}

std::string loadError(const std::string& path, const std::string& type = "whatsapp") {
  try {
    gw::plugins::loadPlugin(path, type);
  } catch (const PluginError& e) {
    return e.what();
  }
  return "";
}

std::string createError(const std::string& path) {
  const gw::plugins::LoadedPlugin plugin = gw::plugins::loadPlugin(path, "whatsapp");
  gw::channel_api::ChannelSettings settings;
  settings.id = gw::channel_api::bytesOf("wa-main");
  try {
    gw::plugins::createChannel(plugin, gw::plugins::hostApiFor("whatsapp"), settings);
  } catch (const PluginError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Loader, MissingFileIsRefusedByName) {
  const std::string path = "/nonexistent/plugins/whatsapp.so";
  const std::string error = loadError(path);
  EXPECT_THAT(error, HasSubstr(path));
  EXPECT_THAT(error, HasSubstr("cannot load"));
}

TEST(Loader, FileThatIsNotAModuleIsRefused) {
  gw::testing::TempDir dir;
  gw::testing::writeFile(dir.file("whatsapp.so"), "not an ELF file\n");
  const std::string error = loadError(dir.file("whatsapp.so"));
  EXPECT_THAT(error, HasSubstr(dir.file("whatsapp.so")));
  EXPECT_THAT(error, HasSubstr("cannot load"));
}

TEST(Loader, ModuleWithoutEntrySymbolIsRefused) {
  const std::string error = loadError(brokenPath("no_symbol"));
  EXPECT_THAT(error, HasSubstr(brokenPath("no_symbol")));
  EXPECT_THAT(error, HasSubstr("no entry symbol gateway_channel_descriptor"));
}

TEST(Loader, OtherApiVersionIsRefusedNamingBothVersions) {
  const std::string error = loadError(brokenPath("wrong_version"));
  EXPECT_THAT(error, HasSubstr(brokenPath("wrong_version")));
  EXPECT_THAT(error, HasSubstr("version " + std::to_string(GATEWAY_CHANNEL_API_VERSION + 1)));
  EXPECT_THAT(error, HasSubstr("speaks version " + std::to_string(GATEWAY_CHANNEL_API_VERSION)));
}

TEST(Loader, OtherBuildSignatureIsRefused) {
  const std::string error = loadError(brokenPath("wrong_signature"));
  EXPECT_THAT(error, HasSubstr("othercc-99/cxx11abi=0"));
  EXPECT_THAT(error, HasSubstr(GATEWAY_BUILD_SIGNATURE));
}

TEST(Loader, PluginOfAnotherTypeIsRefused) {
  const std::string path = gw::plugins::pluginPath(gw::testing::pluginDir(), "messenger");
  const std::string error = loadError(path, "whatsapp");
  EXPECT_THAT(error, HasSubstr("is a 'messenger' plugin, expected 'whatsapp'"));
}

TEST(Loader, CreateThatFailsIsReportedWithThePluginsReason) {
  const std::string error = createError(brokenPath("create_fails"));
  EXPECT_THAT(error, HasSubstr(brokenPath("create_fails")));
  EXPECT_THAT(error, HasSubstr("cannot create channel 'wa-main': access_token is required"));
}

TEST(Loader, CreateThatThrowsDoesNotTakeTheProcessDown) {
  const std::string error = createError(brokenPath("create_throws"));
  EXPECT_THAT(error, HasSubstr("threw: boom from create"));
}

TEST(Loader, RealPluginsLoadWithTheirTypeAndTraits) {
  for (const std::string type : {"whatsapp", "messenger", "instagram"}) {
    const auto plugin = gw::plugins::loadPlugin(gw::plugins::pluginPath(gw::testing::pluginDir(), type), type);
    ASSERT_NE(plugin.descriptor, nullptr);
    EXPECT_EQ(std::string(plugin.descriptor->type), type);
    EXPECT_EQ(plugin.descriptor->apiVersion, static_cast<std::uint32_t>(GATEWAY_CHANNEL_API_VERSION));
    EXPECT_EQ(plugin.descriptor->traits->windowSeconds, 86400);
  }
}

namespace {

std::string hexOf(const unsigned char* bytes, std::size_t n) {
  std::string hex(2 * n, '\0');
  for (std::size_t i = 0; i < n; ++i) std::snprintf(&hex[2 * i], 3, "%02x", bytes[i]);
  return hex;
}

std::string hostHmacHex(const std::string& key, const std::string& data) {
  const gw::channel_api::HostApi* host = gw::plugins::hostApiFor("whatsapp");
  unsigned char mac[32];
  if (!host->hmacSha256(host->ctx, {key.data(), key.size()}, {data.data(), data.size()}, mac)) return "failed";
  return hexOf(mac, sizeof mac);
}

// OpenSSL's one-shot HMAC (what the test support signs webhooks with), for comparison.
std::string oneShotHmacHex(const std::string& key, const std::string& data) {
  return gw::testing::hubSignature(key, data).substr(std::string("sha256=").size());
}

}  // namespace

// RFC 4231 test cases 1, 2 and 6 (a key longer than SHA-256's block).
TEST(HostHmac, MatchesTheRfc4231Vectors) {
  EXPECT_EQ(hostHmacHex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hostHmacHex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hostHmacHex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// Each thread keeps keyed contexts: interleaved keys, more keys than it keeps, the same key
// again after it was dropped, and empty data all sign as the one-shot function does.
TEST(HostHmac, KeyedContextsAreReusedWithoutMixingKeys) {
  std::vector<std::string> keys;
  for (int i = 0; i < 11; ++i) keys.push_back("app-secret-" + std::to_string(i));  // a thread keeps 8
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::string data = "{\"object\":\"page\",\"n\":" + std::to_string(round * 10 + static_cast<int>(i)) + "}";
      EXPECT_EQ(hostHmacHex(keys[i], data), oneShotHmacHex(keys[i], data)) << keys[i];
      EXPECT_EQ(hostHmacHex(keys[0], data), oneShotHmacHex(keys[0], data));  // the first key, in between
    }
  }
  EXPECT_EQ(hostHmacHex(keys[3], ""), oneShotHmacHex(keys[3], ""));
  EXPECT_EQ(hostHmacHex(keys[3], "x"), oneShotHmacHex(keys[3], "x"));  // after an empty message
}

TEST(HostHmac, ThreadsSignAtTheSameTime) {
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < 500; ++i) {
        const std::string key = "secret-" + std::to_string((t + i) % 3);
        const std::string data = "body " + std::to_string(t) + "/" + std::to_string(i);
        if (hostHmacHex(key, data) != oneShotHmacHex(key, data)) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

// Any edit of the API header must come with a version bump: update both values together.
TEST(Loader, ApiHeaderChangesComeWithAVersionBump) {
  std::ifstream in(CHANNEL_API_HEADER, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  const std::string hex = hexOf(digest, sizeof digest);
  constexpr int kRecordedVersion = 1;
  constexpr const char* kRecordedHash = "3b73de954542b568821b60ed583e2fafd6faf519346c1c5c0b9899d2cc2613ee";
  EXPECT_EQ(GATEWAY_CHANNEL_API_VERSION, kRecordedVersion);
  EXPECT_EQ(hex, kRecordedHash)
      << "channel_api.h changed: bump GATEWAY_CHANNEL_API_VERSION and record the new hash here";
}

// The real binary refuses to start, with one line naming the module and both versions.
TEST(LoaderStartup, BinaryRefusesPluginBuiltForAnotherApiVersion) {
  gw::testing::TempDir dir;
  gw::testing::TestConfig c;
  c.port = gw::testing::freePort();
  c.dbPath = dir.file("gateway.db");
  c.pluginDir = std::string(BROKEN_MODULES_DIR) + "/wrong_version";
  gw::testing::writeFile(dir.file("gateway.yaml"), gw::testing::makeConfigYaml(c));

  const auto run = gw::testing::runGateway({"--config", dir.file("gateway.yaml")});
  EXPECT_NE(run.exitCode, 0);
  EXPECT_THAT(run.output, HasSubstr(brokenPath("wrong_version")));
  EXPECT_THAT(run.output, HasSubstr("built for plugin API version 2"));

  const auto check = gw::testing::runGateway({"--check-config", dir.file("gateway.yaml")});
  EXPECT_NE(check.exitCode, 0);
  EXPECT_THAT(check.output, HasSubstr(brokenPath("wrong_version")));
}

TEST(LoaderStartup, BinaryRefusesMissingPluginByName) {
  gw::testing::TempDir dir;
  gw::testing::TestConfig c;
  c.port = gw::testing::freePort();
  c.dbPath = dir.file("gateway.db");
  c.pluginDir = dir.file("no-plugins-here");
  gw::testing::writeFile(dir.file("gateway.yaml"), gw::testing::makeConfigYaml(c));
  const auto run = gw::testing::runGateway({"--config", dir.file("gateway.yaml")});
  EXPECT_NE(run.exitCode, 0);
  EXPECT_THAT(run.output, HasSubstr(dir.file("no-plugins-here") + "/whatsapp.so"));
}

TEST(LoaderStartup, BinaryRefusesWhenCreateFails) {
  gw::testing::TempDir dir;
  gw::testing::TestConfig c;
  c.port = gw::testing::freePort();
  c.dbPath = dir.file("gateway.db");
  c.pluginDir = std::string(BROKEN_MODULES_DIR) + "/create_throws";
  gw::testing::writeFile(dir.file("gateway.yaml"), gw::testing::makeConfigYaml(c));
  const auto run = gw::testing::runGateway({"--config", dir.file("gateway.yaml")});
  EXPECT_EQ(run.exitCode, 3);  // a clean refusal, not a crash
  EXPECT_THAT(run.output, HasSubstr("threw: boom from create"));
}
