// One Send API call over HTTP(S) with a keep-alive connection per host, for one thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace Poco::Net {
class HTTPClientSession;
}

namespace gateway::delivery {

struct HttpCall {
  std::string method = "POST";
  std::string url;  // base URL + path
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpOutcome {
  enum class Kind {
    kResponse,  // an HTTP answer arrived (any status)
    kNotSent,   // the request never left (bad URL, connection refused): safe to retry
    kUnknown,   // it may have arrived (timeout or reset after sending): not safe to retry blindly
  };
  Kind kind = Kind::kNotSent;
  int status = 0;
  std::string body;
  std::string error;
};

class GraphClient {
 public:
  explicit GraphClient(std::chrono::milliseconds timeout);
  ~GraphClient();
  HttpOutcome call(const HttpCall& call);

 private:
  Poco::Net::HTTPClientSession& sessionFor(const std::string& scheme, const std::string& host, unsigned short port);

  std::chrono::milliseconds timeout_;
  std::map<std::string, std::unique_ptr<Poco::Net::HTTPClientSession>> sessions_;
};

}  // namespace gateway::delivery
