// Answers given later through a Reply (http::Reply): from another thread, after the handler
// returned, over real loopback connections to an in-process Server.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "http/server.h"
#include "raw_client.h"

namespace {

using gateway::http::Metrics;
using gateway::http::Reply;
using gateway::http::Request;
using gateway::http::Response;
using gateway::http::Router;
using gateway::http::Server;
using gateway::http::ServerOptions;
using gateway::testing::RawClient;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

const std::string kNow = "GET /now HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

std::string post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra + "\r\n" + body;
}

class Later : public ::testing::Test {
 protected:
  void SetUp() override {
    // Hands its Reply to the test, which answers from its own thread.
    router_.add("POST", "/later", "later", [this](Request& request) {
      owe(request.answerLater());
      return Response::later();
    });
    // Takes a Reply and drops it.
    router_.add("POST", "/dropped", "dropped", [](Request& request) {
      request.answerLater();
      return Response::later();
    });
    // Takes a Reply, hands it on, then fails.
    router_.add("POST", "/throws", "throws", [this](Request& request) -> Response {
      owe(request.answerLater());
      throw std::runtime_error("failed after taking the reply");
    });
    // Takes its Reply twice (against the rule) and hands both over.
    router_.add("POST", "/twice", "twice", [this](Request& request) {
      owe(request.answerLater());
      owe(request.answerLater());
      return Response::later();
    });
    router_.add("GET", "/now", "now", [](Request&) { return Response::text(200, "now"); });
    server_ = std::make_unique<Server>(ServerOptions{}, router_, metrics_);
    server_->start();
  }
  void TearDown() override { server_->stop(0ms); }

  // The next Reply a handler handed over.
  Reply owed() {
    std::unique_lock<std::mutex> lock(mutex_);
    EXPECT_TRUE(handed_.wait_for(lock, 5s, [this] { return !owed_.empty(); }));
    if (owed_.empty()) return Reply();
    Reply reply = owed_.front();
    owed_.pop_front();
    return reply;
  }

  // Answers from another thread, as the store's notifier thread does.
  static void answerFromAnotherThread(const Reply& reply, const Response& response) {
    std::thread([&] { reply(response); }).join();
  }

  std::int64_t answeredOn(const std::string& route) {
    return metrics_.histogram("gateway_http_request_duration_seconds", "", {{"route", route}}).snapshot().count;
  }

  Metrics metrics_;
  Router router_;
  std::unique_ptr<Server> server_;

 private:
  void owe(Reply reply) {
    std::lock_guard<std::mutex> lock(mutex_);
    owed_.push_back(std::move(reply));
    handed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable handed_;
  std::deque<Reply> owed_;
};

TEST_F(Later, AnsweredFromAnotherThreadAndTheConnectionStaysOpen) {
  RawClient client(server_->port());
  ASSERT_TRUE(client.send(post("/later", "x")));
  const Reply reply = owed();
  EXPECT_EQ(client.response(false, 200ms), "");  // nothing until the Reply is called
  answerFromAnotherThread(reply, Response::text(200, "done"));
  const std::string answer = client.response();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(answer, EndsWith("\r\n\r\ndone"));
  EXPECT_EQ(answeredOn("later"), 1);  // its latency is recorded when it is sent
  ASSERT_TRUE(client.send(kNow));
  EXPECT_THAT(client.response(), EndsWith("now"));
}

TEST_F(Later, APipelinedRequestIsAnsweredOnlyAfterTheLaterOne) {
  RawClient client(server_->port());
  ASSERT_TRUE(client.send(post("/later", "x") + kNow));
  const Reply reply = owed();
  EXPECT_EQ(client.response(false, 300ms), "");  // "now" must not overtake it
  answerFromAnotherThread(reply, Response::text(200, "done"));
  EXPECT_THAT(client.response(), EndsWith("done"));
  EXPECT_THAT(client.response(), EndsWith("now"));
}

TEST_F(Later, ConnectionCloseIsHonouredAfterTheLaterAnswer) {
  RawClient client(server_->port());
  ASSERT_TRUE(client.send(post("/later", "x", "Connection: close\r\n")));
  answerFromAnotherThread(owed(), Response::text(200, "done"));
  const std::string answer = client.response();
  EXPECT_THAT(answer, HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(answer, EndsWith("done"));
  EXPECT_TRUE(client.closedWithin(2s));
}

TEST_F(Later, AReplyDroppedUncalledAnswers500) {
  RawClient client(server_->port());
  ASSERT_TRUE(client.send(post("/dropped", "x")));
  const std::string answer = client.response();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 500 Internal Server Error\r\n"));
  EXPECT_THAT(answer, HasSubstr(R"("code":"internal")"));
  ASSERT_TRUE(client.send(kNow));
  EXPECT_THAT(client.response(), EndsWith("now"));
}

TEST_F(Later, AHandlerThatTookAReplyAndThrewIsAnsweredOnce) {
  RawClient client(server_->port());
  ASSERT_TRUE(client.send(post("/throws", "x")));
  const Reply reply = owed();
  EXPECT_THAT(client.response(), StartsWith("HTTP/1.1 500 Internal Server Error\r\n"));
  answerFromAnotherThread(reply, Response::text(200, "late"));  // says nothing now
  ASSERT_TRUE(client.send(kNow));
  EXPECT_THAT(client.response(), EndsWith("now"));
  EXPECT_EQ(client.response(false, 200ms), "");
}

TEST_F(Later, AReplyTakenTwiceStillAnswersOnce) {
  RawClient client(server_->port());
  ASSERT_TRUE(client.send(post("/twice", "x")));
  const Reply first = owed();
  const Reply second = owed();
  answerFromAnotherThread(second, Response::text(200, "second"));
  answerFromAnotherThread(first, Response::text(200, "first"));
  EXPECT_THAT(client.response(), EndsWith("second"));
  ASSERT_TRUE(client.send(kNow));
  EXPECT_THAT(client.response(), EndsWith("now"));  // not a stray "first" before it
}

TEST_F(Later, AnAnswerTheSocketCannotTakeAtOnceArrivesWhole) {
  // Far more than the socket buffers hold while the client is not reading: the Reply sends
  // what fits without blocking, the connection's thread sends the rest.
  RawClient client(server_->port());
  ASSERT_TRUE(client.send(post("/later", "x")));
  const std::string big(16 * 1024 * 1024, 'b');
  answerFromAnotherThread(owed(), Response::text(200, big));
  std::this_thread::sleep_for(200ms);
  const std::string answer = client.response(false, 10s);
  ASSERT_THAT(answer, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(answer.size() - answer.find("\r\n\r\n") - 4, big.size());
}

TEST_F(Later, AStopStillSendsTheAnswersOwed) {
  RawClient client(server_->port());
  ASSERT_TRUE(client.send(post("/later", "x")));
  const Reply reply = owed();
  std::thread stopper([this] { server_->stop(5s); });
  std::this_thread::sleep_for(200ms);  // the stop has begun: the connection is idle, the answer owed
  answerFromAnotherThread(reply, Response::text(200, "done"));
  EXPECT_THAT(client.response(), EndsWith("done"));
  stopper.join();
  EXPECT_TRUE(client.closedWithin(2s));
}

}  // namespace
