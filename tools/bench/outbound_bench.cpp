// outbound_bench: outbound send throughput and scheduler lateness of the real gateway binary.
//
// It carries its own minimal fake Graph API (a single-threaded epoll HTTP/1.1 server on
// 127.0.0.1, keep-alive) that answers every POST .../messages with a WhatsApp-shaped success
// {"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.B<n>"}]}
// and counts what it received, per request number, so a message sent twice is seen.
//
// Modes
//   sends      opens --conversations WhatsApp conversations (one fresh, signed inbound webhook
//              per person, timestamp now, so the 24 h window is open), then submits --messages
//              text sends spread round-robin over them through POST /v1/conversations/{id}/messages
//              on --connections keep-alive connections, closed loop, as fast as possible.
//              Measures (i) acceptance: 202/s and latency; (ii) delivery: from the first 202
//              until the fake Graph has received all accepted messages (sends/s end to end),
//              then until the database shows them all `sent`; per-message accept->Graph
//              latency; duplicates (distinct bodies at the fake); the gateway's per-thread CPU.
//   schedules  starts the gateway (it migrates the DB), opens conversations, stops it,
//              bulk-inserts --pending rows into scheduled_messages (one transaction, one
//              prepared statement): all far in the future except --due rows spread evenly over
//              a --window-s window starting --delay-s after the insert; starts the gateway
//              again, waits for the window to pass and the due rows to fire, and reports the
//              lateness updated_at - send_at (p50/p90/p99/max), how many fired, that no
//              far-future row fired, and the gateway's RSS (VmRSS/VmHWM) with that many pending.
//   fake-graph only the fake Graph API, until SIGINT/SIGTERM or --max-time-s (for manual runs).
//
// The gateway: with --gateway BIN --config FILE the bench starts it itself (child process,
// env OBENCH_GRAPH_URL=http://127.0.0.1:<fake port> so the config can say
// graph_base_url: "${OBENCH_GRAPH_URL}"), reads its port from its log, and stops it with
// SIGTERM (by pid; SIGKILL after 30 s). It dies with the bench (PR_SET_PDEATHSIG).
// In `sends` mode --port P instead targets a gateway already running, whose config points at
// --graph-port (fixed then).
//
// Only loopback is used. Every wait is bounded.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <sqlite3.h>

#include "bench_util.h"

namespace {

using bench::jsonEscape;
using bench::nowNs;

using Clock = std::chrono::steady_clock;

int64_t epochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
void sleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::atomic<bool> gInterrupted{false};
void onSignal(int) { gInterrupted.store(true); }

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "outbound_bench: %s\n", why.c_str());
  std::exit(1);
}

void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "outbound_bench: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
}

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string mode;
  // gateway
  std::string gatewayBin;
  std::string config;
  std::string gatewayLog;
  int port = 0;  // an already running gateway (sends mode)
  std::string db;
  std::string token = "bench-api-token";
  std::string secret;
  std::string phoneNumberId;
  int graphPort = 0;
  int64_t graphLatencyMs = 0;  // the fake Graph answers this long after a request
  // sends
  int conversations = 1000;
  int64_t messages = 30000;
  int connections = 32;
  bool idempotencyKeys = false;
  double timeoutS = 300;  // bound on each phase
  // schedules
  int64_t pending = 100000;
  int64_t due = 2000;
  double delayS = 10;
  double windowS = 20;
  double maxTimeS = 3600;  // fake-graph mode
  std::string label;
  std::string runId;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr, R"(usage: outbound_bench MODE [options]

MODE: sends | schedules | fake-graph

Gateway (the bench starts and stops it):
  --gateway BIN            the gateway binary (required for schedules)
  --config FILE            its config; graph_base_url may say "${OBENCH_GRAPH_URL}"
  --gateway-log FILE       the gateway's stdout/stderr (default /dev/null)
  --db PATH                its SQLite database (required for schedules; sends: checks `sent` there)
Or, sends mode only, a gateway already running:
  --port P                 its port; its config must point at --graph-port
Common:
  --graph-port P           fake Graph API port (default 0 = any free one)
  --graph-latency-ms L     the fake Graph answers L ms after each request (default 0), as the
                           real one does after 100-300 ms
  --token T                API token (default bench-api-token)
  --secret S               the WhatsApp channel's app_secret (required)
  --phone-number-id ID     the WhatsApp channel's account_id (required)
  --conversations C        distinct WhatsApp people / conversations (default 1000; schedules 20)
  --timeout-s S            bound on each waiting phase (default 300)
  --label L                copied into the JSON line
sends:
  --messages N             text sends (default 30000)
  --connections K          keep-alive API connections (default 32)
  --idempotency-keys       send an Idempotency-Key header with each send
schedules:
  --pending P              rows inserted into scheduled_messages (default 100000)
  --due D                  of which fire in the window (default 2000)
  --delay-s S              window starts S after the insert (default 10)
  --window-s W             window length (default 20)
fake-graph:
  --max-time-s S           stop after S (default 3600)

Output: progress on stderr; a human summary, then one JSON line starting with '{' on stdout.
)");
  std::exit(code);
}

double parseDouble(const std::string& name, const char* v, double lo, double hi) {
  const auto d = bench::numberIn(v, lo, hi);
  if (!d) die(name + " wants a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v + "'");
  return *d;
}

int64_t parseInt(const std::string& name, const char* v, int64_t lo, int64_t hi) {
  const auto n = bench::integerIn(v, lo, hi);
  if (!n) die(name + " wants an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v + "'");
  return *n;
}

Options parseArgs(int argc, char** argv) {
  Options o;
  if (argc < 2) usage(2);
  o.mode = argv[1];
  if (o.mode == "--help" || o.mode == "-h") usage(0);
  if (o.mode != "sends" && o.mode != "schedules" && o.mode != "fake-graph") usage(2);
  bool conversationsGiven = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") usage(0);
    else if (a == "--gateway") o.gatewayBin = value();
    else if (a == "--config") o.config = value();
    else if (a == "--gateway-log") o.gatewayLog = value();
    else if (a == "--port") o.port = static_cast<int>(parseInt(a, value(), 1, 65535));
    else if (a == "--db") o.db = value();
    else if (a == "--token") o.token = value();
    else if (a == "--secret") o.secret = value();
    else if (a == "--phone-number-id") o.phoneNumberId = value();
    else if (a == "--graph-port") o.graphPort = static_cast<int>(parseInt(a, value(), 0, 65535));
    else if (a == "--conversations") o.conversations = static_cast<int>(parseInt(a, value(), 1, 100000)), conversationsGiven = true;
    else if (a == "--messages") o.messages = parseInt(a, value(), 1, 100000000);
    else if (a == "--connections") o.connections = static_cast<int>(parseInt(a, value(), 1, 4096));
    else if (a == "--idempotency-keys") o.idempotencyKeys = true;
    else if (a == "--timeout-s") o.timeoutS = parseDouble(a, value(), 1, 86400);
    else if (a == "--pending") o.pending = parseInt(a, value(), 1, 100000000);
    else if (a == "--due") o.due = parseInt(a, value(), 1, 10000000);
    else if (a == "--delay-s") o.delayS = parseDouble(a, value(), 1, 3600);
    else if (a == "--window-s") o.windowS = parseDouble(a, value(), 0.1, 3600);
    else if (a == "--max-time-s") o.maxTimeS = parseDouble(a, value(), 1, 86400);
    else if (a == "--graph-latency-ms") o.graphLatencyMs = parseInt(a, value(), 0, 60000);
    else if (a == "--label") o.label = value();
    else die("unknown argument '" + a + "' (--help)");
  }
  if (o.mode == "schedules" && !conversationsGiven) o.conversations = 20;
  if (o.mode != "fake-graph") {
    if (o.secret.empty() || o.phoneNumberId.empty()) die("--secret and --phone-number-id are required (--help)");
    if (o.gatewayBin.empty() && o.port == 0) die("--gateway BIN --config FILE, or --port P, is required");
    if (!o.gatewayBin.empty() && o.config.empty()) die("--gateway needs --config");
    for (char c : o.phoneNumberId) {
      if (!std::isdigit(static_cast<unsigned char>(c))) die("--phone-number-id takes digits only");
    }
  }
  if (o.mode == "schedules") {
    if (o.gatewayBin.empty() || o.db.empty()) die("schedules needs --gateway, --config and --db");
    if (o.due > o.pending) die("--due must not exceed --pending");
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06x", static_cast<unsigned>((nowNs() ^ (static_cast<int64_t>(getpid()) << 16)) & 0xffffff));
  o.runId = buf;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

void appendU64(std::string& s, uint64_t v) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%" PRIu64, v);
  s.append(buf, static_cast<std::size_t>(n));
}


std::string hubSignature(const std::string& secret, const std::string& body) {
  char hex[64];
  bench::hubSignatureHex(secret, body, hex);
  return "sha256=" + std::string(hex, sizeof hex);
}

// Exact percentiles of a (small enough) sample.
struct Stats {
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
  std::size_t n = 0;
};
Stats statsOf(std::vector<double> v) {
  Stats s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double p) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
  };
  s.p50 = at(50);
  s.p90 = at(90);
  s.p99 = at(99);
  s.max = v.back();
  double sum = 0;
  for (double d : v) sum += d;
  s.mean = sum / static_cast<double>(v.size());
  return s;
}
std::string statsJson(const Stats& s) {
  char b[256];
  std::snprintf(b, sizeof b, "{\"n\":%zu,\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"max\":%.2f,\"mean\":%.2f}", s.n, s.p50,
                s.p90, s.p99, s.max, s.mean);
  return b;
}
std::string statsText(const Stats& s) {
  char b[256];
  std::snprintf(b, sizeof b, "p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  mean %.2f (n=%zu)", s.p50, s.p90, s.p99, s.max,
                s.mean, s.n);
  return b;
}

std::string loadAvg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// kB from /proc/PID/status, or -1.
int64_t procStatusKb(pid_t pid, const char* key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::size_t klen = std::strlen(key);
  while (std::getline(f, line)) {
    if (line.compare(0, klen, key) == 0 && line.size() > klen && line[klen] == ':') {
      return std::atoll(line.c_str() + klen + 1);
    }
  }
  return -1;
}

int64_t fileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

double cpuSecondsSelf() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// Per-thread CPU of the gateway, from /proc/PID/task/TID/{schedstat,comm,io}

struct ThreadTick {
  std::string comm;
  int64_t cpuNs = 0, rqNs = 0, wchar = 0;
};
using ThreadTicks = std::map<int, ThreadTick>;

ThreadTicks threadTicks(pid_t pid) {
  ThreadTicks out;
  if (pid <= 0) return out;
  const std::string base = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(base.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const std::string dir = base + "/" + e->d_name;
    ThreadTick t;
    {
      std::ifstream f(dir + "/schedstat");
      if (!(f >> t.cpuNs >> t.rqNs)) continue;
    }
    {
      std::ifstream f(dir + "/comm");
      std::getline(f, t.comm);
    }
    {
      std::ifstream f(dir + "/io");
      std::string k;
      int64_t v = 0;
      while (f >> k >> v) {
        if (k == "wchar:") t.wchar = v;
      }
    }
    out[std::atoi(e->d_name)] = t;
  }
  closedir(d);
  return out;
}

struct ThreadReport {
  std::string text;
  std::string json;
};

ThreadReport reportThreads(pid_t pid, const ThreadTicks& before, const ThreadTicks& after, double secs) {
  struct Row {
    int tid;
    std::string comm;
    double cpu, rq, mbs;
  };
  std::vector<Row> rows;
  for (const auto& [tid, a] : after) {
    const auto it = before.find(tid);
    const ThreadTick b = it == before.end() ? ThreadTick{} : it->second;
    rows.push_back({tid, a.comm, 100.0 * static_cast<double>(a.cpuNs - b.cpuNs) / 1e9 / secs,
                    100.0 * static_cast<double>(a.rqNs - b.rqNs) / 1e9 / secs,
                    static_cast<double>(a.wchar - b.wchar) / secs / 1e6});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) { return x.cpu > y.cpu; });
  // By thread name (Poco HTTP workers and delivery workers are unnamed: they show as the
  // process name; the writer is sqlite-writer).
  std::map<std::string, std::tuple<int, double, double, double>> byName;
  double total = 0, totalRq = 0;
  for (const Row& r : rows) {
    const std::string name = r.tid == pid ? r.comm + "(main)" : r.comm;
    auto& g = byName[name];
    std::get<0>(g) += 1;
    std::get<1>(g) += r.cpu;
    std::get<2>(g) += r.rq;
    std::get<3>(g) += r.mbs;
    total += r.cpu;
    totalRq += r.rq;
  }
  std::ostringstream t, j;
  char b[256];
  std::snprintf(b, sizeof b, "  gateway threads over %.1f s (100%% = one core): %zu threads, CPU %.0f%%, runnable but waiting for a CPU %.0f%%\n",
                secs, rows.size(), total, totalRq);
  t << b;
  t << "    by name (threads, CPU%, waiting-for-CPU%, write MB/s):\n";
  j.setf(std::ios::fixed);
  j.precision(1);
  j << "{\"seconds\":" << secs << ",\"cpu_pct\":" << total << ",\"runqueue_pct\":" << totalRq << ",\"by_name\":{";
  bool first = true;
  for (const auto& [name, g] : byName) {
    std::snprintf(b, sizeof b, "      %-18s %4d %7.1f%% %7.1f%% %8.2f\n", name.c_str(), std::get<0>(g), std::get<1>(g),
                  std::get<2>(g), std::get<3>(g));
    t << b;
    j << (first ? "" : ",") << "\"" << jsonEscape(name) << "\":{\"threads\":" << std::get<0>(g)
      << ",\"cpu_pct\":" << std::get<1>(g) << ",\"runqueue_pct\":" << std::get<2>(g) << ",\"write_mbs\":" << std::get<3>(g)
      << "}";
    first = false;
  }
  j << "},\"top\":[";
  t << "    busiest threads (tid name CPU% waiting-for-CPU% write-MB/s):\n";
  for (std::size_t i = 0; i < rows.size() && i < 8; ++i) {
    std::snprintf(b, sizeof b, "      %-8d %-16s %6.1f%% %6.1f%% %8.2f\n", rows[i].tid, rows[i].comm.c_str(), rows[i].cpu,
                  rows[i].rq, rows[i].mbs);
    t << b;
    j << (i ? "," : "") << "{\"tid\":" << rows[i].tid << ",\"name\":\"" << jsonEscape(rows[i].comm)
      << "\",\"cpu_pct\":" << rows[i].cpu << ",\"runqueue_pct\":" << rows[i].rq << "}";
  }
  j << "]}";
  return {t.str(), j.str()};
}

// Samples one named thread's scheduler state every 10 ms: R (on a CPU or runnable), D (disk
// wait: fsync), S (sleeping: waiting for work, or for a lock).
class StateSampler {
 public:
  StateSampler(pid_t pid, const std::string& comm) {
    if (pid <= 0) return;
    for (const auto& [tid, t] : threadTicks(pid)) {
      if (t.comm == comm) path_ = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat";
    }
    if (path_.empty()) return;
    thread_ = std::thread([this] {
      for (int i = 0; i < 360000 && !stop_.load(); ++i) {
        std::ifstream f(path_);
        std::string line;
        if (!std::getline(f, line)) break;
        const auto close = line.rfind(')');
        if (close == std::string::npos || close + 2 >= line.size()) break;
        const char st = line[close + 2];
        if (st == 'R') ++r_;
        else if (st == 'D') ++d_;
        else if (st == 'S') ++s_;
        else ++o_;
        sleepMs(10);
      }
    });
  }
  ~StateSampler() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  std::string text() const {
    const long n = std::max(1L, r_ + d_ + s_ + o_);
    char b[200];
    std::snprintf(b, sizeof b, "R(on CPU or runnable) %ld%%  D(disk wait, fsync) %ld%%  S(sleeping/waiting) %ld%%  (%ld samples)",
                  100 * r_ / n, 100 * d_ / n, 100 * s_ / n, n);
    return path_.empty() ? "not found" : b;
  }
  std::string json() const {
    const long n = std::max(1L, r_ + d_ + s_ + o_);
    char b[160];
    std::snprintf(b, sizeof b, "{\"R_pct\":%ld,\"D_pct\":%ld,\"S_pct\":%ld,\"samples\":%ld}", 100 * r_ / n, 100 * d_ / n,
                  100 * s_ / n, n);
    return path_.empty() ? "null" : b;
  }

 private:
  std::string path_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  long r_ = 0, d_ = 0, s_ = 0, o_ = 0;
};

// Whole-process CPU seconds (utime + stime) from /proc/PID/stat.
double processCpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) {
      stime = std::atoll(field.c_str());
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// ---------------------------------------------------------------------------------------------
// The fake Graph API: one epoll thread, keep-alive, answers POST .../messages with a WhatsApp
// success. Counts each request by the number in its "obench-<run>-<n>" marker.

class FakeGraph {
 public:
  FakeGraph(const std::string& runId, std::size_t capacity, int64_t latencyMs = 0)
      : marker_("obench-" + runId + "-"), counts_(capacity), latencyNs_(latencyMs * 1000000) {
    for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
    firstNs_.assign(capacity, 0);
    firstEpochMs_.assign(capacity, 0);
  }
  ~FakeGraph() { stop(); }

  void start(int port) {
    listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listenFd_ < 0) die("fake graph: socket failed");
    int one = 1;
    setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("fake graph: bind failed: " + std::string(strerror(errno)));
    if (::listen(listenFd_, 1024) != 0) die("fake graph: listen failed");
    socklen_t len = sizeof a;
    getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenTag;
    epoll_ctl(ep_, EPOLL_CTL_ADD, listenFd_, &ev);
    thread_ = std::thread([this] { loop(); });
  }

  void stop() {
    if (!thread_.joinable()) return;
    stopping_.store(true);
    thread_.join();
    for (auto& [fd, c] : conns_) ::close(fd);
    conns_.clear();
    if (listenFd_ >= 0) ::close(listenFd_);
    if (ep_ >= 0) ::close(ep_);
    listenFd_ = ep_ = -1;
  }

  int port() const { return port_; }
  uint64_t requests() const { return requests_.load(std::memory_order_acquire); }
  uint64_t marked() const { return marked_.load(std::memory_order_acquire); }
  int64_t lastMarkedNs() const { return lastMarkedNs_.load(std::memory_order_acquire); }
  uint64_t connectionsAccepted() const { return accepted_.load(); }

  // After the traffic stopped (or racing it, for progress only).
  struct Tally {
    uint64_t distinctMarked = 0;  // marker numbers seen at least once
    uint64_t duplicates = 0;      // extra receptions of a number
    uint64_t unmarked = 0;        // requests without our marker
    uint64_t distinctBodies = 0;
    uint64_t nonMessages = 0;     // not POST .../messages
  };
  Tally tally() {
    std::lock_guard<std::mutex> lock(mutex_);
    Tally t;
    for (const auto& c : counts_) {
      const uint32_t n = c.load(std::memory_order_relaxed);
      if (n > 0) ++t.distinctMarked;
      if (n > 1) t.duplicates += n - 1;
    }
    t.unmarked = unmarked_;
    t.distinctBodies = bodies_.size();
    t.nonMessages = nonMessages_;
    return t;
  }
  // First reception time (steady ns) of marker n, 0 if never.
  int64_t firstNs(std::size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    return n < firstNs_.size() ? firstNs_[n] : 0;
  }
  // The same as wall-clock epoch ms.
  int64_t firstEpochMs(std::size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    return n < firstEpochMs_.size() ? firstEpochMs_[n] : 0;
  }

 private:
  static constexpr uint64_t kListenTag = ~uint64_t{0};
  struct Conn {
    uint64_t id = 0;  // tells a reused fd apart
    std::string in;
    std::string out;
    std::size_t outOff = 0;
    bool wantOut = false;
  };

  void loop() {
    std::vector<epoll_event> events(256);
    while (!stopping_.load(std::memory_order_relaxed)) {
      int waitMs = 50;
      if (!delayed_.empty()) {
        waitMs = static_cast<int>(std::clamp<int64_t>((delayed_.front().dueNs - nowNs() + 999999) / 1000000, 0, 50));
      }
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), waitMs);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == kListenTag) {
          acceptAll();
          continue;
        }
        const int fd = static_cast<int>(events[i].data.u64);
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        if (!onEvent(fd, it->second, events[i].events)) closeConn(it);
      }
      releaseDelayed();
    }
  }

  void closeConn(std::map<int, Conn>::iterator it) {
    epoll_ctl(ep_, EPOLL_CTL_DEL, it->first, nullptr);
    ::close(it->first);
    conns_.erase(it);
  }

  // Answers whose latency has passed go out (in order: the latency is the same for all).
  void releaseDelayed() {
    const int64_t now = nowNs();
    while (!delayed_.empty() && delayed_.front().dueNs <= now) {
      Delayed d = std::move(delayed_.front());
      delayed_.pop_front();
      auto it = conns_.find(d.fd);
      if (it == conns_.end() || it->second.id != d.connId) continue;  // closed meanwhile
      it->second.out += d.answer;
      if (!flush(d.fd, it->second)) closeConn(it);
    }
  }

  void acceptAll() {
    for (int k = 0; k < 1024; ++k) {
      const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = static_cast<uint64_t>(fd);
      epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      Conn conn;
      conn.id = accepted_.fetch_add(1) + 1;
      conns_[fd] = std::move(conn);
    }
  }

  // false: close the connection.
  bool onEvent(int fd, Conn& c, uint32_t ev) {
    if (ev & EPOLLIN) {
      char buf[65536];
      for (int rounds = 0; rounds < 64; ++rounds) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
          c.in.append(buf, static_cast<std::size_t>(n));
          if (n < static_cast<ssize_t>(sizeof buf)) break;
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0 && errno == EINTR) continue;
        return false;  // EOF or error
      }
      if (!handleRequests(fd, c)) return false;
    } else if (ev & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
      return false;
    }
    return flush(fd, c);
  }

  bool flush(int fd, Conn& c) {
    while (c.outOff < c.out.size()) {
      const ssize_t n = ::send(fd, c.out.data() + c.outOff, c.out.size() - c.outOff, MSG_NOSIGNAL);
      if (n > 0) {
        c.outOff += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    if (c.outOff == c.out.size()) {
      c.out.clear();
      c.outOff = 0;
    }
    const bool want = !c.out.empty();
    if (want != c.wantOut) {
      epoll_event e{};
      e.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u);
      e.data.u64 = static_cast<uint64_t>(fd);
      epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &e);
      c.wantOut = want;
    }
    return true;
  }

  static bool headerIs(std::string_view line, const char* name) {
    const std::size_t n = std::strlen(name);
    if (line.size() < n) return false;
    for (std::size_t i = 0; i < n; ++i) {
      if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
    }
    return true;
  }

  // Answers every complete request in c.in (pipelining allowed); false on a bad request.
  bool handleRequests(int fd, Conn& c) {
    std::size_t pos = 0;
    // With a latency, answers wait in delayed_ (the connection's next request cannot come
    // before: the gateway does not pipeline).
    std::string* out = &c.out;
    std::string later;
    if (latencyNs_ > 0) out = &later;
    for (;;) {
      const std::size_t hend = c.in.find("\r\n\r\n", pos);
      if (hend == std::string::npos) break;
      const std::string_view head(c.in.data() + pos, hend - pos);
      int64_t contentLength = 0;
      bool chunked = false;
      std::size_t ls = head.find("\r\n");
      while (ls != std::string_view::npos && ls < head.size()) {
        const std::size_t le = head.find("\r\n", ls + 2);
        const std::string_view line = head.substr(ls + 2, (le == std::string_view::npos ? head.size() : le) - ls - 2);
        if (headerIs(line, "content-length:")) contentLength = std::atoll(std::string(line.substr(15)).c_str());
        if (headerIs(line, "transfer-encoding:")) chunked = true;
        ls = le;
      }
      if (chunked || contentLength < 0) return false;  // the gateway sends Content-Length
      const std::size_t bodyStart = hend + 4;
      if (c.in.size() < bodyStart + static_cast<std::size_t>(contentLength)) break;
      const std::string_view body(c.in.data() + bodyStart, static_cast<std::size_t>(contentLength));
      const std::size_t sp = head.find(' ');
      const std::string_view method = head.substr(0, sp);
      const std::size_t sp2 = head.find(' ', sp + 1);
      const std::string_view path = head.substr(sp + 1, sp2 - sp - 1);
      const int64_t now = nowNs();
      const uint64_t n = requests_.fetch_add(1, std::memory_order_acq_rel) + 1;
      if (method == "POST" && path.size() >= 9 && path.substr(path.size() - 9) == "/messages") {
        record(body, now);
        std::string answer = R"({"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.B)";
        appendU64(answer, n);
        answer += "\"}]}";
        *out += "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: Keep-Alive\r\nContent-Length: ";
        appendU64(*out, answer.size());
        *out += "\r\n\r\n";
        *out += answer;
      } else {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          ++nonMessages_;
        }
        static const std::string kNotFound =
            R"({"error":{"message":"Unknown path components","type":"OAuthException","code":2500,"fbtrace_id":"OBENCH"}})";
        *out += "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nConnection: Keep-Alive\r\nContent-Length: ";
        appendU64(*out, kNotFound.size());
        *out += "\r\n\r\n";
        *out += kNotFound;
      }
      pos = bodyStart + static_cast<std::size_t>(contentLength);
    }
    if (pos > 0) c.in.erase(0, pos);
    if (!later.empty()) delayed_.push_back(Delayed{nowNs() + latencyNs_, fd, c.id, std::move(later)});
    return c.in.size() < (1u << 20);
  }

  void record(std::string_view body, int64_t now) {
    std::lock_guard<std::mutex> lock(mutex_);
    bodies_.insert(std::hash<std::string_view>{}(body));
    const std::size_t at = body.find(marker_);
    if (at == std::string_view::npos) {
      ++unmarked_;
      return;
    }
    uint64_t v = 0;
    std::size_t i = at + marker_.size();
    bool digits = false;
    for (; i < body.size() && body[i] >= '0' && body[i] <= '9'; ++i) {
      v = v * 10 + static_cast<uint64_t>(body[i] - '0');
      digits = true;
    }
    if (!digits || v >= counts_.size()) {
      ++unmarked_;
      return;
    }
    if (counts_[v].fetch_add(1, std::memory_order_relaxed) == 0) {
      firstNs_[v] = now;
      firstEpochMs_[v] = epochMs();
      marked_.fetch_add(1, std::memory_order_release);
      lastMarkedNs_.store(now, std::memory_order_release);
    }
  }

  struct Delayed {
    int64_t dueNs;
    int fd;
    uint64_t connId;
    std::string answer;
  };

  const std::string marker_;
  std::vector<std::atomic<uint32_t>> counts_;
  const int64_t latencyNs_;
  std::deque<Delayed> delayed_;
  std::vector<int64_t> firstNs_;
  std::vector<int64_t> firstEpochMs_;
  std::unordered_set<std::size_t> bodies_;
  uint64_t unmarked_ = 0;
  uint64_t nonMessages_ = 0;
  std::mutex mutex_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> marked_{0};  // distinct marker numbers received
  std::atomic<int64_t> lastMarkedNs_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<bool> stopping_{false};
  std::map<int, Conn> conns_;
  std::thread thread_;
  int listenFd_ = -1;
  int ep_ = -1;
  int port_ = 0;
};

// ---------------------------------------------------------------------------------------------
// A closed-loop HTTP/1.1 client: K keep-alive connections in one epoll thread, request i built
// by `make`, its answer given to `done` (status -1: no answer: reset, timeout or bad answer).

class HttpLoad {
 public:
  using Make = std::function<void(uint64_t i, std::string& wire)>;
  using Done = std::function<void(uint64_t i, int status, std::string_view body, int64_t sentNs, int64_t nowNs)>;

  HttpLoad(int port, int connections, int64_t timeoutNs) : timeoutNs_(timeoutNs) {
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(static_cast<uint16_t>(port));
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    conns_.resize(static_cast<std::size_t>(connections));
  }

  struct Result {
    uint64_t issued = 0, answered = 0, failed = 0, connects = 0, connectErrors = 0;
    bool hitDeadline = false;
  };

  Result run(uint64_t count, const Make& make, const Done& done, int64_t deadlineNs) {
    count_ = count;
    make_ = &make;
    done_ = &done;
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    const int64_t start = nowNs();
    for (std::size_t i = 0; i < conns_.size(); ++i) connect(i, start);
    std::vector<epoll_event> events(conns_.size() + 16);
    int64_t lastSweep = 0;
    while (true) {
      const int64_t now = nowNs();
      if (next_ >= count_ && inFlight_ == 0) break;
      if (now >= deadlineNs || gInterrupted.load()) {
        r_.hitDeadline = true;
        break;
      }
      if (now - lastSweep > 5'000'000) {
        lastSweep = now;
        sweep(now);
      }
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 5);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int k = 0; k < n; ++k) onEvent(static_cast<std::size_t>(events[k].data.u64), events[k].events);
    }
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      if (conns_[i].busy) {
        (*done_)(conns_[i].index, -1, {}, conns_[i].sentNs, nowNs());
        ++r_.failed;
      }
      close(i);
    }
    ::close(ep_);
    return r_;
  }

 private:
  enum class State { kClosed, kConnecting, kOpen };
  struct Conn {
    int fd = -1;
    State state = State::kClosed;
    bool busy = false;
    bool wantOut = false;
    uint64_t index = 0;
    std::string out, in;
    std::size_t outOff = 0;
    int64_t sentNs = 0, deadlineNs = 0, reconnectAtNs = 0;
  };

  void close(std::size_t i) {
    Conn& c = conns_[i];
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
    }
    c.fd = -1;
    c.state = State::kClosed;
    c.wantOut = false;
    c.in.clear();
  }

  void connect(std::size_t i, int64_t now) {
    Conn& c = conns_[i];
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int rc = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_);
    if (rc != 0 && errno != EINPROGRESS) {
      ++r_.connectErrors;
      close(i);
      c.reconnectAtNs = now + 100'000'000;
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    c.wantOut = true;
    c.state = State::kConnecting;
    c.deadlineNs = now + timeoutNs_;
  }

  void setOut(std::size_t i, bool want) {
    Conn& c = conns_[i];
    if (c.wantOut == want) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.wantOut = want;
  }

  void issue(std::size_t i, int64_t now) {
    Conn& c = conns_[i];
    if (next_ >= count_) return;
    c.index = next_++;
    c.out.clear();
    (*make_)(c.index, c.out);
    c.outOff = 0;
    c.in.clear();
    c.busy = true;
    c.sentNs = now;
    c.deadlineNs = now + timeoutNs_;
    ++inFlight_;
    ++r_.issued;
    flush(i, now);
  }

  void flush(std::size_t i, int64_t now) {
    Conn& c = conns_[i];
    while (c.outOff < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.outOff, c.out.size() - c.outOff, MSG_NOSIGNAL);
      if (n > 0) {
        c.outOff += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        setOut(i, true);
        return;
      }
      if (n < 0 && errno == EINTR) continue;
      fail(i, now);
      return;
    }
    setOut(i, false);
  }

  void fail(std::size_t i, int64_t now) {
    Conn& c = conns_[i];
    if (c.busy) {
      c.busy = false;
      --inFlight_;
      ++r_.failed;
      (*done_)(c.index, -1, {}, c.sentNs, now);
    }
    close(i);
    c.reconnectAtNs = now + 10'000'000;
  }

  void sweep(int64_t now) {
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      if (c.state == State::kClosed) {
        if (c.reconnectAtNs != 0 && c.reconnectAtNs <= now && next_ < count_) connect(i, now);
      } else if ((c.state == State::kConnecting || c.busy) && now >= c.deadlineNs) {
        if (c.state == State::kConnecting) ++r_.connectErrors;
        fail(i, now);
      }
    }
  }

  void onEvent(std::size_t i, uint32_t ev) {
    Conn& c = conns_[i];
    const int64_t now = nowNs();
    if (c.fd < 0) return;
    if (c.state == State::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
        ++r_.connectErrors;
        fail(i, now);
        return;
      }
      c.state = State::kOpen;
      ++r_.connects;
      setOut(i, false);
      issue(i, now);
      return;
    }
    if ((ev & EPOLLOUT) && c.busy) flush(i, now);
    if (c.fd < 0) return;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      char buf[16384];
      for (int rounds = 0; rounds < 64; ++rounds) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
          c.in.append(buf, static_cast<std::size_t>(n));
          if (tryComplete(i, now)) return;
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0 && errno == EINTR) continue;
        fail(i, now);  // EOF or error
        return;
      }
    }
  }

  bool tryComplete(std::size_t i, int64_t now) {
    Conn& c = conns_[i];
    const std::size_t hend = c.in.find("\r\n\r\n");
    if (hend == std::string::npos) return false;
    if (c.in.compare(0, 7, "HTTP/1.") != 0) {
      fail(i, now);
      return true;
    }
    const int status = std::atoi(c.in.c_str() + 9);
    int64_t length = -1;
    bool closeAfter = false;
    std::size_t ls = c.in.find("\r\n");
    while (ls != std::string::npos && ls < hend) {
      const std::size_t le = c.in.find("\r\n", ls + 2);
      std::string line = c.in.substr(ls + 2, le - ls - 2);
      for (auto& ch : line) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (line.rfind("content-length:", 0) == 0) length = std::atoll(line.c_str() + 15);
      if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos) closeAfter = true;
      if (line.rfind("transfer-encoding:", 0) == 0) {
        fail(i, now);  // the gateway answers with Content-Length
        return true;
      }
      ls = le;
    }
    if (length < 0) length = 0;
    if (c.in.size() < hend + 4 + static_cast<std::size_t>(length)) return false;
    c.busy = false;
    --inFlight_;
    ++r_.answered;
    (*done_)(c.index, status, std::string_view(c.in.data() + hend + 4, static_cast<std::size_t>(length)), c.sentNs, now);
    c.in.clear();
    if (closeAfter) {
      close(i);
      c.reconnectAtNs = now;
      return true;
    }
    issue(i, now);
    return true;
  }

  sockaddr_in addr_{};
  int64_t timeoutNs_;
  int ep_ = -1;
  std::vector<Conn> conns_;
  uint64_t count_ = 0, next_ = 0;
  int64_t inFlight_ = 0;
  const Make* make_ = nullptr;
  const Done* done_ = nullptr;
  Result r_;
};

// ---------------------------------------------------------------------------------------------
// The gateway process

class Gateway {
 public:
  Gateway(const Options& o, int graphPort) : o_(o), graphPort_(graphPort) {}
  ~Gateway() { stop(); }

  // Starts it and waits until /healthz answers; returns the ms that took.
  double start() {
    const int64_t t0 = nowNs();
    const std::string logPath = o_.gatewayLog.empty() ? "/dev/null" : o_.gatewayLog;
    const std::size_t logStart = static_cast<std::size_t>(fileSize(logPath));
    const std::string url = "http://127.0.0.1:" + std::to_string(graphPort_);
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) die("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the bench
      if (getppid() != parent) _exit(127);
      const int fd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      setenv("OBENCH_GRAPH_URL", url.c_str(), 1);
      execl(o_.gatewayBin.c_str(), o_.gatewayBin.c_str(), "--config", o_.config.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    say("gateway pid %d started (log %s)", static_cast<int>(pid_), logPath.c_str());
    port_ = 0;
    const int64_t deadline = nowNs() + static_cast<int64_t>(120e9);
    while (nowNs() < deadline && !gInterrupted.load()) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        die("the gateway exited during start-up; see " + logPath);
      }
      if (port_ == 0 && logPath != "/dev/null") port_ = portFromLog(logPath, logStart);
      if (port_ != 0 && healthy(port_)) return static_cast<double>(nowNs() - t0) / 1e6;
      sleepMs(50);
    }
    die("the gateway did not become healthy in 120 s (it needs --gateway-log to find its port)");
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 300; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      sleepMs(100);
    }
    say("gateway %d did not stop on SIGTERM in 30 s; SIGKILL", static_cast<int>(pid_));
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  pid_t pid() const { return pid_; }
  int port() const { return port_; }

  static bool healthy(int port) {
    try {
      Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port));
      s.setTimeout(Poco::Timespan(2, 0));
      Poco::Net::HTTPRequest rq(Poco::Net::HTTPRequest::HTTP_GET, "/healthz", Poco::Net::HTTPMessage::HTTP_1_1);
      s.sendRequest(rq);
      Poco::Net::HTTPResponse rs;
      s.receiveResponse(rs);
      return rs.getStatus() == Poco::Net::HTTPResponse::HTTP_OK;
    } catch (const std::exception&) {
      return false;
    }
  }

 private:
  static int portFromLog(const std::string& path, std::size_t from) {
    std::ifstream f(path);
    f.seekg(static_cast<std::streamoff>(from));
    std::string line;
    while (std::getline(f, line)) {
      const auto at = line.find("gateway.listening address=");
      if (at == std::string::npos) continue;
      const auto sp = line.find(' ', at + 26);
      const std::string addr = line.substr(at + 26, sp == std::string::npos ? std::string::npos : sp - at - 26);
      const auto colon = addr.rfind(':');
      if (colon != std::string::npos) return std::atoi(addr.c_str() + colon + 1);
    }
    return 0;
  }

  const Options& o_;
  int graphPort_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Conversations: one fresh signed inbound text per person, then their conversation ids

std::string waIdOf(int person) {
  char b[32];
  std::snprintf(b, sizeof b, "1555%07d", 3000000 + person);
  return b;
}

std::string inboundWebhook(const Options& o, const std::string& user, int n) {
  const int64_t at = epochMs();
  const std::string id = "wamid.OBENCHIN" + o.runId + "x" + std::to_string(n);
  return R"({"object":"whatsapp_business_account","entry":[{"id":"100200300400501","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100100","phone_number_id":")" +
         o.phoneNumberId + R"("},"contacts":[{"profile":{"name":"Bench )" + user + R"("},"wa_id":")" + user +
         R"("}],"messages":[{"from":")" + user + R"(","id":")" + id + R"(","timestamp":")" + std::to_string(at / 1000) +
         R"(","type":"text","text":{"body":"hello"}}]}}]}]})";
}

struct Conversation {
  std::string id;
  std::string contactId;
};

std::string httpGet(int port, const std::string& path, const std::string& token, int& status) {
  Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port));
  s.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest rq(Poco::Net::HTTPRequest::HTTP_GET, path, Poco::Net::HTTPMessage::HTTP_1_1);
  rq.set("Authorization", "Bearer " + token);
  s.sendRequest(rq);
  Poco::Net::HTTPResponse rs;
  std::istream& in = s.receiveResponse(rs);
  std::ostringstream body;
  Poco::StreamCopier::copyStream(in, body);
  status = rs.getStatus();
  return body.str();
}

// The store's writer counters from /metrics: commits and write jobs so far.
struct StoreCounters {
  double commits = 0;
  double jobs = 0;
};

StoreCounters storeCounters(int port, const std::string& token) {
  int status = 0;
  const std::string body = httpGet(port, "/metrics", token, status);
  auto value = [&](const std::string& name) {
    const std::size_t at = body.find("\n" + name + " ");
    return at == std::string::npos ? 0.0 : std::strtod(body.c_str() + at + name.size() + 2, nullptr);
  };
  return StoreCounters{value("gateway_store_commits_total"), value("gateway_store_write_jobs_total")};
}

std::vector<Conversation> openConversations(const Options& o, int port) {
  const int64_t t0 = nowNs();
  HttpLoad load(port, std::min(o.conversations, 32), static_cast<int64_t>(30e9));
  uint64_t ok = 0;
  std::map<int, uint64_t> bad;
  HttpLoad::Make make = [&](uint64_t i, std::string& wire) {
    const std::string body = inboundWebhook(o, waIdOf(static_cast<int>(i)), static_cast<int>(i));
    wire = "POST /webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Hub-Signature-256: " +
           hubSignature(o.secret, body) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  HttpLoad::Done done = [&](uint64_t, int status, std::string_view, int64_t, int64_t) {
    if (status == 200) ++ok;
    else ++bad[status];
  };
  load.run(static_cast<uint64_t>(o.conversations), make, done, nowNs() + static_cast<int64_t>(o.timeoutS * 1e9));
  if (ok != static_cast<uint64_t>(o.conversations)) {
    std::string why;
    for (const auto& [k, v] : bad) why += " " + std::to_string(k) + "x" + std::to_string(v);
    die("inbound webhooks: only " + std::to_string(ok) + " of " + std::to_string(o.conversations) + " got 200:" + why);
  }
  // Their conversations, through the API (contacts list, paged).
  std::map<std::string, Conversation> byUser;
  std::string cursor;
  for (int page = 0; page < 100000; ++page) {
    int status = 0;
    const std::string body =
        httpGet(port, "/v1/contacts?limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor), o.token, status);
    if (status != 200) die("GET /v1/contacts: " + std::to_string(status) + " " + body.substr(0, 200));
    const auto root = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
    const auto contacts = root->getArray("contacts");
    for (std::size_t i = 0; i < contacts->size(); ++i) {
      const auto c = contacts->getObject(static_cast<unsigned>(i));
      const auto ids = c->getArray("identities");
      const auto convs = c->getArray("conversations");
      if (!ids || !convs || convs->size() == 0) continue;
      for (std::size_t k = 0; k < ids->size(); ++k) {
        const std::string ext = ids->getObject(static_cast<unsigned>(k))->getValue<std::string>("external_id");
        byUser[ext] = Conversation{convs->getObject(0)->getValue<std::string>("id"), c->getValue<std::string>("id")};
      }
    }
    if (root->isNull("next_cursor")) break;
    cursor = root->getValue<std::string>("next_cursor");
  }
  std::vector<Conversation> out;
  for (int i = 0; i < o.conversations; ++i) {
    const auto it = byUser.find(waIdOf(i));
    if (it == byUser.end()) die("no conversation for " + waIdOf(i));
    out.push_back(it->second);
  }
  say("opened %d conversations in %.1f s", o.conversations, static_cast<double>(nowNs() - t0) / 1e9);
  return out;
}

// ---------------------------------------------------------------------------------------------
// SQLite (read-only checks, and the bulk insert)

struct Db {
  sqlite3* db = nullptr;
  Db(const std::string& path, bool readOnly) {
    const int flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) die("cannot open " + path);
    sqlite3_busy_timeout(db, 10000);
  }
  ~Db() { sqlite3_close(db); }
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string e = err ? err : "?";
      sqlite3_free(err);
      die("sqlite: " + e + " in: " + sql);
    }
  }
  // Rows of the first column(s) as int64.
  std::vector<std::vector<int64_t>> ints(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) die(std::string("sqlite: ") + sqlite3_errmsg(db));
    std::vector<std::vector<int64_t>> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      std::vector<int64_t> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) row.push_back(sqlite3_column_int64(st, i));
      out.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) die(std::string("sqlite: ") + sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return out;
  }
  int64_t one(const std::string& sql) {
    const auto r = ints(sql);
    return r.empty() || r[0].empty() ? 0 : r[0][0];
  }
  std::map<std::string, int64_t> counts(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) die(std::string("sqlite: ") + sqlite3_errmsg(db));
    std::map<std::string, int64_t> out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(st, 0);
      out[t ? reinterpret_cast<const char*>(t) : "null"] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return out;
  }
};

std::string countsText(const std::map<std::string, int64_t>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "" : " ") + k + "=" + std::to_string(v);
  return s.empty() ? "none" : s;
}
std::string countsJson(const std::map<std::string, int64_t>& m) {
  std::string s = "{";
  for (const auto& [k, v] : m) s += (s.size() > 1 ? "," : "") + ("\"" + jsonEscape(k) + "\":" + std::to_string(v));
  return s + "}";
}

// ---------------------------------------------------------------------------------------------
// Mode: sends

int runSends(const Options& o) {
  const std::size_t n = static_cast<std::size_t>(o.messages);
  FakeGraph graph(o.runId, n, o.graphLatencyMs);
  graph.start(o.graphPort);
  std::printf("fake_graph_port=%d\n", graph.port());
  std::fflush(stdout);
  say("fake Graph API on 127.0.0.1:%d", graph.port());

  std::unique_ptr<Gateway> gw;
  int port = o.port;
  pid_t pid = -1;
  if (!o.gatewayBin.empty()) {
    gw = std::make_unique<Gateway>(o, graph.port());
    const double ms = gw->start();
    port = gw->port();
    pid = gw->pid();
    say("gateway healthy on 127.0.0.1:%d after %.0f ms", port, ms);
  } else if (!Gateway::healthy(port)) {
    die("the gateway on 127.0.0.1:" + std::to_string(port) + " is not healthy");
  }
  const std::string loadBefore = loadAvg();

  const std::vector<Conversation> convs = openConversations(o, port);

  // Sends.
  std::vector<int64_t> acceptNs(n, 0);
  std::vector<std::string> messageIds(n);
  std::vector<double> acceptLatMs;
  acceptLatMs.reserve(n);
  std::map<int, uint64_t> non202;
  std::string firstError;
  uint64_t accepted = 0, noAnswer = 0;
  int64_t firstAcceptNs = 0, lastAcceptNs = 0;
  std::string hostHeader = "127.0.0.1:" + std::to_string(port);
  HttpLoad::Make make = [&](uint64_t i, std::string& wire) {
    const Conversation& c = convs[i % convs.size()];
    std::string body = "{\"text\":\"obench-" + o.runId + "-";
    appendU64(body, i);
    body += " hello from the outbound benchmark\"}";
    wire += "POST /v1/conversations/";
    wire += c.id;
    wire += "/messages HTTP/1.1\r\nHost: ";
    wire += hostHeader;
    wire += "\r\nAuthorization: Bearer ";
    wire += o.token;
    if (o.idempotencyKeys) {
      wire += "\r\nIdempotency-Key: obench-";
      appendU64(wire, i);
    }
    wire += "\r\nContent-Type: application/json\r\nContent-Length: ";
    appendU64(wire, body.size());
    wire += "\r\n\r\n";
    wire += body;
  };
  HttpLoad::Done done = [&](uint64_t i, int status, std::string_view body, int64_t sent, int64_t now) {
    if (status == 202) {
      ++accepted;
      acceptNs[i] = now;
      if (firstAcceptNs == 0) firstAcceptNs = now;
      lastAcceptNs = now;
      acceptLatMs.push_back(static_cast<double>(now - sent) / 1e6);
      const std::size_t at = body.find("\"id\":\"");
      if (at != std::string_view::npos) {
        const std::size_t end = body.find('"', at + 6);
        messageIds[i] = std::string(body.substr(at + 6, end - at - 6));
      }
    } else if (status < 0) {
      ++noAnswer;
    } else {
      ++non202[status];
      if (firstError.empty()) firstError = std::to_string(status) + " " + std::string(body.substr(0, 200));
    }
  };

  say("submitting %zu sends over %zu conversations on %d connections", n, convs.size(), o.connections);
  HttpLoad load(port, o.connections, static_cast<int64_t>(30e9));
  const ThreadTicks ticks0 = threadTicks(pid);
  const StoreCounters store0 = storeCounters(port, o.token);
  StateSampler writerStates(pid, "sqlite-writer");
  const double gwCpu0 = pid > 0 ? processCpuSeconds(pid) : 0;
  const double cpu0 = cpuSecondsSelf();
  const int64_t t0 = nowNs();
  // A progress thread: accepted and delivered per second.
  std::atomic<bool> stopProgress{false};
  std::atomic<uint64_t> acceptedSeen{0};
  std::vector<std::string> loadSamples;
  std::thread progress([&] {
    uint64_t lastG = 0;
    for (int s = 1; !stopProgress.load() && s < 100000; ++s) {
      for (int k = 0; k < 20 && !stopProgress.load(); ++k) sleepMs(50);
      if (stopProgress.load()) break;
      const uint64_t g = graph.marked();
      std::fprintf(stderr, "  [%3ds] delivered to fake Graph %6" PRIu64 "/s (total %" PRIu64 ")\n", s, g - lastG, g);
      lastG = g;
      if (s % 5 == 0) loadSamples.push_back(loadAvg());
    }
  });
  const HttpLoad::Result lr = load.run(n, make, done, t0 + static_cast<int64_t>(o.timeoutS * 1e9));
  const int64_t submitEndNs = nowNs();
  (void)acceptedSeen;

  // Delivery: until the fake Graph got every accepted message (bounded).
  const int64_t deliverDeadline = nowNs() + static_cast<int64_t>(o.timeoutS * 1e9);
  while (graph.marked() < accepted && nowNs() < deliverDeadline && !gInterrupted.load()) sleepMs(2);
  const int64_t deliveredNs = graph.marked() >= accepted ? graph.lastMarkedNs() : 0;
  const ThreadTicks ticks1 = threadTicks(pid);
  writerStates.stop();
  const double gwCpu1 = pid > 0 ? processCpuSeconds(pid) : 0;
  const int64_t ticksEndNs = nowNs();
  const double clientCpu = cpuSecondsSelf() - cpu0;
  stopProgress.store(true);
  progress.join();

  // The database / API: every accepted message `sent` (bounded wait for the last commits).
  int64_t dbSentNs = 0;
  std::map<std::string, int64_t> dbStatus;
  int64_t outboxLeft = -1;
  if (!o.db.empty()) {
    Db db(o.db, true);
    const int64_t deadline = nowNs() + static_cast<int64_t>(60e9);
    while (nowNs() < deadline && !gInterrupted.load()) {
      const int64_t sent =
          db.one("SELECT COUNT(*) FROM messages WHERE direction = 'outbound' AND status = 'sent'");
      if (sent >= static_cast<int64_t>(accepted)) {
        dbSentNs = nowNs();
        break;
      }
      sleepMs(20);
    }
    dbStatus = db.counts("SELECT status, COUNT(*) FROM messages WHERE direction = 'outbound' GROUP BY status");
    outboxLeft = db.one("SELECT COUNT(*) FROM outbox");
  }
  const int64_t walBytes = o.db.empty() ? 0 : fileSize(o.db + "-wal");
  // Writer jobs and commits per send, from the start of the submissions until all were sent.
  const StoreCounters store1 = storeCounters(port, o.token);
  const double jobsPerSend = accepted ? (store1.jobs - store0.jobs) / static_cast<double>(accepted) : 0;
  const double commitsPerSend = accepted ? (store1.commits - store0.commits) / static_cast<double>(accepted) : 0;
  // Through the API: a sample of the accepted messages.
  uint64_t apiChecked = 0, apiSent = 0;
  for (std::size_t i = 0; i < n && apiChecked < 100; i += std::max<std::size_t>(1, n / 100)) {
    if (messageIds[i].empty()) continue;
    int status = 0;
    const std::string body = httpGet(port, "/v1/messages/" + messageIds[i], o.token, status);
    ++apiChecked;
    if (status == 200 && body.find("\"status\":\"sent\"") != std::string::npos) ++apiSent;
  }
  const std::string loadAfter = loadAvg();

  // Accept -> Graph latency per message, and duplicates.
  std::vector<double> e2eMs;
  e2eMs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (acceptNs[i] == 0) continue;
    const int64_t g = graph.firstNs(i);
    if (g != 0) e2eMs.push_back(static_cast<double>(g - acceptNs[i]) / 1e6);
  }
  const FakeGraph::Tally tally = graph.tally();
  ThreadReport threads;
  if (pid > 0) threads = reportThreads(pid, ticks0, ticks1, static_cast<double>(ticksEndNs - t0) / 1e9);
  const int64_t rssKb = pid > 0 ? procStatusKb(pid, "VmRSS") : -1;
  const int64_t hwmKb = pid > 0 ? procStatusKb(pid, "VmHWM") : -1;
  if (gw) gw->stop();
  graph.stop();

  const double submitS = static_cast<double>(submitEndNs - t0) / 1e9;
  const double acceptRate = static_cast<double>(accepted) / std::max(1e-9, static_cast<double>(lastAcceptNs - t0) / 1e9);
  const double deliverS = deliveredNs ? static_cast<double>(deliveredNs - firstAcceptNs) / 1e9 : 0;
  const double deliverRate = deliveredNs ? static_cast<double>(accepted) / deliverS : 0;
  const double dbS = dbSentNs ? static_cast<double>(dbSentNs - firstAcceptNs) / 1e9 : 0;
  const double dbRate = dbSentNs ? static_cast<double>(accepted) / dbS : 0;
  const double drainS = deliveredNs ? std::max(0.0, static_cast<double>(deliveredNs - lastAcceptNs) / 1e9) : 0;
  const Stats acc = statsOf(acceptLatMs);
  const Stats e2e = statsOf(e2eMs);
  const double gwCpuPct = pid > 0 ? 100.0 * (gwCpu1 - gwCpu0) / (static_cast<double>(ticksEndNs - t0) / 1e9) : -1;
  const double clientCpuPct = 100.0 * clientCpu / (static_cast<double>(ticksEndNs - t0) / 1e9);
  const bool noDup = tally.duplicates == 0 && tally.distinctMarked == accepted && tally.distinctBodies == tally.distinctMarked + tally.unmarked;

  std::string non202Text, non202Json = "{";
  for (const auto& [k, v] : non202) {
    non202Text += " " + std::to_string(k) + "x" + std::to_string(v);
    non202Json += (non202Json.size() > 1 ? "," : "") + ("\"" + std::to_string(k) + "\":" + std::to_string(v));
  }
  non202Json += "}";

  std::printf("outbound_bench sends%s: %zu sends over %zu conversations, %d connections; load average %s before, %s after\n",
              o.label.empty() ? "" : (" [" + o.label + "]").c_str(), n, convs.size(), o.connections, loadBefore.c_str(),
              loadAfter.c_str());
  std::printf("  acceptance: %" PRIu64 " x 202 in %.2f s = %.0f accepted/s; non-202:%s; no answer %" PRIu64 "%s\n", accepted,
              submitS, acceptRate, non202Text.empty() ? " none" : non202Text.c_str(), noAnswer,
              lr.hitDeadline ? " (HIT THE TIME LIMIT)" : "");
  if (!firstError.empty()) std::printf("    first refusal: %s\n", firstError.c_str());
  std::printf("  accept latency ms: %s\n", statsText(acc).c_str());
  if (deliveredNs) {
    std::printf("  delivery: all %" PRIu64 " at the fake Graph %.2f s after the first 202 = %.0f sends/s end to end"
                " (%.2f s after the last 202)\n", accepted, deliverS, deliverRate, drainS);
  } else {
    std::printf("  delivery: only %" PRIu64 " of %" PRIu64 " reached the fake Graph within %.0f s\n", graph.marked(), accepted,
                o.timeoutS);
  }
  if (!o.db.empty()) {
    std::printf("  database: all `sent` %.2f s after the first 202 = %.0f/s; outbound statuses: %s; outbox rows left %" PRId64
                "; WAL %.0f MB\n", dbS, dbRate, countsText(dbStatus).c_str(), outboxLeft, static_cast<double>(walBytes) / 1e6);
  }
  std::printf("  store writer: %.2f write jobs and %.2f commits per send\n", jobsPerSend, commitsPerSend);
  std::printf("  API sample: %" PRIu64 " of %" PRIu64 " GET /v1/messages/{id} show status sent\n", apiSent, apiChecked);
  std::printf("  202 -> fake Graph latency ms: %s\n", statsText(e2e).c_str());
  std::printf("  fake Graph: %" PRIu64 " requests, %" PRIu64 " distinct messages, %" PRIu64 " duplicates, %" PRIu64
              " distinct bodies, %" PRIu64 " unmarked, %" PRIu64 " not .../messages, %" PRIu64 " connections -> %s\n",
              graph.requests(), tally.distinctMarked, tally.duplicates, tally.distinctBodies, tally.unmarked,
              tally.nonMessages, graph.connectionsAccepted(), noDup ? "nothing sent twice" : "MISMATCH");
  if (pid > 0) {
    std::printf("  gateway CPU %.0f%% (100%% = one core) over the run; RSS %" PRId64 " kB (peak %" PRId64 " kB)\n", gwCpuPct,
                rssKb, hwmKb);
    std::printf("%s", threads.text.c_str());
    std::printf("    sqlite-writer state samples: %s\n", writerStates.text().c_str());
  }
  std::printf("  bench process CPU %.0f%% of one core (client + fake Graph)\n", clientCpuPct);
  if (!loadSamples.empty()) {
    std::printf("  load average every 5 s during the run:");
    for (const auto& s : loadSamples) std::printf(" [%s]", s.c_str());
    std::printf("\n");
  }

  std::ostringstream j;
  j.setf(std::ios::fixed);
  j.precision(3);
  j << "{\"tool\":\"outbound_bench\",\"mode\":\"sends\",\"label\":\"" << jsonEscape(o.label) << "\",\"messages\":" << n
    << ",\"conversations\":" << convs.size() << ",\"connections\":" << o.connections
    << ",\"idempotency_keys\":" << (o.idempotencyKeys ? "true" : "false") << ",\"accepted\":" << accepted
    << ",\"non202\":" << non202Json << ",\"no_answer\":" << noAnswer << ",\"submit_s\":" << submitS
    << ",\"accept_rps\":" << acceptRate << ",\"accept_latency_ms\":" << statsJson(acc)
    << ",\"delivered\":" << graph.marked() << ",\"deliver_s\":" << deliverS << ",\"sends_per_s\":" << deliverRate
    << ",\"drain_after_last_accept_s\":" << drainS << ",\"db_all_sent_s\":" << dbS << ",\"db_sent_per_s\":" << dbRate
    << ",\"db_status\":" << countsJson(dbStatus) << ",\"outbox_left\":" << outboxLeft << ",\"wal_bytes\":" << walBytes
    << ",\"writer_jobs_per_send\":" << jobsPerSend << ",\"writer_commits_per_send\":" << commitsPerSend << ",\"api_checked\":" << apiChecked
    << ",\"api_sent\":" << apiSent << ",\"accept_to_graph_ms\":" << statsJson(e2e)
    << ",\"graph_requests\":" << graph.requests() << ",\"distinct\":" << tally.distinctMarked
    << ",\"duplicates\":" << tally.duplicates << ",\"distinct_bodies\":" << tally.distinctBodies
    << ",\"nothing_sent_twice\":" << (noDup ? "true" : "false") << ",\"gateway_cpu_pct\":" << gwCpuPct
    << ",\"gateway_rss_kb\":" << rssKb << ",\"client_cpu_pct\":" << clientCpuPct << ",\"load_before\":\"" << loadBefore
    << "\",\"load_after\":\"" << loadAfter << "\",\"threads\":" << (threads.json.empty() ? "null" : threads.json) << ",\"writer_states\":" << writerStates.json()
    << ",\"run_id\":\"" << o.runId << "\"}";
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  return (deliveredNs && noDup && accepted == n) ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Mode: schedules

int runSchedules(const Options& o) {
  const std::size_t d = static_cast<std::size_t>(o.due);
  FakeGraph graph(o.runId, d);
  graph.start(o.graphPort);
  std::printf("fake_graph_port=%d\n", graph.port());
  std::fflush(stdout);
  say("fake Graph API on 127.0.0.1:%d", graph.port());

  // 1. Migrate, and open conversations with fresh inbound messages.
  Gateway gw(o, graph.port());
  gw.start();
  const std::vector<Conversation> convs = openConversations(o, gw.port());
  gw.stop();
  say("gateway stopped; inserting %" PRId64 " pending schedules", o.pending);

  // 2. Bulk insert: far-future rows first, the due ones last (their window is placed relative
  // to the end of the insert, so the restart has --delay-s to spare).
  const std::string loadBefore = loadAvg();
  int64_t windowStart = 0, windowEnd = 0;
  double insertS = 0, checkpointS = 0;
  const int64_t farBase = epochMs() + 30LL * 86400 * 1000;
  {
    Db db(o.db, false);
    const int64_t t0 = nowNs();
    db.exec("BEGIN IMMEDIATE");
    sqlite3_stmt* st = nullptr;
    const char* sql =
        "INSERT INTO scheduled_messages (id, conversation_id, contact_id, send_at, status, request, text, template, "
        "message_id, error, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, NULL, NULL, NULL, ?, ?)";
    if (sqlite3_prepare_v2(db.db, sql, -1, &st, nullptr) != SQLITE_OK) die(std::string("sqlite: ") + sqlite3_errmsg(db.db));
    const int64_t created = epochMs();
    auto insert = [&](const std::string& id, const Conversation& c, int64_t sendAt, const std::string& text) {
      const std::string request = "{\"text\":\"" + text + "\"}";
      sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 2, c.id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 3, c.contactId.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(st, 4, sendAt);
      sqlite3_bind_text(st, 5, request.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 6, text.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(st, 7, created);
      sqlite3_bind_int64(st, 8, created);
      if (sqlite3_step(st) != SQLITE_DONE) die(std::string("sqlite insert: ") + sqlite3_errmsg(db.db));
      sqlite3_reset(st);
    };
    const int64_t far = o.pending - o.due;
    char id[64];
    for (int64_t i = 0; i < far; ++i) {
      std::snprintf(id, sizeof id, "sm_obench_far_%09" PRId64, i);
      // Far future, spread over ~a year so the index is not one value.
      insert(id, convs[static_cast<std::size_t>(i) % convs.size()], farBase + i * 31, "x");
    }
    windowStart = epochMs() + static_cast<int64_t>(o.delayS * 1000);
    windowEnd = windowStart + static_cast<int64_t>(o.windowS * 1000);
    for (std::size_t i = 0; i < d; ++i) {
      std::snprintf(id, sizeof id, "sm_obench_due_%09zu", i);
      const int64_t at = windowStart + static_cast<int64_t>(static_cast<double>(i) * o.windowS * 1000 / static_cast<double>(d));
      insert(id, convs[i % convs.size()], at, "obench-" + o.runId + "-" + std::to_string(i));
    }
    sqlite3_finalize(st);
    db.exec("COMMIT");
    insertS = static_cast<double>(nowNs() - t0) / 1e9;
    const int64_t c0 = nowNs();
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    checkpointS = static_cast<double>(nowNs() - c0) / 1e9;
  }
  const int64_t pendingInDb = Db(o.db, true).one("SELECT COUNT(*) FROM scheduled_messages WHERE status = 'pending'");
  say("inserted in %.1f s (+ checkpoint %.1f s); %" PRId64 " pending; db %.0f MB; window opens in %.1f s",
      insertS, checkpointS, pendingInDb, static_cast<double>(fileSize(o.db)) / 1e6,
      static_cast<double>(windowStart - epochMs()) / 1000);

  // 3. Restart and measure.
  const double startMs = gw.start();
  const int64_t healthyAt = epochMs();
  const pid_t pid = gw.pid();
  const int64_t rssStartKb = procStatusKb(pid, "VmRSS");
  say("gateway healthy after %.0f ms (pid %d), RSS %" PRId64 " kB; %.1f s before the window", startMs,
      static_cast<int>(pid), rssStartKb, static_cast<double>(windowStart - healthyAt) / 1000);
  // Idle before the window: CPU with that many pending (does anything scan them?).
  const int64_t idleFrom = nowNs();
  const double idleCpu0 = processCpuSeconds(pid);
  while (epochMs() < windowStart - 500 && !gInterrupted.load()) sleepMs(50);
  const double idleCpuPct = 100.0 * (processCpuSeconds(pid) - idleCpu0) / std::max(1e-3, static_cast<double>(nowNs() - idleFrom) / 1e9);

  const ThreadTicks ticks0 = threadTicks(pid);
  StateSampler writerStates(pid, "sqlite-writer");
  const int64_t ticksFrom = nowNs();
  Db ro(o.db, true);
  const int64_t deadline = windowEnd + static_cast<int64_t>(o.timeoutS * 1000);
  int64_t fired = 0;
  std::vector<std::string> loadSamples;
  int64_t lastLoadSample = 0;
  while (!gInterrupted.load()) {
    const int64_t now = epochMs();
    if (now - lastLoadSample >= 5000) {
      loadSamples.push_back(loadAvg());
      lastLoadSample = now;
    }
    fired = ro.one("SELECT COUNT(*) FROM scheduled_messages WHERE id >= 'sm_obench_due_' AND id < 'sm_obench_due_~' "
                   "AND status != 'pending'");
    if (now >= windowEnd + 1000 && fired >= o.due) break;
    if (now >= deadline) break;
    sleepMs(250);
  }
  const ThreadTicks ticks1 = threadTicks(pid);
  writerStates.stop();
  const double tickSecs = static_cast<double>(nowNs() - ticksFrom) / 1e9;
  // Delivery of the fired ones to the fake Graph (bounded).
  const int64_t dDeadline = nowNs() + static_cast<int64_t>(60e9);
  while (graph.marked() < static_cast<uint64_t>(fired) && nowNs() < dDeadline && !gInterrupted.load()) sleepMs(20);

  std::vector<double> graphLateness;
  {
    const auto rows = ro.ints("SELECT CAST(substr(id, 15) AS INTEGER), send_at FROM scheduled_messages WHERE "
                              "id >= 'sm_obench_due_' AND id < 'sm_obench_due_~' AND status = 'sent'");
    for (const auto& row : rows) {
      const int64_t at = graph.firstEpochMs(static_cast<std::size_t>(row[0]));
      if (at != 0) graphLateness.push_back(static_cast<double>(at - row[1]));
    }
  }
  std::vector<double> lateness;
  for (const auto& row : ro.ints("SELECT updated_at - send_at FROM scheduled_messages WHERE id >= 'sm_obench_due_' "
                                 "AND id < 'sm_obench_due_~' AND status = 'sent'")) {
    lateness.push_back(static_cast<double>(row[0]));
  }
  const auto dueStatus = ro.counts("SELECT status, COUNT(*) FROM scheduled_messages WHERE id >= 'sm_obench_due_' "
                                   "AND id < 'sm_obench_due_~' GROUP BY status");
  const int64_t farFired = ro.one("SELECT COUNT(*) FROM scheduled_messages WHERE id >= 'sm_obench_far_' AND "
                                  "id < 'sm_obench_far_~' AND status != 'pending'");
  const int64_t earlyFired = ro.one("SELECT COUNT(*) FROM scheduled_messages WHERE status != 'pending' AND updated_at < send_at");
  const int64_t stillPending = ro.one("SELECT COUNT(*) FROM scheduled_messages WHERE status = 'pending'");
  const auto msgStatus = ro.counts("SELECT status, COUNT(*) FROM messages WHERE direction = 'outbound' GROUP BY status");
  const int64_t rssKb = procStatusKb(pid, "VmRSS");
  const int64_t hwmKb = procStatusKb(pid, "VmHWM");
  const ThreadReport threads = reportThreads(pid, ticks0, ticks1, tickSecs);
  const FakeGraph::Tally tally = graph.tally();
  const std::string loadAfter = loadAvg();
  const int64_t dbBytes = fileSize(o.db);
  const int64_t walBytes = fileSize(o.db + "-wal");
  gw.stop();
  graph.stop();

  const Stats s = statsOf(lateness);
  const Stats sg = statsOf(graphLateness);
  const bool ok = fired == o.due && farFired == 0 && tally.duplicates == 0 && earlyFired == 0;
  std::printf("outbound_bench schedules%s: %" PRId64 " pending, %zu due over %.0f s starting %.0f s after the insert, "
              "%zu conversations; load average %s before, %s after\n",
              o.label.empty() ? "" : (" [" + o.label + "]").c_str(), o.pending, d, o.windowS, o.delayS, convs.size(),
              loadBefore.c_str(), loadAfter.c_str());
  std::printf("  insert %.1f s (one transaction) + checkpoint %.1f s; database %.0f MB, WAL after the window %.0f MB; "
              "gateway restart to healthy %.0f ms, %.1f s before the window\n", insertS, checkpointS,
              static_cast<double>(dbBytes) / 1e6, static_cast<double>(walBytes) / 1e6, startMs,
              static_cast<double>(windowStart - healthyAt) / 1000);
  std::printf("  fired %" PRId64 " of %zu due (%s); far-future fired: %" PRId64 "; fired before send_at: %" PRId64
              "; still pending %" PRId64 "\n", fired, d, countsText(dueStatus).c_str(), farFired, earlyFired, stillPending);
  std::printf("  lateness ms (updated_at - send_at of the fired): %s\n", statsText(s).c_str());
  std::printf("  send_at -> request at the fake Graph ms (fired, committed, claimed, delivered): %s\n", statsText(sg).c_str());
  std::printf("  fake Graph: %" PRIu64 " distinct of the fired delivered, %" PRIu64 " duplicates; outbound messages: %s\n",
              tally.distinctMarked, tally.duplicates, countsText(msgStatus).c_str());
  std::printf("  gateway RSS with %" PRId64 " pending: %" PRId64 " kB right after start, %" PRId64 " kB after the window "
              "(peak %" PRId64 " kB); CPU %.1f%% while idle before the window\n",
              o.pending, rssStartKb, rssKb, hwmKb, idleCpuPct);
  std::printf("%s", threads.text.c_str());
  std::printf("    sqlite-writer state samples: %s\n", writerStates.text().c_str());
  if (!loadSamples.empty()) {
    std::printf("  load average every 5 s during the window:");
    for (const auto& l : loadSamples) std::printf(" [%s]", l.c_str());
    std::printf("\n");
  }
  std::printf("  -> %s\n", ok ? "ok" : "CHECK FAILED");

  std::ostringstream j;
  j.setf(std::ios::fixed);
  j.precision(3);
  j << "{\"tool\":\"outbound_bench\",\"mode\":\"schedules\",\"label\":\"" << jsonEscape(o.label)
    << "\",\"pending\":" << o.pending << ",\"due\":" << d << ",\"window_s\":" << o.windowS << ",\"delay_s\":" << o.delayS
    << ",\"conversations\":" << convs.size() << ",\"insert_s\":" << insertS << ",\"checkpoint_s\":" << checkpointS
    << ",\"db_bytes\":" << dbBytes << ",\"wal_bytes\":" << walBytes << ",\"restart_ms\":" << startMs << ",\"fired\":" << fired
    << ",\"due_status\":" << countsJson(dueStatus) << ",\"far_fired\":" << farFired << ",\"fired_early\":" << earlyFired
    << ",\"lateness_ms\":" << statsJson(s) << ",\"send_at_to_graph_ms\":" << statsJson(sg) << ",\"delivered\":" << tally.distinctMarked
    << ",\"duplicates\":" << tally.duplicates << ",\"outbound_status\":" << countsJson(msgStatus)
    << ",\"rss_start_kb\":" << rssStartKb << ",\"rss_kb\":" << rssKb << ",\"rss_peak_kb\":" << hwmKb
    << ",\"idle_cpu_pct\":" << idleCpuPct << ",\"load_before\":\"" << loadBefore << "\",\"load_after\":\"" << loadAfter
    << "\",\"threads\":" << threads.json << ",\"writer_states\":" << writerStates.json() << ",\"ok\":" << (ok ? "true" : "false") << ",\"run_id\":\"" << o.runId << "\"}";
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------

int runFakeGraph(const Options& o) {
  FakeGraph graph(o.runId, 1);
  graph.start(o.graphPort);
  std::printf("fake_graph_port=%d\n", graph.port());
  std::fflush(stdout);
  const int64_t end = nowNs() + static_cast<int64_t>(o.maxTimeS * 1e9);
  while (!gInterrupted.load() && nowNs() < end) sleepMs(100);
  graph.stop();
  std::printf("{\"tool\":\"outbound_bench\",\"mode\":\"fake-graph\",\"requests\":%" PRIu64 "}\n", graph.requests());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseArgs(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 8192);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  try {
    if (o.mode == "sends") return runSends(o);
    if (o.mode == "schedules") return runSchedules(o);
    return runFakeGraph(o);
  } catch (const std::exception& e) {
    die(std::string("error: ") + e.what());
  }
}
