// The real binary on a free loopback port: health, auth, channels, limits, signals.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include <Poco/JSON/Parser.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace gt = gateway::testing;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

namespace {

using gt::RunningGateway;
using gt::signedHeaders;
const std::map<std::string, std::string> kAuth = gt::authHeader();

std::string fixture(const std::string& name) { return gt::readFile(gt::fixturesDir() + "/" + name); }

}  // namespace

TEST(Server, HealthzAnswersOkWhenTheStoreAnswers) {
  RunningGateway gw;
  const auto r = gw.get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
}

TEST(Server, ChannelsListedInConfigOrderWithAToken) {
  RunningGateway gw;
  const auto r = gw.get("/v1/channels", kAuth);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("id":"wa-main")"));
  EXPECT_LT(r.body.find("wa-main"), r.body.find("fb-main"));
  EXPECT_LT(r.body.find("fb-main"), r.body.find("ig-main"));
  EXPECT_THAT(r.body, HasSubstr(R"("account_id":"110220330440551")"));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr(gt::kFixtureSecret)));  // secrets never leave
}

TEST(Server, ApiRefusesMissingOrWrongToken) {
  RunningGateway gw;
  const auto none = gw.get("/v1/channels", {});
  EXPECT_EQ(none.status, 401);
  EXPECT_THAT(none.body, HasSubstr(R"("code":"unauthorized")"));
  EXPECT_EQ(gw.get("/v1/channels", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(gw.get("/v1/channels", {{"Authorization", gt::kApiToken}}).status, 401);  // no "Bearer "
}

TEST(Server, UnknownRouteIs404AndUnknownWebhookTypeIs404) {
  RunningGateway gw;
  EXPECT_EQ(gw.get("/nope", {}).status, 404);
  EXPECT_EQ(gw.post("/webhooks/telegram", "{}", signedHeaders("{}")).status, 404);
}

TEST(Server, BodyOverTheLimitIs413) {
  gt::TestConfig c;
  c.maxBodyBytes = 1000;
  RunningGateway gw(c);
  const std::string body(1001, 'x');
  const auto r = gw.post("/webhooks/whatsapp", body, signedHeaders(body));
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("payload_too_large"));
  EXPECT_EQ(gw.countRows("messages"), 0);
  EXPECT_EQ(gw.countRows("raw_webhooks"), 0);
}

TEST(Server, WebhookHandshakeEchoesTheChallengeOnlyForTheRightToken) {
  RunningGateway gw;
  const auto ok = gw.get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wa-verify-token-FAKE-123&hub.challenge=1158201444");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "1158201444");
  EXPECT_THAT(ok.headers.at("content-type"), HasSubstr("text/plain"));
  EXPECT_EQ(gw.get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1").status, 403);
  // Another channel type's token does not open this one.
  EXPECT_EQ(gw.get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=ms-verify-token-FAKE-456&hub.challenge=1").status, 403);
}

TEST(Server, SignedWebhookIsStoredBeforeThe200AndForgedOneIsNot) {
  RunningGateway gw;
  const std::string body = fixture("whatsapp/text_unicode_escaped.json");
  EXPECT_EQ(gw.post("/webhooks/whatsapp", body, signedHeaders(body)).status, 200);
  EXPECT_EQ(gw.countRows("messages"), 2);  // durable when the 200 arrived (with "Conversation started")

  auto forged = signedHeaders(body);
  forged["X-Hub-Signature-256"] = gt::hubSignature("another-secret", body);
  EXPECT_EQ(gw.post("/webhooks/whatsapp", body, forged).status, 401);
  EXPECT_EQ(gw.post("/webhooks/whatsapp", body, {{"Content-Type", "application/json"}}).status, 401);
  EXPECT_EQ(gw.countRows("messages"), 2);
  EXPECT_EQ(gw.countRows("raw_webhooks"), 0);
}

TEST(Server, MetricsCountWebhooksAndRejections) {
  RunningGateway gw;
  const std::string body = fixture("messenger/text.json");
  // Twice: the second one goes through the handler's cached counter.
  ASSERT_EQ(gw.post("/webhooks/messenger", body, signedHeaders(body)).status, 200);
  ASSERT_EQ(gw.post("/webhooks/messenger", body, signedHeaders(body)).status, 200);
  ASSERT_EQ(gw.post("/webhooks/messenger", body, {}).status, 401);
  const auto m = gw.get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_THAT(m.body, HasSubstr(R"(gateway_webhooks_received_total{channel="fb-main"} 2)"));
  EXPECT_THAT(m.body, HasSubstr(R"(gateway_webhooks_rejected_total{type="messenger",reason="missing_signature"} 1)"));
  EXPECT_THAT(m.body, HasSubstr("gateway_http_request_duration_seconds_bucket{route=\"webhook_receive\",le=\"+Inf\"}"));
}

TEST(Server, SigtermStopsCleanlyAndFinishesTheRequestInFlight) {
  RunningGateway gw;
  const std::string body = fixture("whatsapp/text.json");
  const std::string sig = gt::hubSignature(gt::kFixtureSecret, body);
  // Send the headers and half the body, then SIGTERM, then the rest: the request that was
  // in flight when the signal came must still be answered and stored.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(gw.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string head = "POST /webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "X-Hub-Signature-256: " + sig + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  const std::string first = head + body.substr(0, body.size() / 2);
  ASSERT_EQ(write(fd, first.data(), first.size()), static_cast<ssize_t>(first.size()));
  std::this_thread::sleep_for(200ms);  // let the server start reading this request
  gw.process().signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  const std::string rest = body.substr(body.size() / 2);
  ASSERT_EQ(write(fd, rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
  std::string response;
  char buffer[4096];
  pollfd p{fd, POLLIN, 0};
  while (poll(&p, 1, 5000) > 0) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    response.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  EXPECT_THAT(response, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(response, HasSubstr("Connection: close\r\n"));  // stopping: no keep-alive
  EXPECT_EQ(gw.process().waitExit(15s), 0) << gw.process().stderrText();
  EXPECT_EQ(gw.countRows("messages"), 2);  // the message and "Conversation started"
}

TEST(Server, SighupDisablingAChannelShowsWithoutARestart) {
  RunningGateway gw;
  const pid_t pid = gw.process().pid();
  gt::TestConfig next = gw.config();
  next.messengerEnabled = false;
  gw.rewriteConfig(next);
  gw.process().signal(SIGHUP);
  const bool disabled = gt::waitFor([&] {
    return gw.get("/v1/channels", kAuth).body.find(R"("enabled":false,"id":"fb-main")") != std::string::npos;
  }, 10s);
  EXPECT_TRUE(disabled) << gw.get("/v1/channels", kAuth).body << gw.process().stderrText();
  EXPECT_EQ(gw.process().pid(), pid);
  EXPECT_TRUE(gw.process().running());
}

TEST(Server, SighupWithAnInvalidFileKeepsTheRunningConfig) {
  RunningGateway gw;
  gt::writeFile(gw.configPath(), "server:\n  listne: oops\n");
  gw.process().signal(SIGHUP);
  EXPECT_TRUE(gt::waitFor([&] { return gw.process().stderrText().find("config.reload_rejected") != std::string::npos; }, 10s));
  const auto r = gw.get("/v1/channels", kAuth);
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("fb-main"));
  EXPECT_TRUE(gw.process().running());
}

// 512 keep-alive connections at once: every one gets an answer, twice (the second request
// on the same connection proves it stayed alive and was not starved).
TEST(Server, FiveHundredTwelveKeepAliveConnectionsAllGetAnswers) {
  RunningGateway gw;
  constexpr int kConnections = 512;
  std::vector<int> fds;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(gw.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < kConnections; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << i;
    fds.push_back(fd);
  }
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  for (int round = 0; round < 2; ++round) {
    for (int fd : fds) ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    std::vector<std::string> received(fds.size());
    std::vector<bool> done(fds.size(), false);
    int answered = 0;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (answered < kConnections && std::chrono::steady_clock::now() < deadline) {
      std::vector<pollfd> polls;
      std::vector<std::size_t> index;
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if (!done[i]) {
          polls.push_back({fds[i], POLLIN, 0});
          index.push_back(i);
        }
      }
      if (poll(polls.data(), polls.size(), 1000) <= 0) continue;
      for (std::size_t k = 0; k < polls.size(); ++k) {
        if (!(polls[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buffer[1024];
        const ssize_t n = read(polls[k].fd, buffer, sizeof buffer);
        std::string& text = received[index[k]];
        if (n > 0) text.append(buffer, static_cast<std::size_t>(n));
        if (n <= 0 || text.find(R"({"status":"ok"})") != std::string::npos) {
          done[index[k]] = true;
          if (text.find("HTTP/1.1 200") == 0 && text.find(R"({"status":"ok"})") != std::string::npos) ++answered;
        }
      }
    }
    EXPECT_EQ(answered, kConnections) << "round " << round;
  }
  for (int fd : fds) close(fd);
}

TEST(CheckConfig, ShippedConfigPassesOnAFreshMachine) {
  std::map<std::string, std::string> env;
  for (const char* p : {"WA_", "FB_", "IG_"}) {
    for (const char* n : {"ACCOUNT_ID", "APP_SECRET", "VERIFY_TOKEN", "ACCESS_TOKEN", "ENABLED"}) env[std::string(p) + n] = "";
  }
  const auto r = gt::runGateway({"--check-config", gt::sourceDir() + "/config/gateway.yaml"}, env);
  EXPECT_EQ(r.exitCode, 0) << r.output;
}

TEST(CheckConfig, MisspeltKeyAndMissingVariableAreNamedWithLine) {
  gt::TempDir dir;
  gt::writeFile(dir.file("bad.yaml"),
                "server:\n  listne: \"127.0.0.1:1\"\napi:\n  tokens: [\"${GATEWAY_TEST_SURELY_UNSET_VAR}\"]\n");
  const auto r = gt::runGateway({"--check-config", dir.file("bad.yaml")});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_THAT(r.output, HasSubstr("server.listne: unknown key (" + dir.file("bad.yaml") + ":2:3)"));
  EXPECT_THAT(r.output, HasSubstr("api.tokens[0]"));
  EXPECT_THAT(r.output, HasSubstr("GATEWAY_TEST_SURELY_UNSET_VAR"));
  EXPECT_THAT(r.output, HasSubstr(":4:"));
  // The running binary refuses the same file at start-up.
  EXPECT_NE(gt::runGateway({"--config", dir.file("bad.yaml")}).exitCode, 0);
}

TEST(CheckConfig, HelpAndVersion) {
  const auto help = gt::runGateway({"--help"});
  EXPECT_EQ(help.exitCode, 0);
  EXPECT_THAT(help.output, HasSubstr("--check-config"));
  const auto version = gt::runGateway({"--version"});
  EXPECT_EQ(version.exitCode, 0);
  EXPECT_THAT(version.output, HasSubstr("plugin API 1"));
  EXPECT_NE(gt::runGateway({"--bogus"}).exitCode, 0);
}

TEST(Server, JsonLogsAreOneObjectPerLine) {
  gt::TestConfig c;
  c.extraYaml = "log:\n  format: json\n";
  RunningGateway gw(c);
  ASSERT_EQ(gw.post("/webhooks/whatsapp", "x", {}).status, 401);  // logs webhook.rejected
  gw.process().signal(SIGTERM);
  ASSERT_EQ(gw.process().waitExit(10s), 0);
  std::istringstream lines(gw.process().stderrText());
  std::string line;
  int parsed = 0;
  bool sawRejection = false;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    Poco::JSON::Object::Ptr o;
    ASSERT_NO_THROW(o = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>()) << line;
    EXPECT_TRUE(o->has("ts") && o->has("level") && o->has("logger") && o->has("msg")) << line;
    sawRejection |= o->getValue<std::string>("msg").find("webhook.rejected") != std::string::npos;
    ++parsed;
  }
  EXPECT_GE(parsed, 3);
  EXPECT_TRUE(sawRejection);
}

// Two gateways on one database would both run delivery and the scheduler on its outbox and
// send messages twice: the second refuses to start and names why; the first goes on. (Run
// on SQLite and, as ….postgres, on PostgreSQL.)
TEST(Server, ASecondGatewayOnTheSameDatabaseRefusesToStart) {
  RunningGateway first;
  gt::TestConfig second = first.config();
  second.port = gt::freePort();
  gt::TempDir dir;
  gt::writeFile(dir.file("second.yaml"), gt::makeConfigYaml(second));
  gt::GatewayProcess process({"--config", dir.file("second.yaml")});
  const int code = process.waitExit(20s);
  EXPECT_NE(code, 0);
  EXPECT_NE(code, -1000) << "the second gateway kept running";
  EXPECT_THAT(process.stderrText(), HasSubstr("another gateway instance is using"));
  EXPECT_EQ(first.get("/healthz", {}).status, 200);
}
