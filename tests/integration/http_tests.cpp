// The HTTP/1.1 front of the real binary over raw loopback sockets: what client libraries
// rarely send (100-continue, chunked bodies, pipelining, HTTP/1.0, malformed and slow
// requests) and how connections end.
#include <signal.h>

#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "raw_client.h"
#include "test_support.h"

namespace gt = gateway::testing;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using gt::RawClient;

std::string fixture(const std::string& name) { return gt::readFile(gt::fixturesDir() + "/" + name); }

// The head of a signed WhatsApp webhook POST, with `extra` header lines.
std::string webhookHead(const std::string& body, const std::string& extra) {
  return "POST /webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
         "X-Hub-Signature-256: " + gt::hubSignature(gt::kFixtureSecret, body) + "\r\n" + extra + "\r\n";
}

// `body` as chunks of `size` bytes, the first with an extension, ended by a trailer.
std::string chunked(const std::string& body, std::size_t size) {
  std::string out;
  for (std::size_t at = 0; at < body.size(); at += size) {
    const std::string chunk = body.substr(at, size);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx", chunk.size());
    out += std::string(hex) + (at == 0 ? ";origin=test" : "") + "\r\n" + chunk + "\r\n";
  }
  return out + "0\r\nX-Trailer: done\r\n\r\n";
}

gt::TestConfig withServerKeys(const std::string& yaml) {
  gt::TestConfig config;
  config.serverYaml = yaml;
  return config;
}

const std::string kHealthz = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

}  // namespace

TEST(Http, ExpectContinueGetsA100BeforeTheBodyIsSent) {
  gt::RunningGateway gw;
  const std::string body = fixture("whatsapp/text.json");
  RawClient client(gw.port());
  ASSERT_TRUE(client.send(webhookHead(body, "Expect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n")));
  EXPECT_EQ(client.response(), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(client.send(body));
  EXPECT_THAT(client.response(), StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(gw.countRows("messages"), 2);  // the message and "Conversation started"
}

TEST(Http, ExpectContinueWithALengthOverTheLimitGets413AtOnce) {
  gt::TestConfig config;
  config.maxBodyBytes = 1000;
  gt::RunningGateway gw(config);
  RawClient client(gw.port());
  ASSERT_TRUE(client.send(webhookHead("", "Expect: 100-continue\r\nContent-Length: 5000\r\n")));
  const std::string answer = client.response();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413 Content Too Large\r\n"));
  EXPECT_THAT(answer, HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(answer, HasSubstr(R"("code":"payload_too_large")"));
  EXPECT_TRUE(client.closedWithin(2s));
}

TEST(Http, ChunkedWebhookIsDecodedBeforeItsSignatureIsChecked) {
  gt::RunningGateway gw;
  const std::string body = fixture("whatsapp/text.json");
  RawClient client(gw.port());
  ASSERT_TRUE(client.send(webhookHead(body, "Transfer-Encoding: chunked\r\n") + chunked(body, 100)));
  EXPECT_THAT(client.response(), StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(gw.countRows("messages"), 2);
  // The connection stays usable after a chunked body.
  ASSERT_TRUE(client.send(kHealthz));
  EXPECT_THAT(client.response(), StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST(Http, ChunkedBodyPastTheLimitIs413AndCloses) {
  gt::TestConfig config;
  config.maxBodyBytes = 1000;
  gt::RunningGateway gw(config);
  const std::string body(1500, 'x');
  RawClient client(gw.port());
  ASSERT_TRUE(client.send(webhookHead(body, "Transfer-Encoding: chunked\r\n") + chunked(body, 600)));
  const std::string answer = client.response();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413 Content Too Large\r\n"));
  EXPECT_THAT(answer, HasSubstr(R"("code":"payload_too_large")"));
  EXPECT_TRUE(client.closedWithin(2s));
  EXPECT_EQ(gw.countRows("raw_webhooks"), 0);
}

TEST(Http, PipelinedRequestsAreAnsweredInOrder) {
  gt::RunningGateway gw;
  RawClient client(gw.port());
  ASSERT_TRUE(client.send(kHealthz + "GET /v1/channels HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" +
                          "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::string first = client.response();
  EXPECT_THAT(first, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(first, HasSubstr(R"({"status":"ok"})"));
  EXPECT_THAT(client.response(), StartsWith("HTTP/1.1 401 Unauthorized\r\n"));
  EXPECT_THAT(client.response(), StartsWith("HTTP/1.1 404 Not Found\r\n"));
}

TEST(Http, ConnectionCloseIsHonoured) {
  gt::RunningGateway gw;
  RawClient client(gw.port());
  ASSERT_TRUE(client.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  const std::string answer = client.response();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(answer, HasSubstr("Connection: close\r\n"));
  EXPECT_TRUE(client.closedWithin(2s));
}

TEST(Http, Http10ClosesAfterTheAnswerUnlessItAsksForKeepAlive) {
  gt::RunningGateway gw;
  RawClient once(gw.port());
  ASSERT_TRUE(once.send("GET /healthz HTTP/1.0\r\n\r\n"));
  EXPECT_THAT(once.response(), StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(once.closedWithin(2s));

  RawClient kept(gw.port());
  ASSERT_TRUE(kept.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_THAT(kept.response(), HasSubstr("Connection: keep-alive\r\n"));
  ASSERT_TRUE(kept.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_THAT(kept.response(), StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST(Http, HeadAnswerHasNoBody) {
  gt::RunningGateway gw;
  RawClient client(gw.port());
  ASSERT_TRUE(client.send("HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + kHealthz));
  const std::string head = client.response(true);
  EXPECT_THAT(head, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(head, HasSubstr("Content-Length: "));
  // Had the 405 carried its body, this would read it instead of the next answer.
  EXPECT_THAT(client.response(), StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST(Http, MalformedRequestLineIs400AndCloses) {
  gt::RunningGateway gw;
  for (const std::string request : {"GET /healthz\r\n\r\n", "GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n"}) {
    RawClient client(gw.port());
    ASSERT_TRUE(client.send(request));
    const std::string answer = client.response();
    EXPECT_THAT(answer, StartsWith("HTTP/1.1 400 Bad Request\r\n")) << request;
    EXPECT_THAT(answer, HasSubstr("Connection: close\r\n"));
    EXPECT_THAT(answer, HasSubstr(R"("code":"invalid_request")"));
    EXPECT_TRUE(client.closedWithin(2s));
  }
}

TEST(Http, HeadersUpTo64KbAreServedLargerOnesAre431AndClose) {
  gt::RunningGateway gw;
  RawClient client(gw.port());
  const std::string start = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ";
  ASSERT_TRUE(client.send(start + std::string(60 * 1024, 'b') + "\r\n\r\n"));  // more than the 16 KB buffer
  EXPECT_THAT(client.response(), StartsWith("HTTP/1.1 200 OK\r\n"));
  client.send(start + std::string(70 * 1024, 'b') + "\r\n\r\n");
  EXPECT_THAT(client.response(), StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  EXPECT_TRUE(client.closedWithin(2s));
}

TEST(Http, QuietConnectionsAreClosedAfterTheKeepAliveTimeout) {
  gt::RunningGateway gw(withServerKeys("  keep_alive_timeout_s: 1\n"));
  RawClient idle(gw.port());
  ASSERT_TRUE(idle.send(kHealthz));
  ASSERT_THAT(idle.response(), StartsWith("HTTP/1.1 200 OK\r\n"));
  RawClient halfway(gw.port());
  ASSERT_TRUE(halfway.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));  // no blank line
  const auto started = Clock::now();
  EXPECT_TRUE(halfway.closedWithin(4s));  // unanswered
  EXPECT_GE(Clock::now() - started, 800ms);
  EXPECT_TRUE(idle.closedWithin(1s));  // its timeout started first
}

TEST(Http, TricklingClientIsClosedAtTheRequestTimeout) {
  // Each byte comes well within the keep-alive timeout; only the request's deadline ends it.
  gt::RunningGateway gw(withServerKeys("  keep_alive_timeout_s: 10\n  request_timeout_s: 1\n"));
  RawClient client(gw.port());
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + std::string(100, 's');
  const auto started = Clock::now();
  bool cut = false;
  for (char c : head) {
    if (!client.send(std::string(1, c)) || client.closedWithin(100ms)) {
      cut = true;
      break;
    }
  }
  EXPECT_TRUE(cut);
  EXPECT_LT(Clock::now() - started, 4s);
}

TEST(Http, SigtermClosesIdleKeepAlivesAtOnce) {
  gt::RunningGateway gw;  // keep-alive timeout 15 s, stop grace 10 s
  RawClient client(gw.port());
  ASSERT_TRUE(client.send(kHealthz));
  ASSERT_THAT(client.response(), StartsWith("HTTP/1.1 200 OK\r\n"));
  std::this_thread::sleep_for(200ms);  // the connection is back to waiting for a request
  const auto started = Clock::now();
  gw.process().signal(SIGTERM);
  EXPECT_TRUE(client.closedWithin(3s));
  EXPECT_EQ(gw.process().waitExit(5s), 0) << gw.process().stderrText();
  EXPECT_LT(Clock::now() - started, 5s);
}
