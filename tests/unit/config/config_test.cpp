#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace gateway::config {
namespace {

LoadResult load(const std::string& yaml) { return loadString(yaml, "gateway.yaml"); }

const ConfigProblem* findProblem(const LoadResult& r, const std::string& keyPath) {
  for (const auto& p : r.problems) {
    if (p.keyPath == keyPath) return &p;
  }
  return nullptr;
}

std::string allProblems(const LoadResult& r) {
  std::string s;
  for (const auto& p : r.problems) s += p.toString() + "\n";
  return s;
}

// A channel with every required key, to which a test appends or replaces what it checks.
std::string channel(const std::string& id, const std::string& extra = "") {
  return "  - id: " + id +
         "\n"
         "    type: whatsapp\n"
         "    account_id: \"acct-" + id +
         "\"\n"
         "    app_secret: fake-app-secret\n"
         "    verify_token: fake-verify-token\n"
         "    access_token: fake-access-token\n" +
         extra;
}

// Expects a single problem at keyPath whose message contains `text`.
void expectProblem(const LoadResult& r, const std::string& keyPath, const std::string& text) {
  const ConfigProblem* p = findProblem(r, keyPath);
  ASSERT_NE(p, nullptr) << "no problem at " << keyPath << "; got:\n" << allProblems(r);
  EXPECT_NE(p->message.find(text), std::string::npos) << p->toString();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.config, nullptr);
}

TEST(ConfigDefaults, AlmostEmptyConfigGetsEveryDefault) {
  const LoadResult r = load("channels: []\n");
  ASSERT_TRUE(r.ok()) << allProblems(r);
  const GatewayConfig& c = *r.config;
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.server.maxBodyBytes, 1048576u);
  EXPECT_EQ(c.server.maxThreads, 1024);
  EXPECT_EQ(c.server.maxQueued, 4096);
  EXPECT_EQ(c.server.keepAliveTimeoutS, 15);
  EXPECT_EQ(c.server.requestTimeoutS, 30);
  EXPECT_EQ(c.server.listenBacklog, 1024);
  EXPECT_TRUE(c.api.tokens.empty());
  EXPECT_EQ(c.storage.driver, StorageDriver::kSqlite);
  EXPECT_EQ(c.storage.path, "data/gateway.db");
  EXPECT_EQ(c.plugins.dir, "plugins");
  EXPECT_EQ(c.delivery.maxAttempts, 8);
  EXPECT_EQ(c.delivery.maxAgeS, 86400);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.format, LogFormat::kText);
  EXPECT_TRUE(c.channels.empty());
  EXPECT_TRUE(c.properties.empty());
  EXPECT_TRUE(c.sourcePath.empty());
}

TEST(ConfigDefaults, EmptySectionsMeanDefaults) {
  const LoadResult r = load("server:\napi: {}\nstorage:\nchannels:\nproperties:\n");
  ASSERT_TRUE(r.ok()) << allProblems(r);
  EXPECT_EQ(r.config->server.port, 8080);
  EXPECT_TRUE(r.config->channels.empty());
}

TEST(ConfigDefaults, ChannelOptionalKeysGetDefaults) {
  const LoadResult r = load("channels:\n" + channel("wa-main"));
  ASSERT_TRUE(r.ok()) << allProblems(r);
  ASSERT_EQ(r.config->channels.size(), 1u);
  const ChannelConfig& c = r.config->channels[0];
  EXPECT_EQ(c.id, "wa-main");
  EXPECT_EQ(c.type, "whatsapp");
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.accountId, "acct-wa-main");
  EXPECT_EQ(c.appSecret, "fake-app-secret");
  EXPECT_EQ(c.verifyToken, "fake-verify-token");
  EXPECT_EQ(c.accessToken, "fake-access-token");
  EXPECT_TRUE(c.appId.empty());
  EXPECT_EQ(c.graphBaseUrl, "https://graph.facebook.com");
  EXPECT_EQ(c.apiVersion, "v21.0");
  EXPECT_DOUBLE_EQ(c.rateLimitMps, 80);
}

TEST(ConfigLoad, ReadsEveryKey) {
  const LoadResult r = load(
      "server:\n"
      "  listen: \"0.0.0.0:9090\"\n"
      "  max_body_bytes: 2048\n"
      "  max_threads: 64\n"
      "  max_queued: 128\n"
      "  keep_alive_timeout_s: 5\n"
      "  request_timeout_s: 7\n"
      "  listen_backlog: 256\n"
      "api:\n"
      "  tokens: [alpha-token, beta-token]\n"
      "storage:\n"
      "  driver: postgres\n"
      "  uri: \"postgresql://u@127.0.0.1:5432/gw\"\n"
      "plugins:\n"
      "  dir: /opt/gateway/plugins\n"
      "delivery:\n"
      "  max_attempts: 3\n"
      "  max_age_s: 600\n"
      "log:\n"
      "  level: debug\n"
      "  format: json\n"
      "channels:\n" +
      channel("wa-main",
              "    enabled: false\n"
              "    app_id: \"900100200300400\"\n"
              "    graph_base_url: \"http://127.0.0.1:1234/\"\n"
              "    api_version: v19.5\n"
              "    rate_limit_mps: 12.5\n") +
      "  - id: fb-main\n"
      "    type: messenger\n"
      "    account_id: \"106540352242922\"\n"
      "    app_secret: s\n"
      "    verify_token: v\n"
      "    access_token: a\n"
      "properties:\n"
      "  - { key: plan, label: Plan, type: text }\n"
      "  - { key: seats, type: number }\n"
      "  - { key: vip, label: VIP, type: boolean }\n"
      "  - { key: renewal_date, label: Renewal, type: date }\n");
  ASSERT_TRUE(r.ok()) << allProblems(r);
  const GatewayConfig& c = *r.config;
  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 9090);
  EXPECT_EQ(c.server.maxBodyBytes, 2048u);
  EXPECT_EQ(c.server.maxThreads, 64);
  EXPECT_EQ(c.server.maxQueued, 128);
  EXPECT_EQ(c.server.keepAliveTimeoutS, 5);
  EXPECT_EQ(c.server.requestTimeoutS, 7);
  EXPECT_EQ(c.server.listenBacklog, 256);
  EXPECT_EQ(c.api.tokens, (std::vector<std::string>{"alpha-token", "beta-token"}));
  EXPECT_EQ(c.storage.driver, StorageDriver::kPostgres);
  EXPECT_EQ(c.storage.uri, "postgresql://u@127.0.0.1:5432/gw");
  EXPECT_EQ(c.plugins.dir, "/opt/gateway/plugins");
  EXPECT_EQ(c.delivery.maxAttempts, 3);
  EXPECT_EQ(c.delivery.maxAgeS, 600);
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.format, LogFormat::kJson);
  ASSERT_EQ(c.channels.size(), 2u);
  EXPECT_FALSE(c.channels[0].enabled);
  EXPECT_EQ(c.channels[0].appId, "900100200300400");
  EXPECT_EQ(c.channels[0].graphBaseUrl, "http://127.0.0.1:1234");
  EXPECT_EQ(c.channels[0].apiVersion, "v19.5");
  EXPECT_DOUBLE_EQ(c.channels[0].rateLimitMps, 12.5);
  EXPECT_EQ(c.channels[1].id, "fb-main");
  EXPECT_EQ(c.channels[1].accountId, "106540352242922");
  ASSERT_EQ(c.properties.size(), 4u);
  EXPECT_EQ(c.properties[0].label, "Plan");
  EXPECT_EQ(c.properties[1].label, "seats");  // label defaults to the key
  EXPECT_EQ(c.properties[1].type, PropertyType::kNumber);
  EXPECT_EQ(c.properties[2].type, PropertyType::kBoolean);
  EXPECT_EQ(c.properties[3].type, PropertyType::kDate);
  EXPECT_EQ(c.properties[0].type, PropertyType::kText);
}

TEST(ConfigLoad, FindChannelReturnsNullWhenAbsent) {
  const LoadResult r = load("channels:\n" + channel("wa-main") + channel("fb-main"));
  ASSERT_TRUE(r.ok()) << allProblems(r);
  ASSERT_NE(r.config->findChannel("fb-main"), nullptr);
  EXPECT_EQ(r.config->findChannel("fb-main")->id, "fb-main");
  EXPECT_EQ(r.config->findChannel("nope"), nullptr);
}

TEST(ConfigUnknownKey, NamesPathAndOneBasedPosition) {
  const LoadResult r = load("server:\n  listen: \"127.0.0.1:8080\"\n  listne: x\n");
  ASSERT_EQ(r.problems.size(), 1u) << allProblems(r);
  EXPECT_EQ(r.problems[0].keyPath, "server.listne");
  EXPECT_EQ(r.problems[0].line, 3);
  EXPECT_EQ(r.problems[0].column, 3);
  EXPECT_EQ(r.problems[0].toString(), "server.listne: unknown key (gateway.yaml:3:3)");
}

TEST(ConfigUnknownKey, AtEveryLevel) {
  const LoadResult r = load(
      "sever: {}\n"
      "channels:\n" +
      channel("wa-main", "    app_secert: x\n") +
      "properties:\n"
      "  - { key: plan, lable: Plan }\n");
  expectProblem(r, "sever", "unknown key");
  expectProblem(r, "channels[0].app_secert", "unknown key");
  expectProblem(r, "properties[0].lable", "unknown key");
  EXPECT_EQ(findProblem(r, "channels[0].app_secert")->line, 9);
  EXPECT_EQ(findProblem(r, "channels[0].app_secert")->column, 5);
  EXPECT_EQ(r.problems.size(), 3u) << allProblems(r);
}

TEST(ConfigUnknownKey, RepeatedKeyIsAProblem) {
  const LoadResult r = load("delivery:\n  max_attempts: 3\n  max_attempts: 4\n");
  expectProblem(r, "delivery.max_attempts", "duplicate key");
  EXPECT_EQ(findProblem(r, "delivery.max_attempts")->line, 3);
}

TEST(ConfigEnv, ExpandsVariablesAndLeavesOtherDollarsAlone) {
  setenv("CFGTEST_EXPAND_HOST", "10.1.2.3", 1);
  setenv("CFGTEST_EXPAND_PORT", "7001", 1);
  setenv("CFGTEST_EXPAND_TOKEN", "tok-from-env", 1);
  setenv("CFGTEST_EXPAND_NESTED", "${CFGTEST_EXPAND_HOST}", 1);
  const LoadResult r = load(
      "server:\n"
      "  listen: \"${CFGTEST_EXPAND_HOST}:${CFGTEST_EXPAND_PORT}\"\n"
      "  max_body_bytes: ${CFGTEST_EXPAND_PORT}\n"
      "api:\n"
      "  tokens: [\"${CFGTEST_EXPAND_TOKEN}\", \"pre-$$-$X-${CFGTEST_EXPAND_TOKEN}-$\", "
      "\"${CFGTEST_EXPAND_NESTED}\"]\n");
  ASSERT_TRUE(r.ok()) << allProblems(r);
  EXPECT_EQ(r.config->server.host, "10.1.2.3");
  EXPECT_EQ(r.config->server.port, 7001);
  EXPECT_EQ(r.config->server.maxBodyBytes, 7001u);
  ASSERT_EQ(r.config->api.tokens.size(), 3u);
  EXPECT_EQ(r.config->api.tokens[0], "tok-from-env");
  EXPECT_EQ(r.config->api.tokens[1], "pre-$$-$X-tok-from-env-$");
  // A value from the environment is used as it is, never expanded a second time.
  EXPECT_EQ(r.config->api.tokens[2], "${CFGTEST_EXPAND_HOST}");
}

TEST(ConfigEnv, ExpandsIntoCredentialsAndBooleans) {
  setenv("CFGTEST_CRED_SECRET", "secret-from-env", 1);
  setenv("CFGTEST_CRED_ENABLED", "false", 1);
  const LoadResult r = load("channels:\n" +
                            channel("wa-main", "    enabled: \"${CFGTEST_CRED_ENABLED}\"\n"));
  ASSERT_TRUE(r.ok()) << allProblems(r);
  EXPECT_FALSE(r.config->channels[0].enabled);
  const LoadResult r2 = load(
      "channels:\n"
      "  - id: a\n"
      "    type: whatsapp\n"
      "    account_id: \"1\"\n"
      "    app_secret: \"${CFGTEST_CRED_SECRET}\"\n"
      "    verify_token: v\n"
      "    access_token: x\n");
  ASSERT_TRUE(r2.ok()) << allProblems(r2);
  EXPECT_EQ(r2.config->channels[0].appSecret, "secret-from-env");
}

TEST(ConfigEnv, MissingVariableNamesKeyLineAndVariable) {
  unsetenv("CFGTEST_MISSING_VAR_1");
  const LoadResult r = load(
      "channels:\n"
      "  - id: wa-main\n"
      "    type: whatsapp\n"
      "    account_id: \"1\"\n"
      "    app_secret: \"${CFGTEST_MISSING_VAR_1}\"\n"
      "    verify_token: v\n"
      "    access_token: a\n");
  ASSERT_EQ(r.problems.size(), 1u) << allProblems(r);
  const ConfigProblem& p = r.problems[0];
  EXPECT_EQ(p.keyPath, "channels[0].app_secret");
  EXPECT_EQ(p.line, 5);
  EXPECT_EQ(p.column, 17);
  EXPECT_NE(p.message.find("CFGTEST_MISSING_VAR_1"), std::string::npos) << p.toString();
  EXPECT_NE(p.message.find("not set"), std::string::npos) << p.toString();
}

TEST(ConfigEnv, FallbackIsUsedWhenTheVariableIsUnsetOrEmpty) {
  unsetenv("CFGTEST_FALLBACK_UNSET");
  setenv("CFGTEST_FALLBACK_EMPTY", "", 1);
  setenv("CFGTEST_FALLBACK_SET", "from-env", 1);
  const LoadResult r = load(
      "api:\n  tokens: [\"${CFGTEST_FALLBACK_UNSET:-demo}\", \"${CFGTEST_FALLBACK_EMPTY:-also-demo}\", "
      "\"${CFGTEST_FALLBACK_SET:-unused}\", \"x${CFGTEST_FALLBACK_UNSET:-}y\"]\n");
  ASSERT_TRUE(r.ok()) << allProblems(r);
  EXPECT_EQ(r.config->api.tokens, (std::vector<std::string>{"demo", "also-demo", "from-env", "xy"}));
}

TEST(ConfigEnv, MalformedReferencesAreProblems) {
  const LoadResult r = load("plugins:\n  dir: \"abc${UNCLOSED\"\nstorage:\n  path: \"${}\"\n");
  expectProblem(r, "plugins.dir", "unterminated");
  expectProblem(r, "storage.path", "invalid environment variable reference");
}

TEST(ConfigCredentials, EachOneIsRequired) {
  const LoadResult r = load(
      "channels:\n" + channel("wa-main") +
      "  - id: fb-main\n"
      "    type: messenger\n");
  for (const char* key : {"account_id", "app_secret", "verify_token", "access_token"}) {
    const std::string path = std::string("channels[1].") + key;
    expectProblem(r, path, "required");
    EXPECT_EQ(findProblem(r, path)->line, 8) << "the channel's own position";
  }
  EXPECT_EQ(findProblem(r, "channels[1].app_id"), nullptr);
  EXPECT_EQ(findProblem(r, "channels[1].app_secret")->toString(),
            "channels[1].app_secret: required (gateway.yaml:8:5)");
  EXPECT_EQ(r.problems.size(), 4u) << allProblems(r);
}

TEST(ConfigCredentials, EmptyOrNullCountsAsMissing) {
  setenv("CFGTEST_EMPTY_TOKEN", "", 1);
  const LoadResult r = load(
      "channels:\n"
      "  - id: wa-main\n"
      "    type: whatsapp\n"
      "    account_id: \"\"\n"
      "    app_secret:\n"
      "    verify_token: \"${CFGTEST_EMPTY_TOKEN}\"\n"
      "    access_token: \"  \"\n");
  expectProblem(r, "channels[0].account_id", "required");
  expectProblem(r, "channels[0].app_secret", "required");
  expectProblem(r, "channels[0].verify_token", "required");
  expectProblem(r, "channels[0].access_token", "required");
}

TEST(ConfigCredentials, IdAndTypeAreRequired) {
  const LoadResult r = load(
      "channels:\n"
      "  - account_id: \"1\"\n"
      "    app_secret: s\n"
      "    verify_token: v\n"
      "    access_token: a\n");
  expectProblem(r, "channels[0].id", "required");
  expectProblem(r, "channels[0].type", "required");
}

TEST(ConfigTypes, WrongTypesAreNamed) {
  const LoadResult r = load(
      "server:\n"
      "  max_body_bytes: lots\n"
      "  max_threads: 1.5\n"
      "api:\n"
      "  tokens: just-one\n"
      "delivery: [1, 2]\n"
      "channels:\n" +
      channel("wa-main", "    enabled: yes-please\n    rate_limit_mps: fast\n") +
      "properties: {key: plan}\n");
  expectProblem(r, "server.max_body_bytes", "expected a whole number");
  expectProblem(r, "server.max_threads", "expected a whole number");
  expectProblem(r, "api.tokens", "expected a list");
  expectProblem(r, "delivery", "expected a mapping");
  expectProblem(r, "channels[0].enabled", "expected a boolean");
  expectProblem(r, "channels[0].rate_limit_mps", "expected a number");
  expectProblem(r, "properties", "expected a list");
}

TEST(ConfigTypes, CollectionsWhereScalarsBelong) {
  const LoadResult r = load(
      "server:\n"
      "  listen: [a, b]\n"
      "api:\n"
      "  tokens: [ok-token, [nested], \"\"]\n"
      "channels:\n"
      "  - just-a-string\n" +
      channel("wa-main", "    app_id: {a: 1}\n"));
  expectProblem(r, "server.listen", "expected a string");
  expectProblem(r, "api.tokens[1]", "expected a string");
  expectProblem(r, "api.tokens[2]", "must not be empty");
  expectProblem(r, "channels[0]", "expected a mapping");
  expectProblem(r, "channels[1].app_id", "expected a string");
  EXPECT_EQ(findProblem(r, "api.tokens[0]"), nullptr);
}

TEST(ConfigTypes, TopLevelMustBeAMapping) {
  const LoadResult r = load("- just\n- a list\n");
  ASSERT_EQ(r.problems.size(), 1u) << allProblems(r);
  EXPECT_NE(r.problems[0].message.find("expected a mapping"), std::string::npos);
  EXPECT_EQ(r.problems[0].line, 1);
}

TEST(ConfigListen, AcceptsIpv4HostnameAndBracketedIpv6) {
  struct Case {
    const char* listen;
    const char* host;
    int port;
  };
  for (const Case& c : {Case{"127.0.0.1:8080", "127.0.0.1", 8080}, Case{"0.0.0.0:0", "0.0.0.0", 0},
                        Case{"localhost:65535", "localhost", 65535},
                        Case{"gw-1.example.com:443", "gw-1.example.com", 443},
                        Case{"[::1]:8081", "::1", 8081}, Case{"[::]:0", "::", 0}}) {
    const LoadResult r = load(std::string("server:\n  listen: \"") + c.listen + "\"\n");
    ASSERT_TRUE(r.ok()) << c.listen << "\n" << allProblems(r);
    EXPECT_EQ(r.config->server.host, c.host);
    EXPECT_EQ(r.config->server.port, c.port);
  }
}

TEST(ConfigListen, RejectsMalformedAddresses) {
  for (const char* bad : {"8080", "127.0.0.1", "127.0.0.1:", ":8080", "127.0.0.1:65536",
                          "127.0.0.1:80a", "127.0.0.1:-1", "999.1.1.1:80", "::1:8080",
                          "[::1]8080", "[nothing]:80", "bad_host:80", "-x.com:80", ""}) {
    const LoadResult r = load(std::string("server:\n  listen: \"") + bad + "\"\n");
    ASSERT_EQ(r.problems.size(), 1u) << bad << "\n" << allProblems(r);
    EXPECT_EQ(r.problems[0].keyPath, "server.listen") << bad;
    EXPECT_EQ(r.problems[0].line, 2) << bad;
  }
}

TEST(ConfigValues, NumbersOutOfRange) {
  const LoadResult r = load(
      "server:\n"
      "  max_body_bytes: 0\n"
      "  keep_alive_timeout_s: 99999999999\n"
      "delivery:\n"
      "  max_attempts: 0\n"
      "  max_age_s: -5\n"
      "channels:\n" +
      channel("wa-main", "    rate_limit_mps: 0\n") +
      channel("wa-two", "    rate_limit_mps: -2.5\n"));
  expectProblem(r, "server.max_body_bytes", "at least 1");
  expectProblem(r, "server.keep_alive_timeout_s", "too large");
  expectProblem(r, "delivery.max_attempts", "at least 1");
  expectProblem(r, "delivery.max_age_s", "at least 1");
  expectProblem(r, "channels[0].rate_limit_mps", "greater than 0");
  expectProblem(r, "channels[1].rate_limit_mps", "greater than 0");
}

TEST(ConfigValues, StorageDriver) {
  expectProblem(load("storage:\n  driver: mysql\n"), "storage.driver",
                "not one of sqlite, postgres");
  const LoadResult noUri = load("storage:\n  driver: postgres\n");
  ASSERT_EQ(noUri.problems.size(), 1u) << allProblems(noUri);
  expectProblem(noUri, "storage.uri", "required when driver is postgres");
  EXPECT_EQ(noUri.problems[0].line, 2);
  expectProblem(load("storage:\n  driver: sqlite\n  path: \"\"\n"), "storage.path",
                "must not be empty");
  EXPECT_TRUE(load("storage:\n  driver: postgres\n  uri: postgresql://localhost/gw\n").ok());
}

TEST(ConfigValues, PluginsDirAndLog) {
  expectProblem(load("plugins:\n  dir: \"\"\n"), "plugins.dir", "must not be empty");
  expectProblem(load("log:\n  level: verbose\n"), "log.level", "not one of");
  expectProblem(load("log:\n  format: xml\n"), "log.format", "not one of text, json");
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    const LoadResult r = load(std::string("log:\n  level: ") + level + "\n");
    ASSERT_TRUE(r.ok()) << level << "\n" << allProblems(r);
    EXPECT_EQ(r.config->log.level, level);
  }
}

TEST(ConfigChannels, DuplicateIdNamesBothPlaces) {
  const LoadResult r = load("channels:\n" + channel("wa-main") + channel("wa-main"));
  ASSERT_EQ(findProblem(r, "channels[0].id"), nullptr);
  expectProblem(r, "channels[1].id", "duplicate channel id \"wa-main\" (also channels[0])");
  EXPECT_EQ(findProblem(r, "channels[1].id")->line, 8);
}

TEST(ConfigChannels, SameAccountOfOneTypeTwiceIsAmbiguous) {
  const LoadResult r = load(
      "channels:\n" + channel("one") +
      "  - id: two\n"
      "    type: whatsapp\n"
      "    account_id: \"acct-one\"\n"
      "    app_secret: s\n"
      "    verify_token: v\n"
      "    access_token: a\n");
  expectProblem(r, "channels[1].account_id", "channels[0]");
}

TEST(ConfigChannels, IdTypeUrlAndVersionFormats) {
  const LoadResult r = load(
      "channels:\n" + channel("WA_Main") +
      "  - id: wa-2\n"
      "    type: Whats-App\n"
      "    account_id: \"1\"\n"
      "    app_secret: s\n"
      "    verify_token: v\n"
      "    access_token: a\n"
      "    graph_base_url: ftp://graph.facebook.com\n"
      "    api_version: \"21.0\"\n");
  expectProblem(r, "channels[0].id", "[a-z0-9-]+");
  expectProblem(r, "channels[1].type", "[a-z0-9_]+");
  expectProblem(r, "channels[1].graph_base_url", "http:// or https://");
  expectProblem(r, "channels[1].api_version", "v21.0");
  // Which types have a plugin is the loader's business, not the config's.
  EXPECT_TRUE(load("channels:\n  - id: x\n    type: telegram_bot\n    account_id: \"1\"\n"
                   "    app_secret: s\n    verify_token: v\n    access_token: a\n")
                  .ok());
}

TEST(ConfigProperties, TypeKeyAndUniqueness) {
  const LoadResult r = load(
      "properties:\n"
      "  - { key: plan, type: text }\n"
      "  - { key: plan, type: number }\n"
      "  - { key: Seats, type: number }\n"
      "  - { key: vip, type: bool }\n"
      "  - { label: Nameless }\n");
  expectProblem(r, "properties[1].key", "duplicate property key \"plan\" (also properties[0])");
  expectProblem(r, "properties[2].key", "[a-z][a-z0-9_]*");
  expectProblem(r, "properties[3].type", "not one of text, number, boolean, date");
  expectProblem(r, "properties[4].key", "required");
  EXPECT_EQ(findProblem(r, "properties[3].type")->line, 5);
  EXPECT_EQ(r.problems.size(), 4u) << allProblems(r);
}

TEST(ConfigProblems, EveryProblemIsReportedAtOnce) {
  unsetenv("CFGTEST_MANY_MISSING");
  const LoadResult r = load(
      "server:\n"
      "  listen: nowhere\n"
      "  bogus: 1\n"
      "storage:\n"
      "  driver: postgres\n"
      "delivery:\n"
      "  max_attempts: 0\n"
      "channels:\n" +
      channel("wa-main") + channel("wa-main", "    api_version: \"${CFGTEST_MANY_MISSING}\"\n") +
      "  - id: ig\n"
      "    type: instagram\n"
      "properties:\n"
      "  - { key: plan, type: money }\n");
  EXPECT_NE(findProblem(r, "server.listen"), nullptr);
  EXPECT_NE(findProblem(r, "server.bogus"), nullptr);
  EXPECT_NE(findProblem(r, "storage.uri"), nullptr);
  EXPECT_NE(findProblem(r, "delivery.max_attempts"), nullptr);
  EXPECT_NE(findProblem(r, "channels[1].id"), nullptr);
  EXPECT_NE(findProblem(r, "channels[1].api_version"), nullptr);
  EXPECT_NE(findProblem(r, "channels[2].app_secret"), nullptr);
  EXPECT_NE(findProblem(r, "properties[0].type"), nullptr);
  EXPECT_EQ(r.problems.size(), 12u) << allProblems(r);
  EXPECT_EQ(r.config, nullptr);
}

TEST(ConfigProblems, SecretValuesNeverAppear) {
  const std::string secret = "Zq7SECRETVALUEx91";
  setenv("CFGTEST_SECRET_VALUE", secret.c_str(), 1);
  const LoadResult r = load(
      "api:\n"
      "  tokens: [\"" + secret + "\", \"${CFGTEST_SECRET_VALUE}\", \"\"]\n"
      "storage:\n"
      "  driver: postgres\n"
      "  uri: \"postgresql://u:" + secret + "@host/db\"\n"
      "  path: \"\"\n"
      "channels:\n"
      "  - id: wa-main\n"
      "    type: whatsapp\n"
      "    account_id: \"1\"\n"
      "    app_secret: \"" + secret + "\"\n"
      "    verify_token: \"${CFGTEST_SECRET_VALUE}\"\n"
      "    access_token: \"" + secret + "${CFGTEST_SECRET_NOT_SET}\"\n"
      "    rate_limit_mps: -1\n"
      "    secret_typo: \"" + secret + "\"\n"
      "  - id: wa-main\n"
      "    type: whatsapp\n"
      "    account_id: \"2\"\n"
      "    app_secret: [\"" + secret + "\"]\n"
      "    verify_token: {\"" + secret + "\": 1}\n"
      "    access_token: \"" + secret + "${unterminated\"\n");
  ASSERT_GE(r.problems.size(), 8u) << allProblems(r);
  for (const auto& p : r.problems) {
    EXPECT_EQ(p.toString().find("SECRETVALUE"), std::string::npos) << p.toString();
  }
}

TEST(ConfigProblems, ToStringFormats) {
  ConfigProblem p;
  p.keyPath = "channels[1].app_secret";
  p.message = "required";
  p.file = "conf/gateway.yaml";
  p.line = 14;
  p.column = 5;
  EXPECT_EQ(p.toString(), "channels[1].app_secret: required (conf/gateway.yaml:14:5)");
  p.line = 0;
  EXPECT_EQ(p.toString(), "channels[1].app_secret: required (conf/gateway.yaml)");
  p.keyPath.clear();
  EXPECT_EQ(p.toString(), "required (conf/gateway.yaml)");
}

TEST(ConfigDocument, SyntaxErrorIsOneProblemWithLine) {
  const LoadResult r = load("server:\n  listen: \"127.0.0.1:8080\"\n  max_body_bytes: [1, 2\n");
  ASSERT_EQ(r.problems.size(), 1u) << allProblems(r);
  EXPECT_EQ(r.problems[0].file, "gateway.yaml");
  EXPECT_GT(r.problems[0].line, 0);
  EXPECT_NE(r.problems[0].message.find("invalid YAML"), std::string::npos);
  EXPECT_EQ(r.config, nullptr);
  EXPECT_EQ(r.problems[0].toString(),
            "invalid YAML: end of sequence flow not found (gateway.yaml:4:1)");

  const LoadResult tabs = load("server:\n\tlisten: x\n");
  ASSERT_EQ(tabs.problems.size(), 1u) << allProblems(tabs);
}

TEST(ConfigDocument, EmptyFileIsAProblem) {
  for (const char* text : {"", "# only a comment\n", "---\n"}) {
    const LoadResult r = load(text);
    ASSERT_EQ(r.problems.size(), 1u) << allProblems(r);
    EXPECT_NE(r.problems[0].message.find("empty"), std::string::npos);
  }
}

TEST(ConfigDocument, OnlyOneDocumentIsAllowed) {
  const LoadResult r = load("channels: []\n---\nchannels: []\n");
  ASSERT_EQ(r.problems.size(), 1u) << allProblems(r);
  EXPECT_EQ(r.problems[0].line, 3);
}

TEST(ConfigDocument, MissingFileIsOneProblemNamingIt) {
  const std::string path = "/nonexistent-dir-cfgtest/gateway.yaml";
  const LoadResult r = loadFile(path);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].file, path);
  EXPECT_NE(r.problems[0].toString().find(path), std::string::npos);
  EXPECT_EQ(r.config, nullptr);
}

TEST(ConfigDocument, DirectoryIsNotReadable) {
  const LoadResult r = loadFile("/");
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].file, "/");
}

const char* const kShippedVariables[] = {
    "GATEWAY_API_TOKEN", "WA_ACCOUNT_ID", "WA_APP_SECRET", "WA_VERIFY_TOKEN", "WA_ACCESS_TOKEN",
    "FB_ACCOUNT_ID",     "FB_APP_SECRET", "FB_VERIFY_TOKEN", "FB_ACCESS_TOKEN", "IG_ACCOUNT_ID",
    "IG_APP_SECRET",     "IG_VERIFY_TOKEN", "IG_ACCESS_TOKEN"};

TEST(ConfigShipped, DefaultConfigLoadsWhenItsVariablesAreSet) {
  for (const char* name : kShippedVariables) setenv(name, (std::string("test-") + name).c_str(), 1);
  for (const char* name : {"WA_ENABLED", "FB_ENABLED", "IG_ENABLED"}) setenv(name, "true", 1);
  const std::string path = std::string(GATEWAY_SOURCE_DIR) + "/config/gateway.yaml";
  const LoadResult r = loadFile(path);
  ASSERT_TRUE(r.ok()) << allProblems(r);
  const GatewayConfig& c = *r.config;
  EXPECT_EQ(c.sourcePath, path);
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.server.maxBodyBytes, 1048576u);
  EXPECT_EQ(c.api.tokens, std::vector<std::string>{"test-GATEWAY_API_TOKEN"});
  EXPECT_EQ(c.storage.driver, StorageDriver::kSqlite);
  EXPECT_EQ(c.storage.path, "data/gateway.db");
  EXPECT_EQ(c.plugins.dir, "plugins");
  EXPECT_EQ(c.delivery.maxAttempts, 8);
  EXPECT_EQ(c.delivery.maxAgeS, 86400);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.format, LogFormat::kText);
  ASSERT_EQ(c.channels.size(), 3u);
  EXPECT_EQ(c.channels[0].id, "wa-main");
  EXPECT_EQ(c.channels[0].type, "whatsapp");
  EXPECT_EQ(c.channels[0].accountId, "test-WA_ACCOUNT_ID");
  EXPECT_EQ(c.channels[0].appSecret, "test-WA_APP_SECRET");
  EXPECT_TRUE(c.channels[0].appId.empty());
  EXPECT_DOUBLE_EQ(c.channels[0].rateLimitMps, 80);
  EXPECT_EQ(c.channels[1].id, "fb-main");
  EXPECT_EQ(c.channels[1].type, "messenger");
  EXPECT_EQ(c.channels[1].accessToken, "test-FB_ACCESS_TOKEN");
  EXPECT_DOUBLE_EQ(c.channels[1].rateLimitMps, 250);
  EXPECT_EQ(c.channels[2].id, "ig-main");
  EXPECT_EQ(c.channels[2].type, "instagram");
  EXPECT_EQ(c.channels[2].verifyToken, "test-IG_VERIFY_TOKEN");
  EXPECT_DOUBLE_EQ(c.channels[2].rateLimitMps, 250);
  for (const ChannelConfig& ch : c.channels) {
    EXPECT_TRUE(ch.enabled);
    EXPECT_EQ(ch.graphBaseUrl, "https://graph.facebook.com");
    EXPECT_EQ(ch.apiVersion, "v21.0");
  }
  ASSERT_EQ(c.properties.size(), 4u);
  EXPECT_EQ(c.properties[0].key, "plan");
  EXPECT_EQ(c.properties[1].type, PropertyType::kNumber);
  EXPECT_EQ(c.properties[2].label, "VIP");
  EXPECT_EQ(c.properties[3].type, PropertyType::kDate);
}

// On a fresh machine (no variables) the shipped file still loads: three disabled demo
// channels on placeholder credentials, so `gateway --check-config` passes and the gateway runs.
TEST(ConfigShipped, DefaultConfigWithoutVariablesRunsDisabledDemoChannels) {
  for (const char* name : kShippedVariables) unsetenv(name);
  for (const char* name : {"WA_ENABLED", "FB_ENABLED", "IG_ENABLED"}) unsetenv(name);
  const LoadResult r = loadFile(std::string(GATEWAY_SOURCE_DIR) + "/config/gateway.yaml");
  ASSERT_TRUE(r.ok()) << allProblems(r);
  ASSERT_EQ(r.config->channels.size(), 3u);
  for (const ChannelConfig& ch : r.config->channels) {
    EXPECT_FALSE(ch.enabled) << ch.id;
    EXPECT_EQ(ch.appSecret.rfind("demo-", 0), 0u) << ch.id;
  }
  EXPECT_EQ(r.config->api.tokens, std::vector<std::string>{"dev-api-token"});
}

}  // namespace
}  // namespace gateway::config
