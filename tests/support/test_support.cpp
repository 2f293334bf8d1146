#include "test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sqlite3.h>
#include <gtest/gtest.h>

#include "pg_test_db.h"

extern char** environ;

namespace gateway::testing {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void writeFile(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  std::filesystem::rename(tmp, path);  // atomic: a reload never reads half a file
}

int freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

HttpResult httpRequest(int port, const std::string& method, const std::string& path,
                       const std::map<std::string, std::string>& headers, const std::string& body,
                       std::chrono::milliseconds timeout) {
  HttpResult result;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(static_cast<long>(timeout.count() / 1000),
                                      static_cast<long>(timeout.count() % 1000) * 1000));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      request.setContentLength64(static_cast<Poco::Int64>(body.size()));
    }
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    result.status = response.getStatus();
    for (const auto& [name, value] : response) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result.headers[lower] = value;
    }
    std::ostringstream out;
    out << in.rdbuf();
    result.body = out.str();
  } catch (const std::exception&) {
    result.status = 0;
  }
  return result;
}

std::string hubSignature(const std::string& secret, const std::string& body) {
  unsigned char digest[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

bool waitFor(const std::function<bool()>& check, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return check();
}

namespace {

std::vector<std::string> environmentWith(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    if (extra.count(name) == 0) env.push_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& outputPath) {
  std::vector<std::string> argvStrings{gatewayBinary()};
  argvStrings.insert(argvStrings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argvStrings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envStrings = environmentWith(env);
  std::vector<char*> envp;
  for (auto& e : envStrings) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, outputPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argvStrings[0]);
  return pid;
}

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -999;
}

}  // namespace

GatewayProcess::GatewayProcess(const std::vector<std::string>& args,
                               const std::map<std::string, std::string>& env) {
  pid_ = spawn(args, env, logDir_.file("stderr.log"));
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
}

void GatewayProcess::signal(int sig) {
  if (pid_ > 0 && !exited_) ::kill(pid_, sig);
}

bool GatewayProcess::running() {
  if (exited_) return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
  return !exited_;
}

int GatewayProcess::waitExit(std::chrono::milliseconds deadline) {
  if (!waitFor([this] { return !running(); }, deadline)) return -1000;
  return decodeStatus(status_);
}

std::string GatewayProcess::stderrText() const {
  try {
    return readFile(logDir_.file("stderr.log"));
  } catch (const std::exception&) {
    return "";
  }
}

CommandResult runGateway(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env) {
  TempDir dir;
  const pid_t pid = spawn(args, env, dir.file("out.log"));
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult result;
  result.exitCode = decodeStatus(status);
  result.output = readFile(dir.file("out.log"));
  return result;
}

std::string gatewayBinary() { return GATEWAY_BINARY; }
std::string pluginDir() { return GATEWAY_PLUGIN_DIR; }
std::string fixturesDir() { return GATEWAY_FIXTURES_DIR; }
std::string sourceDir() { return GATEWAY_SOURCE_DIR; }

}  // namespace gateway::testing

namespace gateway::testing {

bool postgresStorage() {
  const char* storage = std::getenv("GATEWAY_TEST_STORAGE");
  return storage != nullptr && std::string(storage) == "postgres";
}

std::string makeConfigYaml(const TestConfig& c) {
  auto channel = [&](const char* id, const char* type, bool enabled, const char* account,
                     const char* verify) {
    std::ostringstream out;
    out << "  - id: " << id << "\n    type: " << type << "\n    enabled: " << (enabled ? "true" : "false")
        << "\n    account_id: \"" << account << "\"\n    app_secret: \"" << kFixtureSecret
        << "\"\n    app_id: \"900100200300400\"\n    verify_token: \"" << verify
        << "\"\n    access_token: \"test-access-token-" << id << "\"\n    graph_base_url: \""
        << c.graphBaseUrl << "\"\n    api_version: \"v21.0\"\n    rate_limit_mps: "
        << (c.rateLimitMpsById.count(id) ? c.rateLimitMpsById.at(id) : c.rateLimitMps) << "\n";
    return out.str();
  };
  std::ostringstream out;
  out << "server:\n  listen: \"127.0.0.1:" << c.port << "\"\n  max_body_bytes: " << c.maxBodyBytes << "\n"
      << c.serverYaml << "api:\n  tokens: [\"" << kApiToken << "\"]\nstorage:\n";
  if (postgresStorage()) {
    out << "  driver: postgres\n  uri: \"" << (c.postgresUri.empty() ? freshPostgresDatabase() : c.postgresUri);
  } else {
    out << "  driver: sqlite\n  path: \"" << c.dbPath;
  }
  out << "\"\nplugins:\n  dir: \"" << c.pluginDir << "\"\nchannels:\n"
      << channel("wa-main", "whatsapp", c.whatsappEnabled, "110220330440551", "wa-verify-token-FAKE-123")
      << channel("fb-main", "messenger", c.messengerEnabled, "104050607080901", "ms-verify-token-FAKE-456")
      << channel("ig-main", "instagram", c.instagramEnabled, "17841400000000101", "ig-verify-token-FAKE-789")
      << c.extraChannelsYaml
      << "properties:\n  - { key: plan, label: Plan, type: text }\n" << c.extraYaml;
  return out.str();
}

}  // namespace gateway::testing

namespace gateway::testing {

std::map<std::string, std::string> signedHeaders(const std::string& body) {
  return {{"Content-Type", "application/json"}, {"X-Hub-Signature-256", hubSignature(kFixtureSecret, body)}};
}

RunningGateway::RunningGateway(TestConfig config) : config_(std::move(config)) {
  config_.port = freePort();
  config_.dbPath = dir_.file("data/gateway.db");
  // Once per gateway, not per config written: restart() (after a SIGKILL) and rewriteConfig()
  // must find the same database, as they find the same SQLite file.
  if (postgresStorage() && config_.postgresUri.empty()) config_.postgresUri = freshPostgresDatabase();
  writeFile(configPath(), makeConfigYaml(config_));
  start();
}

void RunningGateway::start() {
  process_ = std::make_unique<GatewayProcess>(std::vector<std::string>{"--config", configPath()}, config_.env);
  const bool up = waitFor([this] { return get("/healthz", {}).status == 200 || !process_->running(); },
                          std::chrono::seconds(20));
  if (!up || !process_->running()) ADD_FAILURE() << "gateway did not start:\n" << process_->stderrText();
}

void RunningGateway::restart() {
  process_.reset();  // SIGKILL
  start();
}

HttpResult RunningGateway::get(const std::string& path, const std::map<std::string, std::string>& headers) {
  return httpRequest(config_.port, "GET", path, headers);
}

HttpResult RunningGateway::post(const std::string& path, const std::string& body,
                                const std::map<std::string, std::string>& headers) {
  return httpRequest(config_.port, "POST", path, headers, body);
}

HttpResult RunningGateway::postFixture(const std::string& relativePath) {
  const std::string body = readFile(fixturesDir() + "/" + relativePath);
  const std::string platform = relativePath.substr(0, relativePath.find('/'));
  return post("/webhooks/" + platform, body, signedHeaders(body));
}

void RunningGateway::rewriteConfig(const TestConfig& c) {
  TestConfig next = c;
  next.port = config_.port;
  next.dbPath = config_.dbPath;
  next.postgresUri = config_.postgresUri;
  writeFile(configPath(), makeConfigYaml(next));
}

// One statement straight on the database the gateway writes (SQLite file or PostgreSQL):
// the first column of the first row as an integer, 0 when there is none; nullopt on error.
std::optional<long long> RunningGateway::runSql(const std::string& sql) {
  std::optional<long long> value;
  if (!config_.postgresUri.empty()) {
    PGconn* conn = PQconnectdb(config_.postgresUri.c_str());
    if (PQstatus(conn) == CONNECTION_OK) {
      PGresult* result = PQexec(conn, sql.c_str());
      if (PQresultStatus(result) == PGRES_TUPLES_OK || PQresultStatus(result) == PGRES_COMMAND_OK) {
        value = PQntuples(result) > 0 ? std::atoll(PQgetvalue(result, 0, 0)) : 0;
      }
      PQclear(result);
    }
    PQfinish(conn);
    return value;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(config_.dbPath.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
      if (rc == SQLITE_DONE) value = 0;
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

int RunningGateway::countRows(const std::string& table) {
  const auto n = runSql("SELECT COUNT(*) FROM " + table);
  return n ? static_cast<int>(*n) : -1;
}

}  // namespace gateway::testing

namespace gateway::testing {

Poco::JSON::Object::Ptr parseObject(const std::string& text) {
  return Poco::JSON::Parser(new Poco::JSON::ParseHandler(true)).parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::string str(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  return o->isNull(key) ? "<null>" : o->getValue<std::string>(key);
}

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339(std::int64_t ms) {
  const std::time_t t = ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buffer;
}

}  // namespace gateway::testing
