// Helpers for tests that run the real binary or talk HTTP over loopback.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace gateway::testing {

std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& content);

// A loopback port that was free a moment ago (bound to port 0 and released).
int freePort();

struct HttpResult {
  int status = 0;  // 0: no answer (connection failed or timed out)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-case
};

HttpResult httpRequest(int port, const std::string& method, const std::string& path,
                       const std::map<std::string, std::string>& headers = {},
                       const std::string& body = "",
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

// "sha256=<hex>" of HMAC-SHA256(secret, body): what Meta puts in X-Hub-Signature-256.
std::string hubSignature(const std::string& secret, const std::string& body);

// Polls until check() is true; false when the deadline passes first.
bool waitFor(const std::function<bool()>& check, std::chrono::milliseconds deadline);

// The real build/gateway as a child process with its stderr captured to a file.
class GatewayProcess {
 public:
  // Starts `gateway <args...>`; the binary path comes from GATEWAY_BINARY.
  explicit GatewayProcess(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env = {});
  ~GatewayProcess();  // SIGKILL if still running
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Exit code, or -signal when killed; -1000 when it did not exit before the deadline.
  int waitExit(std::chrono::milliseconds deadline);
  bool running();
  std::string stderrText() const;

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
  TempDir logDir_;
};

// Runs `gateway <args...>` to completion: exit code and stderr+stdout.
struct CommandResult {
  int exitCode = -1;
  std::string output;
};
CommandResult runGateway(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {});

std::string gatewayBinary();
std::string pluginDir();
std::string fixturesDir();
std::string sourceDir();

}  // namespace gateway::testing

namespace gateway::testing {

// The fixtures' made-up credentials (tests/fixtures/README.md).
constexpr const char* kFixtureSecret = "test-app-secret-0b1c2d3e4f5a6b7c";
constexpr const char* kApiToken = "test-api-token-1";

struct TestConfig {
  int port = 0;
  std::string dbPath;
  // The database when GATEWAY_TEST_STORAGE=postgres (then dbPath is unused). RunningGateway
  // creates it once, so restarts and rewritten configs keep it; makeConfigYaml creates a fresh
  // one for each call while it is empty.
  std::string postgresUri;
  std::string pluginDir = gateway::testing::pluginDir();
  std::string graphBaseUrl = "http://127.0.0.1:9";  // nothing listens: sends fail fast
  bool whatsappEnabled = true;
  bool messengerEnabled = true;
  bool instagramEnabled = true;
  std::size_t maxBodyBytes = 1048576;
  double rateLimitMps = 1000;
  std::map<std::string, double> rateLimitMpsById;  // per channel id, instead of rateLimitMps
  std::string serverYaml;         // more keys under server:, e.g. "  keep_alive_timeout_s: 1\n"
  std::string extraChannelsYaml;  // more list items under channels:
  std::string extraYaml;  // appended verbatim
  std::map<std::string, std::string> env;  // the gateway process's environment, added
};

// True when GATEWAY_TEST_STORAGE=postgres: the gateways run on PostgreSQL (pg_test_db.h).
bool postgresStorage();

// A config with the three fixture channels (wa-main, fb-main, ig-main) on loopback.
std::string makeConfigYaml(const TestConfig& config);

}  // namespace gateway::testing

#include <memory>

#include <Poco/JSON/Object.h>

namespace gateway::testing {

// A JSON object from text (members kept in their order); throws when it is not one.
Poco::JSON::Object::Ptr parseObject(const std::string& text);
// A member as text; "<null>" for null, so comparisons read well in failures.
std::string str(const Poco::JSON::Object::Ptr& object, const std::string& key);
std::int64_t nowMs();
std::string rfc3339(std::int64_t epochMs);  // 2026-11-25T19:30:00.000Z

inline const std::map<std::string, std::string>& authHeader() {
  static const std::map<std::string, std::string> kAuth{{"Authorization", std::string("Bearer ") + kApiToken}};
  return kAuth;
}

// Headers of a webhook POST signed with the fixtures' app secret.
std::map<std::string, std::string> signedHeaders(const std::string& body);

// The real binary on a temp config and database, started and healthy.
class RunningGateway {
 public:
  explicit RunningGateway(TestConfig config = {});

  HttpResult get(const std::string& path, const std::map<std::string, std::string>& headers = authHeader());
  HttpResult post(const std::string& path, const std::string& body,
                  const std::map<std::string, std::string>& headers);
  // POSTs a fixture file's exact bytes to /webhooks/<platform>, signed.
  HttpResult postFixture(const std::string& relativePath);

  std::string configPath() const { return dir_.file("gateway.yaml"); }
  // Writes a new config (same port and database) for a SIGHUP.
  void rewriteConfig(const TestConfig& config);
  GatewayProcess& process() { return *process_; }
  const TestConfig& config() const { return config_; }
  int port() const { return config_.port; }
  // Rows in a table, read straight from the database the gateway writes (SQLite file or
  // PostgreSQL); -1 when it cannot be read.
  int countRows(const std::string& table);
  // Runs one statement there: the first column of the first row (0 without rows), or nullopt
  // when it failed.
  std::optional<long long> runSql(const std::string& sql);
  // Stops (SIGKILL) and starts the binary again on the same config and database.
  void restart();

 private:
  void start();

  TempDir dir_;
  TestConfig config_;
  std::unique_ptr<GatewayProcess> process_;
};

}  // namespace gateway::testing
