#include "delivery/http_answer.h"

#include <cstdint>

#include "http/text.h"

namespace gateway::delivery {

namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 1024 * 1024;  // a Send API answer is a few hundred bytes

using http::equalsIgnoreCase;
using http::trimWhitespace;

bool containsNoCase(std::string_view haystack, std::string_view needle) {
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (equalsIgnoreCase(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

bool parseSize(std::string_view s, int base, std::uint64_t& out) {
  if (s.empty() || s.size() > 15) return false;
  out = 0;
  for (const char ch : s) {
    int digit = -1;
    if (ch >= '0' && ch <= '9') digit = ch - '0';
    else if (base == 16 && ch >= 'a' && ch <= 'f') digit = ch - 'a' + 10;
    else if (base == 16 && ch >= 'A' && ch <= 'F') digit = ch - 'A' + 10;
    if (digit < 0) return false;
    out = out * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(digit);
  }
  return true;
}

AnswerParse bad(std::string& error, const char* why) {
  error = why;
  return AnswerParse::kBad;
}

// Decodes a chunked body starting at `in`.
AnswerParse readChunks(std::string_view in, bool peerClosed, std::string& body, std::string& error) {
  body.clear();
  std::size_t pos = 0;
  for (;;) {
    const std::size_t lineEnd = in.find("\r\n", pos);
    if (lineEnd == std::string_view::npos) break;
    std::string_view sizeText = in.substr(pos, lineEnd - pos);
    if (const std::size_t semi = sizeText.find(';'); semi != std::string_view::npos) sizeText = sizeText.substr(0, semi);
    std::uint64_t size = 0;
    if (!parseSize(trimWhitespace(sizeText), 16, size)) return bad(error, "bad chunk size");
    if (size == 0) {
      // Trailers (usually none), then the empty line.
      const std::size_t rest = lineEnd + 2;
      if (in.substr(rest, 2) == "\r\n") return AnswerParse::kDone;
      if (in.find("\r\n\r\n", rest) != std::string_view::npos) return AnswerParse::kDone;
      break;
    }
    if (body.size() + size > kMaxBodyBytes) return bad(error, "answer too large");
    const std::size_t dataStart = lineEnd + 2;
    if (in.size() < dataStart + size + 2) break;
    body.append(in.substr(dataStart, size));
    if (in.substr(dataStart + size, 2) != "\r\n") return bad(error, "bad chunk end");
    pos = dataStart + size + 2;
  }
  return peerClosed ? bad(error, "connection closed in the answer's body") : AnswerParse::kMore;
}

}  // namespace

AnswerParse parseHttpAnswer(std::string_view in, bool peerClosed, HttpAnswer& out, std::string& error) {
  for (;;) {
    const std::size_t headEnd = in.find("\r\n\r\n");
    if (headEnd == std::string_view::npos) {
      if (in.size() > kMaxHeaderBytes) return bad(error, "header too large");
      return peerClosed ? bad(error, "connection closed in the answer's header") : AnswerParse::kMore;
    }
    const std::string_view head = in.substr(0, headEnd);
    std::size_t lineEnd = head.find("\r\n");
    const std::string_view statusLine = head.substr(0, lineEnd);
    // "HTTP/1.1 200 OK"
    if (statusLine.size() < 12 || statusLine.substr(0, 7) != "HTTP/1." || statusLine[8] != ' ') {
      return bad(error, "not an HTTP/1.x status line");
    }
    std::uint64_t status = 0;
    if (!parseSize(statusLine.substr(9, 3), 10, status) || status < 100 || status > 599) {
      return bad(error, "bad status code");
    }
    const bool http10 = statusLine[7] == '0';
    bool chunked = false;
    bool hasLength = false;
    std::uint64_t length = 0;
    bool keepAlive = !http10;
    while (lineEnd != std::string_view::npos) {
      const std::size_t start = lineEnd + 2;
      lineEnd = head.find("\r\n", start);
      const std::string_view line = head.substr(start, lineEnd == std::string_view::npos ? head.npos : lineEnd - start);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) return bad(error, "bad header line");
      const std::string_view name = trimWhitespace(line.substr(0, colon));
      const std::string_view value = trimWhitespace(line.substr(colon + 1));
      if (equalsIgnoreCase(name, "Content-Length")) {
        if (!parseSize(value, 10, length)) return bad(error, "bad Content-Length");
        hasLength = true;
      } else if (equalsIgnoreCase(name, "Transfer-Encoding")) {
        chunked = containsNoCase(value, "chunked");
      } else if (equalsIgnoreCase(name, "Connection")) {
        if (containsNoCase(value, "close")) keepAlive = false;
        else if (containsNoCase(value, "keep-alive")) keepAlive = true;
      }
    }
    const std::string_view rest = in.substr(headEnd + 4);
    if (status >= 100 && status < 200) {  // interim (100 Continue): the real answer follows
      in = rest;
      continue;
    }
    out.status = static_cast<int>(status);
    out.keepAlive = keepAlive;
    if (status == 204 || status == 304) {
      out.body.clear();
      return AnswerParse::kDone;
    }
    if (chunked) return readChunks(rest, peerClosed, out.body, error);
    if (hasLength) {
      if (length > kMaxBodyBytes) return bad(error, "answer too large");
      if (rest.size() < length) {
        return peerClosed ? bad(error, "connection closed in the answer's body") : AnswerParse::kMore;
      }
      out.body.assign(rest.substr(0, length));
      return AnswerParse::kDone;
    }
    // Neither: the body runs to the connection's close.
    if (rest.size() > kMaxBodyBytes) return bad(error, "answer too large");
    if (!peerClosed) return AnswerParse::kMore;
    out.body.assign(rest);
    out.keepAlive = false;
    return AnswerParse::kDone;
  }
}

}  // namespace gateway::delivery
