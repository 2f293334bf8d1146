// The HTTP/1.1 request parser on byte strings: request lines, fields, framing, chunked
// bodies, limits, and bytes arriving in any split.
#include "http/request_parser.h"

#include <algorithm>
#include <limits>

#include <gtest/gtest.h>

namespace {

using namespace std::string_literals;
using gateway::http::RequestParser;
using Status = RequestParser::Status;

constexpr std::size_t kWhole = std::numeric_limits<std::size_t>::max();

struct Parsed {
  Status status = Status::kNeedMore;  // of the last step: kDone when the request is complete
  RequestParser parser;
  std::string body;
  std::string rest;  // bytes after the request (a pipelined next one)
};

// Feeds `wire` to a parser `piece` bytes at a time, as a connection does: the bytes a step
// did not use are offered again with the next piece. maxBody bounds the body.
Parsed parse(std::string_view wire, std::size_t maxBody = 1 << 20, std::size_t piece = kWhole) {
  Parsed p;
  std::string buffer;
  std::size_t offered = 0;
  bool headDone = false;
  for (;;) {
    const RequestParser::Result r =
        headDone ? p.parser.parseBody(buffer, maxBody, p.body) : p.parser.parseHead(buffer);
    buffer.erase(0, r.used);
    p.status = r.status;
    if (r.status == Status::kError) return p;
    if (r.status == Status::kDone) {
      if (headDone || !p.parser.head().hasBody()) {
        p.rest = buffer + std::string(wire.substr(offered));
        return p;
      }
      headDone = true;
      continue;
    }
    if (offered == wire.size()) return p;
    const std::size_t n = std::min(piece, wire.size() - offered);
    buffer.append(wire.substr(offered, n));
    offered += n;
  }
}

// The status of a request that must be refused, and the parser for its message.
int refusal(std::string_view wire, std::size_t maxBody = 1 << 20) {
  const Parsed p = parse(wire, maxBody);
  EXPECT_EQ(p.status, Status::kError) << wire;
  return p.parser.errorStatus();
}

std::string chunkedPost(const std::string& chunks) {
  return "POST /webhooks/whatsapp HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks;
}

// --- request line -------------------------------------------------------------------------

TEST(RequestLine, OriginFormGivesMethodPathAndRawQuery) {
  Parsed p = parse("GET /v1/contacts?limit=5&query=a%20b HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(p.status, Status::kDone);
  const auto& head = p.parser.head();
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.path, "/v1/contacts");
  EXPECT_EQ(head.query, "limit=5&query=a%20b");
  EXPECT_FALSE(head.http10);
  EXPECT_TRUE(head.keepAlive);
  EXPECT_FALSE(head.hasBody());
  EXPECT_EQ(p.rest, "");
}

TEST(RequestLine, AbsoluteFormIsReducedToPathAndQuery) {
  Parsed full = parse("GET http://gateway.example:8080/v1/channels?x=1 HTTP/1.1\r\n\r\n");
  ASSERT_EQ(full.status, Status::kDone);
  EXPECT_EQ(full.parser.head().path, "/v1/channels");
  EXPECT_EQ(full.parser.head().query, "x=1");
  Parsed bare = parse("GET HTTPS://gateway.example HTTP/1.1\r\n\r\n");
  ASSERT_EQ(bare.status, Status::kDone);
  EXPECT_EQ(bare.parser.head().path, "/");
  Parsed queryOnly = parse("GET http://gateway.example?q HTTP/1.1\r\n\r\n");
  ASSERT_EQ(queryOnly.status, Status::kDone);
  EXPECT_EQ(queryOnly.parser.head().path, "/");
  EXPECT_EQ(queryOnly.parser.head().query, "q");
}

TEST(RequestLine, AsteriskFormIsAPathOfItsOwn) {
  Parsed p = parse("OPTIONS * HTTP/1.1\r\n\r\n");
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_EQ(p.parser.head().method, "OPTIONS");
  EXPECT_EQ(p.parser.head().path, "*");
}

TEST(RequestLine, Http10ClosesUnlessItAsksForKeepAlive) {
  Parsed plain = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(plain.status, Status::kDone);
  EXPECT_TRUE(plain.parser.head().http10);
  EXPECT_FALSE(plain.parser.head().keepAlive);
  Parsed kept = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  ASSERT_EQ(kept.status, Status::kDone);
  EXPECT_TRUE(kept.parser.head().keepAlive);
  // A later 1.x reads as 1.1.
  Parsed later = parse("GET / HTTP/1.7\r\n\r\n");
  ASSERT_EQ(later.status, Status::kDone);
  EXPECT_FALSE(later.parser.head().http10);
}

TEST(RequestLine, ConnectionCloseEndsHttp11KeepAlive) {
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").parser.head().keepAlive);
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nConnection: keep-alive, CLOSE\r\n\r\n").parser.head().keepAlive);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n").parser.head().keepAlive);
  EXPECT_TRUE(parse("GET / HTTP/1.1\r\nConnection: Upgrade\r\n\r\n").parser.head().keepAlive);
}

TEST(RequestLine, MalformedOnesAre400) {
  for (const char* line : {"GET /\r\n", "GET  / HTTP/1.1\r\n", "GET / HTTP/1.1 \r\n", " GET / HTTP/1.1\r\n",
                           "GET / HTTP/2.0\r\n", "GET / http/1.1\r\n", "GET / HTTP/1.10\r\n", "G(T / HTTP/1.1\r\n",
                           "GET relative/path HTTP/1.1\r\n", "GET ftp://host/x HTTP/1.1\r\n",
                           "GET /a\x7f" "b HTTP/1.1\r\n", "GET /caf\xc3\xa9 HTTP/1.1\r\n", "GET /a\rb HTTP/1.1\r\n"}) {
    EXPECT_EQ(refusal(std::string(line) + "Host: a\r\n\r\n"), 400) << line;
  }
}

TEST(RequestLine, EmptyLinesBeforeItAreSkipped) {
  Parsed p = parse("\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n");
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_EQ(p.parser.head().path, "/healthz");
}

// --- header fields --------------------------------------------------------------------------

TEST(Fields, NamesAreLowerCasedAndValuesTrimmedInOrder) {
  Parsed p = parse("GET / HTTP/1.1\r\nHOST: a\r\nX-Hub-Signature-256:sha256=ab\r\n"
                   "x-multi: one \t\r\nX-Multi:  two  words \r\nX-Empty:\r\n\r\n");
  ASSERT_EQ(p.status, Status::kDone);
  using Fields = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(p.parser.head().headers, (Fields{{"host", "a"}, {"x-hub-signature-256", "sha256=ab"}, {"x-multi", "one"},
                                             {"x-multi", "two  words"}, {"x-empty", ""}}));
}

TEST(Fields, ObsText8BitValuesAreKept) {
  Parsed p = parse("GET / HTTP/1.1\r\nX-Name: J\xc3\xbcrgen\r\n\r\n");
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_EQ(p.parser.head().headers[0].second, "J\xc3\xbcrgen");
}

TEST(Fields, FoldedLinesAre400) {
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nX-Long: one\r\n two\r\n\r\n"), 400);
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nX-Long: one\r\n\ttwo\r\n\r\n"), 400);
}

TEST(Fields, MalformedOnesAre400) {
  for (const char* field : {"Host : a", "Host\t: a", ": a", "No colon", "X(y): a", "X: a\x01" "b", "X: a\x7f",
                            "X: a\rb"}) {
    EXPECT_EQ(refusal(std::string("GET / HTTP/1.1\r\n") + field + "\r\n\r\n"), 400) << field;
  }
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"s), 400);
}

TEST(Fields, ExpectContinueIsSeenInHttp11Only) {
  EXPECT_TRUE(parse("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n").parser.head().expectContinue);
  EXPECT_FALSE(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").parser.head().expectContinue);
  EXPECT_FALSE(parse("POST / HTTP/1.1\r\nExpect: something\r\nContent-Length: 1\r\n\r\n").parser.head().expectContinue);
}

// --- line endings ------------------------------------------------------------------------------

TEST(LineEndings, BareLfAnywhereIs400) {
  EXPECT_EQ(refusal("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nHost: a\n\r\n"), 400);
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nHost: a\r\n\n"), 400);
  EXPECT_EQ(refusal("\nGET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(refusal(chunkedPost("5\nhello\r\n0\r\n\r\n")), 400);
  EXPECT_EQ(refusal(chunkedPost("5\r\nhello\n0\r\n\r\n")), 400);
  EXPECT_EQ(refusal(chunkedPost("0\r\n\n")), 400);
}

TEST(LineEndings, BareLfIsRefusedAsSoonAsItArrives) {
  // No waiting for a blank line that a bare-LF client would never send.
  Parsed p = parse("GET / HTTP/1.1\n");
  EXPECT_EQ(p.status, Status::kError);
  EXPECT_EQ(p.parser.errorStatus(), 400);
}

// --- Content-Length -------------------------------------------------------------------------

TEST(ContentLength, BodyIsReadAndTheNextRequestLeftAlone) {
  Parsed p = parse("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\n\r\n");
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_EQ(p.parser.head().contentLength, 5u);
  EXPECT_EQ(p.body, "hello");
  EXPECT_EQ(p.rest, "GET /next HTTP/1.1\r\n\r\n");
}

TEST(ContentLength, WithoutOneThereIsNoBody) {
  Parsed p = parse("POST /x HTTP/1.1\r\n\r\nhello");
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_FALSE(p.parser.head().hasBody());
  EXPECT_EQ(p.rest, "hello");  // the next request's bytes (here: a malformed one)
}

TEST(ContentLength, InvalidValuesAre400) {
  for (const char* value : {"", "abc", "-1", "+5", "5 5", "5,5", "5, 5", "0x10", "1e3", "18446744073709551616",
                            "99999999999999999999999"}) {
    EXPECT_EQ(refusal(std::string("POST / HTTP/1.1\r\nContent-Length: ") + value + "\r\n\r\n"), 400) << value;
  }
}

TEST(ContentLength, ARepeatMustSayTheSame) {
  Parsed same = parse("POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi");
  ASSERT_EQ(same.status, Status::kDone);
  EXPECT_EQ(same.body, "hi");
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi!"), 400);
}

TEST(ContentLength, OverTheLimitIs413BeforeAnyBodyIsRead) {
  RequestParser parser;
  const std::string head = "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
  ASSERT_EQ(parser.parseHead(head).status, Status::kDone);
  std::string body;
  const RequestParser::Result r = parser.parseBody("hello world", 10, body);
  EXPECT_EQ(r.status, Status::kError);
  EXPECT_EQ(r.used, 0u);
  EXPECT_EQ(parser.errorStatus(), 413);
  EXPECT_TRUE(body.empty());
  EXPECT_EQ(parse(head + "hello world", 11).status, Status::kDone);  // at the limit is fine
}

// --- Transfer-Encoding ----------------------------------------------------------------------

TEST(TransferEncoding, OnlyChunkedOnceIsAccepted) {
  EXPECT_EQ(parse(chunkedPost("0\r\n\r\n")).status, Status::kDone);
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n").status, Status::kDone);
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 400);
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

TEST(TransferEncoding, WithContentLengthOrInHttp10Is400) {
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), 400);
  EXPECT_EQ(refusal("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

// --- chunked bodies ---------------------------------------------------------------------------

TEST(Chunked, ChunksAreJoinedAndTheNextRequestLeftAlone) {
  Parsed p = parse(chunkedPost("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"));
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_TRUE(p.parser.head().chunked);
  EXPECT_EQ(p.body, "hello world");
  EXPECT_EQ(p.rest, "GET / HTTP/1.1\r\n\r\n");
}

TEST(Chunked, SizesAreHexInEitherCase) {
  Parsed p = parse(chunkedPost("a\r\n0123456789\r\nB\r\nabcdefghijk\r\n00000\r\n\r\n"));
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_EQ(p.body, "0123456789abcdefghijk");
}

TEST(Chunked, ExtensionsAreIgnored) {
  Parsed p = parse(chunkedPost("5;name=value\r\nhello\r\n1 ; a=\"quoted;\" ;b\r\n!\r\n0;last\r\n\r\n"));
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_EQ(p.body, "hello!");
}

TEST(Chunked, TrailersAreCheckedAndDropped) {
  Parsed p = parse(chunkedPost("2\r\nhi\r\n0\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\nrest"));
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_EQ(p.body, "hi");
  EXPECT_EQ(p.parser.head().headers.size(), 2u);  // host and transfer-encoding only
  EXPECT_EQ(p.rest, "rest");
  EXPECT_EQ(refusal(chunkedPost("0\r\nno colon\r\n\r\n")), 400);
  EXPECT_EQ(refusal(chunkedPost("0\r\nX-Folded: a\r\n b\r\n\r\n")), 400);
}

TEST(Chunked, MalformedFramingIs400) {
  for (const char* chunks : {"\r\nhello\r\n0\r\n\r\n", ";ext\r\nhello\r\n0\r\n\r\n", "5x\r\nhello\r\n0\r\n\r\n",
                             "-5\r\nhello\r\n0\r\n\r\n", "5\r\nhello!\r\n0\r\n\r\n", "5\r\nhelloXY0\r\n\r\n",
                             "5;a\x01\r\nhello\r\n0\r\n\r\n"}) {
    EXPECT_EQ(refusal(chunkedPost(chunks)), 400) << chunks;
  }
}

TEST(Chunked, SizeThatOverflows64BitsIs400) {
  EXPECT_EQ(refusal(chunkedPost("10000000000000000\r\n")), 400);  // 2^64
  // Leading zeros are not an overflow.
  Parsed zeros = parse(chunkedPost("000000000000000000000000000000001\r\nx\r\n0\r\n\r\n"));
  ASSERT_EQ(zeros.status, Status::kDone);
  EXPECT_EQ(zeros.body, "x");
}

TEST(Chunked, ChunkPastTheLimitIs413BeforeItsDataIsRead) {
  EXPECT_EQ(refusal(chunkedPost("FFFFFFFFFFFFFFFF\r\n")), 413);  // fits 64 bits, not the limit
  // 5 + 5 > 8: refused at the second size line, its data never read.
  RequestParser parser;
  ASSERT_EQ(parser.parseHead(chunkedPost("")).status, Status::kDone);
  std::string body;
  const std::string chunks = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
  const RequestParser::Result r = parser.parseBody(chunks, 8, body);
  EXPECT_EQ(r.status, Status::kError);
  EXPECT_EQ(parser.errorStatus(), 413);
  EXPECT_EQ(body, "hello");
  EXPECT_EQ(parse(chunkedPost(chunks), 10).status, Status::kDone);  // at the limit is fine
}

TEST(Chunked, SizeLineLongerThan4KbIs400) {
  const std::string longExtension = "5;" + std::string(RequestParser::kMaxChunkLineBytes, 'x');
  EXPECT_EQ(refusal(chunkedPost(longExtension + "\r\nhello\r\n0\r\n\r\n")), 400);
  EXPECT_EQ(refusal(chunkedPost(longExtension)), 400);  // no need to wait for its end
}

// --- limits -------------------------------------------------------------------------------------

// A head of exactly `size` bytes.
std::string headOfSize(std::size_t size) {
  const std::string start = "GET / HTTP/1.1\r\nX-Pad: ";
  return start + std::string(size - start.size() - 4, 'p') + "\r\n\r\n";
}

TEST(Limits, HeadUpTo64KbIsAcceptedOneByteMoreIs431) {
  EXPECT_EQ(parse(headOfSize(RequestParser::kMaxHeadBytes)).status, Status::kDone);
  EXPECT_EQ(refusal(headOfSize(RequestParser::kMaxHeadBytes + 1)), 431);
}

TEST(Limits, ManySmallFieldsCountTogether) {
  std::string wire = "GET / HTTP/1.1\r\n";
  while (wire.size() <= RequestParser::kMaxHeadBytes) wire += "X-Field: some value\r\n";
  EXPECT_EQ(refusal(wire + "\r\n"), 431);
}

TEST(Limits, An431ComesBeforeTheHeadEnds) {
  // A client that keeps sending one endless line is cut off at the limit.
  Parsed p = parse("GET / HTTP/1.1\r\nX-Endless: " + std::string(RequestParser::kMaxHeadBytes, 'e'));
  EXPECT_EQ(p.status, Status::kError);
  EXPECT_EQ(p.parser.errorStatus(), 431);
}

TEST(Limits, TrailersHave64KbOfTheirOwn) {
  std::string trailers;
  while (trailers.size() <= RequestParser::kMaxHeadBytes) trailers += "X-Trailer: some value\r\n";
  EXPECT_EQ(refusal(chunkedPost("0\r\n" + trailers + "\r\n")), 431);
  // The head's bytes do not count against them.
  const std::string fullHead = headOfSize(RequestParser::kMaxHeadBytes - 28);
  const std::string wire = fullHead.substr(0, fullHead.size() - 2) + "Transfer-Encoding: chunked\r\n\r\n" +
                           "0\r\nX-Trailer: t\r\n\r\n";
  EXPECT_EQ(parse(wire).status, Status::kDone);
}

// --- incremental and pipelined input -----------------------------------------------------------

TEST(Incremental, AnySplitGivesTheSameRequest) {
  const std::string sized = "POST /a?b=c HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world";
  const std::string chunked = chunkedPost("5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n");
  for (const std::string& wire : {sized, chunked}) {
    Parsed whole = parse(wire);
    ASSERT_EQ(whole.status, Status::kDone);
    for (std::size_t piece : {1, 2, 3, 7, 64}) {
      Parsed p = parse(wire, 1 << 20, piece);
      ASSERT_EQ(p.status, Status::kDone) << piece;
      EXPECT_EQ(p.body, "hello world") << piece;
      EXPECT_EQ(p.parser.head().path, whole.parser.head().path);
      EXPECT_EQ(p.parser.head().headers, whole.parser.head().headers);
    }
  }
}

TEST(Incremental, APartialHeadConsumesOnlyWholeLines) {
  RequestParser parser;
  const RequestParser::Result r = parser.parseHead("GET / HTTP/1.1\r\nHost: exa");
  EXPECT_EQ(r.status, Status::kNeedMore);
  EXPECT_EQ(r.used, 16u);  // the request line with its CRLF
  EXPECT_EQ(parser.parseHead("Host: example\r\n\r\n").status, Status::kDone);
  EXPECT_EQ(parser.head().headers[0].second, "example");
}

TEST(Pipelined, TwoRequestsInOneBufferAreParsedInTurn) {
  const std::string wire = "POST /first HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                           "GET /second?x HTTP/1.1\r\nHost: a\r\n\r\n";
  Parsed first = parse(wire);
  ASSERT_EQ(first.status, Status::kDone);
  EXPECT_EQ(first.parser.head().path, "/first");
  EXPECT_EQ(first.body, "abc");
  Parsed second = parse(first.rest);
  ASSERT_EQ(second.status, Status::kDone);
  EXPECT_EQ(second.parser.head().method, "GET");
  EXPECT_EQ(second.parser.head().path, "/second");
  EXPECT_EQ(second.parser.head().query, "x");
  EXPECT_EQ(second.rest, "");
}

}  // namespace
