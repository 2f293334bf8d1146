#include "delivery/send_loop.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <Poco/URI.h>

#include "delivery/http_answer.h"
#include "http/text.h"

namespace gateway::delivery {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kResolveEvery{60};

std::string errnoText(int e) { return std::strerror(e); }

// Empties OpenSSL's (per-thread) error queue into one line.
std::string sslErrors() {
  std::string out;
  char line[256];
  while (const unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, line, sizeof line);
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

bool isFramingHeader(const std::string& name) {
  for (const char* ours : {"host", "content-length", "transfer-encoding", "connection"}) {
    if (http::equalsIgnoreCase(name, ours)) return true;
  }
  return false;
}

bool isIpAddress(const std::string& host) {
  in6_addr any{};
  return inet_pton(AF_INET, host.c_str(), &any) == 1 || inet_pton(AF_INET6, host.c_str(), &any) == 1;
}

}  // namespace

struct SendLoop::Impl {
  struct Call {
    HttpCall http;
    std::string paceKey;
    double perSecond = 0;
    Done done;
    bool paced = false;
    std::string target;  // path and query
  };

  struct Address {
    sockaddr_storage storage{};
    socklen_t length = 0;
  };

  struct Origin;
  struct Conn {
    enum class State { kConnecting, kHandshake, kPacing, kWriting, kReading, kIdle };
    int fd = -1;
    SSL* ssl = nullptr;
    Origin* origin = nullptr;
    State state = State::kConnecting;
    std::unique_ptr<Call> call;
    std::string out;
    std::size_t sent = 0;
    std::string in;
    Clock::time_point deadline;  // kPacing: the slot; kIdle: when it is closed; else: the timeout
    std::uint32_t events = 0;    // registered with epoll
    std::size_t address = 0;     // which of the origin's addresses it dials
  };

  struct Origin {
    std::string scheme, host;
    unsigned short port = 0;
    std::string hostHeader;
    std::vector<Conn*> idle;  // most recently used last
    std::deque<std::unique_ptr<Call>> waiting;
    int open = 0;
    std::vector<Address> addresses;  // empty: to be looked up
    std::size_t preferred = 0;        // where new connections start: the last that worked
    Clock::time_point resolvedAt;
  };

  Impl(RateLimiter& l, Options o) : limiter(l), options(o) {
    epfd = epoll_create1(EPOLL_CLOEXEC);
    evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd < 0 || evfd < 0) throw std::runtime_error("send loop: " + errnoText(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev);
    // The platform's certificate must chain to the system's CA store (OpenSSL's default
    // paths, which honour SSL_CERT_FILE/SSL_CERT_DIR) and name the host dialled (set per
    // connection), loopback hosts included.
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) throw std::runtime_error("send loop: TLS context: " + sslErrors());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_default_verify_paths(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // A peer closing without close_notify ends the connection like a TCP close (an answer
    // delimited by the close is complete; a cut-off one fails to parse).
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    thread = std::thread([this] { run(); });
  }

  ~Impl() {
    stop();
    SSL_CTX_free(ctx);
    ::close(evfd);
    ::close(epfd);
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    poke();
    if (thread.joinable()) thread.join();
  }

  void poke() const {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(evfd, &one, sizeof one);
  }

  void submit(HttpCall http, std::string paceKey, double perSecond, Done done) {
    auto call = std::make_unique<Call>();
    call->http = std::move(http);
    call->paceKey = std::move(paceKey);
    call->perSecond = perSecond;
    call->done = std::move(done);
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!stopping) {
        ++unpacedByKey[call->paceKey];
        incoming.push_back(std::move(call));
      }
    }
    if (call) {  // stopped: nothing will take it
      call->paced = true;  // never counted in unpaced()
      end(std::move(call), outcome(HttpOutcome::Kind::kCancelled, "stopped"));
      return;
    }
    poke();
  }

  int unpaced(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = unpacedByKey.find(key);
    return it == unpacedByKey.end() ? 0 : it->second;
  }

  // ---- the loop thread -------------------------------------------------------------------

  void run() {
    pthread_setname_np(pthread_self(), "delivery-send");
    epoll_event events[64];
    for (;;) {
      const bool stop = takeIncoming();
      if (stop) {
        cancelUnsent();
        if (conns.empty()) break;
      } else {
        for (auto& [key, origin] : origins) startWaiting(origin);
      }
      const int n = epoll_wait(epfd, events, 64, timeoutMs());
      for (int i = 0; i < n; ++i) {
        auto* conn = static_cast<Conn*>(events[i].data.ptr);
        if (conn == nullptr) {
          std::uint64_t count = 0;
          [[maybe_unused]] const auto r = ::read(evfd, &count, sizeof count);
        } else if (conn->fd >= 0) {
          onEvent(*conn, events[i].events);
        }
      }
      expire();
      closed.clear();
    }
  }

  // Moves submitted calls to their origins; true once stopping.
  bool takeIncoming() {
    std::vector<std::unique_ptr<Call>> calls;
    bool stop = false;
    {
      std::lock_guard<std::mutex> lock(mutex);
      calls.swap(incoming);
      stop = stopping;
    }
    for (auto& call : calls) {
      if (stop) {
        end(std::move(call), outcome(HttpOutcome::Kind::kCancelled, "stopping"));
        continue;
      }
      Origin* origin = nullptr;
      try {
        const Poco::URI uri(call->http.url);
        if (uri.getScheme() != "http" && uri.getScheme() != "https") throw std::invalid_argument("not http(s)");
        call->target = uri.getPathAndQuery();
        origin = &originFor(uri.getScheme(), uri.getHost(), uri.getPort());
      } catch (const std::exception&) {
        end(std::move(call), outcome(HttpOutcome::Kind::kNotSent, "bad url: " + call->http.url));
        continue;
      }
      origin->waiting.push_back(std::move(call));
    }
    return stop;
  }

  Origin& originFor(const std::string& scheme, const std::string& host, unsigned short port) {
    const std::string key = scheme + "://" + host + ":" + std::to_string(port);
    auto [it, added] = origins.try_emplace(key);
    Origin& o = it->second;
    if (added) {
      o.scheme = scheme;
      o.host = host;
      o.port = port;
      const bool defaultPort = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
      const std::string name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
      o.hostHeader = defaultPort ? name : name + ":" + std::to_string(port);
    }
    return o;
  }

  // Gives waiting calls a connection: an idle one, or a new one while under the limit.
  void startWaiting(Origin& origin) {
    while (!origin.waiting.empty()) {
      Conn* conn = nullptr;
      if (!origin.idle.empty()) {
        conn = origin.idle.back();
        origin.idle.pop_back();
      } else if (origin.open < options.maxConnectionsPerOrigin) {
        std::string error;
        conn = connect(origin, error);
        if (conn == nullptr) {
          end(takeFront(origin), outcome(HttpOutcome::Kind::kNotSent, error));
          continue;
        }
      } else {
        return;  // every connection is busy: the call waits for one
      }
      conn->call = takeFront(origin);
      if (conn->state == Conn::State::kIdle) pace(*conn);
      // else: connecting; the call goes once the connection is up
    }
  }

  static std::unique_ptr<Call> takeFront(Origin& origin) {
    auto call = std::move(origin.waiting.front());
    origin.waiting.pop_front();
    return call;
  }

  // The origin's addresses: looked up (blocking, on this thread) at most once a minute, and
  // again once a connection to each of them failed, not for each of a burst of new
  // connections.
  bool resolve(Origin& origin, std::string& error) {
    const auto now = Clock::now();
    if (!origin.addresses.empty() && now - origin.resolvedAt < kResolveEvery) return true;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = getaddrinfo(origin.host.c_str(), std::to_string(origin.port).c_str(), &hints, &found)) {
      error = "cannot resolve " + origin.host + ": " + gai_strerror(rc);
      return false;
    }
    origin.addresses.clear();
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
      Address address;
      std::memcpy(&address.storage, a->ai_addr, a->ai_addrlen);
      address.length = a->ai_addrlen;
      origin.addresses.push_back(address);
    }
    freeaddrinfo(found);
    origin.preferred = 0;
    origin.resolvedAt = now;
    return true;
  }

  Conn* connect(Origin& origin, std::string& error) {
    if (!resolve(origin, error)) return nullptr;
    auto conn = std::make_unique<Conn>();
    conn->origin = &origin;
    conn->address = origin.preferred;
    if (!dial(*conn, error)) return nullptr;
    ++origin.open;
    Conn* raw = conn.get();
    conns.emplace(raw, std::move(conn));
    return raw;
  }

  // Starts connecting c to its origin's address c.address, or to the ones after it when
  // connecting fails at once; false (error set) when none is left.
  bool dial(Conn& c, std::string& error) {
    Origin& origin = *c.origin;
    for (; c.address < origin.addresses.size(); ++c.address) {
      const Address& address = origin.addresses[c.address];
      const auto* sa = reinterpret_cast<const sockaddr*>(&address.storage);
      const int fd = ::socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        error = "socket: " + errnoText(errno);
        continue;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (::connect(fd, sa, address.length) != 0 && errno != EINPROGRESS) {
        error = "connect to " + origin.hostHeader + ": " + errnoText(errno);
        ::close(fd);
        continue;
      }
      c.fd = fd;
      c.state = Conn::State::kConnecting;
      c.deadline = Clock::now() + options.timeout;
      c.events = EPOLLOUT;
      epoll_event ev{};
      ev.events = c.events;
      ev.data.ptr = &c;
      epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
      return true;
    }
    origin.addresses.clear();  // every address failed: look the name up again next time
    return false;
  }

  // Connecting c failed (refused, unreachable, timed out): the origin's next address, if any.
  void connectFailed(Conn& c, const std::string& why) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    ++c.address;
    std::string error = why;
    if (dial(c, error)) return;  // dial() forgets the addresses once none is left
    auto call = std::move(c.call);
    retire(c);
    if (call) end(std::move(call), outcome(HttpOutcome::Kind::kNotSent, error));
  }

  void onEvent(Conn& c, std::uint32_t events) {
    switch (c.state) {
      case Conn::State::kConnecting: return onConnected(c);
      case Conn::State::kHandshake: return handshake(c);
      case Conn::State::kWriting: return write(c);
      case Conn::State::kReading: return read(c);
      case Conn::State::kPacing:
        if (events & (EPOLLERR | EPOLLHUP)) fail(c, HttpOutcome::Kind::kNotSent, "connection lost before the request");
        return;
      case Conn::State::kIdle: return close(c);  // the server closed it (or sent what nobody asked for)
    }
  }

  void onConnected(Conn& c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return connectFailed(c, "connect to " + c.origin->hostHeader + ": " + errnoText(err));
    c.origin->preferred = c.address;  // the next connections start with the address that worked
    if (c.origin->scheme != "https") return pace(c);
    c.ssl = SSL_new(ctx);
    SSL_set_fd(c.ssl, c.fd);
    const std::string& host = c.origin->host;
    if (isIpAddress(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.ssl), host.c_str());
    } else {
      SSL_set1_host(c.ssl, host.c_str());
      SSL_set_tlsext_host_name(c.ssl, host.c_str());
    }
    c.state = Conn::State::kHandshake;
    handshake(c);
  }

  void handshake(Conn& c) {
    ERR_clear_error();
    const int r = SSL_connect(c.ssl);
    if (r == 1) return pace(c);
    const int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_READ) return watch(c, EPOLLIN);
    if (e == SSL_ERROR_WANT_WRITE) return watch(c, EPOLLOUT);
    const long verify = SSL_get_verify_result(c.ssl);
    std::string why = verify != X509_V_OK ? std::string("certificate verify failed: ") +
                                                X509_verify_cert_error_string(verify)
                                          : sslErrors();
    if (why.empty()) why = e == SSL_ERROR_SYSCALL ? errnoText(errno) : "handshake failed";
    fail(c, HttpOutcome::Kind::kNotSent, "TLS with " + c.origin->hostHeader + ": " + why);
  }

  // Takes the call's pacing slot; the request is written at the slot.
  void pace(Conn& c) {
    Call& call = *c.call;
    leaveUnpaced(call);
    const auto slot = limiter.reserve(call.paceKey, call.perSecond);
    if (slot > Clock::now()) {
      c.state = Conn::State::kPacing;
      c.deadline = slot;
      watch(c, 0);
      return;
    }
    startWrite(c);
  }

  void startWrite(Conn& c) {
    const Call& call = *c.call;
    std::string& out = c.out;
    out.clear();
    out.reserve(256 + call.http.body.size());
    out.append(call.http.method).append(" ").append(call.target).append(" HTTP/1.1\r\nHost: ");
    out.append(c.origin->hostHeader).append("\r\n");
    for (const auto& [name, value] : call.http.headers) {
      // The framing is ours; a line break would let a value write headers of its own.
      if (name.find_first_of("\r\n") != std::string::npos || value.find_first_of("\r\n") != std::string::npos) {
        return fail(c, HttpOutcome::Kind::kNotSent, "header " + name.substr(0, 64) + " holds a line break");
      }
      if (isFramingHeader(name)) continue;
      out.append(name).append(": ").append(value).append("\r\n");
    }
    out.append("Content-Length: ").append(std::to_string(call.http.body.size())).append("\r\n\r\n");
    out.append(call.http.body);
    c.sent = 0;
    c.state = Conn::State::kWriting;
    c.deadline = Clock::now() + options.timeout;
    write(c);
  }

  void write(Conn& c) {
    while (c.sent < c.out.size()) {
      const char* data = c.out.data() + c.sent;
      const std::size_t left = c.out.size() - c.sent;
      if (c.ssl != nullptr) {
        ERR_clear_error();
        const int r = SSL_write(c.ssl, data, static_cast<int>(left));
        if (r > 0) {
          c.sent += static_cast<std::size_t>(r);
          continue;
        }
        const int e = SSL_get_error(c.ssl, r);
        if (e == SSL_ERROR_WANT_WRITE) return watch(c, EPOLLOUT);
        if (e == SSL_ERROR_WANT_READ) return watch(c, EPOLLIN);
        const std::string why = sslErrors();
        return fail(c, HttpOutcome::Kind::kNotSent, "sending: " + (why.empty() ? errnoText(errno) : why));
      }
      const ssize_t r = ::send(c.fd, data, left, MSG_NOSIGNAL);
      if (r > 0) {
        c.sent += static_cast<std::size_t>(r);
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return watch(c, EPOLLOUT);
      if (r < 0 && errno == EINTR) continue;
      return fail(c, HttpOutcome::Kind::kNotSent, "sending: " + errnoText(errno));
    }
    // Every byte of the request has left: from here on, a failure leaves the outcome unknown.
    c.state = Conn::State::kReading;
    c.in.clear();
    watch(c, EPOLLIN);
  }

  void read(Conn& c) {
    char buffer[16384];
    bool peerClosed = false;
    for (;;) {
      if (c.ssl != nullptr) {
        ERR_clear_error();
        const int r = SSL_read(c.ssl, buffer, sizeof buffer);
        if (r > 0) {
          c.in.append(buffer, static_cast<std::size_t>(r));
          continue;
        }
        const int e = SSL_get_error(c.ssl, r);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_WANT_WRITE) {
          watch(c, EPOLLOUT);
          break;
        }
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
          peerClosed = true;
          break;
        }
        return fail(c, HttpOutcome::Kind::kUnknown, "receiving: " + sslErrors());
      }
      const ssize_t r = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (r > 0) {
        c.in.append(buffer, static_cast<std::size_t>(r));
        continue;
      }
      if (r == 0) {
        peerClosed = true;
        break;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return fail(c, HttpOutcome::Kind::kUnknown, "receiving: " + errnoText(errno));
    }
    if (peerClosed && c.in.empty()) return fail(c, HttpOutcome::Kind::kUnknown, "connection closed before the answer");
    HttpAnswer answer;
    std::string error;
    switch (parseHttpAnswer(c.in, peerClosed, answer, error)) {
      case AnswerParse::kMore: return;  // never once the peer closed: that is kBad
      case AnswerParse::kBad: return fail(c, HttpOutcome::Kind::kUnknown, "unreadable answer: " + error);
      case AnswerParse::kDone: break;
    }
    HttpOutcome result = outcome(HttpOutcome::Kind::kResponse, "");
    result.status = answer.status;
    result.body = std::move(answer.body);
    auto call = std::move(c.call);
    if (answer.keepAlive && !peerClosed) {
      c.state = Conn::State::kIdle;
      c.deadline = Clock::now() + options.idleTimeout;
      c.in.clear();
      watch(c, EPOLLIN | EPOLLRDHUP);
      c.origin->idle.push_back(&c);
    } else {
      close(c);
    }
    end(std::move(call), std::move(result));
  }

  void expire() {
    const auto now = Clock::now();
    std::vector<Conn*> due;
    for (auto& [raw, conn] : conns) {
      if (conn->deadline <= now) due.push_back(raw);
    }
    for (Conn* c : due) {
      if (c->fd < 0) continue;
      switch (c->state) {
        case Conn::State::kPacing: startWrite(*c); break;
        case Conn::State::kIdle: close(*c); break;
        case Conn::State::kConnecting:
          connectFailed(*c, "timed out connecting to " + c->origin->hostHeader);
          break;
        case Conn::State::kHandshake:
          fail(*c, HttpOutcome::Kind::kNotSent, "timed out connecting to " + c->origin->hostHeader);
          break;
        case Conn::State::kWriting:
          fail(*c, HttpOutcome::Kind::kNotSent, "timed out sending to " + c->origin->hostHeader);
          break;
        case Conn::State::kReading:
          fail(*c, HttpOutcome::Kind::kUnknown, "timed out waiting for the answer of " + c->origin->hostHeader);
          break;
      }
    }
  }

  int timeoutMs() const {
    auto next = Clock::now() + std::chrono::seconds(1);
    for (const auto& [raw, conn] : conns) next = std::min(next, conn->deadline);
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
    return static_cast<int>(std::max<std::int64_t>(0, wait));
  }

  // Stopping: what has not been written ends here; written requests still get their answer.
  void cancelUnsent() {
    for (auto& [key, origin] : origins) {
      while (!origin.waiting.empty()) end(takeFront(origin), outcome(HttpOutcome::Kind::kCancelled, "stopping"));
    }
    std::vector<Conn*> all;
    for (auto& [raw, conn] : conns) all.push_back(raw);
    for (Conn* c : all) {
      if (c->fd < 0 || c->state == Conn::State::kReading) continue;
      if (c->call) fail(*c, HttpOutcome::Kind::kCancelled, "stopping");
      else close(*c);
    }
  }

  void watch(Conn& c, std::uint32_t events) {
    if (c.events == events) return;
    c.events = events;
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &c;
    epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void fail(Conn& c, HttpOutcome::Kind kind, const std::string& error) {
    auto call = std::move(c.call);
    close(c);
    if (call) end(std::move(call), outcome(kind, error));
  }

  void close(Conn& c) {
    if (c.fd < 0) return;
    if (c.ssl != nullptr) SSL_free(c.ssl);
    c.ssl = nullptr;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    retire(c);
  }

  // c (its socket closed) leaves its origin; freed after this round of events, which may
  // still point at it.
  void retire(Conn& c) {
    Origin& o = *c.origin;
    --o.open;
    o.idle.erase(std::remove(o.idle.begin(), o.idle.end(), &c), o.idle.end());
    auto it = conns.find(&c);
    closed.push_back(std::move(it->second));
    conns.erase(it);
  }

  static HttpOutcome outcome(HttpOutcome::Kind kind, std::string error) {
    HttpOutcome o;
    o.kind = kind;
    o.error = std::move(error);
    return o;
  }

  // The call no longer counts in unpaced(): it took its slot, or ends without one.
  void leaveUnpaced(Call& call) {
    if (call.paced) return;
    call.paced = true;
    std::lock_guard<std::mutex> lock(mutex);
    --unpacedByKey[call.paceKey];
  }

  void end(std::unique_ptr<Call> call, HttpOutcome result) {
    leaveUnpaced(*call);
    try {
      call->done(std::move(result));
    } catch (...) {
      // The caller's bookkeeping failed; the loop must go on for the other calls.
    }
  }

  RateLimiter& limiter;
  const Options options;
  int epfd = -1;
  int evfd = -1;
  SSL_CTX* ctx = nullptr;

  mutable std::mutex mutex;  // guards the three below
  std::vector<std::unique_ptr<Call>> incoming;
  std::map<std::string, int> unpacedByKey;
  bool stopping = false;

  // The loop thread's own.
  std::map<std::string, Origin> origins;
  std::map<Conn*, std::unique_ptr<Conn>> conns;
  std::vector<std::unique_ptr<Conn>> closed;
  std::thread thread;
};

SendLoop::SendLoop(RateLimiter& limiter, Options options) : impl_(std::make_unique<Impl>(limiter, options)) {}
SendLoop::~SendLoop() = default;

void SendLoop::submit(HttpCall call, std::string paceKey, double perSecond, Done done) {
  impl_->submit(std::move(call), std::move(paceKey), perSecond, std::move(done));
}

int SendLoop::unpaced(const std::string& paceKey) const { return impl_->unpaced(paceKey); }

void SendLoop::stop() { impl_->stop(); }

}  // namespace gateway::delivery
