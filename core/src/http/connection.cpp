#include "http/connection.h"

#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServerConnection.h>

#include "http/request_parser.h"
#include "log/log.h"

namespace gateway::http {

std::optional<ConnectionRegistry::Slot> ConnectionRegistry::add(int fd) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return std::nullopt;
  return entries_.insert(entries_.end(), Entry{fd, false});
}

void ConnectionRegistry::remove(Slot slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.erase(slot);
  if (entries_.empty()) emptied_.notify_all();
}

bool ConnectionRegistry::setIdle(Slot slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return false;
  slot->busy = false;
  return true;
}

void ConnectionRegistry::setBusy(Slot slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  slot->busy = true;
}

void ConnectionRegistry::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  // The read side only: a request whose bytes slipped in just before can still be answered.
  for (const Entry& entry : entries_) {
    if (!entry.busy) ::shutdown(entry.fd, SHUT_RD);
  }
}

bool ConnectionRegistry::waitUntilEmpty(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  return emptied_.wait_until(lock, deadline, [this] { return entries_.empty(); });
}

void ConnectionRegistry::shutdownAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Entry& entry : entries_) ::shutdown(entry.fd, SHUT_RDWR);
}

namespace {

const char* reasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";  // the phrase may be empty; the space before it may not
  }
}

}  // namespace

void appendResponse(std::string& out, const Response& response, std::string_view connection, bool withBody) {
  const bool noContent = response.status == 204;  // no Content-Length either (RFC 9110 §8.6)
  out.reserve(out.size() + 128 + response.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += reasonPhrase(response.status);
  out += "\r\nContent-Type: ";
  out += response.contentType;
  if (!noContent) {
    out += "\r\nContent-Length: ";
    out += std::to_string(response.body.size());
  }
  if (!connection.empty()) {
    out += "\r\nConnection: ";
    out += connection;
  }
  for (const auto& [name, value] : response.headers) {
    out += "\r\n";
    out += name;
    out += ": ";
    out += value;
  }
  out += "\r\n\r\n";
  if (withBody && !noContent) out += response.body;
}

namespace {

using Clock = std::chrono::steady_clock;
using Status = RequestParser::Status;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// The connection is over with nothing to answer: the peer closed, or its request was too slow.
struct Hangup {};

// Bytes received and not parsed yet: 16 KB, grown only for a line that does not fit (the
// parser bounds a line at 64 KB). Body bytes move on into the request's body as they come,
// so a large body does not grow it.
class ReadBuffer {
 public:
  bool empty() const { return begin_ == end_; }
  std::string_view unread() const { return {data_.data() + begin_, end_ - begin_}; }
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Room for the next receive after the unread bytes: at least kMinRoom.
  std::pair<char*, std::size_t> room() {
    if (data_.size() - end_ < kMinRoom) {
      std::memmove(data_.data(), data_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      if (data_.size() - end_ < kMinRoom) data_.resize(data_.size() * 2);
    }
    return {data_.data() + end_, data_.size() - end_};
  }
  void commit(std::size_t n) { end_ += n; }

 private:
  static constexpr std::size_t kMinRoom = 4096;
  std::vector<char> data_ = std::vector<char>(16 * 1024);
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// HTTP/1.1 stays open unless told otherwise; an HTTP/1.0 client must be told it does.
std::string_view connectionHeader(bool keepAlive, bool http10) {
  return !keepAlive ? "close" : http10 ? "keep-alive" : "";
}

Response parseError(const RequestParser& parser) {
  const int status = parser.errorStatus();
  return errorResponse(status, status == 413 ? "payload_too_large" : "invalid_request", parser.errorMessage());
}

// An answer owed through a Reply (see server.h). Its bytes go out from the thread that calls
// the Reply, without blocking it, while the connection's thread reads on. What the socket does
// not take at once (a client that does not read its answers) is left for the connection's
// thread: shutting the read side down wakes it, and it sends the rest and closes.
class LaterAnswer final : public Reply::Target {
 public:
  LaterAnswer(int fd, bool keepAlive, bool http10, bool withBody, Histogram& latency, Clock::time_point started)
      : fd_(fd), keepAlive_(keepAlive), http10_(http10), withBody_(withBody), latency_(latency), started_(started) {}

  bool keepsAlive() const { return keepAlive_; }

  void answer(const Response& response) noexcept override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (done_) return;  // the connection answered itself (see claim)
      try {
        std::string out;
        appendResponse(out, response, connectionHeader(keepAlive_, http10_), withBody_);
        std::size_t sent = 0;
        while (sent < out.size()) {
          const ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
          if (n > 0) sent += static_cast<std::size_t>(n);
          else if (n < 0 && errno == EINTR) continue;
          else break;  // full, or the peer is gone: the connection's thread finds out
        }
        if (sent < out.size()) {
          unsent_ = out.substr(sent);
          ::shutdown(fd_, SHUT_RD);  // before done_: the fd stays open until the connection sees done_
        }
      } catch (const std::exception&) {  // out of memory: say nothing, close
        ::shutdown(fd_, SHUT_RDWR);
      }
      // Before done_: once the connection sees it, the server may stop and its metrics go.
      latency_.observe(std::chrono::duration<double>(Clock::now() - started_).count());
      done_ = true;
    }
    answered_.notify_all();  // this object lives on in the caller's Reply
  }

  // Waits until the answer is out; returns what the socket did not take.
  std::string wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    answered_.wait(lock, [this] { return done_; });
    return std::move(unsent_);
  }

  // For a handler that took a Reply and still answered directly (an exception, say): true
  // when the connection may send that answer, the Reply then saying nothing.
  bool claim() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) return false;
    done_ = true;
    return true;
  }

 private:
  const int fd_;
  const bool keepAlive_;
  const bool http10_;
  const bool withBody_;
  Histogram& latency_;
  const Clock::time_point started_;
  std::mutex mutex_;
  std::condition_variable answered_;
  bool done_ = false;
  std::string unsent_;
};

class Connection : public Poco::Net::TCPServerConnection {
 public:
  Connection(const Poco::Net::StreamSocket& socket, ConnectionContext context)
      : TCPServerConnection(socket),
        context_(context),
        keepAlive_(std::chrono::seconds(context.options.keepAliveTimeoutS)),
        requestTimeout_(std::chrono::seconds(context.options.requestTimeoutS)) {}

  void run() override {
    pthread_setname_np(pthread_self(), "http");  // a pool thread: it serves connections only
    ConnectionRegistry& registry = context_.registry;
    const std::optional<ConnectionRegistry::Slot> slot = registry.add(socket().impl()->sockfd());
    if (!slot) return;  // the server is stopping
    slot_ = *slot;
    struct Leave {
      ConnectionRegistry& registry;
      ConnectionRegistry::Slot slot;
      ~Leave() { registry.remove(slot); }
    } leave{registry, slot_};
    try {
      // A client that stops reading our answer must not hold the thread for ever.
      socket().setSendTimeout(Poco::Timespan(std::chrono::microseconds(requestTimeout_).count()));
      while (awaitRequest() && serveRequest()) {
      }
    } catch (const Hangup&) {
    } catch (const Poco::Exception&) {
      // Quiet too long, reset, or shut down by a stop: there is no one left to answer.
    }
    // An answer still owed goes out before the socket closes (a stop shuts only the read
    // side of idle connections).
    try {
      settleLater();
    } catch (const Hangup&) {
    } catch (const Poco::Exception&) {
    }
  }

 private:
  // True once the next request's first bytes are here; waits while the connection is idle.
  bool awaitRequest() {
    if (!in_.empty()) return true;  // pipelined: it came with the one before
    if (!context_.registry.setIdle(slot_)) return false;
    receive(Clock::time_point::max());  // only the keep-alive timeout applies
    context_.registry.setBusy(slot_);
    return true;
  }

  // Reads one request, answers it and records its latency; false when the connection closes.
  bool serveRequest() {
    settleLater();  // answers go out in order: a pipelined request waits for the one before
    const Clock::time_point deadline = Clock::now() + requestTimeout_;
    RequestParser parser;
    if (complete([&](std::string_view in) { return parser.parseHead(in); }, deadline) == Status::kError) {
      send(parseError(parser), "close", true);
      return false;
    }
    const Clock::time_point started = Clock::now();
    RequestHead& head = parser.head();
    Request request;
    request.method = std::move(head.method);
    request.path = std::move(head.path);
    request.query = std::move(head.query);
    request.headers = std::move(head.headers);
    Router::Match match = context_.router.match(request.method, request.path);
    bool keepAlive = head.keepAlive;
    Response response;
    if (readBody(parser, request.body, deadline) == Status::kError) {
      response = parseError(parser);
      keepAlive = false;  // the rest of the body is not read: the connection is unusable
    } else {
      request.answerLater = [&] {
        if (!later_) {  // a second call shares the first one's answer: still only one goes out
          later_ = std::make_shared<LaterAnswer>(socket().impl()->sockfd(), keepAlive && !context_.registry.stopping(),
                                                 head.http10, request.method != "HEAD", latencyOf(match.name), started);
        }
        return Reply(later_);
      };
      response = dispatch(request, match);
      if (later_) {
        // A handler that took a Reply and still answered here (an exception, say): whichever
        // answer comes first goes out, the other is dropped.
        if (!response.isLater && later_->claim()) {
          later_.reset();
        } else {
          if (later_->keepsAlive()) return true;
          settleLater();
          return false;
        }
      }
    }
    keepAlive = keepAlive && !context_.registry.stopping();
    send(response, connectionHeader(keepAlive, head.http10), request.method != "HEAD");
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    latencyOf(match.name).observe(seconds);
    return keepAlive;
  }

  // Waits for the answer a Reply owes, if any. What the socket did not take from the Reply
  // is sent from here, and the connection ends: its read side is already shut.
  void settleLater() {
    if (!later_) return;
    const std::string unsent = later_->wait();
    later_.reset();
    if (unsent.empty()) return;
    writeAll(unsent);
    throw Hangup();
  }

  // The registry's lookup takes a lock every connection shares and renders the labels: do
  // it once per route on this connection.
  Histogram& latencyOf(const std::string& route) {
    Histogram*& histogram = latency_[route];
    if (histogram == nullptr) {
      histogram = &context_.metrics.histogram("gateway_http_request_duration_seconds", "HTTP request latency by route",
                                              {{"route", route}});
    }
    return *histogram;
  }

  // The body, if any; the limit is looked up only when there is one. A client waiting on
  // "Expect: 100-continue" gets its 100 unless its Content-Length is already too large (413)
  // or the whole body came anyway.
  Status readBody(RequestParser& parser, std::string& body, Clock::time_point deadline) {
    if (!parser.head().hasBody()) return Status::kDone;
    const std::size_t limit = context_.options.maxBodyBytes();
    const auto step = [&](std::string_view in) { return parser.parseBody(in, limit, body); };
    const RequestParser::Result buffered = step(in_.unread());
    in_.consume(buffered.used);
    if (buffered.status != Status::kNeedMore) return buffered.status;
    if (parser.head().expectContinue) writeAll(kContinue);
    return complete(step, deadline);
  }

  // A handler's exception is a 500, never a dropped connection.
  Response dispatch(Request& request, Router::Match& match) {
    if (match.handler == nullptr) {
      return match.pathMatched ? errorResponse(405, "invalid_request", "method not allowed")
                               : errorResponse(404, "not_found", "no such route");
    }
    request.pathParams = std::move(match.params);
    try {
      return (*match.handler)(request);
    } catch (const std::exception& e) {
      log::get("http")->error("http.handler_failed route={} error={}", match.name, e.what());
      return errorResponse(500, "internal", "internal error");
    }
  }

  // Feeds the buffered bytes to a parser step, receiving more while it needs more.
  template <typename Step>
  Status complete(const Step& step, Clock::time_point deadline) {
    for (;;) {
      const RequestParser::Result result = step(in_.unread());
      in_.consume(result.used);
      if (result.status != Status::kNeedMore) return result.status;
      receive(deadline);
    }
  }

  // Appends what the peer sends next, waiting at most the keep-alive timeout and never past
  // the deadline. Throws Hangup at end-of-stream or the deadline, Poco's TimeoutException
  // when the peer stays quiet.
  void receive(Clock::time_point deadline) {
    const Clock::duration left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) throw Hangup();
    setReceiveTimeout(std::min<Clock::duration>(keepAlive_, left));
    const auto [data, size] = in_.room();
    const int n = socket().receiveBytes(data, static_cast<int>(size));
    if (n <= 0) throw Hangup();
    in_.commit(static_cast<std::size_t>(n));
  }

  // SO_RCVTIMEO, set only when it changes: an ordinary request costs no setsockopt.
  void setReceiveTimeout(Clock::duration timeout) {
    const auto rounded = std::chrono::ceil<std::chrono::milliseconds>(timeout);  // 0 would mean none
    if (rounded == receiveTimeout_) return;
    socket().setReceiveTimeout(Poco::Timespan(std::chrono::microseconds(rounded).count()));
    receiveTimeout_ = rounded;
  }

  void send(const Response& response, std::string_view connection, bool withBody) {
    std::string out;
    appendResponse(out, response, connection, withBody);
    writeAll(out);
  }

  // One send for the whole answer; the loop is for partial writes.
  void writeAll(std::string_view bytes) {
    while (!bytes.empty()) {
      // MSG_NOSIGNAL: a peer that went away is an exception here, not a SIGPIPE.
      const int n = socket().sendBytes(bytes.data(), static_cast<int>(bytes.size()), MSG_NOSIGNAL);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  ConnectionContext context_;
  const std::chrono::milliseconds keepAlive_;
  const std::chrono::milliseconds requestTimeout_;
  std::chrono::milliseconds receiveTimeout_{0};  // as set on the socket; 0: not yet
  ConnectionRegistry::Slot slot_;
  ReadBuffer in_;
  std::unordered_map<std::string, Histogram*> latency_;  // by route name
  std::shared_ptr<LaterAnswer> later_;  // the answer a Reply owes, until it is out
};

class ConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  explicit ConnectionFactory(ConnectionContext context) : context_(context) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    return new Connection(socket, context_);
  }

 private:
  ConnectionContext context_;
};

}  // namespace

Poco::Net::TCPServerConnectionFactory::Ptr makeConnectionFactory(ConnectionContext context) {
  return new ConnectionFactory(context);
}

}  // namespace gateway::http
