#include "http/request_parser.h"

#include <algorithm>
#include <limits>

#include "http/text.h"

namespace gateway::http {

namespace {

constexpr std::uint64_t kMaxUint64 = std::numeric_limits<std::uint64_t>::max();
constexpr const char* kBodyTooLarge = "request body is larger than server.max_body_bytes";

bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool isHexDigit(char c) { return isDigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

unsigned hexValue(char c) { return isDigit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }

bool isTokenChar(char c) {
  const bool alnum = isDigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
  return alnum || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), isTokenChar); }

bool isVisibleAscii(char c) { return c > 0x20 && c < 0x7f; }

bool isWhitespace(char c) { return c == ' ' || c == '\t'; }

// Tab, space, visible ASCII and bytes >= 0x80 (obs-text); never CR, LF, NUL or another control.
bool isFieldValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
  }
  return out;
}

// 1*DIGIT that fits 64 bits; no sign, no spaces, no list.
bool parseDecimal(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  out = 0;
  for (char c : s) {
    if (!isDigit(c)) return false;
    const unsigned digit = c - '0';
    if (out > (kMaxUint64 - digit) / 10) return false;
    out = out * 10 + digit;
  }
  return true;
}

// "HTTP/1.x"; http10 is true for 1.0 (1.1 and any later 1.x read as 1.1).
bool parseVersion(std::string_view version, bool& http10) {
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || !isDigit(version[7])) return false;
  http10 = version[7] == '0';
  return true;
}

// name ":" OWS value OWS. A name must be a token, so whitespace before the colon and
// obsolete line folding (a line starting with a space) are refused (RFC 9112 §5.1, §5.2):
// both have been used to make a proxy and its backend read different headers.
bool splitField(std::string_view line, std::string_view& name, std::string_view& value) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  name = line.substr(0, colon);
  value = trimWhitespace(line.substr(colon + 1));
  return isToken(name) && std::all_of(value.begin(), value.end(), isFieldValueChar);
}

}  // namespace

RequestParser::Result RequestParser::parseHead(std::string_view in) {
  std::size_t used = 0;
  while (!headDone_) {
    std::string_view line;
    const Status status = takeLine(in, used, line);
    if (status != Status::kDone) return {status, used};
    if (!parseHeadLine(line)) return {Status::kError, used};
  }
  return {Status::kDone, used};
}

RequestParser::Result RequestParser::parseBody(std::string_view in, std::size_t maxBody, std::string& body) {
  return head_.chunked ? parseChunked(in, maxBody, body) : parseSized(in, maxBody, body);
}

// The next CRLF-terminated line from in[used] (`line` without its CRLF); advances `used`.
// Head and trailer lines share the 64 KB of their section (431 past it), a chunk's lines
// have 4 KB each (400). A partial line is searched once: the next call resumes after it.
RequestParser::Status RequestParser::takeLine(std::string_view in, std::size_t& used, std::string_view& line) {
  const bool inSection = !headDone_ || chunkState_ == ChunkState::kTrailer;
  const std::size_t limit = inSection ? kMaxHeadBytes - sectionBytes_ : kMaxChunkLineBytes;
  const std::size_t lf = in.find('\n', used + lineScanned_);
  const std::size_t length = (lf == std::string_view::npos ? in.size() : lf + 1) - used;
  if (length > limit) {
    reject(inSection ? 431 : 400, inSection ? "request line and headers are larger than 64 KB"
                                            : "chunk size line is longer than 4 KB");
    return Status::kError;
  }
  if (lf == std::string_view::npos) {
    lineScanned_ = length;
    return Status::kNeedMore;
  }
  lineScanned_ = 0;
  // A bare LF is refused: a proxy in front that ends lines differently would see other
  // requests than we do (request smuggling), and real clients send CRLF.
  if (lf == used || in[lf - 1] != '\r') {
    reject(400, "lines must end in CRLF");
    return Status::kError;
  }
  line = in.substr(used, length - 2);
  used += length;
  if (inSection) sectionBytes_ += length;
  return Status::kDone;
}

bool RequestParser::parseHeadLine(std::string_view line) {
  if (!requestLineSeen_) {
    // Empty lines before a request line are skipped (RFC 9112 §2.2): some clients send a
    // CRLF after a body.
    if (line.empty()) return true;
    requestLineSeen_ = true;
    return parseRequestLine(line);
  }
  if (line.empty()) {
    headDone_ = true;
    return finishHead();
  }
  return parseField(line);
}

// method SP request-target SP HTTP-version, with single spaces.
bool RequestParser::parseRequestLine(std::string_view line) {
  const std::size_t methodEnd = line.find(' ');
  const std::size_t targetEnd = methodEnd == std::string_view::npos ? methodEnd : line.find(' ', methodEnd + 1);
  if (targetEnd == std::string_view::npos || !isToken(line.substr(0, methodEnd)) ||
      !parseVersion(line.substr(targetEnd + 1), head_.http10)) {
    return reject(400, "malformed request line");
  }
  head_.method = line.substr(0, methodEnd);
  return parseTarget(line.substr(methodEnd + 1, targetEnd - methodEnd - 1));
}

// origin-form "/path?query", "*", or absolute-form "http://host/path?query", which a server
// must accept (RFC 9112 §3.2.2) and which is reduced to its path and query.
bool RequestParser::parseTarget(std::string_view target) {
  if (target.empty() || !std::all_of(target.begin(), target.end(), isVisibleAscii)) {
    return reject(400, "malformed request target");
  }
  if (target.front() != '/' && target != "*") {
    const std::size_t authority = target.find("://");
    const std::string_view scheme = target.substr(0, authority);
    if (authority == std::string_view::npos || !(equalsIgnoreCase(scheme, "http") || equalsIgnoreCase(scheme, "https"))) {
      return reject(400, "malformed request target");
    }
    const std::size_t pathStart = target.find_first_of("/?", authority + 3);
    target = pathStart == std::string_view::npos ? std::string_view() : target.substr(pathStart);
  }
  const std::size_t q = target.find('?');
  head_.path = target.substr(0, q);
  if (head_.path.empty()) head_.path = "/";
  if (q != std::string_view::npos) head_.query = target.substr(q + 1);
  return true;
}

bool RequestParser::parseField(std::string_view line) {
  std::string_view name;
  std::string_view value;
  if (!splitField(line, name, value)) return reject(400, "malformed header field");
  std::string lowerName = lower(name);
  if (lowerName == "content-length") {
    std::uint64_t length = 0;
    if (!parseDecimal(value, length)) return reject(400, "invalid Content-Length");
    // A repeat is harmless only when it says the same (RFC 9112 §6.3).
    if (lengthSeen_ && length != head_.contentLength) return reject(400, "conflicting Content-Length");
    lengthSeen_ = true;
    head_.contentLength = length;
  } else if (lowerName == "transfer-encoding") {
    // Only chunked, once: after a coding we cannot undo, the body's end is unknown.
    if (head_.chunked || !equalsIgnoreCase(value, "chunked")) {
      return reject(400, "only Transfer-Encoding: chunked is supported");
    }
    head_.chunked = true;
  } else if (lowerName == "connection") {
    for (std::size_t start = 0; start <= value.size();) {
      const std::size_t comma = std::min(value.find(',', start), value.size());
      const std::string_view option = trimWhitespace(value.substr(start, comma - start));
      closeAsked_ = closeAsked_ || equalsIgnoreCase(option, "close");
      keepAliveAsked_ = keepAliveAsked_ || equalsIgnoreCase(option, "keep-alive");
      start = comma + 1;
    }
  } else if (lowerName == "expect") {
    head_.expectContinue = head_.expectContinue || equalsIgnoreCase(value, "100-continue");
  }
  head_.headers.emplace_back(std::move(lowerName), value);
  return true;
}

bool RequestParser::finishHead() {
  // With both, a proxy in front may have framed the body by the other one (RFC 9112 §6.1).
  if (head_.chunked && lengthSeen_) return reject(400, "both Content-Length and Transfer-Encoding");
  if (head_.chunked && head_.http10) return reject(400, "Transfer-Encoding in an HTTP/1.0 request");
  head_.keepAlive = !closeAsked_ && (!head_.http10 || keepAliveAsked_);
  head_.expectContinue = head_.expectContinue && !head_.http10;
  remaining_ = head_.contentLength;
  sectionBytes_ = 0;  // trailers get 64 KB of their own
  return true;
}

RequestParser::Result RequestParser::parseSized(std::string_view in, std::size_t maxBody, std::string& body) {
  if (head_.contentLength > maxBody) {
    reject(413, kBodyTooLarge);
    return {Status::kError, 0};
  }
  body.reserve(static_cast<std::size_t>(head_.contentLength));
  const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
  body.append(in.data(), take);
  remaining_ -= take;
  return {remaining_ == 0 ? Status::kDone : Status::kNeedMore, take};
}

RequestParser::Result RequestParser::parseChunked(std::string_view in, std::size_t maxBody, std::string& body) {
  std::size_t used = 0;
  while (chunkState_ != ChunkState::kDone) {
    if (chunkState_ == ChunkState::kData) {
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - used));
      if (take == 0) return {Status::kNeedMore, used};
      body.append(in.data() + used, take);
      used += take;
      remaining_ -= take;
      if (remaining_ == 0) chunkState_ = ChunkState::kDataEnd;
      continue;
    }
    std::string_view line;
    const Status status = takeLine(in, used, line);
    if (status != Status::kDone) return {status, used};
    if (!parseChunkLine(line, maxBody, body.size())) return {Status::kError, used};
  }
  return {Status::kDone, used};
}

// One line of the chunked framing: a chunk's size, the empty line after its data, or a
// trailer field (checked like a header, then dropped: nothing reads trailers).
bool RequestParser::parseChunkLine(std::string_view line, std::size_t maxBody, std::size_t received) {
  if (chunkState_ == ChunkState::kSize) return parseChunkSize(line, maxBody, received);
  if (chunkState_ == ChunkState::kDataEnd) {
    if (!line.empty()) return reject(400, "chunk data is longer than its size");
    chunkState_ = ChunkState::kSize;
    return true;
  }
  if (line.empty()) {  // the end of the trailers and of the body
    chunkState_ = ChunkState::kDone;
    return true;
  }
  std::string_view name;
  std::string_view value;
  return splitField(line, name, value) || reject(400, "malformed trailer field");
}

// chunk-size [ chunk-ext ]: hex digits, then extensions (";name=value"), which are accepted
// and ignored. A chunk that would pass maxBody is refused before its data is read.
bool RequestParser::parseChunkSize(std::string_view line, std::size_t maxBody, std::size_t received) {
  std::uint64_t size = 0;
  std::size_t digits = 0;
  for (; digits < line.size() && isHexDigit(line[digits]); ++digits) {
    if (size > (kMaxUint64 >> 4)) return reject(400, "chunk size does not fit 64 bits");
    size = size << 4 | hexValue(line[digits]);
  }
  std::string_view extensions = line.substr(digits);
  while (!extensions.empty() && isWhitespace(extensions.front())) extensions.remove_prefix(1);
  if (digits == 0 || !(extensions.empty() || extensions.front() == ';') ||
      !std::all_of(extensions.begin(), extensions.end(), isFieldValueChar)) {
    return reject(400, "malformed chunk size");
  }
  if (size > maxBody - received) return reject(413, kBodyTooLarge);
  remaining_ = size;
  chunkState_ = size == 0 ? ChunkState::kTrailer : ChunkState::kData;
  return true;
}

bool RequestParser::reject(int status, std::string message) {
  errorStatus_ = status;
  errorMessage_ = std::move(message);
  return false;
}

}  // namespace gateway::http
