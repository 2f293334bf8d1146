#include "delivery/http_answer.h"

#include <gtest/gtest.h>

using gateway::delivery::AnswerParse;
using gateway::delivery::HttpAnswer;
using gateway::delivery::parseHttpAnswer;

namespace {

AnswerParse parse(const std::string& in, HttpAnswer& out, bool closed = false) {
  std::string error;
  return parseHttpAnswer(in, closed, out, error);
}

// Every proper prefix of `full` must be incomplete; then `full` itself is parsed.
AnswerParse parseAfterEveryCut(const std::string& full, HttpAnswer& out) {
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    EXPECT_EQ(parse(full.substr(0, cut), out), AnswerParse::kMore) << "cut at " << cut;
  }
  return parse(full, out);
}

}  // namespace

TEST(HttpAnswer, ContentLengthBodyIsCompleteOnlyWithItsLastByte) {
  const std::string full = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"id\":\"m1\"}";
  HttpAnswer a;
  ASSERT_EQ(parseAfterEveryCut(full, a), AnswerParse::kDone);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "{\"id\":\"m1\"}");
  EXPECT_TRUE(a.keepAlive);
}

TEST(HttpAnswer, ChunkedBodyIsJoinedAndNeedsTheLastChunk) {
  const std::string full =
      "HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\n{\"err\r\n6\r\nor\":1}\r\n0\r\n\r\n";
  HttpAnswer a;
  ASSERT_EQ(parseAfterEveryCut(full, a), AnswerParse::kDone);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body, "{\"error\":1}");
}

TEST(HttpAnswer, WithoutLengthTheBodyRunsToTheClose) {
  const std::string in = "HTTP/1.1 500 Internal Server Error\r\n\r\noops";
  HttpAnswer a;
  EXPECT_EQ(parse(in, a), AnswerParse::kMore);
  ASSERT_EQ(parse(in, a, true), AnswerParse::kDone);
  EXPECT_EQ(a.status, 500);
  EXPECT_EQ(a.body, "oops");
  EXPECT_FALSE(a.keepAlive);
}

TEST(HttpAnswer, ConnectionCloseAndHttp10EndTheConnection) {
  HttpAnswer a;
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", a), AnswerParse::kDone);
  EXPECT_FALSE(a.keepAlive);
  ASSERT_EQ(parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", a), AnswerParse::kDone);
  EXPECT_FALSE(a.keepAlive);
  ASSERT_EQ(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n{}", a), AnswerParse::kDone);
  EXPECT_TRUE(a.keepAlive);
}

TEST(HttpAnswer, InterimContinueIsSkipped) {
  HttpAnswer a;
  ASSERT_EQ(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", a),
            AnswerParse::kDone);
  EXPECT_EQ(a.status, 201);
  EXPECT_EQ(a.body, "");
}

TEST(HttpAnswer, GarbageAndTruncationAreBad) {
  HttpAnswer a;
  std::string error;
  EXPECT_EQ(parseHttpAnswer("SSH-2.0-OpenSSH\r\n\r\n", false, a, error), AnswerParse::kBad);
  EXPECT_EQ(parseHttpAnswer("HTTP/1.1 2x0 OK\r\n\r\n", false, a, error), AnswerParse::kBad);
  EXPECT_EQ(parseHttpAnswer("HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", false, a, error), AnswerParse::kBad);
  EXPECT_EQ(parseHttpAnswer("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false, a, error), AnswerParse::kBad);
  EXPECT_EQ(parseHttpAnswer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", true, a, error), AnswerParse::kBad);
  EXPECT_EQ(error, "connection closed in the answer's body");
  EXPECT_EQ(parseHttpAnswer("HTTP/1.1 200 OK\r\nContent-Le", true, a, error), AnswerParse::kBad);
  EXPECT_EQ(parseHttpAnswer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, a, error),
            AnswerParse::kBad);
  EXPECT_EQ(parseHttpAnswer("HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", false, a, error), AnswerParse::kBad);
  EXPECT_EQ(error, "answer too large");
}
