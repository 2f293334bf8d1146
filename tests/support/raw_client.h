// One loopback TCP connection that sends exactly the bytes it is given and reads answers
// back by their Content-Length: for what HTTP client libraries rarely do (pipelining,
// 100-continue, slow readers). Header-only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

namespace gateway::testing {

// One loopback TCP connection to the gateway that sends exactly the bytes it is given.
class RawClient {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RawClient(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~RawClient() { close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // False once the server has closed (or reset) the connection.
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }

  // The next response: its head, and its Content-Length body unless `headOnly` (the answer
  // to a HEAD). Empty when none came within the timeout or the server closed first.
  std::string response(bool headOnly = false, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = Clock::now() + timeout;
    std::size_t headEnd;
    while ((headEnd = buffered_.find("\r\n\r\n")) == std::string::npos) {
      if (!readMore(deadline)) return "";
    }
    headEnd += 4;
    const std::size_t length = headOnly ? 0 : contentLength(buffered_.substr(0, headEnd));
    while (buffered_.size() < headEnd + length) {
      if (!readMore(deadline)) return "";
    }
    std::string out = buffered_.substr(0, headEnd + length);
    buffered_.erase(0, headEnd + length);
    return out;
  }

  // True when the server closes the connection within the timeout, sending nothing more.
  bool closedWithin(std::chrono::milliseconds timeout) {
    const std::size_t before = buffered_.size();
    const auto deadline = Clock::now() + timeout;
    while (readMore(deadline)) {
    }
    return closed_ && buffered_.size() == before;
  }

 private:
  static std::size_t contentLength(const std::string& head) {
    const std::size_t at = head.find("Content-Length: ");
    return at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
  }

  // False at the deadline or when the server closed.
  bool readMore(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[65536];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buffered_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  std::string buffered_;
  bool closed_ = false;
};

}  // namespace gateway::testing
