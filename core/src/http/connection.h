// Our HTTP/1.1 connection on Poco's TCPServer: per connection, one pooled thread runs a
// blocking read loop over its own buffer, the RequestParser, and one send per answer.
// Poco's HTTPServer did a poll, getpeername and getsockname per request and sent the
// headers and the body apart; for small requests those syscalls were most of the cost.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <Poco/Net/TCPServerConnectionFactory.h>

#include "http/server.h"

namespace gateway::http {

// The live connections and whether each is in the middle of a request, so a stop can end
// the idle keep-alives at once and give the busy ones the grace to answer.
class ConnectionRegistry {
 public:
  struct Entry {
    int fd;
    bool busy;
  };
  using Slot = std::list<Entry>::iterator;

  // A new connection, idle; none once stopping (the connection just closes).
  std::optional<Slot> add(int fd);
  // Before the connection's socket is closed, so stop() never touches a reused fd.
  void remove(Slot slot);
  // Before waiting for the next request; false once stopping: close instead of waiting.
  bool setIdle(Slot slot);
  // When a request's first bytes have arrived.
  void setBusy(Slot slot);
  bool stopping() const { return stopping_; }

  // Idle connections see end-of-stream now; busy ones finish their request, then close.
  void stop();
  // False when connections are still open at the deadline.
  bool waitUntilEmpty(std::chrono::steady_clock::time_point deadline);
  // Ends every connection left, busy or not.
  void shutdownAll();

 private:
  std::mutex mutex_;
  std::condition_variable emptied_;
  std::list<Entry> entries_;
  std::atomic<bool> stopping_{false};  // written under mutex_, read by answers without it
};

// What every connection uses; the Server owns all of it and outlives its connections.
struct ConnectionContext {
  const Router& router;
  Metrics& metrics;
  const ServerOptions& options;
  ConnectionRegistry& registry;
};

Poco::Net::TCPServerConnectionFactory::Ptr makeConnectionFactory(ConnectionContext context);

// Appends one answer's bytes: status line, Content-Type, Content-Length, Connection (unless
// `connection` is empty), the handler's headers, then the body unless `withBody` is false
// (HEAD). A 204 has neither Content-Length nor body.
void appendResponse(std::string& out, const Response& response, std::string_view connection, bool withBody);

}  // namespace gateway::http
