// The answer's bytes, and the connection registry that lets a stop end idle keep-alives
// first (on socket pairs standing in for connections).
#include "http/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

namespace {

using gateway::http::appendResponse;
using gateway::http::ConnectionRegistry;
using gateway::http::Response;
using namespace std::chrono_literals;

std::string bytesOf(const Response& response, std::string_view connection = "", bool withBody = true) {
  std::string out;
  appendResponse(out, response, connection, withBody);
  return out;
}

TEST(Response, StatusLineHeadersAndBodyInOneBuffer) {
  Response r = Response::json(202, R"({"id":"m1"})");
  r.headers.emplace_back("Location", "/v1/messages/m1");
  EXPECT_EQ(bytesOf(r),
            "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
            "Location: /v1/messages/m1\r\n\r\n{\"id\":\"m1\"}");
}

TEST(Response, ConnectionHeaderOnlyWhenGiven) {
  EXPECT_EQ(bytesOf(Response::text(200, "ok"), "close"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  EXPECT_EQ(bytesOf(Response::text(200, "ok"), "keep-alive"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
}

TEST(Response, HeadGetsTheLengthButNoBody) {
  EXPECT_EQ(bytesOf(Response::text(405, "no"), "", false),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n");
}

TEST(Response, NoContentHasNeitherLengthNorBody) {
  EXPECT_EQ(bytesOf(Response::json(204, "ignored")), "HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\r\n");
}

TEST(Response, ReasonPhrasesOfTheCodesWeSend) {
  const std::vector<std::pair<int, std::string>> phrases{
      {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {400, "Bad Request"}, {401, "Unauthorized"},
      {403, "Forbidden"}, {404, "Not Found"}, {405, "Method Not Allowed"}, {409, "Conflict"},
      {413, "Content Too Large"}, {415, "Unsupported Media Type"}, {422, "Unprocessable Content"},
      {429, "Too Many Requests"}, {431, "Request Header Fields Too Large"}, {500, "Internal Server Error"},
      {503, "Service Unavailable"}};
  for (const auto& [status, phrase] : phrases) {
    EXPECT_EQ(bytesOf(Response::text(status, "")).rfind("HTTP/1.1 " + std::to_string(status) + " " + phrase + "\r\n", 0), 0u)
        << status;
  }
  // Another code gets an empty phrase, still after a space (RFC 9112 §4).
  EXPECT_EQ(bytesOf(Response::text(299, "")).rfind("HTTP/1.1 299 \r\n", 0), 0u);
}

// A connected socket pair: server() is what the registry holds, client() the peer.
class SocketPair {
 public:
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  ~SocketPair() {
    close(fds_[0]);
    close(fds_[1]);
  }
  int server() const { return fds_[0]; }
  int client() const { return fds_[1]; }
  // True when a read on the server side would see end-of-stream now (not block).
  bool serverReadEnded() const {
    char byte;
    return recv(fds_[0], &byte, 1, MSG_DONTWAIT) == 0;
  }

 private:
  int fds_[2] = {-1, -1};
};

// A registry with socket pairs standing in for its connections.
class Registry : public ::testing::Test {
 protected:
  // Registers the pair's server side as a connection, in the middle of a request if `busy`.
  ConnectionRegistry::Slot enter(const SocketPair& pair, bool busy) {
    const ConnectionRegistry::Slot slot = registry.add(pair.server()).value();
    if (busy) registry.setBusy(slot);
    return slot;
  }

  ConnectionRegistry registry;
};

TEST_F(Registry, StopEndsIdleConnectionsAndLeavesBusyOnes) {
  SocketPair idle;
  SocketPair busy;
  enter(idle, false);
  enter(busy, true);
  registry.stop();
  EXPECT_TRUE(registry.stopping());
  EXPECT_TRUE(idle.serverReadEnded());
  EXPECT_FALSE(busy.serverReadEnded());
  // The busy one can still answer: only the idle one's read side was shut.
  EXPECT_EQ(send(busy.server(), "x", 1, MSG_NOSIGNAL), 1);
  EXPECT_EQ(send(idle.server(), "x", 1, MSG_NOSIGNAL), 1);
}

TEST_F(Registry, AfterStopNothingNewIsAddedAndNoOneWaitsIdle) {
  SocketPair busy;
  const ConnectionRegistry::Slot slot = enter(busy, true);
  registry.stop();
  SocketPair late;
  EXPECT_FALSE(registry.add(late.server()));
  EXPECT_FALSE(registry.setIdle(slot));  // answered its request: close instead of waiting
}

TEST_F(Registry, WaitUntilEmptyReturnsWhenTheLastOneLeaves) {
  SocketPair pair;
  const ConnectionRegistry::Slot slot = enter(pair, false);
  EXPECT_FALSE(registry.waitUntilEmpty(std::chrono::steady_clock::now() + 20ms));
  std::thread leaver([&] {
    std::this_thread::sleep_for(20ms);
    registry.remove(slot);
  });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(registry.waitUntilEmpty(started + 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  leaver.join();
}

TEST_F(Registry, ShutdownAllEndsBusyConnectionsToo) {
  SocketPair busy;
  enter(busy, true);
  registry.stop();
  EXPECT_FALSE(busy.serverReadEnded());
  registry.shutdownAll();
  EXPECT_TRUE(busy.serverReadEnded());
  EXPECT_EQ(send(busy.server(), "x", 1, MSG_NOSIGNAL), -1);
}

TEST_F(Registry, AnIdleConnectionBecomesBusyAgain) {
  SocketPair pair;
  const ConnectionRegistry::Slot slot = enter(pair, true);
  ASSERT_TRUE(registry.setIdle(slot));
  registry.setBusy(slot);  // the next request's first bytes came
  registry.stop();
  EXPECT_FALSE(pair.serverReadEnded());
}

}  // namespace
