// A small, strict HTTP/1.1 request parser (RFC 9112) that knows nothing of sockets: the
// connection hands it the bytes that have arrived, it answers "need more", "done" or the
// error status to send. Its choices (CRLF only, no line folding, limits) are in
// docs/DECISIONS.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gateway::http {

struct RequestHead {
  std::string method;
  std::string path;   // without the query; an absolute-form target is reduced to its path
  std::string query;  // raw, without '?'
  bool http10 = false;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case, in order
  bool chunked = false;
  std::uint64_t contentLength = 0;  // of a body that is not chunked
  bool keepAlive = true;
  bool expectContinue = false;  // HTTP/1.1 only: a 1.0 client does not wait for a 100

  bool hasBody() const { return chunked || contentLength > 0; }
};

class RequestParser {
 public:
  enum class Status { kNeedMore, kDone, kError };
  struct Result {
    Status status;
    std::size_t used;  // bytes of the input consumed; the rest is offered again next time
  };

  static constexpr std::size_t kMaxHeadBytes = 64 * 1024;  // request line + fields; trailers too
  static constexpr std::size_t kMaxChunkLineBytes = 4096;  // a chunk size with its extensions

  // Consumes the head's complete lines from `in`; kDone once the empty line ending it was
  // read (the bytes after it are not touched). An error is 400, or 431 past kMaxHeadBytes.
  Result parseHead(std::string_view in);
  // Consumes body bytes from `in` into `body`; kDone when the body is complete. A body
  // declared or received larger than maxBody is a 413 error, reported before it is read.
  Result parseBody(std::string_view in, std::size_t maxBody, std::string& body);

  RequestHead& head() { return head_; }
  // After kError: the status to answer (400, 413 or 431) and why, for the client.
  int errorStatus() const { return errorStatus_; }
  const std::string& errorMessage() const { return errorMessage_; }

 private:
  enum class ChunkState { kSize, kData, kDataEnd, kTrailer, kDone };

  Status takeLine(std::string_view in, std::size_t& used, std::string_view& line);
  bool parseHeadLine(std::string_view line);
  bool parseRequestLine(std::string_view line);
  bool parseTarget(std::string_view target);
  bool parseField(std::string_view line);
  bool finishHead();
  Result parseSized(std::string_view in, std::size_t maxBody, std::string& body);
  Result parseChunked(std::string_view in, std::size_t maxBody, std::string& body);
  bool parseChunkLine(std::string_view line, std::size_t maxBody, std::size_t received);
  bool parseChunkSize(std::string_view line, std::size_t maxBody, std::size_t received);
  bool reject(int status, std::string message);

  RequestHead head_;
  bool requestLineSeen_ = false;
  bool headDone_ = false;
  bool lengthSeen_ = false;
  bool closeAsked_ = false;      // Connection: close
  bool keepAliveAsked_ = false;  // Connection: keep-alive (what an HTTP/1.0 client must say)
  std::size_t sectionBytes_ = 0;  // of the head's (later the trailers') complete lines so far
  std::size_t lineScanned_ = 0;   // bytes of the unfinished line already searched for its LF
  ChunkState chunkState_ = ChunkState::kSize;
  std::uint64_t remaining_ = 0;  // of the sized body or of the current chunk
  int errorStatus_ = 0;
  std::string errorMessage_;
};

}  // namespace gateway::http
