// The HTTP front: our HTTP/1.1 connection loop (connection.h) on Poco's TCPServer, sized for
// many keep-alive connections, a small router, the body limit, and one latency histogram
// per route.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/metrics.h"

namespace Poco::Net {
class TCPServer;
}
namespace Poco {
class ThreadPool;
}

namespace gateway::http {

struct Response;

// An answer given later, from another thread. A handler whose answer waits on work that
// another thread finishes (a webhook's commit, which the store's notifier thread reports)
// takes a Reply from Request::answerLater, hands it to that work and returns
// Response::later(); the Reply sends the answer when called. Meanwhile the connection's
// thread goes back to reading: one sleep and wake-up per request instead of two, and on a
// small VM a wake-up costs ~10 µs of CPU. A Reply's first call answers, later calls do
// nothing; the last copy dropped uncalled answers 500, so a request is never left hanging.
class Reply {
 public:
  // Where the answer goes; the connection implements it. Called at most once, from any thread.
  struct Target {
    virtual ~Target() = default;
    virtual void answer(const Response& response) noexcept = 0;
  };

  Reply() = default;
  explicit Reply(std::shared_ptr<Target> target);
  void operator()(const Response& response) const;

 private:
  struct Once;
  std::shared_ptr<Once> once_;
};

struct Request {
  std::string method;
  std::string path;   // without the query
  std::string query;  // raw, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::map<std::string, std::string> pathParams;  // from {name} segments of the route
  // Takes the answer over (see Reply); call it while handling the request, at most once.
  std::function<Reply()> answerLater;

  // Empty when absent.
  std::string header(const std::string& lowerName) const;
  // Percent-decoded query parameter; empty optional when absent.
  std::optional<std::string> queryParam(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  bool isLater = false;  // the answer comes through the request's Reply

  static Response json(int status, std::string body);
  static Response text(int status, std::string body);
  // What a handler returns once it has taken a Reply: the connection sends nothing now.
  static Response later();
};

// The contract's error body: {"error":{"code","message"}}.
Response errorResponse(int status, const std::string& code, const std::string& message);

using Handler = std::function<Response(Request&)>;

class Router {
 public:
  // pattern: "/v1/contacts/{id}/merge"; name labels the route in metrics.
  void add(const std::string& method, const std::string& pattern, const std::string& name,
           Handler handler);

  struct Match {
    const Handler* handler = nullptr;
    std::string name;              // route name, or "unmatched"
    bool pathMatched = false;      // some route has this path (so: 405, not 404)
    std::map<std::string, std::string> params;
  };
  Match match(const std::string& method, const std::string& path) const;

  // Every "METHOD pattern" served, for docs checks.
  std::vector<std::string> routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    std::string name;
    Handler handler;
  };
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port, see Server::port()
  int maxThreads = 1024;
  int maxQueued = 4096;
  int keepAliveTimeoutS = 15;
  int requestTimeoutS = 30;  // a started request must have arrived whole within this
  int listenBacklog = 1024;
  // Read per request so a SIGHUP can change it.
  std::function<std::size_t()> maxBodyBytes = [] { return std::size_t{1048576}; };
};

class ConnectionRegistry;

class Server {
 public:
  Server(ServerOptions options, const Router& router, Metrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  std::uint16_t port() const { return port_; }
  // Stops accepting, lets in-flight requests finish (up to grace), closes idle keep-alives.
  void stop(std::chrono::milliseconds grace);

 private:
  ServerOptions options_;
  const Router& router_;
  Metrics& metrics_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ConnectionRegistry> connections_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::TCPServer> server_;
};

}  // namespace gateway::http
