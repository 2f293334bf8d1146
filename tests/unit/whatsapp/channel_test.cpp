// The Channel and the descriptor: signatures, create()'s refusals, traits, guarded entry points.
#include <cctype>
#include <memory>
#include <exception>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "channel.h"
#include "expected_events.h"
#include "test_host.h"

namespace {

namespace api = gateway::channel_api;
namespace wa = gateway::plugins::whatsapp;
using gateway::test_support::fixturePath;
using gateway::test_support::readFile;
using gateway::test_support::RecordingSink;
using gateway::test_support::Request;
using gateway::test_support::TestHost;

const char kSecret[] = "test-app-secret-0b1c2d3e4f5a6b7c";

struct ChannelDeleter {
  void operator()(api::Channel* c) const { gateway_channel_descriptor()->destroy(c); }
};
using ChannelPtr = std::unique_ptr<api::Channel, ChannelDeleter>;

struct Settings {
  std::string id = "wa-main", type = "whatsapp", accountId = "110220330440551", appSecret = kSecret,
              appId = "900100200300400", verifyToken = "wa-verify-token-FAKE-123", accessToken = "token",
              apiVersion = "v21.0";

  static api::Bytes view(const std::string& s) { return api::Bytes{s.data(), s.size()}; }
  api::ChannelSettings get() const {
    return api::ChannelSettings{view(id),          view(type),        view(accountId), view(appSecret),
                                view(appId),       view(verifyToken), view(accessToken), view(apiVersion)};
  }
};

ChannelPtr create(const TestHost& host, const Settings& settings, std::string* error = nullptr) {
  char err[256] = "untouched";
  const api::ChannelSettings s = settings.get();
  api::Channel* channel = gateway_channel_descriptor()->create(host.get(), &s, err, sizeof err);
  if (error != nullptr) *error = err;
  return ChannelPtr(channel);
}

const rapidjson::Document& signatures() {
  static const rapidjson::Document* doc = [] {
    auto* d = new rapidjson::Document;
    gateway::test_support::loadJson(fixturePath("signatures.json"), *d);
    return d;
  }();
  return *doc;
}

Request signedFixture(const std::string& name) {
  Request r;
  r.body = readFile(fixturePath(name));
  r.headerText.emplace_back("content-type", "application/json");
  r.headerText.emplace_back("x-hub-signature-256",
                            signatures()["files"][name.c_str()]["X-Hub-Signature-256"].GetString());
  return r;
}

// ---- descriptor ----

TEST(WhatsAppDescriptor, StaticFacts) {
  const api::Descriptor* d = gateway_channel_descriptor();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->apiVersion, static_cast<std::uint32_t>(GATEWAY_CHANNEL_API_VERSION));
  EXPECT_STREQ(d->buildSignature, GATEWAY_BUILD_SIGNATURE);
  EXPECT_STREQ(d->type, "whatsapp");
  ASSERT_NE(d->traits, nullptr);
  EXPECT_STREQ(d->traits->userIdKind, "wa_id");
  EXPECT_EQ(d->traits->windowSeconds, 86400);
  EXPECT_EQ(d->traits->tagWindowSeconds, 0);
  EXPECT_TRUE(d->traits->templatesIgnoreWindow);
  EXPECT_TRUE(d->traits->canStartFromPhone);
}

TEST(WhatsAppDescriptor, CreateRefusesMissingSettingsNamingThem) {
  TestHost host;
  const std::pair<std::string Settings::*, const char*> required[] = {
      {&Settings::accountId, "account_id"},
      {&Settings::appSecret, "app_secret"},
      {&Settings::accessToken, "access_token"},
      {&Settings::apiVersion, "api_version"},
  };
  for (const auto& [field, name] : required) {
    Settings settings;
    settings.*field = "";
    std::string error;
    EXPECT_EQ(create(host, settings, &error), nullptr) << name;
    EXPECT_NE(error.find(name), std::string::npos) << error;
    EXPECT_NE(error.find("required"), std::string::npos) << error;
  }
}

TEST(WhatsAppDescriptor, CreateRefusesNullHostOrSettings) {
  char err[64] = "";
  const api::ChannelSettings s = Settings().get();
  EXPECT_EQ(gateway_channel_descriptor()->create(nullptr, &s, err, sizeof err), nullptr);
  EXPECT_STRNE(err, "");
  TestHost host;
  err[0] = '\0';
  EXPECT_EQ(gateway_channel_descriptor()->create(host.get(), nullptr, err, sizeof err), nullptr);
  EXPECT_STRNE(err, "");
  // A tiny error buffer is truncated, never overrun.
  Settings noSecret;
  noSecret.appSecret = "";
  const api::ChannelSettings s2 = noSecret.get();
  char small[4] = {'x', 'x', 'x', 'x'};
  EXPECT_EQ(gateway_channel_descriptor()->create(host.get(), &s2, small, sizeof small), nullptr);
  EXPECT_EQ(small[3], '\0');
}

TEST(WhatsAppDescriptor, OptionalSettingsMayBeAbsent) {
  TestHost host;
  Settings settings;
  api::ChannelSettings s = settings.get();
  s.appId = api::Bytes{};
  s.verifyToken = api::Bytes{};
  s.id = api::Bytes{};
  char err[64] = "";
  api::Channel* channel = gateway_channel_descriptor()->create(host.get(), &s, err, sizeof err);
  ASSERT_NE(channel, nullptr) << err;
  gateway_channel_descriptor()->destroy(channel);
}

TEST(WhatsAppDescriptor, SettingsAreCopied) {
  TestHost host;
  auto settings = std::make_unique<Settings>();
  ChannelPtr channel = create(host, *settings);
  ASSERT_NE(channel, nullptr);
  settings.reset();  // the borrowed bytes are gone; the channel must not care
  Request r = signedFixture("whatsapp/text.json");
  EXPECT_EQ(channel->verifySignature(r.view()), api::Outcome::kOk);
}

// ---- signatures ----

class WhatsAppSignature : public ::testing::Test {
 protected:
  TestHost host_;
  ChannelPtr channel_ = create(host_, Settings());
};

TEST_F(WhatsAppSignature, EveryFixtureSignatureVerifies) {
  ASSERT_NE(channel_, nullptr);
  int checked = 0;
  for (const auto& file : signatures()["files"].GetObject()) {
    const std::string name = file.name.GetString();
    if (name.rfind("whatsapp/", 0) != 0) continue;
    Request r = signedFixture(name);
    EXPECT_EQ(channel_->verifySignature(r.view()), api::Outcome::kOk) << name;
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST_F(WhatsAppSignature, UppercaseHexIsAccepted) {
  Request r = signedFixture("whatsapp/text_unicode_escaped.json");
  std::string& value = r.headerText.back().second;
  for (std::size_t i = 7; i < value.size(); ++i) value[i] = static_cast<char>(std::toupper(value[i]));
  EXPECT_EQ(channel_->verifySignature(r.view()), api::Outcome::kOk);
}

TEST_F(WhatsAppSignature, BadSignaturesAreRejected) {
  const Request good = signedFixture("whatsapp/text.json");
  const std::string goodValue = good.headerText.back().second;
  auto withHeader = [&](const std::string& value) {
    Request r = good;
    r.headerText.back().second = value;
    return channel_->verifySignature(r.view());
  };
  std::string flipped = goodValue;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_EQ(withHeader(flipped), api::Outcome::kRejected);
  EXPECT_EQ(withHeader("sha1=" + goodValue.substr(7)), api::Outcome::kRejected);
  EXPECT_EQ(withHeader(goodValue.substr(7)), api::Outcome::kRejected);
  EXPECT_EQ(withHeader(goodValue + "00"), api::Outcome::kRejected);
  EXPECT_EQ(withHeader(""), api::Outcome::kRejected);
  EXPECT_EQ(withHeader("sha256=" + std::string(64, 'z')), api::Outcome::kRejected);
  // The body is what is signed: one changed byte fails.
  Request tampered = good;
  tampered.body[tampered.body.find("4711")] = '5';
  EXPECT_EQ(channel_->verifySignature(tampered.view()), api::Outcome::kRejected);
}

TEST_F(WhatsAppSignature, MissingHeaderIsRejected) {
  Request r = signedFixture("whatsapp/text.json");
  r.headerText.pop_back();
  EXPECT_EQ(channel_->verifySignature(r.view()), api::Outcome::kRejected);
  // Only the lower-case name counts: the core lower-cases header names.
  Request upper = signedFixture("whatsapp/text.json");
  upper.headerText.back().first = "X-Hub-Signature-256";
  EXPECT_EQ(channel_->verifySignature(upper.view()), api::Outcome::kRejected);
}

TEST_F(WhatsAppSignature, WrongSecretIsRejected) {
  Settings other;
  other.appSecret = "another-secret";
  ChannelPtr channel = create(host_, other);
  Request r = signedFixture("whatsapp/text.json");
  EXPECT_EQ(channel->verifySignature(r.view()), api::Outcome::kRejected);
}

TEST_F(WhatsAppSignature, EmptyBodyWithItsOwnSignature) {
  Request r;
  r.headerText.emplace_back("x-hub-signature-256", "sha256=" + TestHost::hexHmac(kSecret, ""));
  EXPECT_EQ(channel_->verifySignature(r.view()), api::Outcome::kOk);
  RecordingSink sink;
  EXPECT_EQ(channel_->parseWebhook(r.view(), sink), api::Outcome::kMalformed);
}

// ---- the channel's entry points ----

TEST_F(WhatsAppSignature, ParseWebhookThroughTheChannel) {
  Request r = signedFixture("whatsapp/batch_mixed.json");
  RecordingSink sink;
  EXPECT_EQ(channel_->parseWebhook(r.view(), sink), api::Outcome::kOk);
  EXPECT_EQ(sink.events.size(), 6u);
}

TEST_F(WhatsAppSignature, MalformedBodyIsLoggedWithoutItsContent) {
  Request r;
  r.body = R"({"object":"whatsapp_business_account","entry":[{"changes":"secret text 15550100201"}]})";
  RecordingSink sink;
  EXPECT_EQ(channel_->parseWebhook(r.view(), sink), api::Outcome::kMalformed);
  ASSERT_EQ(host_.lines.size(), 1u);
  EXPECT_EQ(host_.lines[0].find("15550100201"), std::string::npos) << host_.lines[0];
  EXPECT_NE(host_.lines[0].find("wa-main"), std::string::npos) << host_.lines[0];
}

TEST(WhatsAppChannel, ExceptionsBecomeInternalWithALogLine) {
  // What every entry point relies on: guarded() turns a throw into kInternal and logs it.
  // what() must outlive the exception here: guarded() in channel_api.h reads it after its
  // catch block has ended, which is a use-after-free for std::runtime_error (ASan shows it).
  struct StaticMessage : std::exception {
    const char* what() const noexcept override { return "boom"; }
  };
  TestHost host;
  EXPECT_EQ(api::guarded(host.get(), []() -> api::Outcome { throw StaticMessage(); }), api::Outcome::kInternal);
  ASSERT_EQ(host.lines.size(), 1u);
  EXPECT_EQ(host.lines[0], "boom");
}

TEST(WhatsAppChannel, ConstructedDirectly) {
  TestHost host;
  wa::WhatsAppChannel channel(host.get(), wa::WhatsAppSettings{"wa-main", kSecret, {"v21.0", "1", "t"}});
  Request r = signedFixture("whatsapp/text.json");
  EXPECT_EQ(channel.verifySignature(r.view()), api::Outcome::kOk);
  RecordingSink sink;
  EXPECT_EQ(channel.parseWebhook(r.view(), sink), api::Outcome::kOk);
  EXPECT_EQ(sink.events.size(), 1u);
}

TEST(WhatsAppChannel, SendThroughTheChannel) {
  struct Writer : api::RequestWriter {
    std::string path;
    void setMethod(api::Bytes) noexcept override {}
    void setPath(api::Bytes p) noexcept override { path.assign(p.data, p.size); }
    void addHeader(api::Bytes, api::Bytes) noexcept override {}
    void setBody(api::Bytes) noexcept override {}
  } writer;
  TestHost host;
  ChannelPtr channel = create(host, Settings());
  api::OutboundMessage m;
  m.recipientId = api::bytesOf("15550100201");
  m.text = api::bytesOf("hi");
  EXPECT_EQ(channel->buildSend(m, writer), api::Outcome::kOk);
  EXPECT_EQ(writer.path, "/v21.0/110220330440551/messages");

  struct Result : api::SendResult {
    std::string id;
    void accepted(api::Bytes b) noexcept override { id.assign(b.data, b.size); }
    void failed(api::SendErrorClass, std::int64_t, std::int64_t, api::Bytes) noexcept override {}
  } result;
  const std::string ok = readFile(fixturePath("whatsapp/send/send_ok.json"));
  EXPECT_EQ(channel->readSendResult(200, api::Bytes{ok.data(), ok.size()}, result), api::Outcome::kOk);
  EXPECT_EQ(result.id, "wamid.HBgLMTU1NTAxMDAyMDEVAgASGBRO0tS5iJzlT9PsSQzHc/hFDCJt3AA=");
}

}  // namespace
