// The contract every channel plugin module meets, checked through the core's own loader:
// it loads and matches the API version, refuses missing credentials with a message, turns
// every fixture into exactly the expected events, verifies every recorded signature, answers
// kMalformed (never a crash) to empty/truncated/garbage/huge bodies, kRejected to a bad
// signature, maps every recorded send response, and exports nothing of ours but the entry.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "expected_events.h"
#include "plugins/plugin_loader.h"

namespace {

namespace api = gateway::channel_api;
namespace plugins = gateway::plugins;
namespace ts = gateway::test_support;

// What the suite knows about each plugin type (ids from tests/fixtures/README.md).
struct PluginInfo {
  std::string type;
  std::string modulePath;
  std::string accountId;
  std::string verifyToken;
};

const std::vector<PluginInfo>& pluginInfos() {
  static const std::vector<PluginInfo> kInfos{
      {"whatsapp", GATEWAY_WHATSAPP_MODULE, "110220330440551", "wa-verify-token-FAKE-123"},
      {"messenger", GATEWAY_MESSENGER_MODULE, "104050607080901", "ms-verify-token-FAKE-456"},
      {"instagram", GATEWAY_INSTAGRAM_MODULE, "17841400000000101", "ig-verify-token-FAKE-789"},
  };
  return kInfos;
}

const PluginInfo& infoFor(const std::string& type) {
  for (const PluginInfo& info : pluginInfos()) {
    if (info.type == type) return info;
  }
  throw std::runtime_error("no plugin info for " + type);
}

const rapidjson::Document& jsonFixture(const std::string& name) {
  static std::map<std::string, std::unique_ptr<rapidjson::Document>> cache;
  auto& slot = cache[name];
  if (!slot) {
    slot = std::make_unique<rapidjson::Document>();
    ts::loadJson(ts::fixturePath(name), *slot);
  }
  return *slot;
}

std::string signingSecret() {
  const rapidjson::Document& sigs = jsonFixture("signatures.json");
  return sigs.HasMember("secret") && sigs["secret"].IsString() ? sigs["secret"].GetString() : "";
}

// Loaded once per type, like the core's PluginRegistry (handles are never closed).
const plugins::LoadedPlugin& loaded(const std::string& type) {
  static std::map<std::string, plugins::LoadedPlugin> cache;
  auto it = cache.find(type);
  if (it == cache.end()) it = cache.emplace(type, plugins::loadPlugin(infoFor(type).modulePath, type)).first;
  return it->second;
}

// ChannelSettings over strings the test keeps alive.
struct Settings {
  std::string id, type, accountId, appSecret, appId = "900100200300400", verifyToken,
      accessToken = "EAAG-contract-test-token", apiVersion = "v21.0";

  explicit Settings(const PluginInfo& info)
      : id(info.type + "-contract"), type(info.type), accountId(info.accountId), appSecret(signingSecret()),
        verifyToken(info.verifyToken) {}

  static api::Bytes view(const std::string& s) { return api::Bytes{s.data(), s.size()}; }
  api::ChannelSettings get() const {
    return api::ChannelSettings{view(id),    view(type),        view(accountId),   view(appSecret),
                                view(appId), view(verifyToken), view(accessToken), view(apiVersion)};
  }
};

plugins::ChannelPtr makeChannel(const std::string& type) {
  const Settings settings(infoFor(type));
  return plugins::createChannel(loaded(type), plugins::hostApiFor(type), settings.get());
}

ts::Request signedRequest(const std::string& fixture) {
  ts::Request r;
  r.body = ts::readFile(ts::fixturePath(fixture));
  r.headerText.emplace_back("content-type", "application/json");
  const rapidjson::Value& files = jsonFixture("signatures.json")["files"];
  if (files.HasMember(fixture.c_str())) {
    r.headerText.emplace_back("x-hub-signature-256", files[fixture.c_str()]["X-Hub-Signature-256"].GetString());
  }
  return r;
}

std::string testName(const std::string& s) {
  std::string name = s;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// ---- per plugin ----

class PluginContract : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& type() const { return GetParam(); }
};

TEST_P(PluginContract, LoadsWithMatchingVersionAndType) {
  const plugins::LoadedPlugin& plugin = loaded(type());
  ASSERT_NE(plugin.descriptor, nullptr);
  EXPECT_EQ(plugin.descriptor->apiVersion, static_cast<std::uint32_t>(GATEWAY_CHANNEL_API_VERSION));
  EXPECT_STREQ(plugin.descriptor->type, type().c_str());
  ASSERT_NE(plugin.descriptor->traits, nullptr);
  ASSERT_NE(plugin.descriptor->traits->userIdKind, nullptr);
  EXPECT_GT(plugin.descriptor->traits->windowSeconds, 0);
  EXPECT_NE(makeChannel(type()), nullptr);
}

TEST_P(PluginContract, RefusesMissingCredentialsWithAMessage) {
  const std::pair<std::string Settings::*, const char*> required[] = {
      {&Settings::appSecret, "app_secret"},
      {&Settings::accessToken, "access_token"},
  };
  for (const auto& [field, name] : required) {
    Settings settings(infoFor(type()));
    settings.*field = "";
    try {
      plugins::createChannel(loaded(type()), plugins::hostApiFor(type()), settings.get());
      ADD_FAILURE() << "created a channel without " << name;
    } catch (const plugins::PluginError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
    // Absent (null) behaves like empty.
    api::ChannelSettings absent = settings.get();
    if (std::string(name) == "app_secret") absent.appSecret = api::Bytes{};
    if (std::string(name) == "access_token") absent.accessToken = api::Bytes{};
    EXPECT_THROW(plugins::createChannel(loaded(type()), plugins::hostApiFor(type()), absent), plugins::PluginError)
        << name;
  }
}

TEST_P(PluginContract, BadOrMissingSignatureIsRejected) {
  plugins::ChannelPtr channel = makeChannel(type());
  const std::string fixture = type() + "/text.json";
  ts::Request missing = signedRequest(fixture);
  missing.headerText.pop_back();
  EXPECT_EQ(channel->verifySignature(missing.view()), api::Outcome::kRejected);
  ts::Request wrong = signedRequest(fixture);
  std::string& value = wrong.headerText.back().second;
  value.back() = value.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(channel->verifySignature(wrong.view()), api::Outcome::kRejected);
  ts::Request tampered = signedRequest(fixture);
  tampered.body.insert(tampered.body.begin(), ' ');
  EXPECT_EQ(channel->verifySignature(tampered.view()), api::Outcome::kRejected);
  ts::Request garbage = signedRequest(fixture);
  garbage.headerText.back().second = "sha256=not-hex";
  EXPECT_EQ(channel->verifySignature(garbage.view()), api::Outcome::kRejected);
}

TEST_P(PluginContract, BadBodiesAreMalformedNeverACrash) {
  plugins::ChannelPtr channel = makeChannel(type());
  const std::string fixture = ts::readFile(ts::fixturePath(type() + "/text.json"));
  ASSERT_FALSE(fixture.empty());
  const std::vector<std::pair<std::string, std::string>> bodies{
      {"empty", ""},
      {"whitespace", " \n"},
      {"half", fixture.substr(0, fixture.size() / 2)},
      {"all but the last brace", fixture.substr(0, fixture.rfind('}'))},
      {"trailing garbage", fixture + "garbage"},
      {"binary", std::string("\x00\x01\x02\xff\xfe", 5)},
      {"not an object", "[]"},
      {"plain text", "hello"},
      {"deep nesting", std::string(1 << 20, '[')},
      {"huge", std::string(5 << 20, 'a')},
      {"huge string", "\"" + std::string(5 << 20, 'a')},
  };
  for (const auto& [name, body] : bodies) {
    ts::Request r;
    r.body = body;
    ts::RecordingSink sink;
    EXPECT_EQ(channel->parseWebhook(r.view(), sink), api::Outcome::kMalformed) << name;
    EXPECT_TRUE(sink.events.empty()) << name;
  }
  ts::Request nullBody;
  api::HttpView view = nullBody.view();
  view.body = api::Bytes{};
  ts::RecordingSink sink;
  EXPECT_EQ(channel->parseWebhook(view, sink), api::Outcome::kMalformed);
}

TEST_P(PluginContract, AnotherPlatformsObjectIsUnsupported) {
  plugins::ChannelPtr channel = makeChannel(type());
  ts::Request r;
  r.body = R"({"object":"not_a_meta_platform","entry":[]})";
  ts::RecordingSink sink;
  EXPECT_EQ(channel->parseWebhook(r.view(), sink), api::Outcome::kUnsupported);
  EXPECT_TRUE(sink.events.empty());
}

// Graph responses recorded for this platform: 200s are accepted, errors carry their code
// and a class consistent with send_index.json's "retry" verdict.
TEST_P(PluginContract, MapsEveryRecordedSendResponse) {
  struct Result : api::SendResult {
    int calls = 0;
    bool ok = false;
    api::SendErrorClass errorClass{};
    std::int64_t code = -1;
    void accepted(api::Bytes) noexcept override { ++calls, ok = true; }
    void failed(api::SendErrorClass c, std::int64_t platformCode, std::int64_t, api::Bytes) noexcept override {
      ++calls, errorClass = c, code = platformCode;
    }
  };
  plugins::ChannelPtr channel = makeChannel(type());
  int checked = 0;
  for (const auto& file : jsonFixture("send_index.json")["files"].GetObject()) {
    const std::string name = file.name.GetString();
    if (name.rfind(type() + "/send/", 0) != 0 || file.value["kind"] != "response") continue;
    SCOPED_TRACE(name);
    ++checked;
    const std::string body = ts::readFile(ts::fixturePath(name));
    Result result;
    ASSERT_EQ(channel->readSendResult(file.value["http_status"].GetInt(), api::Bytes{body.data(), body.size()}, result),
              api::Outcome::kOk);
    ASSERT_EQ(result.calls, 1);
    const rapidjson::Document& json = jsonFixture(name);
    if (!json.HasMember("error")) {
      EXPECT_TRUE(result.ok);
      continue;
    }
    ASSERT_FALSE(result.ok);
    const std::int64_t code = json["error"]["code"].GetInt64();
    EXPECT_EQ(result.code, code);
    const std::string retry = file.value.HasMember("retry") ? file.value["retry"].GetString() : "";
    if (code == 190) {
      EXPECT_EQ(result.errorClass, api::SendErrorClass::kAuth);
    } else if (retry.rfind("yes", 0) == 0) {
      EXPECT_TRUE(result.errorClass == api::SendErrorClass::kTransient ||
                  result.errorClass == api::SendErrorClass::kRateLimited);
    } else if (retry.rfind("no", 0) == 0) {
      EXPECT_EQ(result.errorClass, api::SendErrorClass::kPermanent);
    }
  }
  EXPECT_GT(checked, 0);
}

// Our names are in namespace gateway (mangled "7gateway") or start with "gateway_".
TEST_P(PluginContract, ExportsOnlyTheEntrySymbolOfOurs) {
  const std::string command = "nm -D --defined-only '" + infoFor(type()).modulePath + "' 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  ASSERT_NE(pipe, nullptr);
  char line[4096];
  bool entryFound = false;
  std::vector<std::string> leaked;
  while (std::fgets(line, sizeof line, pipe.get()) != nullptr) {
    std::string symbol(line);
    while (!symbol.empty() && (symbol.back() == '\n' || symbol.back() == '\r')) symbol.pop_back();
    symbol = symbol.substr(symbol.rfind(' ') + 1);
    if (symbol == GATEWAY_CHANNEL_ENTRY_SYMBOL) {
      entryFound = true;
    } else if (symbol.find("gateway") != std::string::npos) {
      leaked.push_back(symbol);
    }
  }
  EXPECT_TRUE(entryFound) << "nm found no " GATEWAY_CHANNEL_ENTRY_SYMBOL " (is binutils installed?)";
  EXPECT_TRUE(leaked.empty()) << ts::joinLines(leaked);
}

std::vector<std::string> pluginTypes() {
  std::vector<std::string> types;
  for (const PluginInfo& info : pluginInfos()) types.push_back(info.type);
  return types;
}

INSTANTIATE_TEST_SUITE_P(Plugins, PluginContract, ::testing::ValuesIn(pluginTypes()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// ---- per fixture ----

class FixtureContract : public ::testing::TestWithParam<std::string> {
 protected:
  std::string type() const { return GetParam().substr(0, GetParam().find('/')); }
};

TEST_P(FixtureContract, SignatureVerifies) {
  plugins::ChannelPtr channel = makeChannel(type());
  ts::Request r = signedRequest(GetParam());
  ASSERT_EQ(r.headerText.size(), 2u) << "no signature recorded for " << GetParam();
  EXPECT_EQ(channel->verifySignature(r.view()), api::Outcome::kOk);
}

TEST_P(FixtureContract, ParsesToExactlyTheExpectedEvents) {
  plugins::ChannelPtr channel = makeChannel(type());
  ts::Request r = signedRequest(GetParam());
  ts::RecordingSink sink;
  ASSERT_EQ(channel->parseWebhook(r.view(), sink), api::Outcome::kOk);
  const rapidjson::Value& expected = jsonFixture("expected.json")["files"][GetParam().c_str()]["events"];
  const auto problems = ts::compareEvents(expected, sink.events);
  EXPECT_TRUE(problems.empty()) << ts::joinLines(problems);
}

std::vector<std::string> allFixtures() {
  std::vector<std::string> all;
  for (const PluginInfo& info : pluginInfos()) {
    for (const std::string& name : ts::webhookFixtures(jsonFixture("expected.json"), info.type)) all.push_back(name);
  }
  return all;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureContract, ::testing::ValuesIn(allFixtures()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           const std::string& name = info.param;
                           return testName(name.substr(0, name.rfind('.')));
                         });

}  // namespace
