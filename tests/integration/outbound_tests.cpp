// Sends and scheduled sends through the real binary against a fake Graph API on loopback.
#include <signal.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include <Poco/JSON/Parser.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_graph.h"
#include "test_support.h"

namespace gt = gateway::testing;
using gt::nowMs;
using gt::rfc3339;
using gt::str;
const auto parse = gt::parseObject;
using Poco::JSON::Array;
using Poco::JSON::Object;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

namespace {

constexpr const char* kFastDelivery =
    "delivery:\n  retry_base_ms: 50\n  request_timeout_ms: 700\n  unknown_grace_s: 2\n";

int counter = 0;

// An inbound text from `user`, `agoMs` before now, so the conversation's window is as wanted.
std::string inbound(const std::string& platform, const std::string& user, std::int64_t agoMs = 0) {
  const std::int64_t at = nowMs() - agoMs;
  const std::string n = std::to_string(++counter) + "-" + std::to_string(at);
  if (platform == "whatsapp") {
    return R"({"object":"whatsapp_business_account","entry":[{"id":"100200300400501","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100100","phone_number_id":"110220330440551"},"contacts":[{"profile":{"name":"Person )" +
           user + R"("},"wa_id":")" + user + R"("}],"messages":[{"from":")" + user + R"(","id":"wamid.IN)" + n +
           R"(","timestamp":")" + std::to_string(at / 1000) + R"(","type":"text","text":{"body":"hello"}}]}}]}]})";
  }
  const std::string account = platform == "messenger" ? "104050607080901" : "17841400000000101";
  return R"({"object":")" + std::string(platform == "messenger" ? "page" : "instagram") + R"(","entry":[{"id":")" +
         account + R"(","time":)" + std::to_string(at) + R"(,"messaging":[{"sender":{"id":")" + user +
         R"("},"recipient":{"id":")" + account + R"("},"timestamp":)" + std::to_string(at) +
         R"(,"message":{"mid":"m_in)" + n + R"(","text":"hello"}}]}]})";
}

// The gateway's environment for the TLS fake Graph API: OpenSSL's default verify paths take
// the test CA from SSL_CERT_FILE.
std::map<std::string, std::string> trustingTheTestCa() {
  return {{"SSL_CERT_FILE", gt::fixturesDir() + "/tls/ca.crt"}};
}

class Outbound : public ::testing::Test {
 protected:
  void start(gt::TestConfig config = {}, const gt::FakeGraph* to = nullptr) {
    config.graphBaseUrl = (to != nullptr ? *to : graph).baseUrl();
    if (config.extraYaml.empty()) config.extraYaml = kFastDelivery;
    gw = std::make_unique<gt::RunningGateway>(config);
  }

  // The conversation of a person who just wrote on that platform.
  std::string conversationFor(const std::string& platform, const std::string& user, std::int64_t agoMs = 0) {
    const std::string body = inbound(platform, user, agoMs);
    EXPECT_EQ(gw->post("/webhooks/" + platform, body, gt::signedHeaders(body)).status, 200);
    const auto contacts = parse(gw->get("/v1/contacts?limit=200").body)->getArray("contacts");
    for (std::size_t i = 0; i < contacts->size(); ++i) {
      const auto ids = contacts->getObject(static_cast<unsigned>(i))->getArray("identities");
      for (std::size_t k = 0; k < ids->size(); ++k) {
        if (str(ids->getObject(static_cast<unsigned>(k)), "external_id") == user) {
          return str(contacts->getObject(static_cast<unsigned>(i))->getArray("conversations")->getObject(0), "id");
        }
      }
    }
    ADD_FAILURE() << "no conversation for " << user;
    return "";
  }

  gt::HttpResult send(const std::string& conversation, const std::string& body,
                      std::map<std::string, std::string> headers = gt::authHeader()) {
    headers["Content-Type"] = "application/json";
    return gw->post("/v1/conversations/" + conversation + "/messages", body, headers);
  }

  std::string sendText(const std::string& conversation, const std::string& text) {
    const auto r = send(conversation, R"({"text":")" + text + R"("})");
    EXPECT_EQ(r.status, 202) << r.body;
    return r.status == 202 ? str(parse(r.body)->getObject("message"), "id") : "";
  }

  Object::Ptr message(const std::string& id) { return parse(gw->get("/v1/messages/" + id).body)->getObject("message"); }

  bool waitStatus(const std::string& id, const std::string& status, std::chrono::milliseconds deadline = 10s) {
    return gt::waitFor([&] { return str(message(id), "status") == status; }, deadline);
  }

  std::vector<std::string> sentTexts() {
    std::vector<std::string> out;
    for (const auto& r : graph.requests()) {
      const auto body = parse(r.body);
      if (body->has("text") && body->isObject("text")) out.push_back(str(body->getObject("text"), "body"));
      else if (body->has("message")) out.push_back(str(body->getObject("message"), "text"));
    }
    return out;
  }

  gt::FakeGraph graph;
  std::unique_ptr<gt::RunningGateway> gw;
};

}  // namespace

TEST_F(Outbound, TextReachesEachPlatformAndIsMarkedSent) {
  start();
  const std::vector<std::tuple<std::string, std::string, std::string>> cases{
      {"whatsapp", "15550100301", "/v21.0/110220330440551/messages"},
      {"messenger", "7000000000000301", "/v21.0/104050607080901/messages"},
      {"instagram", "1100000000000301", "/v21.0/17841400000000101/messages"}};
  for (const auto& [platform, user, path] : cases) {
    SCOPED_TRACE(platform);
    const std::size_t before = graph.count();
    const auto r = send(conversationFor(platform, user), R"({"text":"Your order shipped"})");
    ASSERT_EQ(r.status, 202) << r.body;
    const auto queued = parse(r.body)->getObject("message");
    EXPECT_EQ(str(queued, "status"), "queued");
    EXPECT_EQ(str(queued, "direction"), "outbound");
    ASSERT_TRUE(waitStatus(str(queued, "id"), "sent"));
    ASSERT_EQ(graph.count(), before + 1);
    const auto request = graph.requests().back();
    EXPECT_EQ(request.path, path);
    EXPECT_THAT(request.authorization, HasSubstr("Bearer test-access-token-"));
    EXPECT_THAT(request.body, HasSubstr("Your order shipped"));
    EXPECT_THAT(request.body, HasSubstr(user));
    EXPECT_THAT(str(message(str(queued, "id")), "external_id"), HasSubstr("FAKE"));
  }
}

// The Send API is HTTPS in production: the same path over TLS, with the server's certificate
// checked against the CA store (here the test CA, through OpenSSL's SSL_CERT_FILE).
TEST_F(Outbound, SendsGoOverHttpsToAServerWhoseCertificateVerifies) {
  gt::FakeGraph tls(gt::FakeGraph::kTls);
  gt::TestConfig c;
  c.env = trustingTheTestCa();
  start(c, &tls);
  const std::string conversation = conversationFor("whatsapp", "15550100321");
  std::vector<std::string> ids;
  for (const char* text : {"over tls 1", "over tls 2", "over tls 3"}) ids.push_back(sendText(conversation, text));
  for (const auto& id : ids) ASSERT_TRUE(waitStatus(id, "sent")) << gw->process().stderrText();
  ASSERT_EQ(tls.count(), 3u);
  const auto request = tls.requests().back();
  EXPECT_EQ(request.path, "/v21.0/110220330440551/messages");
  EXPECT_THAT(request.authorization, HasSubstr("Bearer test-access-token-wa-main"));
  EXPECT_THAT(request.body, HasSubstr("over tls 3"));
  EXPECT_EQ(graph.count(), 0u);
}

TEST_F(Outbound, NothingIsSentToAServerWhoseCertificateDoesNotVerify) {
  gt::FakeGraph tls(gt::FakeGraph::kTls);
  start({}, &tls);  // the system's CA store only: the test CA is not in it
  const std::string id = sendText(conversationFor("whatsapp", "15550100322"), "must not leave");
  std::this_thread::sleep_for(2s);  // several attempts, 50 ms backoff and up
  EXPECT_EQ(tls.count(), 0u) << "no request may reach an unverified server";
  EXPECT_NE(str(message(id), "status"), "sent");
  EXPECT_THAT(gw->process().stderrText(), HasSubstr("certificate verify failed: unable to get local issuer certificate"))
      << gw->process().stderrText();
}

TEST_F(Outbound, NothingIsSentToAServerWhoseCertificateNamesAnotherHost) {
  // A certificate the test CA signed, but for 127.0.0.1 and localhost, served on 127.0.0.2.
  gt::FakeGraph tls(gt::FakeGraph::kTls, "127.0.0.2");
  gt::TestConfig c;
  c.env = trustingTheTestCa();
  start(c, &tls);
  const std::string id = sendText(conversationFor("whatsapp", "15550100323"), "must not leave either");
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(tls.count(), 0u);
  EXPECT_NE(str(message(id), "status"), "sent");
  EXPECT_THAT(gw->process().stderrText(), HasSubstr("TLS with 127.0.0.2:"));
  EXPECT_THAT(gw->process().stderrText(), HasSubstr("certificate verify failed: IP address mismatch"));
}

// A connection to the Graph API is kept open for the next call: with one call in flight at
// most (workers: 1), ten sends over plain HTTP and ten over TLS take one connection each.
TEST_F(Outbound, OneKeepAliveConnectionCarriesSendAfterSend) {
  gt::FakeGraph tls(gt::FakeGraph::kTls);
  for (const gt::FakeGraph* target : {&graph, &tls}) {
    SCOPED_TRACE(target->baseUrl());
    gt::TestConfig c;
    c.extraYaml = std::string(kFastDelivery) + "  workers: 1\n";
    c.env = trustingTheTestCa();
    start(c, target);
    const std::string conversation = conversationFor("whatsapp", "15550100324");
    std::vector<std::string> ids;
    for (int i = 0; i < 10; ++i) ids.push_back(sendText(conversation, "kept alive " + std::to_string(i)));
    for (const auto& id : ids) ASSERT_TRUE(waitStatus(id, "sent"));
    EXPECT_EQ(target->count(), 10u);
    EXPECT_EQ(target->connections(), 1);
    gw.reset();
  }
}

// Template, attachment, reply and HUMAN_AGENT through the real binary: what reaches the
// platform is its Send API's shape, and a reply names the platform's id of the message.
TEST_F(Outbound, EveryKindOfContentReachesThePlatformInItsSendApiShape) {
  start();
  const std::string wa = conversationFor("whatsapp", "15550100331");
  const auto inbound = parse(gw->get("/v1/conversations/" + wa + "/messages").body)->getArray("messages")->getObject(0);
  ASSERT_EQ(str(inbound, "direction"), "inbound");
  auto sentBody = [&](const std::string& conversation, const std::string& body) {
    const auto r = send(conversation, body);
    EXPECT_EQ(r.status, 202) << r.body;
    const std::string id = str(parse(r.body)->getObject("message"), "id");
    EXPECT_TRUE(waitStatus(id, "sent")) << body;
    return parse(graph.requests().back().body);
  };

  auto t = sentBody(wa, R"({"template":{"name":"order_update","language":{"code":"en_US"},"components":[]}})");
  EXPECT_EQ(str(t, "type"), "template");
  EXPECT_EQ(str(t->getObject("template"), "name"), "order_update");
  EXPECT_EQ(str(t->getObject("template")->getObject("language"), "code"), "en_US");

  auto a = sentBody(wa, R"({"attachment":{"type":"image","url":"https://example.com/a.jpg","caption":"your receipt"}})");
  EXPECT_EQ(str(a, "type"), "image");
  EXPECT_EQ(str(a->getObject("image"), "link"), "https://example.com/a.jpg");
  EXPECT_EQ(str(a->getObject("image"), "caption"), "your receipt");

  auto r = sentBody(wa, R"({"text":"about that","reply_to":")" + str(inbound, "id") + R"("})");
  ASSERT_TRUE(r->has("context"));
  EXPECT_EQ(str(r->getObject("context"), "message_id"), str(inbound, "external_id"));

  const std::string fb = conversationFor("messenger", "7000000000000331", 3 * 24 * 3600 * 1000LL);
  auto h = sentBody(fb, R"({"text":"following up","tag":"HUMAN_AGENT"})");
  EXPECT_EQ(str(h, "messaging_type"), "MESSAGE_TAG");
  EXPECT_EQ(str(h, "tag"), "HUMAN_AGENT");
  EXPECT_EQ(str(h->getObject("message"), "text"), "following up");
}

TEST_F(Outbound, PermanentErrorFailsAtOnceWithThePlatformCode) {
  start();
  graph.script("", {{400, gt::graphError(131026, "Message undeliverable")}});
  const std::string id = sendText(conversationFor("whatsapp", "15550100302"), "x");
  ASSERT_TRUE(waitStatus(id, "failed"));
  const auto error = message(id)->getObject("error");
  EXPECT_EQ(str(error, "code"), "platform_rejected");
  EXPECT_EQ(error->getValue<int>("platform_code"), 131026);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(graph.count(), 1u);  // never retried
}

TEST_F(Outbound, TokenErrorFailsAsAuth) {
  start();
  graph.script("", {{401, gt::graphError(190, "Invalid OAuth access token")}});
  const std::string id = sendText(conversationFor("messenger", "7000000000000303"), "x");
  ASSERT_TRUE(waitStatus(id, "failed"));
  EXPECT_EQ(str(message(id)->getObject("error"), "code"), "platform_auth");
  EXPECT_EQ(message(id)->getObject("error")->getValue<int>("platform_code"), 190);
}

TEST_F(Outbound, ServerErrorsAndThrottlingAreRetriedUntilSent) {
  start();
  graph.script("", {{500, gt::graphError(2, "Service temporarily unavailable", true)},
                    {429, gt::graphError(130429, "Rate limit hit")},
                    {400, gt::graphError(131056, "Pair rate limit")},
                    {503, "<html>oops</html>"}});
  const std::string id = sendText(conversationFor("whatsapp", "15550100304"), "x");
  ASSERT_TRUE(waitStatus(id, "sent", 20s));
  EXPECT_EQ(graph.count(), 5u);
}

TEST_F(Outbound, RetriesStopAtMaxAttempts) {
  gt::TestConfig c;
  c.extraYaml = std::string(kFastDelivery) + "  max_attempts: 3\n";
  start(c);
  graph.script("", {{500, "{}"}, {500, "{}"}, {500, "{}"}, {500, "{}"}});
  const std::string id = sendText(conversationFor("whatsapp", "15550100305"), "x");
  ASSERT_TRUE(waitStatus(id, "failed", 20s));
  EXPECT_EQ(str(message(id)->getObject("error"), "code"), "retries_exhausted");
  EXPECT_EQ(graph.count(), 3u);
}

TEST_F(Outbound, RetriesStopAtMaxAge) {
  gt::TestConfig c;
  c.extraYaml = std::string(kFastDelivery) + "  max_attempts: 100\n  max_age_s: 1\n";
  start(c);
  std::vector<gt::FakeGraph::Answer> errors(100, {500, "{}"});
  graph.script("", errors);
  const auto accepted = std::chrono::steady_clock::now();
  const std::string id = sendText(conversationFor("whatsapp", "15550100306"), "x");
  ASSERT_TRUE(waitStatus(id, "failed", 20s));
  EXPECT_EQ(str(message(id)->getObject("error"), "code"), "retries_exhausted");
  EXPECT_GE(std::chrono::steady_clock::now() - accepted, 1s) << "not before max_age_s";
  EXPECT_LT(graph.count(), 100u) << "stopped by its age, not by max_attempts";
  EXPECT_GE(graph.count(), 3u);
}

// Transient errors are retried after retry_base_ms × 2^(n−1), ±20%: the gaps between the
// attempts at the platform grow about twofold. A base of 200 ms, so that the time a gap
// also holds (recording the outcome, the claim's commit, the call: ~5 ms, but a commit can
// wait 100 ms and more for the disk while other suites run) stays small beside it.
TEST_F(Outbound, RetryGapsGrowExponentially) {
  gt::TestConfig c;
  c.extraYaml = "delivery:\n  retry_base_ms: 200\n  request_timeout_ms: 700\n  unknown_grace_s: 2\n";
  start(c);
  graph.script("", {{500, "{}"}, {500, "{}"}, {500, "{}"}, {500, "{}"}});
  const std::string id = sendText(conversationFor("whatsapp", "15550100307"), "x");
  ASSERT_TRUE(waitStatus(id, "sent", 20s));
  const auto requests = graph.requests();
  ASSERT_EQ(requests.size(), 5u);
  std::vector<double> gaps;
  for (std::size_t i = 1; i < requests.size(); ++i) {
    gaps.push_back(std::chrono::duration<double, std::milli>(requests[i].at - requests[i - 1].at).count());
  }
  for (std::size_t i = 0; i < gaps.size(); ++i) {
    const double expected = 200.0 * (1 << i);  // 200, 400, 800, 1600 ms
    EXPECT_GE(gaps[i], expected * 0.8 - 1) << "gap " << i;
    EXPECT_LE(gaps[i], expected * 1.2 + 300) << "gap " << i;  // + the outcome's, the claim's and the call's time
  }
}

// A hang: the request left, no answer came. Not re-sent while the platform's own status
// can still tell us it arrived; the status (with our id in its callback data) settles it.
TEST_F(Outbound, TimedOutSendIsSettledByItsStatusWebhookWithoutResending) {
  start();
  graph.script("", {{200, "", 2000ms}});
  const std::string id = sendText(conversationFor("whatsapp", "15550100306"), "x");
  ASSERT_TRUE(gt::waitFor([&] { return graph.count() == 1; }, 5s));
  std::this_thread::sleep_for(1000ms);  // past the client timeout
  EXPECT_EQ(str(message(id), "status"), "sending");
  const std::string status =
      R"({"object":"whatsapp_business_account","entry":[{"id":"100200300400501","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100100","phone_number_id":"110220330440551"},"statuses":[{"id":"wamid.SETTLED1","status":"delivered","timestamp":")" +
      std::to_string(nowMs() / 1000) + R"(","recipient_id":"15550100306","biz_opaque_callback_data":"gw:out:)" + id + R"("}]}}]}]})";
  ASSERT_EQ(gw->post("/webhooks/whatsapp", status, gt::signedHeaders(status)).status, 200);
  ASSERT_TRUE(waitStatus(id, "delivered"));
  EXPECT_EQ(str(message(id), "external_id"), "wamid.SETTLED1");
  std::this_thread::sleep_for(3000ms);  // past unknown_grace_s
  EXPECT_EQ(graph.count(), 1u);
}

TEST_F(Outbound, TimedOutSendWithNoNewsIsSentAgainAfterTheGrace) {
  start();
  graph.script("", {{200, "", 2000ms}});
  const std::string id = sendText(conversationFor("messenger", "7000000000000307"), "x");
  ASSERT_TRUE(waitStatus(id, "sent", 15s));
  EXPECT_EQ(graph.count(), 2u);
}

TEST_F(Outbound, TheConfiguredRateIsNeverExceeded) {
  gt::TestConfig c;
  c.rateLimitMps = 20;
  start(c);
  std::vector<std::string> conversations;
  for (int i = 0; i < 5; ++i) conversations.push_back(conversationFor("whatsapp", "1555010040" + std::to_string(i)));
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(sendText(conversations[i % 5], "m" + std::to_string(i)));
  for (const auto& id : ids) ASSERT_TRUE(waitStatus(id, "sent", 20s));
  const auto requests = graph.requests();
  ASSERT_EQ(requests.size(), 50u);
  int worst = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    int inWindow = 0;
    for (const auto& r : requests) inWindow += (r.at >= requests[i].at && r.at < requests[i].at + 1s) ? 1 : 0;
    worst = std::max(worst, inWindow);
  }
  EXPECT_LE(worst, 20);
  EXPECT_GE(requests.back().at - requests.front().at, 2300ms);  // 50 at 20/s
}

TEST_F(Outbound, AnAccountAtItsRateLimitDoesNotHoldBackTheOthers) {
  // WhatsApp at 2 sends/s with a backlog of 10 (about 5 s of sends); Messenger unthrottled.
  // With two calls in flight at most, neither place may sit waiting for WhatsApp's slots
  // while a Messenger message is due.
  gt::TestConfig c;
  c.rateLimitMpsById = {{"wa-main", 2}};
  c.extraYaml = std::string(kFastDelivery) + "  workers: 2\n";
  start(c);
  std::vector<std::string> conversations;
  for (int i = 0; i < 10; ++i) conversations.push_back(conversationFor("whatsapp", "1555010050" + std::to_string(i)));
  const std::string messenger = conversationFor("messenger", "7100000000000501");
  std::vector<std::string> backlog;
  for (int i = 0; i < 10; ++i) backlog.push_back(sendText(conversations[i], "wa" + std::to_string(i)));
  ASSERT_TRUE(gt::waitFor([&] { return !graph.requests().empty(); }, 5s));
  const auto accepted = std::chrono::steady_clock::now();
  const std::string id = sendText(messenger, "not behind whatsapp");
  ASSERT_TRUE(waitStatus(id, "sent", 10s));
  const auto requests = graph.requests();
  const auto it = std::find_if(requests.begin(), requests.end(),
                               [](const auto& r) { return r.body.find("not behind whatsapp") != std::string::npos; });
  ASSERT_NE(it, requests.end());
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(it->at - accepted).count(), 1000);
  EXPECT_LT(it - requests.begin(), 5) << "it went out after most of the WhatsApp backlog";
  for (const auto& m : backlog) ASSERT_TRUE(waitStatus(m, "sent", 15s));  // and the backlog still drains
}

TEST_F(Outbound, OneConversationKeepsItsOrderThroughRetries) {
  start();
  graph.script("first", {{500, gt::graphError(1, "Unknown error", true)}, {500, "{}"}});
  const std::string conversation = conversationFor("instagram", "1100000000000308");
  std::vector<std::string> ids;
  for (const char* t : {"first", "second", "third"}) ids.push_back(sendText(conversation, t));
  for (const auto& id : ids) ASSERT_TRUE(waitStatus(id, "sent", 15s));
  EXPECT_THAT(sentTexts(), ::testing::ElementsAre("first", "first", "first", "second", "third"));
}

TEST_F(Outbound, IdempotencyKeyReturnsTheFirstMessageAndSendsOnce) {
  start();
  const std::string conversation = conversationFor("whatsapp", "15550100309");
  auto headers = gt::authHeader();
  headers["Idempotency-Key"] = "crm-42";
  const auto first = send(conversation, R"({"text":"once"})", headers);
  const auto again = send(conversation, R"({"text":"once"})", headers);
  ASSERT_EQ(first.status, 202);
  ASSERT_EQ(again.status, 202);
  const std::string id = str(parse(first.body)->getObject("message"), "id");
  EXPECT_EQ(str(parse(again.body)->getObject("message"), "id"), id);
  ASSERT_TRUE(waitStatus(id, "sent"));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(graph.count(), 1u);
}

TEST_F(Outbound, RulesRefuseWithClearCodes) {
  gt::TestConfig c;
  c.instagramEnabled = false;
  start(c);
  // Window: a WhatsApp person who wrote 25 hours ago.
  const std::string stale = conversationFor("whatsapp", "15550100310", 25 * 3600 * 1000LL);
  auto r = send(stale, R"({"text":"late"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_THAT(r.body, HasSubstr("window_closed"));
  EXPECT_FALSE(parse(gw->get("/v1/conversations/" + stale).body)->getObject("conversation")->getValue<bool>("can_send"));
  // ...a template is always allowed on WhatsApp.
  r = send(stale, R"({"template":{"name":"order_update","language":{"code":"en_US"},"components":[]}})");
  EXPECT_EQ(r.status, 202) << r.body;
  // Messenger: HUMAN_AGENT extends the window to 7 days, not further.
  const std::string days = conversationFor("messenger", "7000000000000310", 3 * 86400 * 1000LL);
  EXPECT_EQ(send(days, R"({"text":"late"})").status, 409);
  EXPECT_EQ(send(days, R"({"text":"late","tag":"HUMAN_AGENT"})").status, 202);
  const std::string weeks = conversationFor("messenger", "7000000000000311", 8 * 86400 * 1000LL);
  EXPECT_EQ(send(weeks, R"({"text":"late","tag":"HUMAN_AGENT"})").status, 409);
  // Templates are WhatsApp's: Messenger cannot carry one.
  const std::string fresh = conversationFor("messenger", "7000000000000312");
  r = send(fresh, R"({"template":{"name":"x","language":{"code":"en"}}})");
  EXPECT_EQ(r.status, 422);
  EXPECT_THAT(r.body, HasSubstr("unsupported_content"));
  // Disabled channel.
  r = send(conversationFor("instagram", "1100000000000310"), R"({"text":"hi"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_THAT(r.body, HasSubstr("channel_disabled"));
  // Bad bodies and ids.
  EXPECT_EQ(send(fresh, "not json").status, 400);
  EXPECT_EQ(send(fresh, R"({"text":5})").status, 400);
  EXPECT_EQ(send(fresh, R"({"text":"a","template":{"name":"x"}})").status, 400);
  EXPECT_EQ(send(fresh, R"({"attachment":{"type":"image","url":"ftp://x"}})").status, 400);
  EXPECT_EQ(send("cv_unknown", R"({"text":"a"})").status, 404);
  EXPECT_EQ(send(fresh, R"({"text":"a"})", {}).status, 401);
}

TEST_F(Outbound, RulesAreCheckedAgainWhenTheMessageIsDue) {
  gt::TestConfig c;
  c.extraYaml = "delivery:\n  retry_base_ms: 1500\n  request_timeout_ms: 700\n";
  start(c);
  graph.script("", {{500, "{}"}});
  const std::string id = sendText(conversationFor("whatsapp", "15550100313"), "x");
  ASSERT_TRUE(gt::waitFor([&] { return graph.count() == 1; }, 5s));
  gt::TestConfig disabled = gw->config();
  disabled.whatsappEnabled = false;
  gw->rewriteConfig(disabled);
  gw->process().signal(SIGHUP);
  ASSERT_TRUE(waitStatus(id, "failed", 10s));
  EXPECT_EQ(str(message(id)->getObject("error"), "code"), "channel_disabled");
  EXPECT_EQ(graph.count(), 1u);
}

// Blocked between two attempts: the retry is refused with the rule's code, not sent.
TEST_F(Outbound, BlockingAContactStopsItsQueuedRetry) {
  gt::TestConfig c;
  c.extraYaml = "delivery:\n  retry_base_ms: 1500\n  request_timeout_ms: 700\n";
  start(c);
  graph.script("", {{500, "{}"}});
  const std::string conversation = conversationFor("whatsapp", "15550100314");
  const std::string id = sendText(conversation, "x");
  ASSERT_TRUE(gt::waitFor([&] { return graph.count() == 1; }, 5s));
  const std::string contact =
      str(parse(gw->get("/v1/conversations/" + conversation).body)->getObject("conversation"), "contact_id");
  auto headers = gt::authHeader();
  headers["Content-Type"] = "application/json";
  ASSERT_EQ(gt::httpRequest(gw->port(), "PATCH", "/v1/contacts/" + contact, headers, R"({"blocked":true})").status, 200);
  ASSERT_TRUE(waitStatus(id, "failed", 10s));
  EXPECT_EQ(str(message(id)->getObject("error"), "code"), "contact_blocked");
  EXPECT_EQ(graph.count(), 1u);
}

TEST_F(Outbound, AcceptedMessagesSurviveAKillAndAreSentAfterTheRestart) {
  gt::TestConfig c;
  c.rateLimitMps = 5;
  start(c);
  const std::string conversation = conversationFor("whatsapp", "15550100314");
  std::vector<std::string> ids;
  for (int i = 0; i < 15; ++i) ids.push_back(sendText(conversation, "k" + std::to_string(i)));
  ASSERT_TRUE(gt::waitFor([&] { return graph.count() >= 3; }, 5s));
  gw->process().signal(SIGKILL);
  ASSERT_NE(gw->process().waitExit(5s), -1000);
  gw->restart();
  for (const auto& id : ids) ASSERT_TRUE(waitStatus(id, "sent", 30s)) << id;
  const auto texts = sentTexts();
  const std::set<std::string> distinct(texts.begin(), texts.end());
  EXPECT_EQ(distinct.size(), 15u);                    // nothing lost
  EXPECT_LE(texts.size(), 16u);                       // at most the one in flight at the kill again
  for (std::size_t i = 1; i < texts.size(); ++i) {    // and in order
    EXPECT_LE(std::stoi(texts[i - 1].substr(1)), std::stoi(texts[i].substr(1)));
  }
}

TEST_F(Outbound, ScheduledMessageFiresOnceAtItsTimeAndCancelledOneNever) {
  start();
  const std::string conversation = conversationFor("whatsapp", "15550100315");
  const std::int64_t at = nowMs() + 1500;
  auto create = [&](std::int64_t when, const std::string& text) {
    const auto r = gw->post("/v1/conversations/" + conversation + "/scheduled-messages",
                            R"({"send_at":")" + rfc3339(when) + R"(","text":")" + text + R"("})", gt::authHeader());
    EXPECT_EQ(r.status, 201) << r.body;
    return parse(r.body)->getObject("scheduled_message");
  };
  const auto later = create(at + 60000, "later");
  const auto due = create(at, "due");
  const auto cancelled = create(at, "cancelled");
  EXPECT_EQ(str(due, "status"), "pending");
  const auto pending = parse(gw->get("/v1/conversations/" + conversation + "/scheduled-messages?status=pending").body)
                           ->getArray("scheduled_messages");
  ASSERT_EQ(pending->size(), 3u);
  EXPECT_EQ(str(pending->getObject(2), "id"), str(later, "id"));  // ordered by send_at
  const std::string contactId = str(due, "contact_id");
  EXPECT_EQ(parse(gw->get("/v1/contacts/" + contactId + "/scheduled-messages?status=pending").body)
                ->getArray("scheduled_messages")->size(), 3u);

  const auto cancel = gt::httpRequest(gw->port(), "DELETE", "/v1/scheduled-messages/" + str(cancelled, "id"), gt::authHeader());
  ASSERT_EQ(cancel.status, 200);
  EXPECT_EQ(str(parse(cancel.body)->getObject("scheduled_message"), "status"), "cancelled");
  EXPECT_EQ(gt::httpRequest(gw->port(), "DELETE", "/v1/scheduled-messages/" + str(cancelled, "id"), gt::authHeader()).status, 409);

  ASSERT_TRUE(gt::waitFor([&] { return graph.count() == 1; }, 10s));
  const auto firedAt = graph.requests().at(0).at;
  const auto lateness = std::chrono::system_clock::now() - std::chrono::system_clock::time_point(std::chrono::milliseconds(at)) -
                        (std::chrono::steady_clock::now() - firedAt);
  EXPECT_LT(lateness, 1000ms);
  EXPECT_THAT(sentTexts(), ::testing::ElementsAre("due"));
  const auto fired = parse(gw->get("/v1/conversations/" + conversation + "/scheduled-messages").body)->getArray("scheduled_messages");
  std::map<std::string, Object::Ptr> byId;
  for (std::size_t i = 0; i < fired->size(); ++i) byId[str(fired->getObject(static_cast<unsigned>(i)), "id")] = fired->getObject(static_cast<unsigned>(i));
  EXPECT_EQ(str(byId.at(str(due, "id")), "status"), "sent");
  EXPECT_THAT(str(byId.at(str(due, "id")), "message_id"), HasSubstr("msg_"));
  EXPECT_EQ(str(byId.at(str(cancelled, "id")), "status"), "cancelled");
  EXPECT_EQ(gt::httpRequest(gw->port(), "DELETE", "/v1/scheduled-messages/" + str(due, "id"), gt::authHeader()).status, 409);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(graph.count(), 1u);
}

TEST_F(Outbound, ScheduledMessagesSurviveARestartAndFireOnce) {
  start();
  const std::string conversation = conversationFor("whatsapp", "15550100316");
  const auto r = gw->post("/v1/conversations/" + conversation + "/scheduled-messages",
                          R"({"send_at":")" + rfc3339(nowMs() + 2500) + R"(","text":"after restart"})", gt::authHeader());
  ASSERT_EQ(r.status, 201);
  gw->restart();  // SIGKILL + start
  ASSERT_TRUE(gt::waitFor([&] { return graph.count() == 1; }, 10s));
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(graph.count(), 1u);
}

TEST_F(Outbound, ScheduledMessageRefusedAtFireTimeFailsWithTheRuleCode) {
  start();
  const std::string stale = conversationFor("whatsapp", "15550100317", 25 * 3600 * 1000LL);
  const auto r = gw->post("/v1/conversations/" + stale + "/scheduled-messages",
                          R"({"send_at":")" + rfc3339(nowMs()) + R"(","text":"late"})", gt::authHeader());
  ASSERT_EQ(r.status, 201);
  const std::string id = str(parse(r.body)->getObject("scheduled_message"), "id");
  ASSERT_TRUE(gt::waitFor([&] {
    const auto list = parse(gw->get("/v1/conversations/" + stale + "/scheduled-messages?status=failed").body)->getArray("scheduled_messages");
    return list->size() == 1 && str(list->getObject(0)->getObject("error"), "code") == "window_closed";
  }, 5s));
  EXPECT_EQ(graph.count(), 0u);
  EXPECT_EQ(gw->post("/v1/conversations/" + stale + "/scheduled-messages", R"({"send_at":"tomorrow","text":"x"})", gt::authHeader()).status, 400);
}

TEST_F(Outbound, NewConversationsFollowThePlatformRules) {
  start();
  const std::string messengerConversation = conversationFor("messenger", "7000000000000318");
  const std::string contact = str(parse(gw->get("/v1/conversations/" + messengerConversation).body)->getObject("conversation"), "contact_id");
  auto post = [&](const std::string& channel) {
    return gw->post("/v1/contacts/" + contact + "/conversations", R"({"channel_id":")" + channel + R"("})", gt::authHeader());
  };
  // No phone, never wrote on WhatsApp or Instagram: nothing to start.
  EXPECT_EQ(parse(gw->get("/v1/contacts/" + contact + "/available-channels").body)->getArray("channels")->size(), 0u);
  EXPECT_THAT(post("wa-main").body, HasSubstr("no_identity"));
  EXPECT_THAT(post("ig-main").body, HasSubstr("no_identity"));
  EXPECT_THAT(post("fb-main").body, HasSubstr("conversation_exists"));
  EXPECT_EQ(post("nope").status, 404);
  // With a phone, WhatsApp can be started (the phone is set in the store directly here).
  ASSERT_TRUE(gw->runSql("UPDATE contacts SET phone = '+15550100318' WHERE id = '" + contact + "'"));
  const auto available = parse(gw->get("/v1/contacts/" + contact + "/available-channels").body)->getArray("channels");
  ASSERT_EQ(available->size(), 1u);
  EXPECT_EQ(str(available->getObject(0), "id"), "wa-main");
  const auto started = post("wa-main");
  ASSERT_EQ(started.status, 201) << started.body;
  EXPECT_EQ(str(parse(started.body)->getObject("conversation"), "channel_type"), "whatsapp");
  EXPECT_EQ(post("wa-main").status, 409);
}

namespace {

std::string whatsappStatus(const std::string& wamid, const std::string& status, const std::string& user,
                           const std::string& errors = "") {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"100200300400501","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100100","phone_number_id":"110220330440551"},"statuses":[{"id":")" +
         wamid + R"(","status":")" + status + R"(","timestamp":")" + std::to_string(nowMs() / 1000) +
         R"(","recipient_id":")" + user + R"(")" + errors + R"(}]}}]}]})";
}

}  // namespace

// queued -> sending -> sent -> delivered -> read, each change an event; late statuses do
// not move it back; an asynchronous failure (131047) fails an undelivered message.
TEST_F(Outbound, StatusWebhooksAdvanceSentMessagesAndEachChangeIsAnEvent) {
  start();
  const std::string conversation = conversationFor("whatsapp", "15550100320");
  const std::string id = sendText(conversation, "tracked");
  ASSERT_TRUE(waitStatus(id, "sent"));
  const std::string wamid = str(message(id), "external_id");
  for (const char* s : {"delivered", "read", "delivered", "sent"}) {
    const std::string body = whatsappStatus(wamid, s, "15550100320");
    ASSERT_EQ(gw->post("/webhooks/whatsapp", body, gt::signedHeaders(body)).status, 200);
  }
  EXPECT_EQ(str(message(id), "status"), "read");
  std::vector<std::string> statuses;
  const auto events = parse(gw->get("/v1/events?limit=1000").body)->getArray("events");
  for (std::size_t i = 0; i < events->size(); ++i) {
    const auto e = events->getObject(static_cast<unsigned>(i));
    if (str(e->getObject("data"), "id") == id) statuses.push_back(str(e, "type") + ":" + str(e->getObject("data"), "status"));
  }
  EXPECT_THAT(statuses, ::testing::ElementsAre("message.created:queued", "message.updated:sending", "message.updated:sent",
                                               "message.updated:delivered", "message.updated:read"));

  const std::string second = sendText(conversation, "will fail later");
  ASSERT_TRUE(waitStatus(second, "sent"));
  const std::string failed = whatsappStatus(
      str(message(second), "external_id"), "failed", "15550100320",
      R"(,"errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message"}])");
  ASSERT_EQ(gw->post("/webhooks/whatsapp", failed, gt::signedHeaders(failed)).status, 200);
  ASSERT_TRUE(waitStatus(second, "failed"));
  EXPECT_EQ(message(second)->getObject("error")->getValue<int>("platform_code"), 131047);
}

// The platform's status can overtake the Send API's answer: it is parked, then applied.
TEST_F(Outbound, AStatusThatArrivesBeforeTheSendResultIsAppliedAfterwards) {
  start();
  graph.script("", {{200, R"({"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.EARLY1"}]})", 600ms}});
  const std::string id = sendText(conversationFor("whatsapp", "15550100321"), "x");
  ASSERT_TRUE(gt::waitFor([&] { return graph.count() == 1; }, 5s));
  const std::string body = whatsappStatus("wamid.EARLY1", "delivered", "15550100321");
  ASSERT_EQ(gw->post("/webhooks/whatsapp", body, gt::signedHeaders(body)).status, 200);
  EXPECT_EQ(str(message(id), "status"), "sending");  // the send has not answered yet
  ASSERT_TRUE(waitStatus(id, "delivered"));
  EXPECT_EQ(str(message(id), "external_id"), "wamid.EARLY1");
  EXPECT_EQ(gw->countRows("parked_statuses"), 0);
}

// A blocked contact gets nothing: direct sends are refused, a schedule fails at its time.
TEST_F(Outbound, BlockedContactIsRefusedSendsAndSchedules) {
  start();
  const std::string conversation = conversationFor("whatsapp", "15550100330");
  const std::string contact =
      str(parse(gw->get("/v1/conversations/" + conversation).body)->getObject("conversation"), "contact_id");
  const auto scheduled = gw->post("/v1/conversations/" + conversation + "/scheduled-messages",
                                  R"({"send_at":")" + rfc3339(nowMs() + 1500) + R"(","text":"later"})", gt::authHeader());
  ASSERT_EQ(scheduled.status, 201);
  auto headers = gt::authHeader();
  headers["Content-Type"] = "application/json";
  ASSERT_EQ(gt::httpRequest(gw->port(), "PATCH", "/v1/contacts/" + contact, headers, R"({"blocked":true})").status, 200);
  const auto r = send(conversation, R"({"text":"hi"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_THAT(r.body, HasSubstr("contact_blocked"));
  ASSERT_TRUE(gt::waitFor([&] {
    const auto list = parse(gw->get("/v1/conversations/" + conversation + "/scheduled-messages?status=failed").body)
                          ->getArray("scheduled_messages");
    return list->size() == 1 && str(list->getObject(0)->getObject("error"), "code") == "contact_blocked";
  }, 6s));
  EXPECT_EQ(graph.count(), 0u);
}

TEST_F(Outbound, CancellingAScheduleIsRecordedInTheActivity) {
  start();
  const std::string conversation = conversationFor("whatsapp", "15550100331");
  const auto created = gw->post("/v1/conversations/" + conversation + "/scheduled-messages",
                                R"({"send_at":")" + rfc3339(nowMs() + 60000) + R"(","text":"later"})", gt::authHeader());
  ASSERT_EQ(created.status, 201);
  const std::string id = str(parse(created.body)->getObject("scheduled_message"), "id");
  ASSERT_EQ(gt::httpRequest(gw->port(), "DELETE", "/v1/scheduled-messages/" + id, gt::authHeader()).status, 200);
  const auto system = parse(gw->get("/v1/conversations/" + conversation + "/messages?kind=system").body)->getArray("messages");
  ASSERT_GE(system->size(), 1u);
  EXPECT_EQ(str(system->getObject(0), "type"), "scheduled_message_cancelled");
  EXPECT_EQ(str(system->getObject(0)->getObject("extra"), "scheduled_message_id"), id);
  EXPECT_EQ(gt::httpRequest(gw->port(), "DELETE", "/v1/scheduled-messages/sm_unknown", gt::authHeader()).status, 404);
}

// A status for a message that never appears is kept a week, not forever.
TEST_F(Outbound, ParkedStatusesExpireAfterAWeek) {
  start();
  const std::int64_t eightDaysAgo = nowMs() - 8LL * 86400 * 1000;
  const std::string recent = whatsappStatus("wamid.NEVER-RECENT", "delivered", "15550100340");
  std::string old = whatsappStatus("wamid.NEVER-OLD", "delivered", "15550100340");
  const std::string nowSeconds = std::to_string(nowMs() / 1000);
  old.replace(old.find(nowSeconds), nowSeconds.size(), std::to_string(eightDaysAgo / 1000));
  for (const std::string& body : {recent, old}) {
    ASSERT_EQ(gw->post("/webhooks/whatsapp", body, gt::signedHeaders(body)).status, 200);
  }
  ASSERT_EQ(gw->countRows("parked_statuses"), 2);
  gw->restart();  // housekeeping runs when the scheduler starts, then every minute
  ASSERT_TRUE(gt::waitFor([&] { return gw->countRows("parked_statuses") == 1; }, 5s));
}

// A stop does not wait out a slow pacing queue; what was not sent goes out after the restart.
TEST_F(Outbound, StopDoesNotWaitForPacingAndNothingIsLost) {
  gt::TestConfig c;
  c.rateLimitMps = 1;
  start(c);
  // Six conversations, one slot a second: the last one five seconds away.
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(sendText(conversationFor("whatsapp", "1555010035" + std::to_string(i)), "p" + std::to_string(i)));
  }
  ASSERT_TRUE(gt::waitFor([&] { return graph.count() >= 1; }, 5s));
  const auto stopping = std::chrono::steady_clock::now();
  gw->process().signal(SIGTERM);
  EXPECT_EQ(gw->process().waitExit(10s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 3s);  // not the ~5 s the queue would take
  const std::size_t sentBefore = graph.count();
  EXPECT_LT(sentBefore, 6u);
  gw->restart();
  for (const auto& id : ids) ASSERT_TRUE(waitStatus(id, "sent", 20s)) << id;
  EXPECT_EQ(sentTexts().size(), 6u);  // each exactly once
}
