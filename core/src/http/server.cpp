#include "http/server.h"

#include <atomic>
#include <sstream>

#include <Poco/JSON/Object.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerParams.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include "http/connection.h"

namespace gateway::http {

namespace {

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  std::string current;
  for (char c : path) {
    if (c == '/') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::string percentDecode(const std::string& s) {
  std::string out;
  try {
    Poco::URI::decode(s, out, true);
  } catch (const std::exception&) {
    return s;
  }
  return out;
}

}  // namespace

std::string Request::header(const std::string& lowerName) const {
  for (const auto& [name, value] : headers) {
    if (name == lowerName) return value;
  }
  return "";
}

std::optional<std::string> Request::queryParam(const std::string& name) const {
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string pair = query.substr(start, end - start);
    const std::size_t eq = pair.find('=');
    const std::string key = percentDecode(pair.substr(0, eq));
    if (key == name) return eq == std::string::npos ? "" : percentDecode(pair.substr(eq + 1));
    start = end + 1;
  }
  return std::nullopt;
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::later() {
  Response r;
  r.isLater = true;
  return r;
}

struct Reply::Once {
  explicit Once(std::shared_ptr<Target> t) : target(std::move(t)) {}
  ~Once() {
    if (!answered.exchange(true)) target->answer(errorResponse(500, "internal", "internal error"));
  }
  std::shared_ptr<Target> target;
  std::atomic<bool> answered{false};
};

Reply::Reply(std::shared_ptr<Target> target) : once_(std::make_shared<Once>(std::move(target))) {}

void Reply::operator()(const Response& response) const {
  if (once_ && !once_->answered.exchange(true)) once_->target->answer(response);
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.contentType = "text/plain";
  r.body = std::move(body);
  return r;
}

Response errorResponse(int status, const std::string& code, const std::string& message) {
  Poco::JSON::Object error;
  error.set("code", code);
  error.set("message", message);
  Poco::JSON::Object root;
  root.set("error", error);
  std::ostringstream out;
  root.stringify(out);
  return Response::json(status, out.str());
}

void Router::add(const std::string& method, const std::string& pattern, const std::string& name,
                 Handler handler) {
  routes_.push_back(Route{method, pattern, splitPath(pattern), name, std::move(handler)});
}

Router::Match Router::match(const std::string& method, const std::string& path) const {
  Match result;
  result.name = "unmatched";
  const std::vector<std::string> parts = splitPath(path);
  for (const Route& route : routes_) {
    if (route.segments.size() != parts.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < parts.size() && ok; ++i) {
      const std::string& seg = route.segments[i];
      if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
        params[seg.substr(1, seg.size() - 2)] = percentDecode(parts[i]);
      } else {
        ok = seg == parts[i];
      }
    }
    if (!ok) continue;
    result.pathMatched = true;
    if (route.method != method) continue;
    result.handler = &route.handler;
    result.name = route.name;
    result.params = std::move(params);
    return result;
  }
  return result;
}

std::vector<std::string> Router::routes() const {
  std::vector<std::string> out;
  for (const Route& r : routes_) out.push_back(r.method + " " + r.pattern);
  return out;
}

Server::Server(ServerOptions options, const Router& router, Metrics& metrics)
    : options_(std::move(options)), router_(router), metrics_(metrics) {}

Server::~Server() {
  if (server_) stop(std::chrono::milliseconds(0));
}

void Server::start() {
  const std::string address = options_.host.find(':') != std::string::npos
                                  ? "[" + options_.host + "]:" + std::to_string(options_.port)
                                  : options_.host + ":" + std::to_string(options_.port);
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(address), options_.listenBacklog);
  port_ = socket.address().port();

  // Each keep-alive connection holds one pooled thread for its whole life; with fewer
  // threads than connections some connections are never answered. So: threads sized for
  // the connections we expect, a bounded queue beyond that, a short keep-alive timeout so
  // idle connections give their thread back, and a large listen backlog.
  Poco::Net::TCPServerParams::Ptr params = new Poco::Net::TCPServerParams;
  params->setMaxThreads(options_.maxThreads);
  params->setMaxQueued(options_.maxQueued);
  params->setThreadIdleTime(Poco::Timespan(10, 0));

  connections_ = std::make_unique<ConnectionRegistry>();
  pool_ = std::make_unique<Poco::ThreadPool>(2, options_.maxThreads, 10, 1024 * 1024);
  server_ = std::make_unique<Poco::Net::TCPServer>(
      makeConnectionFactory({router_, metrics_, options_, *connections_}), *pool_, socket, params);
  server_->start();
}

void Server::stop(std::chrono::milliseconds grace) {
  if (!server_) return;
  // Idle keep-alives close first; connections accepted until the acceptor has stopped
  // (Poco polls it every 250 ms) are closed at once, as are queued ones that never started.
  connections_->stop();
  server_->stop();
  if (!connections_->waitUntilEmpty(std::chrono::steady_clock::now() + grace)) connections_->shutdownAll();
  pool_->joinAll();
  server_.reset();
}

}  // namespace gateway::http
