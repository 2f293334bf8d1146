// webhook_load: a load generator for durable webhook ingest of the real gateway binary.
//
// Posts unique, validly signed WhatsApp Cloud API webhooks to
// http://HOST:PORT/webhooks/whatsapp over N keep-alive connections and reports throughput,
// latency percentiles, non-200 answers, socket errors and connections that never got an answer.
//
//   closed loop (--rate 0): every connection keeps exactly one request in flight;
//                           latency = answer time - send time.
//   open loop (--rate R):   requests are scheduled at R/s in total; a request that could not be
//                           sent on time (no idle connection) waits, and its latency is measured
//                           from its *intended* send time (no coordinated omission).
//
// The mix: a fraction --inbound-share of the requests are inbound text messages (about 1.5 KB,
// shaped like tests/fixtures/whatsapp/text.json, unique wamid, one of --senders distinct wa_ids);
// the rest are outbound groups of four: an echo that records the outbound message (shaped like
// tests/fixtures/whatsapp/smb_message_echo.json), then its sent, delivered and read statuses
// (shaped like tests/fixtures/whatsapp/status_*.json).
//
// Client design: non-blocking sockets + epoll in --threads threads (default 1), hand-written
// HTTP/1.1 on the wire, bodies and HMAC-SHA256 signatures made on the fly (a few microseconds
// each), so the client stays small next to the server on a 2-core box. The client's own CPU use
// is reported so you can tell when it is the bottleneck.
//
// Only loopback targets are accepted (127.0.0.0/8, localhost, ::1).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Timespan.h>

#include "bench_util.h"

namespace {

using bench::jsonEscape;
using bench::nowNs;

using Clock = std::chrono::steady_clock;


// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/webhooks/whatsapp";
  int connections = 32;
  int threads = 1;
  double durationS = 20;
  int64_t requests = 0;  // > 0: stop after this many measured requests (bounded by --max-time-s)
  double maxTimeS = 600;
  double rate = 0;  // total requests/s; 0 = closed loop, as fast as possible
  double warmupS = 2;
  std::string secret;
  std::string phoneNumberId;
  double inboundShare = 0.25;
  int senders = 300;
  int textBytes = 520;  // inbound text length; ~1.5 KB bodies with the rest of the envelope
  int timeoutMs = 10000;
  std::string runId;
  std::string label;
  bool progress = false;
  bool noHealthCheck = false;
  bool sequentialIds = false;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr, R"(usage: webhook_load --port P --secret S --phone-number-id ID [options]

  --host H               loopback only: 127.x.x.x, localhost or ::1 (default 127.0.0.1)
  --port P               gateway port (required)
  --path PATH            webhook path (default /webhooks/whatsapp)
  --connections N        keep-alive connections (default 32, max 20000)
  --threads T            client event-loop threads (default 1, max 64)
  --duration-s S         measured phase length (default 20)
  --requests N           instead: stop after N measured requests (bounded by --max-time-s)
  --max-time-s S         hard bound on the whole run in --requests mode (default 600)
  --rate R               total requests/s, open loop; 0 = closed loop, max speed (default 0)
  --warmup-s S           unmeasured warm-up before the measured phase (default 2)
  --secret S             the channel's app_secret (required)
  --phone-number-id ID   metadata.phone_number_id = the channel's account_id (required)
  --inbound-share F      fraction of requests that are inbound messages, 0..1 (default 0.25;
                         the rest: per outbound message an echo + sent/delivered/read statuses)
  --senders N            distinct wa_ids for inbound messages (default 300)
  --text-bytes N         inbound text body length (default 520, gives ~1.5 KB bodies)
  --timeout-ms MS        per-request timeout (default 10000)
  --run-id ID            goes into every wamid (default: random), keeps runs unique
  --label L              copied into the JSON line
  --progress             per-second progress lines on stderr
  --no-health-check      do not GET /healthz before starting
  --sequential-ids       wamids with increasing numbers instead of random-looking ones
                         (real wamids look random; this shows what index locality buys)

Output: a human summary, then one JSON line (the last line of stdout, starting with '{').
)");
  std::exit(code);
}

bool isLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

double parseDouble(const std::string& name, const char* v, double lo, double hi) {
  const auto d = bench::numberIn(v, lo, hi);
  if (!d) {
    std::fprintf(stderr, "webhook_load: %s wants a number in [%g, %g], got '%s'\n", name.c_str(), lo, hi, v);
    std::exit(2);
  }
  return *d;
}

int64_t parseInt(const std::string& name, const char* v, int64_t lo, int64_t hi) {
  const auto n = bench::integerIn(v, lo, hi);
  if (!n) {
    std::fprintf(stderr, "webhook_load: %s wants an integer in [%" PRId64 ", %" PRId64 "], got '%s'\n",
                 name.c_str(), lo, hi, v);
    std::exit(2);
  }
  return *n;
}

Options parseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "webhook_load: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") usage(0);
    else if (a == "--host") o.host = value();
    else if (a == "--port") o.port = static_cast<int>(parseInt(a, value(), 1, 65535));
    else if (a == "--path") o.path = value();
    else if (a == "--connections") o.connections = static_cast<int>(parseInt(a, value(), 1, 20000));
    else if (a == "--threads") o.threads = static_cast<int>(parseInt(a, value(), 1, 64));
    else if (a == "--duration-s") o.durationS = parseDouble(a, value(), 0.1, 86400);
    else if (a == "--requests") o.requests = parseInt(a, value(), 1, 1000000000000LL);
    else if (a == "--max-time-s") o.maxTimeS = parseDouble(a, value(), 0.1, 86400);
    else if (a == "--rate") o.rate = parseDouble(a, value(), 0, 10000000);
    else if (a == "--warmup-s") o.warmupS = parseDouble(a, value(), 0, 3600);
    else if (a == "--secret") o.secret = value();
    else if (a == "--phone-number-id") o.phoneNumberId = value();
    else if (a == "--inbound-share") o.inboundShare = parseDouble(a, value(), 0, 1);
    else if (a == "--senders") o.senders = static_cast<int>(parseInt(a, value(), 1, 999999));
    else if (a == "--text-bytes") o.textBytes = static_cast<int>(parseInt(a, value(), 1, 1000000));
    else if (a == "--timeout-ms") o.timeoutMs = static_cast<int>(parseInt(a, value(), 1, 3600000));
    else if (a == "--run-id") o.runId = value();
    else if (a == "--label") o.label = value();
    else if (a == "--progress") o.progress = true;
    else if (a == "--no-health-check") o.noHealthCheck = true;
    else if (a == "--sequential-ids") o.sequentialIds = true;
    else {
      std::fprintf(stderr, "webhook_load: unknown argument '%s' (--help)\n", a.c_str());
      std::exit(2);
    }
  }
  if (o.port == 0 || o.secret.empty() || o.phoneNumberId.empty()) {
    std::fprintf(stderr, "webhook_load: --port, --secret and --phone-number-id are required (--help)\n");
    std::exit(2);
  }
  if (!isLoopbackHost(o.host)) {
    std::fprintf(stderr, "webhook_load: refusing host '%s': only 127.x.x.x, localhost and ::1 are allowed\n",
                 o.host.c_str());
    std::exit(2);
  }
  if (o.host == "[::1]") o.host = "::1";
  for (char c : o.phoneNumberId + o.runId) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      std::fprintf(stderr, "webhook_load: --phone-number-id and --run-id take [A-Za-z0-9_-] only\n");
      std::exit(2);
    }
  }
  if (o.runId.empty()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%08x",
                  static_cast<unsigned>((static_cast<uint64_t>(nowNs()) ^ (static_cast<uint64_t>(getpid()) << 20)) &
                                        0xffffffffu));
    o.runId = buf;
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Payloads

// Which request index i is: inbound message k, or status s (outbound wamid s/3, s%3 = sent,
// delivered, read). Spread evenly: i is inbound when floor((i+1)*share) > floor(i*share).
struct Kind {
  bool inbound;
  uint64_t n;  // inbound message number, or status number
};

Kind kindOf(uint64_t i, double share) {
  const auto before = static_cast<uint64_t>(std::floor(static_cast<double>(i) * share));
  const auto after = static_cast<uint64_t>(std::floor(static_cast<double>(i + 1) * share));
  if (after > before) return {true, before};
  return {false, i - before};
}

void appendU64(std::string& s, uint64_t v, int width = 0) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%0*" PRIu64, width, v);
  s.append(buf, static_cast<std::size_t>(n));
}

class PayloadMaker {
 public:
  PayloadMaker(const Options& o, int64_t epochS) : o_(o), epochS_(epochS) {
    static const char kFiller[] =
        " Hi, is my order #4711 shipped yet? I paid on Monday and the tracking page still shows"
        " nothing, could you check with the warehouse please and tell me when it leaves.";
    while (static_cast<int>(filler_.size()) < o.textBytes) filler_ += kFiller;
    filler_.resize(static_cast<std::size_t>(o.textBytes));
  }

  // The body of request i (cleared and rewritten into out).
  void body(uint64_t i, std::string& out) const {
    out.clear();
    const Kind k = kindOf(i, o_.inboundShare);
    if (k.inbound) inbound(k.n, out);
    else status(k.n, out);
  }

 private:
  void waId(uint64_t sender, std::string& out) const {
    out += "1555";
    appendU64(out, 7000000 + sender % static_cast<uint64_t>(o_.senders), 7);
  }

  static uint64_t mix(uint64_t z) {  // splitmix64's finalizer: a bijection, so no collisions
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  void wamid(char tag, uint64_t n, std::string& out) const {
    // Shaped like the real ones: a constant base64 prefix, then bytes that look random, so
    // the store's index on the external id sees random inserts as with real traffic
    // (--sequential-ids: increasing numbers instead). Unique per run, kind and number.
    static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out += "wamid.HBgLMTU1NTAxMDAyMDEVAgASGBQ";
    if (o_.sequentialIds) {
      appendU64(out, n, 12);
    } else {
      uint64_t v = mix(n * 2 + (tag == 'I' ? 1 : 0));
      for (int i = 0; i < 11; ++i, v >>= 6) out += kB64[v & 63];
    }
    out += tag;
    out += o_.runId;
    out += "A=";
  }

  void head(std::string& out) const {
    out +=
        "{\n  \"object\": \"whatsapp_business_account\",\n  \"entry\": [\n    {\n      \"id\": \"100200300400501\",\n"
        "      \"changes\": [\n        {\n          \"value\": {\n            \"messaging_product\": \"whatsapp\",\n"
        "            \"metadata\": {\n              \"display_phone_number\": \"15550100100\",\n"
        "              \"phone_number_id\": \"";
    out += o_.phoneNumberId;
    out += "\"\n            },\n";
  }

  static void tail(std::string& out) {
    out += "          },\n          \"field\": \"messages\"\n        }\n      ]\n    }\n  ]\n}\n";
  }

  void inbound(uint64_t n, std::string& out) const {
    const uint64_t sender = n * 7919 % static_cast<uint64_t>(o_.senders);  // spread over the senders
    head(out);
    out += "            \"contacts\": [\n              {\n                \"profile\": {\n                  \"name\": \"Load Sender ";
    appendU64(out, sender);
    out += "\"\n                },\n                \"wa_id\": \"";
    waId(sender, out);
    out += "\"\n              }\n            ],\n            \"messages\": [\n              {\n                \"from\": \"";
    waId(sender, out);
    out += "\",\n                \"id\": \"";
    wamid('I', n, out);
    out += "\",\n                \"timestamp\": \"";
    appendU64(out, static_cast<uint64_t>(epochS_) + n / 1000);
    out += "\",\n                \"type\": \"text\",\n                \"text\": {\n                  \"body\": \"#";
    appendU64(out, n);
    out += filler_;
    out += "\"\n                }\n              }\n            ]\n";
    tail(out);
  }

  // Outbound traffic comes in groups of four: the outbound message itself, recorded through
  // an echo webhook (WhatsApp smb_message_echoes; with real sends the Send API result records
  // it), then its sent, delivered and read statuses. Across connections a status may still
  // overtake its echo; the gateway parks it and applies it when the echo arrives.
  void status(uint64_t s, std::string& out) const {
    const uint64_t outbound = s / 4;
    if (s % 4 == 0) return echo(outbound, out);
    statusOf(outbound, static_cast<int>(s % 4) - 1, out);
  }

  void echo(uint64_t outbound, std::string& out) const {
    head(out);
    out += "            \"message_echoes\": [\n              {\n                \"from\": \"15550100100\",\n"
           "                \"to\": \"";
    waId(outbound * 31, out);
    out += "\",\n                \"id\": \"";
    wamid('O', outbound, out);
    out += "\",\n                \"timestamp\": \"";
    appendU64(out, static_cast<uint64_t>(epochS_) + outbound / 1000);
    out += "\",\n                \"type\": \"text\",\n                \"text\": {\n                  \"body\": \"Your order #";
    appendU64(out, outbound);
    out += " has shipped and will arrive on Thursday.\"\n                }\n              }\n            ]\n";
    out += "          },\n          \"field\": \"smb_message_echoes\"\n        }\n      ]\n    }\n  ]\n}\n";
  }

  void statusOf(uint64_t outbound, int which, std::string& out) const {
    static const char* kStatus[3] = {"sent", "delivered", "read"};
    head(out);
    out += "            \"statuses\": [\n              {\n                \"id\": \"";
    wamid('O', outbound, out);
    out += "\",\n                \"status\": \"";
    out += kStatus[which];
    out += "\",\n                \"timestamp\": \"";
    appendU64(out, static_cast<uint64_t>(epochS_) + outbound / 1000 + static_cast<uint64_t>(which));
    out += "\",\n                \"recipient_id\": \"";
    waId(outbound * 31, out);
    out += "\"";
    if (which < 2) {
      out +=
          ",\n                \"pricing\": {\n                  \"billable\": false,\n"
          "                  \"pricing_model\": \"PMP\",\n                  \"type\": \"free_customer_service\",\n"
          "                  \"category\": \"service\"\n                }";
    }
    out += "\n              }\n            ]\n";
    tail(out);
  }

  const Options& o_;
  const int64_t epochS_;
  std::string filler_;
};

// ---------------------------------------------------------------------------------------------
// Latency histogram: exact below 256 us, then 128 sub-buckets per power of two (< 0.8 % error).

class Histogram {
 public:
  Histogram() : counts_(kBuckets, 0) {}

  void record(int64_t us) {
    if (us < 0) us = 0;
    ++counts_[static_cast<std::size_t>(index(static_cast<uint64_t>(us)))];
    ++total_;
    sum_ += static_cast<double>(us);
    max_ = std::max(max_, us);
  }

  void merge(const Histogram& h) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += h.counts_[i];
    total_ += h.total_;
    sum_ += h.sum_;
    max_ = std::max(max_, h.max_);
  }

  uint64_t total() const { return total_; }
  double meanUs() const { return total_ == 0 ? 0 : sum_ / static_cast<double>(total_); }
  int64_t maxUs() const { return max_; }

  double percentileUs(double p) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[static_cast<std::size_t>(i)];
      if (seen >= std::max<uint64_t>(rank, 1)) return std::min(static_cast<double>(max_), midpoint(i));
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr int kBuckets = 256 + 56 * 128;

  static int index(uint64_t v) {
    if (v < 256) return static_cast<int>(v);
    const int msb = 63 - __builtin_clzll(v);
    const int shift = msb - 7;
    const int i = 256 + (shift - 1) * 128 + static_cast<int>((v >> shift) - 128);
    return std::min(i, kBuckets - 1);
  }

  static double midpoint(int i) {
    if (i < 256) return i;
    const int j = i - 256;
    const int shift = j / 128 + 1;
    const uint64_t m = static_cast<uint64_t>(j % 128 + 128);
    const double lo = static_cast<double>(m << shift);
    const double hi = static_cast<double>((m + 1) << shift);
    return (lo + hi) / 2;
  }

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  double sum_ = 0;
  int64_t max_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Shared run state

struct Shared {
  Options opt;
  sockaddr_storage addr{};
  socklen_t addrLen = 0;
  int64_t startNs = 0;         // schedule origin
  int64_t measureStartNs = 0;  // warm-up ends
  int64_t measureEndNs = 0;    // duration mode: no new measured request after this
  int64_t hardEndNs = 0;       // every loop stops here, whatever happens
  std::atomic<uint64_t> nextIndex{0};        // request numbers, unique across threads
  std::atomic<int64_t> measuredIssued{0};    // --requests mode budget
  std::atomic<bool> stopIssuing{false};      // --requests budget used up
  std::atomic<uint64_t> progressAnswered{0};  // for --progress
  std::atomic<uint64_t> progressOk{0};
  std::atomic<uint64_t> progressErrors{0};
};

enum class ErrKind { kConnect, kTimeout, kReset, kEof, kParse, kCount };
const char* errName(ErrKind k) {
  switch (k) {
    case ErrKind::kConnect: return "connect";
    case ErrKind::kTimeout: return "timeout";
    case ErrKind::kReset: return "reset";
    case ErrKind::kEof: return "closed_mid_request";
    case ErrKind::kParse: return "bad_response";
    default: return "?";
  }
}

struct ThreadResult {
  Histogram latency;
  uint64_t issued = 0;    // measured requests sent (or scheduled and sent)
  uint64_t answered = 0;  // measured requests with an HTTP answer
  uint64_t ok = 0;
  std::map<int, uint64_t> non200;
  uint64_t errors[static_cast<int>(ErrKind::kCount)] = {};
  uint64_t unsent = 0;         // open loop: scheduled in the measured window, never sent
  uint64_t idleCloses = 0;     // server closed an idle keep-alive connection
  uint64_t connects = 0;       // successful TCP connects (1 per connection when all is well)
  uint64_t bodyBytes = 0;      // measured request bodies
  uint64_t inFlightAtEnd = 0;  // measured requests still unanswered at the hard end
  int64_t lastAnswerNs = 0;
  std::vector<uint64_t> answeredPerConn;  // measured answers, per connection
  std::vector<uint64_t> anyAnswerPerConn;  // answers over the whole run, per connection
};

// ---------------------------------------------------------------------------------------------
// One event-loop thread driving a share of the connections

class Worker {
 public:
  Worker(Shared& shared, int connections, double rate, int64_t epochS)
      : s_(shared), maker_(shared.opt, epochS), rate_(rate) {
    conns_.resize(static_cast<std::size_t>(connections));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      conns_[i].id = static_cast<int>(i);
      conns_[i].in.reserve(4096);
      conns_[i].out.reserve(4096);
    }
    r_.answeredPerConn.assign(conns_.size(), 0);
    r_.anyAnswerPerConn.assign(conns_.size(), 0);
    header_ = "POST " + s_.opt.path + " HTTP/1.1\r\nHost: " +
              (s_.opt.host == "::1" ? "[::1]" : s_.opt.host) + ":" + std::to_string(s_.opt.port) +
              "\r\nUser-Agent: facebookexternalua\r\nAccept: */*\r\nContent-Type: application/json\r\n"
              "X-Hub-Signature-256: sha256=";
  }

  ~Worker() {
    for (Conn& c : conns_) closeConn(c);
    if (ep_ >= 0) ::close(ep_);
  }

  ThreadResult& result() { return r_; }

  void run() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
      std::perror("epoll_create1");
      return;
    }
    nextIntendedNs_ = s_.startNs;
    intervalNs_ = rate_ > 0 ? 1e9 / rate_ : 0;
    for (Conn& c : conns_) startConnect(c, s_.startNs);

    std::vector<epoll_event> events(std::max<std::size_t>(64, conns_.size()));
    int64_t lastSweepNs = 0;
    for (;;) {
      const int64_t now = nowNs();
      if (now >= s_.hardEndNs) break;
      const bool issuing = mayIssue(now);
      if (!issuing && inFlight_ == 0) break;  // drained

      // Open loop: hand due requests to idle connections.
      if (issuing && rate_ > 0) dispatchDue(now);

      // Sweep: per-request timeouts and delayed reconnects, every 5 ms.
      if (now - lastSweepNs >= 5'000'000) {
        lastSweepNs = now;
        sweep(now);
      }

      int timeoutMs = 5;
      if (issuing && rate_ > 0 && !idle_.empty()) {
        const double wait = (static_cast<double>(nextIntendedNs_) - static_cast<double>(now)) / 1e6;
        timeoutMs = wait <= 0 ? 0 : std::min(5, static_cast<int>(std::ceil(wait)));
      }
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeoutMs);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("epoll_wait");
        break;
      }
      for (int i = 0; i < n; ++i) {
        Conn& c = conns_[events[static_cast<std::size_t>(i)].data.u32];
        onEvent(c, events[static_cast<std::size_t>(i)].events);
      }
    }

    // Whatever is still out at the end: measured ones are reported as in flight (unanswered).
    for (Conn& c : conns_) {
      if (c.busy && c.measured) ++r_.inFlightAtEnd;
      closeConn(c);
    }
    // Open loop: requests scheduled inside the measured window that were never sent.
    if (rate_ > 0 && s_.opt.requests == 0) {
      const int64_t from = std::max(nextIntendedNs_, s_.measureStartNs);
      if (from < s_.measureEndNs) {
        r_.unsent += static_cast<uint64_t>(std::ceil(static_cast<double>(s_.measureEndNs - from) / intervalNs_));
      }
    }
  }

 private:
  enum class State { kDisconnected, kConnecting, kOpen };

  struct Conn {
    int id = 0;
    int fd = -1;
    State state = State::kDisconnected;
    bool busy = false;      // a request is in flight
    bool measured = false;  // the in-flight request counts
    bool wantOut = false;   // EPOLLOUT registered
    std::string out;
    std::size_t outOff = 0;
    std::string in;
    int64_t startNs = 0;     // latency origin (send time, or intended time in open loop)
    int64_t deadlineNs = 0;  // request timeout
    int64_t reconnectAtNs = 0;
    int connectFailures = 0;
  };

  // May a new request start now?
  bool mayIssue(int64_t now) const {
    if (s_.stopIssuing.load(std::memory_order_relaxed)) return false;
    if (s_.opt.requests == 0) {
      // Open loop: what was scheduled inside the window may still go out just after it (the
      // event loop wakes at 1 ms granularity), but a backlog is not worked off afterwards.
      if (rate_ > 0) return nextIntendedNs_ < s_.measureEndNs && now < s_.measureEndNs + 100'000'000;
      if (now >= s_.measureEndNs) return false;
    }
    return now < s_.hardEndNs;
  }

  void closeConn(Conn& c) {
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
    }
    c.fd = -1;
    c.state = State::kDisconnected;
    c.wantOut = false;
    c.in.clear();
    removeIdle(c);
  }

  void removeIdle(Conn& c) {
    auto it = std::find(idle_.begin(), idle_.end(), c.id);
    if (it != idle_.end()) idle_.erase(it);
  }

  void setInterest(Conn& c, bool wantOut) {
    if (c.wantOut == wantOut) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (wantOut ? EPOLLOUT : 0u);
    ev.data.u32 = static_cast<uint32_t>(c.id);
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.wantOut = wantOut;
  }

  void startConnect(Conn& c, int64_t now) {
    c.fd = ::socket(s_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      failConnect(c, now);
      return;
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int rc = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&s_.addr), s_.addrLen);
    if (rc != 0 && errno != EINPROGRESS) {
      failConnect(c, now);
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u32 = static_cast<uint32_t>(c.id);
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    c.wantOut = true;
    c.state = State::kConnecting;
    c.reconnectAtNs = 0;
    c.deadlineNs = now + static_cast<int64_t>(s_.opt.timeoutMs) * 1'000'000;  // connect timeout too
  }

  void failConnect(Conn& c, int64_t now) {
    closeConn(c);
    ++c.connectFailures;
    countError(ErrKind::kConnect, now >= s_.measureStartNs);
    // Back off 10 ms, doubling to 1 s; the sweep reconnects.
    const int64_t backoff = std::min<int64_t>(1'000'000'000, 10'000'000LL << std::min(c.connectFailures, 7));
    c.reconnectAtNs = now + backoff;
  }

  void countError(ErrKind k, bool measured) {
    if (measured) ++r_.errors[static_cast<int>(k)];
    s_.progressErrors.fetch_add(1, std::memory_order_relaxed);
  }

  void onConnected(Conn& c, int64_t now) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      failConnect(c, now);
      return;
    }
    c.state = State::kOpen;
    c.connectFailures = 0;
    ++r_.connects;
    setInterest(c, false);
    becomeIdle(c, now);
  }

  // A connection with nothing in flight: closed loop sends at once, open loop waits its turn.
  void becomeIdle(Conn& c, int64_t now) {
    c.busy = false;
    if (!mayIssue(now)) return;
    if (rate_ > 0) {
      if (nextIntendedNs_ <= now) {
        send(c, now, nextIntendedNs_);
        // Intended times from the origin, so the fractional interval never drifts.
        scheduled_ += 1;
        nextIntendedNs_ = s_.startNs + static_cast<int64_t>(static_cast<double>(scheduled_) * intervalNs_);
      } else {
        idle_.push_back(c.id);
      }
    } else {
      send(c, now, now);
    }
  }

  void dispatchDue(int64_t now) {
    // Bounded: at most one pass over the idle connections.
    std::size_t budget = idle_.size();
    while (budget-- > 0 && !idle_.empty() && nextIntendedNs_ <= now && mayIssue(now)) {
      const int id = idle_.front();
      idle_.pop_front();
      Conn& c = conns_[static_cast<std::size_t>(id)];
      if (c.state != State::kOpen || c.busy) continue;
      send(c, now, nextIntendedNs_);
      scheduled_ += 1;
      nextIntendedNs_ = s_.startNs + static_cast<int64_t>(static_cast<double>(scheduled_) * intervalNs_);
    }
  }

  void send(Conn& c, int64_t now, int64_t originNs) {
    // Is this request measured? (intended time decides in open loop)
    bool measured = originNs >= s_.measureStartNs;
    if (measured && s_.opt.requests > 0) {
      if (s_.measuredIssued.fetch_add(1, std::memory_order_relaxed) >= s_.opt.requests) {
        s_.stopIssuing.store(true, std::memory_order_relaxed);
        return;
      }
    } else if (measured && originNs >= s_.measureEndNs && s_.opt.requests == 0) {
      return;  // past the window
    }
    const uint64_t index = s_.nextIndex.fetch_add(1, std::memory_order_relaxed);
    maker_.body(index, body_);
    char sig[64];
    bench::hubSignatureHex(s_.opt.secret, body_, sig);
    c.out.clear();
    c.out += header_;
    c.out.append(sig, 64);
    c.out += "\r\nContent-Length: ";
    appendU64(c.out, body_.size());
    c.out += "\r\n\r\n";
    c.out += body_;
    c.outOff = 0;
    c.in.clear();
    c.busy = true;
    c.measured = measured;
    c.startNs = originNs;
    c.deadlineNs = now + static_cast<int64_t>(s_.opt.timeoutMs) * 1'000'000;
    ++inFlight_;
    if (measured) {
      ++r_.issued;
      r_.bodyBytes += body_.size();
    }
    flush(c, now);
  }

  void flush(Conn& c, int64_t now) {
    while (c.outOff < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.outOff, c.out.size() - c.outOff, MSG_NOSIGNAL);
      if (n > 0) {
        c.outOff += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        setInterest(c, true);
        return;
      }
      if (n < 0 && errno == EINTR) continue;
      requestFailed(c, now, ErrKind::kReset);
      return;
    }
    setInterest(c, false);
  }

  void requestFailed(Conn& c, int64_t now, ErrKind kind) {
    if (c.busy) {
      --inFlight_;
      countError(kind, c.measured);
      c.busy = false;
    }
    closeConn(c);
    c.reconnectAtNs = now;  // reconnect on the next sweep
  }

  void onEvent(Conn& c, uint32_t events) {
    const int64_t now = nowNs();
    if (c.fd < 0) return;
    if (c.state == State::kConnecting) {
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) onConnected(c, now);
      return;
    }
    if ((events & EPOLLOUT) && c.busy && c.outOff < c.out.size()) flush(c, now);
    if (c.fd < 0) return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readSome(c, now);
  }

  void readSome(Conn& c, int64_t now) {
    char buf[16384];
    for (int rounds = 0; rounds < 64; ++rounds) {  // bounded
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        if (!c.busy) continue;  // unsolicited bytes: ignore
        c.in.append(buf, static_cast<std::size_t>(n));
        if (tryComplete(c, now)) return;
        if (n < static_cast<ssize_t>(sizeof buf)) return;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0 && errno == EINTR) continue;
      // EOF or error.
      if (c.busy) {
        requestFailed(c, now, n == 0 ? ErrKind::kEof : ErrKind::kReset);
      } else {
        ++r_.idleCloses;
        closeConn(c);
        c.reconnectAtNs = now;
      }
      return;
    }
  }

  static bool startsWithNoCase(const char* p, const char* end, const char* lit) {
    for (; *lit; ++lit, ++p) {
      if (p >= end || std::tolower(static_cast<unsigned char>(*p)) != *lit) return false;
    }
    return true;
  }

  // true when the response is complete (and handled) or the connection was dropped.
  bool tryComplete(Conn& c, int64_t now) {
    const std::size_t headerEnd = c.in.find("\r\n\r\n");
    if (headerEnd == std::string::npos) {
      if (c.in.size() > 65536) {
        requestFailed(c, now, ErrKind::kParse);
        return true;
      }
      return false;
    }
    const char* p = c.in.data();
    const char* hend = p + headerEnd;
    if (c.in.size() < 12 || std::memcmp(p, "HTTP/1.", 7) != 0) {
      requestFailed(c, now, ErrKind::kParse);
      return true;
    }
    const int status = std::atoi(p + 9);
    int64_t contentLength = -1;
    bool chunked = false, close = std::memcmp(p, "HTTP/1.0", 8) == 0;
    for (const char* line = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(hend - p)));
         line != nullptr && line < hend;
         line = static_cast<const char*>(std::memchr(line + 1, '\n', static_cast<std::size_t>(hend - line - 1)))) {
      const char* h = line + 1;
      if (startsWithNoCase(h, hend, "content-length:")) {
        contentLength = std::atoll(h + 15);
      } else if (startsWithNoCase(h, hend, "transfer-encoding:")) {
        chunked = std::string(h, static_cast<std::size_t>(std::min<std::ptrdiff_t>(hend - h, 60))).find("chunked") !=
                  std::string::npos;
      } else if (startsWithNoCase(h, hend, "connection:")) {
        const std::string v(h + 11, static_cast<std::size_t>(std::min<std::ptrdiff_t>(hend - h - 11, 20)));
        if (v.find("close") != std::string::npos || v.find("Close") != std::string::npos) close = true;
        if (v.find("keep-alive") != std::string::npos || v.find("Keep-Alive") != std::string::npos) close = false;
      }
    }
    const std::size_t bodyStart = headerEnd + 4;
    if (chunked) {
      if (c.in.find("0\r\n\r\n", bodyStart) == std::string::npos) return false;  // simple terminator check
    } else if (contentLength >= 0) {
      if (c.in.size() < bodyStart + static_cast<std::size_t>(contentLength)) return false;
    } else {
      contentLength = 0;  // no length: treat as empty body, and the server will close
      close = true;
    }

    // A complete answer.
    --inFlight_;
    c.busy = false;
    ++r_.anyAnswerPerConn[static_cast<std::size_t>(c.id)];
    s_.progressAnswered.fetch_add(1, std::memory_order_relaxed);
    if (status == 200) s_.progressOk.fetch_add(1, std::memory_order_relaxed);
    if (c.measured) {
      ++r_.answered;
      ++r_.answeredPerConn[static_cast<std::size_t>(c.id)];
      if (status == 200) ++r_.ok;
      else ++r_.non200[status];
      r_.latency.record((now - c.startNs) / 1000);
      r_.lastAnswerNs = std::max(r_.lastAnswerNs, now);
    }
    c.in.clear();
    if (close) {
      closeConn(c);
      c.reconnectAtNs = now;
      return true;
    }
    becomeIdle(c, now);
    return true;
  }

  void sweep(int64_t now) {
    for (Conn& c : conns_) {
      if (c.state == State::kDisconnected) {
        if (c.reconnectAtNs != 0 && c.reconnectAtNs <= now && mayIssue(now)) startConnect(c, now);
        continue;
      }
      if (c.state == State::kConnecting && now >= c.deadlineNs) {
        failConnect(c, now);
        continue;
      }
      if (c.busy && now >= c.deadlineNs) requestFailed(c, now, ErrKind::kTimeout);
    }
  }

  Shared& s_;
  PayloadMaker maker_;
  const double rate_;  // this thread's share of --rate
  double intervalNs_ = 0;
  int64_t nextIntendedNs_ = 0;
  uint64_t scheduled_ = 0;
  std::vector<Conn> conns_;
  std::deque<int> idle_;
  int ep_ = -1;
  int64_t inFlight_ = 0;
  std::string header_;
  std::string body_;
  ThreadResult r_;
};

// ---------------------------------------------------------------------------------------------

bool resolve(const Options& o, Shared& s) {
  std::memset(&s.addr, 0, sizeof s.addr);
  if (o.host == "::1") {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&s.addr);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(o.port));
    a6->sin6_addr = in6addr_loopback;
    s.addrLen = sizeof(sockaddr_in6);
    return true;
  }
  auto* a4 = reinterpret_cast<sockaddr_in*>(&s.addr);
  a4->sin_family = AF_INET;
  a4->sin_port = htons(static_cast<uint16_t>(o.port));
  const std::string ip = o.host == "localhost" ? "127.0.0.1" : o.host;
  if (inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) != 1) return false;
  s.addrLen = sizeof(sockaddr_in);
  return true;
}

bool healthy(const Options& o) {
  try {
    Poco::Net::HTTPClientSession session(o.host == "localhost" ? "127.0.0.1" : o.host,
                                         static_cast<Poco::UInt16>(o.port));
    session.setTimeout(Poco::Timespan(3, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/healthz", Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    session.receiveResponse(response);
    return response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "webhook_load: GET /healthz failed: %s\n", e.what());
    return false;
  }
}

double cpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}


}  // namespace

int main(int argc, char** argv) {
  Shared shared;
  shared.opt = parseArgs(argc, argv);
  const Options& o = shared.opt;
  if (!resolve(o, shared)) {
    std::fprintf(stderr, "webhook_load: cannot use host %s\n", o.host.c_str());
    return 2;
  }
  if (!o.noHealthCheck && !healthy(o)) {
    std::fprintf(stderr, "webhook_load: the gateway on %s:%d is not healthy; not starting\n", o.host.c_str(), o.port);
    return 2;
  }
  // Each connection needs a descriptor.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < static_cast<rlim_t>(o.connections + 64)) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(o.connections + 64));
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  const int threads = std::min(o.threads, o.connections);
  const int64_t epochS = static_cast<int64_t>(std::time(nullptr));

  shared.startNs = nowNs() + 20'000'000;  // a moment to create threads and sockets
  shared.measureStartNs = shared.startNs + static_cast<int64_t>(o.warmupS * 1e9);
  if (o.requests > 0) {
    shared.measureEndNs = shared.startNs + static_cast<int64_t>(o.maxTimeS * 1e9);
    shared.hardEndNs = shared.measureEndNs + static_cast<int64_t>(o.timeoutMs) * 1'000'000 + 1'000'000'000;
  } else {
    shared.measureEndNs = shared.measureStartNs + static_cast<int64_t>(o.durationS * 1e9);
    shared.hardEndNs = shared.measureEndNs + static_cast<int64_t>(o.timeoutMs) * 1'000'000 + 1'000'000'000;
  }

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < threads; ++t) {
    const int n = o.connections / threads + (t < o.connections % threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(shared, n, o.rate / threads, epochS));
  }
  const double cpu0 = cpuSeconds();
  const int64_t wall0 = nowNs();
  std::vector<std::thread> pool;
  for (auto& w : workers) pool.emplace_back([&w] { w->run(); });

  std::atomic<bool> finished{false};
  std::thread progress;
  if (o.progress) {
    progress = std::thread([&] {
      uint64_t lastAnswered = 0, lastOk = 0, lastErr = 0;
      int64_t next = shared.startNs + 1'000'000'000;
      for (int tick = 1; !finished.load() && nowNs() < shared.hardEndNs + 1'000'000'000; ++tick) {
        while (!finished.load() && nowNs() < next) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (finished.load()) break;
        const uint64_t a = shared.progressAnswered.load(), ok = shared.progressOk.load(),
                       e = shared.progressErrors.load();
        std::fprintf(stderr, "[%3ds%s] answered %" PRIu64 "/s  ok %" PRIu64 "/s  errors %" PRIu64 "\n", tick,
                     next <= shared.measureStartNs ? " warm-up" : "", a - lastAnswered, ok - lastOk, e - lastErr);
        lastAnswered = a;
        lastOk = ok;
        lastErr = e;
        next += 1'000'000'000;
      }
    });
  }
  for (auto& t : pool) t.join();
  finished.store(true);
  if (progress.joinable()) progress.join();
  const double cpu = cpuSeconds() - cpu0;
  const double wall = static_cast<double>(nowNs() - wall0) / 1e9;

  // Merge.
  ThreadResult total;
  uint64_t starved = 0, starvedWholeRun = 0;
  for (auto& w : workers) {
    ThreadResult& r = w->result();
    total.latency.merge(r.latency);
    total.issued += r.issued;
    total.answered += r.answered;
    total.ok += r.ok;
    for (const auto& [k, v] : r.non200) total.non200[k] += v;
    for (int k = 0; k < static_cast<int>(ErrKind::kCount); ++k) total.errors[k] += r.errors[k];
    total.unsent += r.unsent;
    total.idleCloses += r.idleCloses;
    total.connects += r.connects;
    total.bodyBytes += r.bodyBytes;
    total.inFlightAtEnd += r.inFlightAtEnd;
    total.lastAnswerNs = std::max(total.lastAnswerNs, r.lastAnswerNs);
    for (uint64_t n : r.answeredPerConn) starved += n == 0 ? 1 : 0;
    for (uint64_t n : r.anyAnswerPerConn) starvedWholeRun += n == 0 ? 1 : 0;
  }
  uint64_t errors = 0;
  for (uint64_t e : total.errors) errors += e;
  int64_t windowEnd = o.requests > 0 ? total.lastAnswerNs : std::max(shared.measureEndNs, total.lastAnswerNs);
  const double elapsed = std::max(1e-9, static_cast<double>(windowEnd - shared.measureStartNs) / 1e9);
  const double throughput = static_cast<double>(total.answered) / elapsed;
  const double okRate = static_cast<double>(total.ok) / elapsed;
  const Histogram& h = total.latency;
  const double p50 = h.percentileUs(50) / 1000, p90 = h.percentileUs(90) / 1000, p99 = h.percentileUs(99) / 1000,
               p999 = h.percentileUs(99.9) / 1000, mx = static_cast<double>(h.maxUs()) / 1000,
               mean = h.meanUs() / 1000;
  const double avgBody = total.issued == 0 ? 0 : static_cast<double>(total.bodyBytes) / static_cast<double>(total.issued);
  const double cpuPct = 100.0 * cpu / std::max(wall, 1e-9);

  // Human summary.
  std::ostringstream non200;
  for (const auto& [k, v] : total.non200) non200 << " " << k << "x" << v;
  std::ostringstream errs;
  for (int k = 0; k < static_cast<int>(ErrKind::kCount); ++k) {
    if (total.errors[k] != 0) errs << " " << errName(static_cast<ErrKind>(k)) << "=" << total.errors[k];
  }
  std::printf("webhook_load %s%s%s: %d connections, %d thread(s), %s, %.1f s measured after %.1f s warm-up\n",
              o.host.c_str(), o.path.c_str(), o.label.empty() ? "" : (" [" + o.label + "]").c_str(),
              o.connections, threads,
              o.rate > 0 ? ("open loop at " + std::to_string(static_cast<long long>(o.rate)) + " req/s").c_str()
                         : "closed loop (max speed)",
              elapsed, o.warmupS);
  std::printf("  mix: %.0f%% inbound text (%d senders), %.0f%% statuses; avg body %.0f bytes\n",
              o.inboundShare * 100, o.senders, (1 - o.inboundShare) * 100, avgBody);
  std::printf("  requests %" PRIu64 "  answered %" PRIu64 "  ok(200) %" PRIu64 "  non-200:%s  errors %" PRIu64 "%s\n",
              total.issued, total.answered, total.ok, non200.str().empty() ? " none" : non200.str().c_str(), errors,
              errs.str().c_str());
  std::printf("  throughput %.0f req/s (ok %.0f req/s)\n", throughput, okRate);
  std::printf("  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  mean %.2f%s\n", p50, p90, p99, p999,
              mx, mean, o.rate > 0 ? "  (from intended send time)" : "");
  std::printf("  connections: %" PRIu64 " starved (no answer in the measured phase), %" PRIu64
              " never answered at all; %" PRIu64 " TCP connects, %" PRIu64 " idle closes by server\n",
              starved, starvedWholeRun, total.connects, total.idleCloses);
  if (o.rate > 0) std::printf("  open loop: %" PRIu64 " scheduled requests never sent\n", total.unsent);
  if (total.inFlightAtEnd > 0) std::printf("  %" PRIu64 " measured requests still unanswered at the hard end\n", total.inFlightAtEnd);
  std::printf("  client CPU %.1f%% of one core (%.2f s over %.1f s)\n", cpuPct, cpu, wall);

  // One JSON line.
  std::ostringstream j;
  j.setf(std::ios::fixed);
  j.precision(3);
  j << "{\"tool\":\"webhook_load\",\"label\":\"" << jsonEscape(o.label) << "\",\"mode\":\""
    << (o.rate > 0 ? "open" : "closed") << "\",\"connections\":" << o.connections << ",\"threads\":" << threads
    << ",\"rate_target\":" << o.rate << ",\"warmup_s\":" << o.warmupS << ",\"measured_s\":" << elapsed
    << ",\"inbound_share\":" << o.inboundShare << ",\"senders\":" << o.senders << ",\"avg_body_bytes\":" << avgBody
    << ",\"requests\":" << total.issued << ",\"answered\":" << total.answered << ",\"ok\":" << total.ok
    << ",\"non200\":{";
  bool first = true;
  for (const auto& [k, v] : total.non200) {
    j << (first ? "" : ",") << "\"" << k << "\":" << v;
    first = false;
  }
  j << "},\"errors\":" << errors << ",\"errors_by_kind\":{";
  first = true;
  for (int k = 0; k < static_cast<int>(ErrKind::kCount); ++k) {
    if (total.errors[k] == 0) continue;
    j << (first ? "" : ",") << "\"" << errName(static_cast<ErrKind>(k)) << "\":" << total.errors[k];
    first = false;
  }
  j << "},\"unanswered_at_end\":" << total.inFlightAtEnd << ",\"unsent\":" << total.unsent
    << ",\"throughput_rps\":" << throughput << ",\"ok_rps\":" << okRate << ",\"latency_ms\":{\"p50\":" << p50
    << ",\"p90\":" << p90 << ",\"p99\":" << p99 << ",\"p999\":" << p999 << ",\"max\":" << mx << ",\"mean\":" << mean
    << "},\"starved\":" << starved << ",\"starved_whole_run\":" << starvedWholeRun << ",\"connects\":" << total.connects
    << ",\"idle_closes\":" << total.idleCloses << ",\"client_cpu_pct\":" << cpuPct << ",\"run_id\":\""
    << jsonEscape(o.runId) << "\",\"wamids\":\"" << (o.sequentialIds ? "sequential" : "random") << "\"}";
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  return 0;
}
