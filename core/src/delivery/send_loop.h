// Every Send API call of the process on one thread: non-blocking sockets under epoll,
// keep-alive connections per origin (scheme, host, port), TLS through OpenSSL.
//
// Why not a blocking thread per call: a call is mostly waiting for the platform. With a
// thread each, every send cost two sleeps and wake-ups (the work queue, then recv), which
// was the largest CPU cost outside the store; and real Graph latencies (100-300 ms) would
// need thousands of threads for thousands of sends per second. Here a call in flight is a
// socket and a buffer.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "delivery/rate_limiter.h"

namespace gateway::delivery {

struct HttpCall {
  std::string method = "POST";
  std::string url;  // base URL + path
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpOutcome {
  enum class Kind {
    kResponse,   // an HTTP answer arrived (any status)
    kNotSent,    // the request never left (bad URL, connection refused, TLS refused): safe to retry
    kUnknown,    // it may have arrived (timeout or reset after sending): not safe to retry blindly
    kCancelled,  // stopped before the request left
  };
  Kind kind = Kind::kNotSent;
  int status = 0;
  std::string body;
  std::string error;
};

class SendLoop {
 public:
  using Done = std::function<void(HttpOutcome)>;
  struct Options {
    // Connecting (TCP and TLS) may take this long, and so may the request to the answer's
    // last byte.
    std::chrono::milliseconds timeout{15000};
    int maxConnectionsPerOrigin = 32;  // = calls in flight to one origin
    std::chrono::milliseconds idleTimeout{8000};  // a keep-alive connection unused this long is closed
  };

  SendLoop(RateLimiter& limiter, Options options);
  ~SendLoop();  // stop()
  SendLoop(const SendLoop&) = delete;
  SendLoop& operator=(const SendLoop&) = delete;

  // From any thread. The call waits for a connection to its origin, then for paceKey's next
  // pacing slot at perSecond — reserved only then, just before the request is written, so
  // the rate holds however long the call waited for a connection — and goes. `done` runs
  // once, on the loop's thread (after stop(): at once, on the caller's, kCancelled).
  void submit(HttpCall call, std::string paceKey, double perSecond, Done done);
  // Calls submitted for paceKey that have not reserved their pacing slot yet.
  int unpaced(const std::string& paceKey) const;
  // Calls whose request has not been written end kCancelled; the others finish or time out.
  // Returns when the loop's thread has ended.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gateway::delivery
