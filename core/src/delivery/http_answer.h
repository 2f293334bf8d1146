// Reads one HTTP/1.1 answer (status, headers, body by Content-Length, chunks or the
// connection's close) from the bytes a Send API call has received so far.
#pragma once

#include <string>
#include <string_view>

namespace gateway::delivery {

struct HttpAnswer {
  int status = 0;
  std::string body;
  bool keepAlive = true;  // the connection may carry the next request
};

enum class AnswerParse { kMore, kDone, kBad };

// `in` holds everything received so far; `peerClosed`: nothing more will come. Answers are
// small, so the caller re-parses from the start as bytes arrive. A 1xx interim answer is
// skipped. On kBad, `error` says why.
AnswerParse parseHttpAnswer(std::string_view in, bool peerClosed, HttpAnswer& out, std::string& error);

}  // namespace gateway::delivery
