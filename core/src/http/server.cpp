#include "http/server.h"

#include <sstream>
#include <thread>

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include "log/log.h"

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

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
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

namespace {

class RequestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  RequestHandler(const Router& router, Metrics& metrics, const ServerOptions& options)
      : router_(router), metrics_(metrics), options_(options) {}

  void handleRequest(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out) override {
    const auto started = std::chrono::steady_clock::now();
    Request request;
    request.method = in.getMethod();
    const std::string& uri = in.getURI();
    const std::size_t q = uri.find('?');
    request.path = uri.substr(0, q);
    if (q != std::string::npos) request.query = uri.substr(q + 1);
    for (const auto& [name, value] : in) request.headers.emplace_back(lower(name), value);

    Router::Match match = router_.match(request.method, request.path);
    Response response;
    if (!readBody(in, request.body)) {
      response = errorResponse(413, "payload_too_large", "request body is larger than server.max_body_bytes");
      out.setKeepAlive(false);  // the rest of the body is not read: the connection is unusable
    } else if (match.handler == nullptr) {
      response = match.pathMatched ? errorResponse(405, "invalid_request", "method not allowed")
                                   : errorResponse(404, "not_found", "no such route");
    } else {
      request.pathParams = std::move(match.params);
      try {
        response = (*match.handler)(request);
      } catch (const std::exception& e) {
        log::get("http")->error("http.handler_failed route={} error={}", match.name, e.what());
        response = errorResponse(500, "internal", "internal error");
      }
    }
    send(out, response);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics_
        .histogram("gateway_http_request_duration_seconds", "HTTP request latency by route",
                   {{"route", match.name}})
        .observe(seconds);
  }

 private:
  // Reads at most the configured limit; false when the body is larger.
  bool readBody(Poco::Net::HTTPServerRequest& in, std::string& body) {
    const std::size_t limit = options_.maxBodyBytes();
    if (in.hasContentLength()) {
      const auto length = in.getContentLength64();
      if (length < 0) return true;
      if (static_cast<std::uint64_t>(length) > limit) return false;
      body.resize(static_cast<std::size_t>(length));
      in.stream().read(body.data(), length);
      body.resize(static_cast<std::size_t>(in.stream().gcount()));
      return true;
    }
    // Chunked or close-delimited: read until the limit is passed.
    char buffer[16384];
    std::istream& stream = in.stream();
    while (stream) {
      stream.read(buffer, sizeof buffer);
      body.append(buffer, static_cast<std::size_t>(stream.gcount()));
      if (body.size() > limit) return false;
    }
    return true;
  }

  static void send(Poco::Net::HTTPServerResponse& out, const Response& response) {
    out.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(response.status));
    out.setContentType(response.contentType);
    for (const auto& [name, value] : response.headers) out.set(name, value);
    out.setContentLength64(static_cast<Poco::Int64>(response.body.size()));
    out.send().write(response.body.data(), static_cast<std::streamsize>(response.body.size()));
  }

  const Router& router_;
  Metrics& metrics_;
  const ServerOptions& options_;
};

class HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  HandlerFactory(const Router& router, Metrics& metrics, const ServerOptions& options)
      : router_(router), metrics_(metrics), options_(options) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new RequestHandler(router_, metrics_, options_);
  }

 private:
  const Router& router_;
  Metrics& metrics_;
  const ServerOptions& options_;
};

}  // namespace

Server::Server(ServerOptions options, const Router& router, Metrics& metrics)
    : options_(std::move(options)), router_(router), metrics_(metrics) {}

Server::~Server() {
  if (server_) stop(std::chrono::milliseconds(0));
}

void Server::start() {
  // Poco serves each keep-alive connection on one thread for its whole life; with fewer
  // threads than connections some connections are never answered. So: threads sized for
  // the connections we expect, a bounded queue beyond that, a short keep-alive timeout so
  // idle connections give their thread back, and a large listen backlog.
  const std::string address = options_.host.find(':') != std::string::npos
                                  ? "[" + options_.host + "]:" + std::to_string(options_.port)
                                  : options_.host + ":" + std::to_string(options_.port);
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(address), options_.listenBacklog);
  port_ = socket.address().port();

  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(options_.maxThreads);
  params->setMaxQueued(options_.maxQueued);
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(options_.keepAliveTimeoutS, 0));
  params->setMaxKeepAliveRequests(0);  // unlimited requests per connection
  params->setTimeout(Poco::Timespan(30, 0));
  params->setThreadIdleTime(Poco::Timespan(10, 0));

  pool_ = std::make_unique<Poco::ThreadPool>(2, options_.maxThreads, 10, 1024 * 1024);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new HandlerFactory(router_, metrics_, options_),
                                                    *pool_, socket, params);
  server_->start();
}

void Server::stop(std::chrono::milliseconds grace) {
  if (!server_) return;
  // abortCurrent=false: requests being handled complete; idle keep-alive connections close.
  server_->stopAll(false);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (server_->currentConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (server_->currentConnections() > 0) server_->stopAll(true);
  pool_->joinAll();
  server_.reset();
}

}  // namespace gateway::http
