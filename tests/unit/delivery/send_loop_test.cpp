// The send loop against a fake Graph API on loopback: calls in flight at once, the
// connection limit, timeouts, refused connections, stopping, closed keep-alive connections.
#include "delivery/send_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include "fake_graph.h"

namespace gt = gateway::testing;
using gateway::delivery::HttpCall;
using gateway::delivery::HttpOutcome;
using gateway::delivery::RateLimiter;
using gateway::delivery::SendLoop;
using Kind = HttpOutcome::Kind;
using namespace std::chrono_literals;

namespace {

// Collects outcomes as the loop's thread delivers them.
class Outcomes {
 public:
  SendLoop::Done collector(int index) {
    return [this, index](HttpOutcome o) {
      std::lock_guard<std::mutex> lock(mutex_);
      got_.emplace_back(index, std::move(o));
      changed_.notify_all();
    };
  }
  bool waitFor(std::size_t n, std::chrono::milliseconds within = 5s) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, within, [&] { return got_.size() >= n; });
  }
  std::vector<std::pair<int, HttpOutcome>> all() {
    std::lock_guard<std::mutex> lock(mutex_);
    return got_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::pair<int, HttpOutcome>> got_;
};

HttpCall post(const std::string& baseUrl, const std::string& body) {
  HttpCall c;
  c.url = baseUrl + "/v21.0/1/messages";
  c.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer t"}};
  c.body = body;
  return c;
}

SendLoop::Options options(int connections, std::chrono::milliseconds timeout = 5s) {
  SendLoop::Options o;
  o.maxConnectionsPerOrigin = connections;
  o.timeout = timeout;
  return o;
}

// A raw server's side of one connection: waits (3 s at most) for a client, reads its request
// (whose body is "body"), sends `reply` (nothing when empty), waits `linger` and closes.
// False when no client came.
bool serveOne(Poco::Net::ServerSocket& server, const std::string& reply,
              std::chrono::milliseconds linger = std::chrono::milliseconds(0)) {
  if (!server.poll(Poco::Timespan(3, 0), Poco::Net::Socket::SELECT_READ)) return false;
  Poco::Net::StreamSocket s = server.acceptConnection();
  char buffer[4096];
  std::string in;
  while (in.find("\r\n\r\nbody") == std::string::npos) {
    const int n = s.receiveBytes(buffer, sizeof buffer);
    if (n <= 0) break;
    in.append(buffer, static_cast<std::size_t>(n));
  }
  if (!reply.empty()) s.sendBytes(reply.data(), static_cast<int>(reply.size()));
  std::this_thread::sleep_for(linger);
  s.close();
  return true;
}

class SendLoopTest : public ::testing::Test {
 protected:
  void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }  // as the gateway's main does
  RateLimiter limiter;
  Outcomes outcomes;
};

}  // namespace

TEST_F(SendLoopTest, CallsAreInFlightAtOnceUpToTheConnectionLimit) {
  gt::FakeGraph graph;
  graph.script("", std::vector<gt::FakeGraph::Answer>(16, {200, "", 300ms}));
  SendLoop loop(limiter, options(8));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 16; ++i) loop.submit(post(graph.baseUrl(), "{\"n\":" + std::to_string(i) + "}"), "wa", 1e6, outcomes.collector(i));
  ASSERT_TRUE(outcomes.waitFor(16));
  const auto took = std::chrono::steady_clock::now() - start;
  // Two rounds of eight 300 ms calls; one at a time would take 4.8 s.
  EXPECT_LT(took, 1500ms);
  EXPECT_GE(took, 600ms) << "no more than eight at once";
  EXPECT_EQ(graph.connections(), 8);
  for (const auto& [i, o] : outcomes.all()) {
    EXPECT_EQ(o.kind, Kind::kResponse) << o.error;
    EXPECT_EQ(o.status, 200);
    EXPECT_NE(o.body.find("\"message_id\":\"m_FAKE"), std::string::npos) << o.body;
  }
  EXPECT_EQ(graph.requests().front().authorization, "Bearer t");
}

TEST_F(SendLoopTest, AHostNameIsResolvedAndAnUnknownOneIsNotSent) {
  gt::FakeGraph graph;
  const std::string port = graph.baseUrl().substr(graph.baseUrl().rfind(':'));
  SendLoop loop(limiter, options(4));
  for (int i = 0; i < 3; ++i) loop.submit(post("http://localhost" + port, "n"), "wa", 1e6, outcomes.collector(i));
  loop.submit(post("http://no-such-host.invalid" + port, "n"), "wa", 1e6, outcomes.collector(3));
  ASSERT_TRUE(outcomes.waitFor(4));
  for (const auto& [i, o] : outcomes.all()) {
    if (i < 3) {
      EXPECT_EQ(o.kind, Kind::kResponse) << o.error;
    } else {
      EXPECT_EQ(o.kind, Kind::kNotSent);
      EXPECT_NE(o.error.find("cannot resolve no-such-host.invalid"), std::string::npos) << o.error;
    }
  }
  EXPECT_EQ(graph.count(), 3u);
}

TEST_F(SendLoopTest, NoAnswerInTimeIsUnknownAndARefusedConnectionIsNotSent) {
  gt::FakeGraph graph;
  graph.script("slow", {{200, "", 700ms}});
  const auto started = std::chrono::steady_clock::now();
  int closedPort = 0;
  {
    Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
    closedPort = s.address().port();
  }
  SendLoop loop(limiter, options(4, 300ms));
  loop.submit(post(graph.baseUrl(), "slow"), "wa", 1e6, outcomes.collector(0));
  loop.submit(post("http://127.0.0.1:" + std::to_string(closedPort), "x"), "wa", 1e6, outcomes.collector(1));
  loop.submit(post("ftp://127.0.0.1", "x"), "wa", 1e6, outcomes.collector(2));
  ASSERT_TRUE(outcomes.waitFor(3));
  for (const auto& [i, o] : outcomes.all()) {
    if (i == 0) {
      EXPECT_EQ(o.kind, Kind::kUnknown);
      EXPECT_NE(o.error.find("timed out waiting for the answer"), std::string::npos) << o.error;
    } else if (i == 1) {
      EXPECT_EQ(o.kind, Kind::kNotSent);
      EXPECT_NE(o.error.find("Connection refused"), std::string::npos) << o.error;
    } else {
      EXPECT_EQ(o.kind, Kind::kNotSent);
      EXPECT_NE(o.error.find("bad url"), std::string::npos) << o.error;
    }
  }
  // Let the fake's handler finish its sleep: a Poco server thread still in it when the
  // process exits would touch Poco's statics after they are gone (ASan: use after free).
  std::this_thread::sleep_until(started + 900ms);
}

TEST_F(SendLoopTest, StopCancelsWhatHasNotLeftAndWaitsForWhatHas) {
  gt::FakeGraph graph;
  graph.script("", {{200, "", 400ms}});
  SendLoop loop(limiter, options(1));
  for (int i = 0; i < 3; ++i) loop.submit(post(graph.baseUrl(), "n" + std::to_string(i)), "wa", 1e6, outcomes.collector(i));
  std::this_thread::sleep_for(150ms);  // the first is at the server, the others wait for the connection
  loop.stop();
  const auto got = outcomes.all();
  ASSERT_EQ(got.size(), 3u) << "stop returns once every call has its outcome";
  for (const auto& [i, o] : got) {
    EXPECT_EQ(o.kind, i == 0 ? Kind::kResponse : Kind::kCancelled) << i << " " << o.error;
  }
  EXPECT_EQ(graph.count(), 1u);
  // Submitted after the stop: cancelled at once, on the caller's thread.
  Outcomes late;
  loop.submit(post(graph.baseUrl(), "late"), "wa", 1e6, late.collector(9));
  ASSERT_EQ(late.all().size(), 1u);
  EXPECT_EQ(late.all().front().second.kind, Kind::kCancelled);
  EXPECT_EQ(graph.count(), 1u);
}

TEST_F(SendLoopTest, PacedCallsLeaveOneIntervalApart) {
  gt::FakeGraph graph;
  SendLoop loop(limiter, options(4));
  for (int i = 0; i < 5; ++i) loop.submit(post(graph.baseUrl(), "p"), "wa", 10, outcomes.collector(i));
  EXPECT_EQ(loop.unpaced("wa") + static_cast<int>(outcomes.all().size()), 5);
  ASSERT_TRUE(outcomes.waitFor(5));
  const auto requests = graph.requests();
  ASSERT_EQ(requests.size(), 5u);
  for (std::size_t i = 1; i < requests.size(); ++i) {
    EXPECT_GE(requests[i].at - requests[i - 1].at, 95ms) << "at 10/s, one every 102 ms";
  }
  EXPECT_EQ(loop.unpaced("wa"), 0);
}

// A server that answers one request per connection and closes it a little later, without
// having said so: the next call must not be written onto the closed connection (its outcome
// would be unknown).
TEST_F(SendLoopTest, AKeepAliveConnectionTheServerClosedIsNotReused) {
  Poco::Net::ServerSocket server(Poco::Net::SocketAddress("127.0.0.1", 0));
  std::atomic<int> accepted{0};
  std::thread serve([&] {
    for (int i = 0; i < 2; ++i) {
      // 50 ms: the client has read the answer and holds the connection idle when it closes.
      if (!serveOne(server, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 50ms)) return;
      ++accepted;
    }
  });
  const std::string base = "http://127.0.0.1:" + std::to_string(server.address().port());
  SendLoop loop(limiter, options(1));
  loop.submit(post(base, "body"), "wa", 1e6, outcomes.collector(0));
  ASSERT_TRUE(outcomes.waitFor(1));
  std::this_thread::sleep_for(200ms);  // the close reaches the idle connection
  loop.submit(post(base, "body"), "wa", 1e6, outcomes.collector(1));
  ASSERT_TRUE(outcomes.waitFor(2));
  serve.join();
  for (const auto& [i, o] : outcomes.all()) EXPECT_EQ(o.kind, Kind::kResponse) << i << " " << o.error;
  EXPECT_EQ(accepted.load(), 2);
}

TEST_F(SendLoopTest, TheLoopFramesTheRequestAndRefusesHeadersWithLineBreaks) {
  gt::FakeGraph graph;
  SendLoop loop(limiter, options(2));
  HttpCall framed = post(graph.baseUrl(), "{\"n\":1}");
  framed.headers.emplace_back("content-length", "999");  // a plugin's framing header is not sent
  framed.headers.emplace_back("Host", "evil.example");
  HttpCall injected = post(graph.baseUrl(), "{\"n\":2}");
  injected.headers.emplace_back("X-Token", "abc\r\nX-Injected: 1");
  loop.submit(framed, "wa", 1e6, outcomes.collector(0));
  loop.submit(injected, "wa", 1e6, outcomes.collector(1));
  ASSERT_TRUE(outcomes.waitFor(2));
  for (const auto& [i, o] : outcomes.all()) {
    if (i == 0) {
      EXPECT_EQ(o.kind, Kind::kResponse) << o.error;
      EXPECT_EQ(o.status, 200);
    } else {
      EXPECT_EQ(o.kind, Kind::kNotSent);
      EXPECT_NE(o.error.find("line break"), std::string::npos) << o.error;
    }
  }
  ASSERT_EQ(graph.count(), 1u) << "the injected one never left";
  EXPECT_EQ(graph.requests().front().body, "{\"n\":1}");
}

// After the request has left, a connection that ends without a whole answer leaves the
// outcome unknown (the platform may have acted on it): never "not sent", which is retried.
TEST_F(SendLoopTest, ARequestThatLeftWithoutAWholeAnswerIsUnknown) {
  Poco::Net::ServerSocket server(Poco::Net::SocketAddress("127.0.0.1", 0));
  const std::vector<std::string> replies = {"", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"cut\":", "SSH-2.0-x\r\n\r\n"};
  std::thread serve([&] {
    for (const std::string& reply : replies) {
      if (!serveOne(server, reply)) return;
    }
  });
  const std::string base = "http://127.0.0.1:" + std::to_string(server.address().port());
  SendLoop loop(limiter, options(1));
  for (int i = 0; i < 3; ++i) {
    loop.submit(post(base, "body"), "wa", 1e6, outcomes.collector(i));
    ASSERT_TRUE(outcomes.waitFor(static_cast<std::size_t>(i) + 1));
  }
  serve.join();
  const auto got = outcomes.all();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].second.kind, Kind::kUnknown);
  EXPECT_NE(got[0].second.error.find("closed before the answer"), std::string::npos) << got[0].second.error;
  EXPECT_EQ(got[1].second.kind, Kind::kUnknown);
  EXPECT_NE(got[1].second.error.find("closed in the answer's body"), std::string::npos) << got[1].second.error;
  EXPECT_EQ(got[2].second.kind, Kind::kUnknown);
  EXPECT_NE(got[2].second.error.find("unreadable answer"), std::string::npos) << got[2].second.error;
}
