// A local stand-in for the Graph API's Send endpoints: records every request and answers
// from a script (status, body, delay), or with a success shaped like the real one.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace Poco::Net {
class HTTPServer;
}

namespace gateway::testing {

class FakeGraph {
 public:
  struct Answer {
    int status = 200;
    std::string body;  // empty: the default success body
    std::chrono::milliseconds delay{0};
  };
  struct Recorded {
    std::string method;
    std::string path;
    std::string authorization;
    std::string body;
    std::chrono::steady_clock::time_point at;
    int answeredStatus = 0;
  };

  enum Transport { kPlain, kTls };
  // kTls: HTTPS with tests/fixtures/tls/server.crt (signed by the test CA, ca.crt; it names
  // 127.0.0.1 and localhost). `host`: the loopback address to listen on.
  explicit FakeGraph(Transport transport = kPlain, std::string host = "127.0.0.1");
  ~FakeGraph();

  std::string baseUrl() const;
  // Answers for requests whose body contains `match` (empty: any request), used in order;
  // once used up, requests get the default success.
  void script(const std::string& match, std::vector<Answer> answers);
  std::vector<Recorded> requests() const;
  std::size_t count() const;
  // TCP connections accepted so far (a keep-alive client opens one and reuses it).
  int connections() const;

  // Internal: called by the server's handler.
  Answer answerFor(Recorded recorded);

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::deque<Answer>>> scripts_;
  std::vector<Recorded> requests_;
  int served_ = 0;
  int port_ = 0;
  Transport transport_;
  std::string host_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

// A Graph error body {"error":{"message","type","code",...}}.
std::string graphError(int code, const std::string& message, bool transient = false, int subcode = 0);

}  // namespace gateway::testing
